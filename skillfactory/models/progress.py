"""Progress bars for model builds and measurements: one bar per stage, with rate and ETA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

STAGE_LABELS = {
    "corpus": "writing the corpus",
    "tokenizer": "training the tokenizer",
    "training": "training the model",
    "solving": "measuring: solving",
    "judging": "measuring: judging",
}


@contextmanager
def build_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A ``(stage, done, total)`` callback that draws rich progress bars on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bars = Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(STAGE_LABELS.get(stage, stage), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield update
