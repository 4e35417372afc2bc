"""Judging completions with a task's verifier: extract the answer, then score it.

This is the one place that decides how a task's scorer runs. Tasks whose scorer
cannot be trusted with hostile input (``sandboxed_scoring``) are scored in a
:class:`~skillfactory.sandbox.ScoringPool`, in worker processes with time and
memory limits; all others in this process, which is far faster. Either way a
scorer that raises or returns nonsense gives 0 with a reason instead of stopping
the caller: a crashing scorer must not end a sampling run or an RL step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from skillfactory.records import Problem, Score
from skillfactory.sandbox import SCORER_RAISED, ScoringPool, judge
from skillfactory.task import Task


@dataclass(frozen=True)
class Judgement:
    """What the verifier made of one completion."""

    extracted: str | None
    score: Score


class Verifier:
    """A task's verifier, ready to judge many completions; use it as a context manager.

    For a sandboxed task the worker pool lives as long as the ``with`` block, so
    that its start-up is paid once, not per batch. ``sandbox`` overrides the task's
    own declaration (``False`` only for answers you trust); ``workers``,
    ``time_limit`` (seconds per answer) and ``memory_limit_mb`` configure the pool.
    """

    def __init__(
        self,
        task: Task,
        task_options: Mapping[str, Any] | None = None,
        *,
        sandbox: bool | None = None,
        workers: int = 1,
        time_limit: float = 2.0,
        memory_limit_mb: int = 1024,
    ) -> None:
        self.task = task
        self.sandboxed = task.sandboxed_scoring if sandbox is None else sandbox
        self._pool_settings = {
            "workers": workers,
            "time_limit": time_limit,
            "memory_limit_mb": memory_limit_mb,
        }
        self._task_options = dict(task_options or {})
        self._pool: ScoringPool | None = None
        self.judged = 0
        self.scorer_errors = 0
        """Answers whose scorer raised (each scored 0): a bug in the task, not a wrong answer."""
        self.first_scorer_error: str | None = None

    def __enter__(self) -> Verifier:
        if self.sandboxed:
            self._pool = ScoringPool(self.task.name, self._task_options, **self._pool_settings)
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
        if self.sandboxed:
            if self._pool is None:
                raise RuntimeError("a sandboxed verifier judges only inside its `with` block")
            scores = self._pool.score_many(pairs)
        else:
            scores = [judge(self.task, problem, answer) for problem, answer in pairs]
        self.judged += len(scores)
        for score in scores:
            if score.reason.startswith(SCORER_RAISED):
                self.scorer_errors += 1
                self.first_scorer_error = self.first_scorer_error or score.reason
        return [Judgement(answer, score) for (_, answer), score in zip(pairs, scores, strict=True)]

    def scorer_warning(self) -> str | None:
        """One line saying that the task's scorer raised, and on how many answers; else None."""
        if not self.scorer_errors:
            return None
        first = self.first_scorer_error.removeprefix(SCORER_RAISED).strip()
        return (
            f"the {self.task.name} scorer raised on {self.scorer_errors} of {self.judged} "
            f"answers (first: {first}); each scored 0, which looks like a wrong answer but is a "
            "bug in the task plugin"
        )
