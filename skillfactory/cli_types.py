"""Option types whose refusals read as plain words.

click names its bounded integer type "integer range", so ``--count abc`` was
refused with "'abc' is not a valid integer range", which sounds like a range
was asked for. These types keep click's checks and say what is wanted.
"""

from __future__ import annotations

import click


class WholeNumber(click.IntRange):
    """An integer within optional bounds: ``'abc' is not a valid whole number``."""

    name = "whole number"
