"""Measuring what a base model can do before SkillFactory: solve, judge, follow the format.

The default model must be a fair stand-in for the paper's instruct model, so its
card reports, on problems its corpus never contained: Countdown accuracy by the
number of numbers (three should be winnable, more clearly harder), how often its
reflection verdicts agree with the verifier on its own attempts, how often it
gives an answer in the asked-for tags, and its accuracy on the offline
out-of-domain tasks. Any causal LM with a chat template can be measured the same
way (``skillfactory model measure --model M``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from skillfactory.models.generation import GenerationSettings, generate
from skillfactory.prompts import reflection_prompt
from skillfactory.records import Problem
from skillfactory.verdicts import parse_verdict

HELD_OUT_SEED = 1_000_003
"""Seed of the measurement problems; the corpus leaves out every one of them."""
MAX_PROBLEMS = 400
"""Most problems per cell a measurement may ask for (all of them are held out)."""

COUNTDOWN_DIFFICULTIES = (3, 4, 5, 6)
OUT_OF_DOMAIN = (("letter_countdown", 4), ("acronym", 4), ("long_multiplication", 2))
"""The offline out-of-domain tasks at the difficulty each is measured at."""

TARGETS = {
    "countdown_3": 0.15,
    "verdict_agreement": 0.75,
    "format": 0.95,
}
"""The least the default model must reach (and every out-of-domain task above zero)."""


@dataclass
class Cell:
    """Accuracy on one task at one difficulty."""

    task: str
    difficulty: int
    problems: int
    correct: int
    answered: int
    """Completions with an extractable answer."""

    @property
    def accuracy(self) -> float:
        return self.correct / self.problems if self.problems else 0.0


@dataclass
class Abilities:
    """A measurement: per-cell accuracy, verdict agreement, answer-format rate."""

    settings: str
    cells: list[Cell] = field(default_factory=list)
    judged: int = 0
    agreed: int = 0
    agreed_on_correct: int = 0
    judged_correct: int = 0
    no_verdict: int = 0

    @property
    def verdict_agreement(self) -> float:
        return self.agreed / self.judged if self.judged else 0.0

    @property
    def format_rate(self) -> float:
        total = sum(cell.problems for cell in self.cells)
        return sum(cell.answered for cell in self.cells) / total if total else 0.0

    def accuracy(self, task: str, difficulty: int) -> float:
        return next(c.accuracy for c in self.cells if c.task == task and c.difficulty == difficulty)

    def checks(self) -> list[tuple[str, float, str, bool]]:
        """``(what, measured, target, met)`` for each ability the default model must show."""
        three = self.accuracy("countdown", 3)
        harder = [self.accuracy("countdown", d) for d in COUNTDOWN_DIFFICULTIES[1:]]
        rows = [
            ("Countdown-3 accuracy", three, ">= 15%", three >= TARGETS["countdown_3"]),
            (
                "Countdown-4/5/6 below Countdown-3",
                max(harder),
                f"< {three:.0%}",
                all(value < three for value in harder),
            ),
            (
                "verdict agreement",
                self.verdict_agreement,
                ">= 75%",
                self.verdict_agreement >= TARGETS["verdict_agreement"],
            ),
            ("answer format", self.format_rate, ">= 95%", self.format_rate >= TARGETS["format"]),
        ]
        for task, difficulty in OUT_OF_DOMAIN:
            value = self.accuracy(task, difficulty)
            rows.append((f"{task} {difficulty} accuracy", value, "> 0%", value > 0))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "cells": [{**asdict(c), "accuracy": c.accuracy} for c in self.cells],
            "verdicts": {
                "judged": self.judged,
                "agreed": self.agreed,
                "agreement": self.verdict_agreement,
                "judged_correct": self.judged_correct,
                "agreed_on_correct": self.agreed_on_correct,
                "no_verdict": self.no_verdict,
            },
            "format_rate": self.format_rate,
            "checks": [
                {"ability": what, "measured": value, "target": target, "met": met}
                for what, value, target, met in self.checks()
            ],
        }

    def markdown(self) -> str:
        """Tables for a model card: accuracy by task and difficulty, then the checks."""
        lines = [
            "| task | difficulty | problems | accuracy | answered |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in self.cells:
            lines.append(
                f"| {c.task} | {c.difficulty} | {c.problems} | {c.accuracy:.1%} | "
                f"{c.answered / c.problems:.1%} |"
            )
        wrong = self.judged - self.judged_correct
        lines += [
            "",
            f"Reflection verdicts on the model's own Countdown-3 and -4 attempts: {self.judged} "
            f"judged, {self.verdict_agreement:.1%} agree with the verifier "
            f"({self.agreed_on_correct} of {self.judged_correct} right attempts called "
            f"Correct, {self.agreed - self.agreed_on_correct} of {wrong} wrong ones called "
            f"Incorrect; {self.no_verdict} without a verdict).",
            "",
            "| ability | measured | target | met |",
            "| --- | --- | --- | --- |",
        ]
        for what, value, target, met in self.checks():
            lines.append(f"| {what} | {value:.1%} | {target} | {'yes' if met else 'no'} |")
        lines += ["", f"Settings: {self.settings}."]
        return "\n".join(lines)


def measurement_cells() -> list[tuple[str, int]]:
    return [("countdown", d) for d in COUNTDOWN_DIFFICULTIES] + list(OUT_OF_DOMAIN)


def held_out_problems(task_name: str, difficulty: int, count: int = MAX_PROBLEMS) -> list[Problem]:
    """The measurement's problems for one cell (the first ``count`` of a fixed draw)."""
    from skillfactory.registry import get_registry

    task = get_registry().get("task", task_name).create()
    return task.generate(count, difficulty=difficulty, seed=HELD_OUT_SEED)


def held_out_ids(tasks: set[str] | None = None) -> set[str]:
    """Ids of every problem a measurement may use, for the corpus to leave out."""
    return {
        problem.id
        for task_name, difficulty in measurement_cells()
        if tasks is None or task_name in tasks
        for problem in held_out_problems(task_name, difficulty)
    }


def measure(
    model: Any,
    tokenizer: Any,
    *,
    problems: int = 100,
    settings: GenerationSettings | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Abilities:
    """Measure ``model`` on ``problems`` held-out problems per cell, every prompt variant in turn.

    ``on_progress(stage, done, total)`` reports progress for a progress bar.
    """
    from skillfactory.registry import get_registry

    if not 1 <= problems <= MAX_PROBLEMS:
        raise ValueError(f"problems per cell must be 1..{MAX_PROBLEMS}, got {problems}")
    settings = settings or GenerationSettings()
    abilities = Abilities(settings=settings.describe())
    cells = measurement_cells()
    conversations, owners = [], []
    for task_name, difficulty in cells:
        task = get_registry().get("task", task_name).create()
        for index, problem in enumerate(held_out_problems(task_name, difficulty, problems)):
            variant = task.variants[index % len(task.variants)]
            conversations.append(task.prompt(problem, variant))
            owners.append((task, problem))
    total = len(conversations)
    completions = generate(
        model,
        tokenizer,
        conversations,
        settings,
        on_batch=lambda done: on_progress and on_progress("solving", done, total),
    )
    to_judge = []
    for task_name, difficulty in cells:
        cell = Cell(task_name, difficulty, 0, 0, 0)
        for (task, problem), completion in zip(owners, completions, strict=True):
            if task.name != task_name or problem.difficulty != difficulty:
                continue
            answer = task.extract_answer(completion)
            correct = task.score(problem, answer).value == 1.0
            cell.problems += 1
            cell.correct += correct
            cell.answered += answer is not None
            if task_name == "countdown" and difficulty in (3, 4):
                to_judge.append((problem, completion, correct))
        abilities.cells.append(cell)
    reflections = generate(
        model,
        tokenizer,
        [reflection_prompt(problem.question, completion) for problem, completion, _ in to_judge],
        settings,
        on_batch=lambda done: on_progress and on_progress("judging", done, len(to_judge)),
    )
    for (_, _, correct), reflection in zip(to_judge, reflections, strict=True):
        verdict = parse_verdict(reflection)
        abilities.judged += 1
        abilities.judged_correct += correct
        abilities.no_verdict += verdict is None
        if verdict is not None and verdict == correct:
            abilities.agreed += 1
            abilities.agreed_on_correct += correct
    return abilities
