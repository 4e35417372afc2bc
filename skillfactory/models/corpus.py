"""The default model's training corpus: solve and judge conversations over the built-in tasks.

Solve: a task prompt (any of its variants) and one linear attempt that is right.
Judge: the project's reflection prompt (question and someone's reply) and a check
of that reply that ends in a verdict, over right and wrong replies alike. Every
attempt is scored by the task's own verifier, and one whose verdict disagrees is
left out, so the model never learns a wrong judgement. Problems that the ability
measurements hold out are never drawn.

Nothing here writes ``<sample>`` or ``<reflect>``: the multi-attempt format is
what SkillFactory teaches, so the base model must not know it already.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skillfactory.errors import UsageError
from skillfactory.models.worked import TaskWriter
from skillfactory.prompts import reflection_prompt
from skillfactory.records import Conversation, Problem

if TYPE_CHECKING:
    from skillfactory.models.drills import DrillShares
from skillfactory.task import Task

FORBIDDEN_MARKERS = ("<think", "</think", "<sample", "</sample", "<reflect", "</reflect")
"""Text the corpus never contains."""


@dataclass
class CorpusStats:
    """What went into a corpus, for the model card."""

    solve: Counter[str] = field(default_factory=Counter)
    judge_correct: Counter[str] = field(default_factory=Counter)
    judge_incorrect: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    """Attempts left out because the verifier disagreed with the writer."""
    drills: int = 0
    """Arithmetic drill conversations (see :mod:`skillfactory.models.drills`)."""

    @property
    def conversations(self) -> int:
        return (
            sum(self.solve.values())
            + sum(self.judge_correct.values())
            + sum(self.judge_incorrect.values())
            + self.drills
        )


def default_writers() -> list[TaskWriter]:
    """The writers for every built-in task that can be generated offline."""
    from skillfactory.models import worked_countdown, worked_multiplication, worked_words

    return [
        worked_countdown.WRITER,
        worked_words.LETTER_COUNTDOWN_WRITER,
        worked_words.ACRONYM_WRITER,
        worked_multiplication.WRITER,
    ]


def build_corpus(
    writers: Sequence[TaskWriter],
    problems_per_task: dict[str, int],
    *,
    seed: int,
    judge_share: float = 0.5,
    judge_right_share: float = 0.5,
    held_out: Collection[str] = (),
    drills: int = 0,
    drill_options: dict[str, Any] | None = None,
    drill_shares: DrillShares | None = None,
) -> tuple[list[Conversation], CorpusStats]:
    """Conversations for every writer's task, shuffled with ``seed``.

    ``problems_per_task`` gives how many distinct problems each task contributes,
    each written ``writer.passes`` times; each time, a problem yields one solve
    conversation and, with probability ``judge_share``, a judge conversation over
    a right attempt (with probability ``judge_right_share``) or a wrong one. A base
    model's own attempts are mostly wrong, so the judge conversations it learns from
    should be too. ``drills`` arithmetic drill conversations over Countdown steps in
    ``drill_options``' range are mixed in.
    """
    from skillfactory.models.drills import DrillShares, drill_conversations
    from skillfactory.registry import get_registry

    rng = random.Random(f"corpus/{seed}")
    stats = CorpusStats()
    conversations: list[Conversation] = []
    for writer in writers:
        task = get_registry().get("task", writer.task).create(**writer.options)
        count = problems_per_task.get(writer.task, 0)
        problems = list(_problems(task, writer, count, seed=seed, held_out=held_out))
        for problem in (problem for _ in range(writer.passes) for problem in problems):
            conversations.extend(
                _conversations(
                    task,
                    writer,
                    problem,
                    rng,
                    stats,
                    judge_share=judge_share,
                    judge_right_share=judge_right_share,
                )
            )
    if drills:
        drill_rng = random.Random(f"drills/{seed}")
        conversations.extend(
            drill_conversations(
                drills, drill_rng, options=drill_options or {}, shares=drill_shares or DrillShares()
            )
        )
        stats.drills = drills
    rng.shuffle(conversations)
    return conversations, stats


def _problems(
    task: Task, writer: TaskWriter, count: int, *, seed: int, held_out: Collection[str]
) -> Iterator[Problem]:
    """``count`` problems spread over the writer's difficulties, none of them held out."""
    total = sum(writer.difficulties.values())
    for difficulty, share in sorted(writer.difficulties.items()):
        wanted = round(count * share / total)
        if not wanted:
            continue
        yield from _draw(task, wanted, difficulty, seed=seed, held_out=held_out)


def _draw(
    task: Task, wanted: int, difficulty: int, *, seed: int, held_out: Collection[str]
) -> list[Problem]:
    """Up to ``wanted`` problems not held out; fewer where the task has no more to give."""
    extra = 0
    while wanted > 0:
        try:
            # A longer draw starts with the shorter one, so drawing more only adds problems.
            drawn = task.generate(wanted + extra, difficulty=difficulty, seed=seed)
        except UsageError:  # the task has fewer distinct problems than asked for
            wanted, extra = (wanted + extra) * 4 // 5 - extra, extra
            continue
        kept = [problem for problem in drawn if problem.id not in held_out]
        if len(kept) >= wanted:
            return kept[:wanted]
        extra += wanted - len(kept)
    return []


def _conversations(
    task: Task,
    writer: TaskWriter,
    problem: Problem,
    rng: random.Random,
    stats: CorpusStats,
    *,
    judge_share: float,
    judge_right_share: float,
) -> Iterator[Conversation]:
    variant = rng.choice(task.variants)
    right = writer.right(problem, variant, rng)
    if _verifier_says(task, problem, right.reply) and right.correct:
        stats.solve[task.name] += 1
        yield [*task.prompt(problem, variant), {"role": "assistant", "content": right.reply}]
    else:
        stats.dropped += 1
    if rng.random() >= judge_share:
        return
    attempt = (
        right
        if rng.random() < judge_right_share
        else writer.wrong(problem, rng.choice(task.variants), rng)
    )
    if _verifier_says(task, problem, attempt.reply) != attempt.correct:
        stats.dropped += 1
        return
    (stats.judge_correct if attempt.correct else stats.judge_incorrect)[task.name] += 1
    yield [
        *reflection_prompt(problem.question, attempt.reply),
        {"role": "assistant", "content": attempt.check},
    ]


def _verifier_says(task: Task, problem: Problem, reply: str) -> bool:
    return task.score(problem, task.extract_answer(reply)).value == 1.0
