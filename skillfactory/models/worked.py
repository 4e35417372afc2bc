"""What the default model reads: worked attempts at the built-in tasks, and checks of them.

Each built-in task that can be generated offline has a writer here. A writer
turns a problem into an :class:`Attempt`: the reply a model could give (a few
worked steps, then ``<answer>``) and a check of that reply's answer, as the model
should write when asked to reflect (it redoes the work and ends in a verdict).
Writers make right and wrong attempts; the corpus keeps an attempt only where the
task's verifier agrees with the verdict its check reached.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skillfactory.records import Problem


@dataclass(frozen=True)
class Attempt:
    """A reply to a solve prompt and a check of its answer that ends in a verdict tag."""

    reply: str
    check: str
    correct: bool
    """The verdict the check reached; the corpus compares it with the verifier."""


AttemptWriter = Callable[[Problem, str, random.Random], Attempt]
"""``(problem, prompt variant, rng) -> Attempt``."""


@dataclass(frozen=True)
class TaskWriter:
    """How to write attempts at one task, and at which difficulties the corpus draws it."""

    task: str
    difficulties: dict[int, float]
    """Difficulty -> share of this task's problems in the corpus."""
    right: AttemptWriter
    wrong: AttemptWriter
    options: dict[str, Any] = field(default_factory=dict)
    """Task options the corpus draws its problems with (a number range, for instance)."""
    passes: int = 1
    """How often each problem is written, each time in a fresh variant with fresh attempts
    (for a range with fewer distinct problems than the corpus wants)."""


def verdict_tag(correct: bool) -> str:
    return f"<verdict>{'Correct' if correct else 'Incorrect'}</verdict>"
