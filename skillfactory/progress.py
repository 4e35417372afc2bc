"""Progress of long work that shows wherever the output goes.

On a terminal a rich bar redraws in place. In a log (CI, ``nohup``, ``| tee``) a
bar never draws, and a stage that takes minutes would print nothing until it
ends, so there the same updates become one plain line at most every
:data:`EVERY` seconds, with done and total, the rate and the time left::

    training the model: 1,200/5,836 (21%), 2.6/s, 29m 40s left

The first update and the last of each piece of work always print, and inside
the ``with`` block a piece of work that has not moved for :data:`EVERY` seconds
(one long sampler call, say) prints its line again, so a log never goes silent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

EVERY = 30.0
"""Seconds between two plain progress lines of the same piece of work."""

Update = Callable[[str, int, int], None]
"""``(label, done, total)``: one piece of work, named by its label, has done ``done``."""


@dataclass
class _Work:
    total: int
    started: float
    done_at_start: int
    printed: float
    done: int = 0
    task: Any = None


class ProgressReport:
    """A context manager whose :meth:`update` draws bars on a terminal, or prints lines in a log.

    ``console`` is a rich console (whether it is a terminal decides the form);
    ``clock`` is there for tests.
    """

    def __init__(
        self,
        console: Any,
        *,
        indent: str = "",
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.indent = indent
        self.every = every
        self.clock = clock
        self.live = bool(console.is_terminal)
        self._work: dict[str, _Work] = {}
        self._bars: Any = None
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None

    def __enter__(self) -> ProgressReport:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bars = Progress(
                TextColumn(self.indent + "{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._bars.start()
        else:
            self._stop = threading.Event()
            threading.Thread(target=self._heartbeat, args=(self._stop,), daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def update(self, label: str, done: int, total: int) -> None:
        """Record that the work called ``label`` has done ``done`` of ``total``."""
        with self._lock:
            now = self.clock()
            work = self._work.get(label)
            first = work is None
            if work is None:
                work = self._work[label] = _Work(total, now, done, now)
            work.total, work.done = total, done
            if self._bars is not None:
                rate = _rate(work, done, now)
                if work.task is None:
                    work.task = self._bars.add_task(label, total=total, completed=done, rate="")
                shown = f"{rate:.1f}/s" if rate else ""
                self._bars.update(work.task, completed=done, total=total, rate=shown)
                return
            finished = done >= total
            if first or finished or now - work.printed >= self.every:
                self._print(label, work, now)
            if finished:
                del self._work[label]

    def counter(self, label: str, total: int) -> Callable[..., None]:
        """Start ``label`` at 0 of ``total``; each call of the result counts one more done.

        It takes and ignores any arguments, so it can be a callback as it is
        (``on_cell=report.counter("evaluating", len(cells))``).
        """
        done = 0
        self.update(label, done, total)

        def one_more(*_: Any) -> None:
            nonlocal done
            done += 1
            self.update(label, done, total)

        return one_more

    def _heartbeat(self, stop: threading.Event) -> None:
        """Print again the line of any piece of work that has been quiet for ``every`` s."""
        while not stop.wait(self.every / 4):
            now = self.clock()
            with self._lock:
                for label, work in self._work.items():
                    if now - work.printed >= self.every:
                        self._print(label, work, now)

    def _print(self, label: str, work: _Work, now: float) -> None:
        work.printed = now
        rate = _rate(work, work.done, now)
        self.console.print(
            self.indent + progress_line(label, work.done, work.total, rate, now - work.started),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def progress_line(label: str, done: int, total: int, rate: float | None, elapsed: float) -> str:
    """One plain line about a piece of work (what a log gets instead of a bar)."""
    if total and done >= total:
        return f"{label}: {total:,}/{total:,} done in {_duration(elapsed)}"
    share = f" ({done / total:.0%})" if total else ""
    line = f"{label}: {done:,}/{total:,}{share}"
    if rate:
        pace = f"{rate:.1f}/s" if rate >= 1 else f"{1 / rate:.1f}s each"
        line += f", {pace}, {_duration((total - done) / rate)} left"
    elif elapsed >= 1:
        line += f", {_duration(elapsed)} so far"
    return line


def _rate(work: _Work, done: int, now: float) -> float | None:
    elapsed = now - work.started
    if elapsed <= 0 or done <= work.done_at_start:
        return None
    return (done - work.done_at_start) / elapsed


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
