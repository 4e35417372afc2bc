"""The small records that flow between stages and plugins.

They are frozen dataclasses (or TypedDicts for chat messages) so that a stage
cannot change what an earlier stage produced, and so that each one maps to one
row of a ``datasets.Dataset`` or one JSON line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict


class Message(TypedDict):
    """One chat turn, in the shape chat templates and TRL expect."""

    role: Literal["system", "user", "assistant"]
    content: str


Conversation = list[Message]
"""A chat prompt or a whole chat: a list of messages, oldest first."""


@dataclass(frozen=True)
class Problem:
    """One generated question of a task, with a solution the task has proved."""

    id: str
    """Stable across runs and machines: the same task, difficulty and content give the same id."""
    task: str
    difficulty: int
    question: str
    """The statement a prompt shows the model."""
    answer: str
    """A reference answer that the task's own scorer accepts."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Task-specific, JSON-serialisable inputs the scorer needs (numbers, target, …)."""

    def to_json(self) -> dict[str, Any]:
        """The problem as one JSON object; :meth:`from_json` reads it back."""
        return {
            "id": self.id,
            "task": self.task,
            "difficulty": self.difficulty,
            "question": self.question,
            "answer": self.answer,
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Problem:
        """Read a problem back from :meth:`to_json`'s shape; extra keys are ignored.

        Raises ``ValueError`` naming the first missing or mistyped field.
        """
        fields = {
            "id": str,
            "task": str,
            "difficulty": int,
            "question": str,
            "answer": str,
            "data": dict,
        }
        for key, kind in fields.items():
            value = row.get(key)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"field {key!r} must be {kind.__name__}, got {value!r:.40}")
        return cls(
            row["id"], row["task"], row["difficulty"], row["question"], row["answer"], row["data"]
        )


@dataclass(frozen=True)
class Score:
    """The verifier's judgement of one answer: a value in [0, 1] and the reason for it."""

    value: float
    reason: str
    """``"correct"`` for full marks, otherwise why not: ``"unparseable"``, ``"wrong numbers"``, …"""

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"a score must lie in [0, 1], got {self.value}")

    @property
    def correct(self) -> bool:
        return self.value == 1.0


@dataclass(frozen=True)
class Reflection:
    """The model's own check of one attempt and the verdict it reached."""

    text: str
    verdict: bool | None
    """True for "correct", False for "incorrect", None when no single verdict could be read."""


@dataclass(frozen=True)
class Attempt:
    """One sampled answer to a question, judged by the task's verifier."""

    text: str
    """The completion as the model wrote it."""
    answer: str | None
    """The answer extracted from ``text``, or None when there was none."""
    correct: bool
    """The verifier's judgement, which is the ground truth reflections are filtered against."""
    variant: str
    """The prompt variant that produced it."""
    reflections: tuple[Reflection, ...] = ()
    """Reflections whose verdict agrees with ``correct`` (the others are filtered out)."""


@dataclass(frozen=True)
class Segment:
    """One piece of a composed trace; the composer joins segments into the final text."""

    kind: Literal["sample", "reflect", "phrase", "answer"]
    text: str
