"""Measuring what a base model can do before SkillFactory: solve, redo a step, judge itself.

The default model must be a fair stand-in for the paper's instruct model, and a
model can be taught to use a skill only if it has the sub-skills: redoing one step
of arithmetic, and judging an attempt of its own. So its card reports, on problems
its corpus never contained:

- Countdown accuracy by the number of numbers, in the default model's own number
  range (the default run's) and in the paper's, and its accuracy on the offline
  out-of-domain tasks, each with the share of replies that give an answer in tags;
- an *arithmetic probe*: every distinct step ``a op b`` of its own Countdown
  attempts, asked on its own with the drill prompt and compared with the true value;
- a *self-check*: its own Countdown-3 and -4 attempts, sampled as the run samples
  them, judged by the model with the run's reflection prompt, split by whether the
  verifier accepts each attempt.

Any causal LM with a chat template can be measured the same way (``skillfactory
model measure --model M``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from skillfactory.models.drills import apply, drill_prompt, parse_results
from skillfactory.models.generation import GenerationSettings, generate
from skillfactory.prompts import reflection_prompt
from skillfactory.records import Problem
from skillfactory.verdicts import parse_verdict

HELD_OUT_SEED = 1_000_003
"""Seed of the measurement problems; the corpus leaves out every one of them."""
MAX_PROBLEMS = 400
"""Most problems per cell a measurement may ask for (all of them are held out)."""

COUNTDOWN_DIFFICULTIES = (3, 4, 5, 6)
PAPER_RANGE_DIFFICULTIES = (3, 4)
"""Countdown difficulties also measured in the paper's number range (1 to 100)."""
OUT_OF_DOMAIN = (("letter_countdown", 4), ("acronym", 4), ("long_multiplication", 2))
"""The offline out-of-domain tasks at the difficulty each is measured at."""
SELF_CHECK_DIFFICULTIES = (3, 4)

RUN_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.0}
"""How the run samples attempts (its defaults); the self-check judges attempts drawn so."""

TARGETS = {
    "countdown_3": 0.30,
    "format": 0.98,
    "arithmetic": 0.95,
    "self_check_balanced": 0.80,
    "self_check_each": 0.70,
    "self_check_unclear": 0.02,
}
"""The least the default model must reach (and every out-of-domain task above zero)."""

_STEP = re.compile(r"(\d+)\s*([-+*/])\s*(\d+)\s*=")


@dataclass
class Cell:
    """Accuracy on one task at one difficulty, in one setting of the task's options."""

    task: str
    difficulty: int
    problems: int
    correct: int
    answered: int
    """Completions with an extractable answer."""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.problems if self.problems else 0.0

    @property
    def format_rate(self) -> float:
        return self.answered / self.problems if self.problems else 0.0

    @property
    def label(self) -> str:
        if self.task != "countdown":
            return self.task
        low, high = self.options.get("min_number", 1), self.options.get("max_number", 100)
        return f"countdown, numbers {low}-{high}"


@dataclass
class Arithmetic:
    """The arithmetic probe: distinct steps of the model's own attempts, asked one by one."""

    asked: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    """Both by operator."""

    @property
    def accuracy(self) -> float:
        total = sum(self.asked.values())
        return sum(self.right.values()) / total if total else 0.0


@dataclass
class SelfCheck:
    """The model's verdicts on its own sampled attempts, by what the verifier says of them."""

    right: int = 0
    right_called_correct: int = 0
    wrong: int = 0
    wrong_called_incorrect: int = 0
    unclear: int = 0
    """Reflections without exactly one verdict."""

    @property
    def on_right(self) -> float:
        return self.right_called_correct / self.right if self.right else 0.0

    @property
    def on_wrong(self) -> float:
        return self.wrong_called_incorrect / self.wrong if self.wrong else 0.0

    @property
    def balanced_accuracy(self) -> float:
        return (self.on_right + self.on_wrong) / 2

    @property
    def unclear_rate(self) -> float:
        total = self.right + self.wrong
        return self.unclear / total if total else 0.0


@dataclass
class Abilities:
    """A measurement: per-cell accuracy and format, the arithmetic probe, the self-check."""

    settings: str
    cells: list[Cell] = field(default_factory=list)
    arithmetic: Arithmetic = field(default_factory=Arithmetic)
    self_check: SelfCheck = field(default_factory=SelfCheck)

    @property
    def format_rate(self) -> float:
        total = sum(cell.problems for cell in self.cells)
        return sum(cell.answered for cell in self.cells) / total if total else 0.0

    def cell(self, task: str, difficulty: int, options: dict[str, Any] | None = None) -> Cell:
        return next(
            c
            for c in self.cells
            if c.task == task and c.difficulty == difficulty and c.options == (options or {})
        )

    def checks(self) -> list[tuple[str, float, str, bool]]:
        """``(what, measured, target, met)`` for each ability the default model must show."""
        from skillfactory.models.worked_countdown import OPTIONS

        three = self.cell("countdown", 3, OPTIONS).accuracy
        four = self.cell("countdown", 4, OPTIONS).accuracy
        worst_format = min(self.cells, key=lambda c: c.format_rate)
        check = self.self_check
        rows = [
            (
                "Countdown-3 accuracy (the default run's range)",
                three,
                f">= {TARGETS['countdown_3']:.0%}",
                three >= TARGETS["countdown_3"],
            ),
            ("Countdown-4 below Countdown-3", four, f"< {three:.1%}", four < three),
            (
                f"answer format, every row (lowest: {worst_format.label}, "
                f"difficulty {worst_format.difficulty})",
                worst_format.format_rate,
                f">= {TARGETS['format']:.0%}",
                worst_format.format_rate >= TARGETS["format"],
            ),
            (
                "arithmetic probe",
                self.arithmetic.accuracy,
                f">= {TARGETS['arithmetic']:.0%}",
                self.arithmetic.accuracy >= TARGETS["arithmetic"],
            ),
            (
                "self-check balanced accuracy",
                check.balanced_accuracy,
                f">= {TARGETS['self_check_balanced']:.0%}",
                check.balanced_accuracy >= TARGETS["self_check_balanced"],
            ),
            (
                "self-check: right attempts called Correct",
                check.on_right,
                f">= {TARGETS['self_check_each']:.0%}",
                check.on_right >= TARGETS["self_check_each"],
            ),
            (
                "self-check: wrong attempts called Incorrect",
                check.on_wrong,
                f">= {TARGETS['self_check_each']:.0%}",
                check.on_wrong >= TARGETS["self_check_each"],
            ),
            (
                "self-check: replies without a single verdict",
                check.unclear_rate,
                f"<= {TARGETS['self_check_unclear']:.0%}",
                check.unclear_rate <= TARGETS["self_check_unclear"],
            ),
        ]
        for task, difficulty in OUT_OF_DOMAIN:
            value = self.cell(task, difficulty).accuracy
            rows.append((f"{task} {difficulty} accuracy", value, "> 0%", value > 0))
        return rows

    def to_json(self) -> dict[str, Any]:
        check = self.self_check
        return {
            "settings": self.settings,
            "cells": [
                {**asdict(c), "accuracy": c.accuracy, "format_rate": c.format_rate}
                for c in self.cells
            ],
            "arithmetic": {
                "asked": dict(self.arithmetic.asked),
                "right": dict(self.arithmetic.right),
                "accuracy": self.arithmetic.accuracy,
            },
            "self_check": {
                **asdict(check),
                "on_right": check.on_right,
                "on_wrong": check.on_wrong,
                "balanced_accuracy": check.balanced_accuracy,
                "unclear_rate": check.unclear_rate,
            },
            "format_rate": self.format_rate,
            "checks": [
                {"ability": what, "measured": value, "target": target, "met": met}
                for what, value, target, met in self.checks()
            ],
        }

    def markdown(self) -> str:
        """Tables for a model card: accuracy by task and difficulty, the probes, the checks."""
        lines = [
            "| task | difficulty | problems | accuracy | answered |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in self.cells:
            lines.append(
                f"| {c.label} | {c.difficulty} | {c.problems} | {c.accuracy:.1%} | "
                f"{c.format_rate:.1%} |"
            )
        by_op = ", ".join(
            f"{op} {self.arithmetic.right[op]}/{self.arithmetic.asked[op]}"
            for op in sorted(self.arithmetic.asked)
        )
        check = self.self_check
        lines += [
            "",
            f"Arithmetic probe: {sum(self.arithmetic.asked.values())} distinct steps of its own "
            f"Countdown attempts, {self.arithmetic.accuracy:.1%} right ({by_op}).",
            "",
            f"Self-check on its own Countdown-3 and -4 attempts sampled at temperature "
            f"{RUN_SAMPLING['temperature']}: {check.right_called_correct} of {check.right} right "
            f"attempts called Correct ({check.on_right:.1%}), {check.wrong_called_incorrect} of "
            f"{check.wrong} wrong ones called Incorrect ({check.on_wrong:.1%}); balanced "
            f"accuracy {check.balanced_accuracy:.1%}; {check.unclear} without a single verdict.",
            "",
            "| ability | measured | target | met |",
            "| --- | --- | --- | --- |",
        ]
        for what, value, target, met in self.checks():
            lines.append(f"| {what} | {value:.1%} | {target} | {'yes' if met else 'no'} |")
        lines += ["", f"Settings: {self.settings}."]
        return "\n".join(lines)


def measurement_cells() -> list[tuple[str, int, dict[str, Any]]]:
    """``(task, difficulty, task options)`` of every cell a measurement fills.

    Countdown is measured in the default model's own range (the default run's)
    at every difficulty, and in the paper's range (the task's default) beside it.
    """
    from skillfactory.models.worked_countdown import OPTIONS

    return (
        [("countdown", d, dict(OPTIONS)) for d in COUNTDOWN_DIFFICULTIES]
        + [("countdown", d, {}) for d in PAPER_RANGE_DIFFICULTIES]
        + [(task, d, {}) for task, d in OUT_OF_DOMAIN]
    )


def held_out_problems(
    task_name: str,
    difficulty: int,
    count: int = MAX_PROBLEMS,
    options: dict[str, Any] | None = None,
) -> list[Problem]:
    """The measurement's problems for one cell (the first ``count`` of a fixed draw)."""
    from skillfactory.registry import get_registry

    task = get_registry().get("task", task_name).create(**(options or {}))
    return task.generate(count, difficulty=difficulty, seed=HELD_OUT_SEED)


def held_out_ids(tasks: set[str] | None = None) -> set[str]:
    """Ids of every problem a measurement may use, for the corpus to leave out."""
    return {
        problem.id
        for task_name, difficulty, options in measurement_cells()
        if tasks is None or task_name in tasks
        for problem in held_out_problems(task_name, difficulty, options=options)
    }


Progress = Callable[[str, int, int], None]


def measure(
    model: Any,
    tokenizer: Any,
    *,
    problems: int = 200,
    settings: GenerationSettings | None = None,
    on_progress: Progress | None = None,
) -> Abilities:
    """Measure ``model`` on ``problems`` held-out problems per cell, every prompt variant in turn.

    ``settings`` decode the solving, the probe and the judging (greedy unless said
    otherwise); the attempts the self-check judges are sampled as the run samples
    them. ``on_progress(stage, done, total)`` reports progress for a progress bar.
    """
    if not 1 <= problems <= MAX_PROBLEMS:
        raise ValueError(f"problems per cell must be 1..{MAX_PROBLEMS}, got {problems}")
    settings = settings or GenerationSettings()
    abilities = Abilities(settings=settings.describe())
    attempts = _solve_cells(model, tokenizer, problems, settings, abilities, on_progress)
    _probe_arithmetic(model, tokenizer, attempts, settings, abilities, on_progress)
    _self_check(model, tokenizer, problems, settings, abilities, on_progress)
    return abilities


def _prompts(problems: int, options_for: Sequence[tuple[str, int, dict[str, Any]]]):
    """Every cell's held-out problems with their prompts, the variants in turn."""
    from skillfactory.registry import get_registry

    conversations, owners = [], []
    for task_name, difficulty, options in options_for:
        task = get_registry().get("task", task_name).create(**options)
        for index, problem in enumerate(
            held_out_problems(task_name, difficulty, problems, options)
        ):
            variant = task.variants[index % len(task.variants)]
            conversations.append(task.prompt(problem, variant))
            owners.append((task, problem, options))
    return conversations, owners


def _solve_cells(model, tokenizer, problems, settings, abilities, on_progress) -> list[str]:
    """Fill the accuracy cells; return the Countdown completions in the run's range."""
    from skillfactory.models.worked_countdown import OPTIONS

    cells = measurement_cells()
    conversations, owners = _prompts(problems, cells)
    completions = generate(
        model,
        tokenizer,
        conversations,
        settings,
        on_batch=lambda done: on_progress and on_progress("solving", done, len(conversations)),
    )
    countdown_attempts = []
    for task_name, difficulty, options in cells:
        cell = Cell(task_name, difficulty, 0, 0, 0, options)
        for (task, problem, owner_options), completion in zip(owners, completions, strict=True):
            if (task.name, problem.difficulty, owner_options) != (task_name, difficulty, options):
                continue
            answer = task.extract_answer(completion)
            cell.problems += 1
            cell.correct += task.score(problem, answer).value == 1.0
            cell.answered += answer is not None
            if task_name == "countdown" and options == OPTIONS:
                countdown_attempts.append(completion)
        abilities.cells.append(cell)
    return countdown_attempts


def _probe_arithmetic(model, tokenizer, attempts, settings, abilities, on_progress) -> None:
    """Ask every distinct valid step of ``attempts`` on its own; compare with the truth."""
    from skillfactory.models.drills import Fact

    facts: dict[str, Fact] = {}
    for attempt in attempts:
        for left, op, right in _STEP.findall(attempt):
            value = apply(op, int(left), int(right))
            if value is not None:
                fact = Fact(int(left), op, int(right), value)
                facts.setdefault(fact.question, fact)
    asked = list(facts.values())
    if not asked:  # no attempt wrote a step (a model that never learned the form)
        return
    replies = generate(
        model,
        tokenizer,
        [drill_prompt([fact]) for fact in asked],
        GenerationSettings(
            max_new_tokens=16, temperature=settings.temperature, batch_size=settings.batch_size
        ),
        on_batch=lambda done: on_progress and on_progress("arithmetic", done, len(asked)),
    )
    for fact, reply in zip(asked, replies, strict=True):
        parsed = parse_results(reply)
        first = parsed[0] if parsed else None
        abilities.arithmetic.asked[fact.op] += 1
        abilities.arithmetic.right[fact.op] += first == (fact.question, fact.result)


def _self_check(model, tokenizer, problems, settings, abilities, on_progress) -> None:
    """Judge the model's own sampled Countdown-3 and -4 attempts with the reflection prompt."""
    from skillfactory.models.generation import sample_completions
    from skillfactory.models.worked_countdown import OPTIONS
    from skillfactory.sampler import SamplingSettings

    cells = [("countdown", d, dict(OPTIONS)) for d in SELF_CHECK_DIFFICULTIES]
    conversations, owners = _prompts(problems, cells)
    sampled = sample_completions(
        model,
        tokenizer,
        conversations,
        SamplingSettings(
            max_new_tokens=settings.max_new_tokens, seed=settings.seed, **RUN_SAMPLING
        ),
        batch_size=settings.batch_size,
        on_batch=lambda done: on_progress and on_progress("sampling", done, len(conversations)),
    )
    attempts = [texts[0] for texts in sampled]
    reflections = generate(
        model,
        tokenizer,
        [
            reflection_prompt(problem.question, attempt)
            for (_, problem, _), attempt in zip(owners, attempts, strict=True)
        ],
        settings,
        on_batch=lambda done: on_progress and on_progress("judging", done, len(attempts)),
    )
    check = abilities.self_check
    for (task, problem, _), attempt, reflection in zip(owners, attempts, reflections, strict=True):
        right = task.score(problem, task.extract_answer(attempt)).value == 1.0
        verdict = parse_verdict(reflection)
        check.unclear += verdict is None
        if right:
            check.right += 1
            check.right_called_correct += verdict is True
        else:
            check.wrong += 1
            check.wrong_called_incorrect += verdict is False
