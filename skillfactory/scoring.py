"""Judging completions with a task's verifier: extract the answer, then score it.

Tasks whose scorer cannot be trusted with hostile input (``sandboxed_scoring``)
are scored in worker processes with time and memory limits; all others in this
process, which is far faster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from skillfactory.records import Problem, Score
from skillfactory.task import Task

if TYPE_CHECKING:
    from skillfactory.sandbox import ScoringPool


@dataclass(frozen=True)
class Judgement:
    """What the verifier made of one completion."""

    extracted: str | None
    score: Score


class Verifier:
    """A task's verifier, ready to judge many completions; use it as a context manager.

    For a task with ``sandboxed_scoring`` the worker pool starts on entry and stops
    on exit, so that its start-up cost is paid once, not per batch.
    """

    def __init__(self, task: Task, task_options: Mapping[str, Any] | None = None) -> None:
        self.task = task
        self.task_options = dict(task_options or {})
        self._pool: ScoringPool | None = None

    def __enter__(self) -> Verifier:
        if self.task.sandboxed_scoring:
            from skillfactory.sandbox import ScoringPool

            self._pool = ScoringPool(self.task.name, self.task_options)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def judge(self, items: Sequence[tuple[Problem, str]]) -> list[Judgement]:
        """Judge ``(problem, completion)`` pairs, in order."""
        pairs = [(problem, self.task.extract_answer(completion)) for problem, completion in items]
        if self.task.sandboxed_scoring:
            if self._pool is None:
                raise RuntimeError("a sandboxed verifier judges only inside its `with` block")
            scores = self._pool.score_many(pairs)
        else:
            scores = [self.task.score(problem, answer) for problem, answer in pairs]
        return [Judgement(answer, score) for (_, answer), score in zip(pairs, scores, strict=True)]
