"""The skill contract: how verified attempts and reflections become a trace."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from skillfactory.records import Attempt, Segment


class Skill(ABC):
    """One cognitive behaviour a trace can show, e.g. verifying an answer or retrying.

    A skill arranges a question's attempts (each judged by the verifier, each with
    the reflections that agree with that judgement) into trace segments, and owns
    the short phrases that join them. Randomness comes only from the ``rng`` it is
    handed, so that a seed reproduces every trace.
    """

    name: ClassVar[str]
    """What users list in ``--skills``: short, lower case, no spaces or commas."""
    description: ClassVar[str]
    """One line for ``skillfactory skills``."""
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {}
    """Joining phrases by purpose (e.g. ``"after_incorrect"``), several variants each."""

    @abstractmethod
    def arrange(self, attempts: Sequence[Attempt], rng: random.Random) -> list[Segment] | None:
        """Arrange attempts into trace segments, or return None when they cannot show this skill."""
