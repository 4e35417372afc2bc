"""The task contract: where problems, prompts and rewards come from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from skillfactory.records import Conversation, Problem, Score


class Task(ABC):
    """A family of problems with a verifier, e.g. Countdown.

    Subclasses set ``name``, ``description``, ``variants`` and ``difficulties`` and
    implement the four methods. The scorer is both the judge of every sample and the
    RL reward, so it must be exact and must never execute model output. Tasks are
    constructed with keyword options only (``TaskClass(**options)``), and with none
    for the defaults.
    """

    name: ClassVar[str]
    """What users type after ``--task``: short, lower case, no spaces or commas."""
    description: ClassVar[str]
    """One line for ``skillfactory tasks``."""
    variants: ClassVar[Sequence[str]] = ("original",)
    """Names of the prompt variants :meth:`prompt` accepts; the first is the default."""
    difficulties: ClassVar[Sequence[int]] = (1,)
    """The difficulty levels :meth:`generate` accepts, easiest first."""
    default_difficulty: ClassVar[int | None] = None
    """The level used when none is asked for; None means the first of ``difficulties``."""
    sandboxed_scoring: ClassVar[bool] = False
    """True when :meth:`score` cannot be trusted with hostile input (it may hang, crash or
    run code), so that callers score in worker processes with a time and memory limit."""

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

    @classmethod
    def resolve_difficulty(cls, difficulty: int | None) -> int:
        """The level to use for a requested one (None: the default); refuses unsupported ones."""
        from skillfactory.errors import UsageError

        if difficulty is None:
            return (
                cls.default_difficulty
                if cls.default_difficulty is not None
                else cls.difficulties[0]
            )
        if difficulty not in cls.difficulties:
            levels = ", ".join(str(level) for level in cls.difficulties)
            raise UsageError(f"task {cls.name!r} has no difficulty {difficulty}; levels: {levels}")
        return difficulty

    @classmethod
    def resolve_variant(cls, variant: str | None) -> str:
        """The variant to use for a requested one (None: the default); refuses unknown ones."""
        from skillfactory.errors import UsageError

        if variant is None:
            return cls.variants[0]
        if variant not in cls.variants:
            known = ", ".join(cls.variants)
            raise UsageError(
                f"task {cls.name!r} has no prompt variant {variant!r}; variants: {known}"
            )
        return variant
