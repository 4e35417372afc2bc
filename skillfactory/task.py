"""The task contract: where problems, prompts and rewards come from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from skillfactory.records import Conversation, Problem, Score


class Task(ABC):
    """A family of problems with a verifier, e.g. Countdown.

    Subclasses set ``name``, ``description`` and ``variants`` and implement the four
    methods. The scorer is both the judge of every sample and the RL reward, so it
    must be exact and must never execute model output. Tasks are constructed with
    keyword options only (``TaskClass(**options)``), and with none for the defaults.
    """

    name: ClassVar[str]
    """What users type after ``--task``: short, lower case, no spaces or commas."""
    description: ClassVar[str]
    """One line for ``skillfactory tasks``."""
    variants: ClassVar[Sequence[str]] = ("original",)
    """Names of the prompt variants :meth:`prompt` accepts; the first is the default."""

    @abstractmethod
    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        """Return ``count`` distinct, solvable problems; the same arguments give the same list."""

    @abstractmethod
    def prompt(self, problem: Problem, variant: str) -> Conversation:
        """Build the chat prompt that asks for ``problem``'s answer in the given variant."""

    @abstractmethod
    def extract_answer(self, completion: str) -> str | None:
        """Pull the final answer out of a completion, or None when there is none."""

    @abstractmethod
    def score(self, problem: Problem, answer: str | None) -> Score:
        """Judge an extracted answer; never raises on any input."""
