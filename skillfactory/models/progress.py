"""Progress of model builds and measurements: one bar (or, in a log, line) per stage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

STAGE_LABELS = {
    "corpus": "writing the corpus",
    "tokenizer": "training the tokenizer",
    "training": "training the model",
    "solving": "measuring: solving",
    "arithmetic": "measuring: arithmetic",
    "judging": "measuring: judging",
}


@contextmanager
def build_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A ``(stage, done, total)`` callback: bars on a terminal, plain lines in a log (stderr)."""
    from rich.console import Console

    from skillfactory.progress import ProgressReport

    with ProgressReport(Console(stderr=True)) as report:
        yield lambda stage, done, total: report.update(STAGE_LABELS.get(stage, stage), done, total)
