"""Named evaluation suites: which tasks, at which levels, on how many held-out questions.

``paper`` mirrors the paper's evaluation: Countdown with 4, 5 and 6 numbers (the
harder variants of the training task), Letter Countdown 4 and 5, Acronym 4 and
5, multiplication of 2 to 5 digits, and CSQA and GSM8K where their data are on
the machine. ``quick`` asks the same questions of the method at a size a CPU
answers in minutes: Countdown 3 to 6 and one level of each generated
out-of-domain task.
"""

from __future__ import annotations

from dataclasses import dataclass

from skillfactory.errors import UsageError


@dataclass(frozen=True)
class Cell:
    """One task at one level, and how many held-out questions to ask there."""

    task: str
    difficulty: int
    count: int


SUITES: dict[str, tuple[Cell, ...]] = {
    "quick": (
        # Enough in-domain questions for a 95% interval of about +-5 points at 2 samples each.
        Cell("countdown", 3, 200),
        *(Cell("countdown", level, 48) for level in (4, 5, 6)),
        Cell("letter_countdown", 4, 32),
        Cell("acronym", 4, 32),
        Cell("long_multiplication", 2, 32),
    ),
    "paper": (
        *(Cell("countdown", level, 200) for level in (4, 5, 6)),
        *(Cell("letter_countdown", level, 200) for level in (4, 5)),
        *(Cell("acronym", level, 200) for level in (4, 5)),
        *(Cell("long_multiplication", level, 200) for level in (2, 3, 4, 5)),
        Cell("csqa", 1, 500),
        Cell("gsm8k", 1, 500),
    ),
}
OPTIONAL_DATA = {"csqa", "gsm8k"}
"""Tasks whose questions come from a dataset: a suite skips them when the data are absent."""


def suite_cells(name: str) -> tuple[Cell, ...]:
    if name not in SUITES:
        raise UsageError(f"unknown suite {name!r}; suites: {', '.join(SUITES)}")
    return SUITES[name]


def chosen_cells(
    suite: str | None, task: str | None, difficulties: tuple[int, ...], count: int | None
) -> tuple[Cell, ...]:
    """The cells ``--suite`` or ``--task``/``--difficulty`` ask for (a task wins over a suite)."""
    if task is None:
        cells = suite_cells(suite or "quick")
        return tuple(Cell(c.task, c.difficulty, count or c.count) for c in cells)
    from skillfactory.registry import get_registry

    task_class = get_registry().get("task", task).factory
    levels = difficulties or (task_class.resolve_difficulty(None),)
    return tuple(Cell(task, task_class.resolve_difficulty(level), count or 24) for level in levels)
