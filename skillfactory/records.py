"""The small records that flow between stages and plugins.

They are frozen dataclasses (or TypedDicts for chat messages) so that a stage
cannot change what an earlier stage produced, and so that each one maps to one
row of a ``datasets.Dataset`` or one JSON line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict


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
            if key not in row:
                raise ValueError(f"field {key!r} is missing")
            value = row[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"field {key!r} must be {JSON_KINDS[kind]}, got {value!r:.40}")
        return cls(
            row["id"], row["task"], row["difficulty"], row["question"], row["answer"], row["data"]
        )


JSON_KINDS: dict[type, str] = {str: "a string", int: "an integer", dict: "an object"}
"""How a refusal names the JSON kind a field must hold."""


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


class TextSource(Protocol):
    """Where a question's attempt and reflection texts live.

    Composition decides with small records and reads text only for the attempts a
    trace shows, so a million reflections never have to become Python strings.
    """

    def attempt_text(self, index: int) -> str: ...

    def reflection_text(self, index: int) -> str: ...


@dataclass(frozen=True)
class InMemoryTexts:
    """Texts in two lists, indexed by :attr:`Attempt.index` and :attr:`Attempt.reflection`."""

    attempts: Sequence[str]
    reflections: Sequence[str] = ()

    def attempt_text(self, index: int) -> str:
        return self.attempts[index]

    def reflection_text(self, index: int) -> str:
        return self.reflections[index]


@dataclass(frozen=True)
class Attempt:
    """One sampled answer to a question, judged by the task's verifier.

    Its text stays in the question's :class:`TextSource`; skills decide from these
    fields alone.
    """

    index: int
    """The key to its text in the question's text source."""
    correct: bool
    """The verifier's judgement: the ground truth reflections are filtered against."""
    answer: str | None
    """The answer extracted from the attempt, or None when there was none."""
    variant: str
    """The prompt variant that produced it."""
    reflection: int | None = None
    """The key to one of its reflections whose verdict agrees with ``correct`` (chosen at
    random among them), or None when it has none."""


@dataclass(frozen=True)
class Question:
    """Everything composition knows about one question: its prompt and its judged attempts."""

    id: str
    prompt: Conversation
    """The chat messages before the trace: the user turn of every trace built from it."""
    attempts: tuple[Attempt, ...]
    texts: TextSource = field(repr=False, compare=False)


@dataclass(frozen=True)
class Segment:
    """Something shown after the thinking, before the final answer: a phrase or a copied attempt."""

    text: str = ""
    attempt: Attempt | None = None
    """When set, the segment shows this attempt again as a ``<sample>`` block."""


@dataclass(frozen=True)
class Draft:
    """A trace being built; skills return changed copies (``dataclasses.replace``).

    Rendered as ``<think>`` + each attempt in a ``<sample>`` block (followed by its
    reflection in a ``<reflect>`` block when ``reflect`` is set) with a joining phrase
    between pairs + ``</think>`` + ``closing`` segments + an ending phrase +
    ``<answer>`` with the answer of ``answer_from`` (the last attempt by default).
    """

    attempts: tuple[Attempt, ...] = ()
    reflect: bool = False
    closing: tuple[Segment, ...] = ()
    answer_from: Attempt | None = None
    format: str = ""
    """The label of the trace's format, e.g. ``3C`` or ``*CC`` (see docs/skills.md)."""

    @property
    def final(self) -> Attempt | None:
        """The attempt whose answer the trace gives."""
        if self.answer_from is not None:
            return self.answer_from
        return self.attempts[-1] if self.attempts else None
