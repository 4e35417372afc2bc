"""Progress that shows in a log: plain lines at most every 30 s, bars only on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from skillfactory.progress import EVERY, ProgressReport, progress_line


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _log_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=80), buffer


def test_in_a_log_a_line_prints_first_then_every_30_seconds_then_at_the_end():
    console, buffer = _log_console()
    clock = Clock()
    with ProgressReport(console, clock=clock) as report:
        for second in range(0, 100):
            clock.now = 1000.0 + second
            report.update("training the model", second, 100)
        clock.now = 1100.0
        report.update("training the model", 100, 100)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "training the model: 0/100 (0%)"
    assert lines[1] == "training the model: 30/100 (30%), 1.0/s, 1m 10s left"
    assert lines[2] == "training the model: 60/100 (60%), 1.0/s, 40s left"
    assert lines[3] == "training the model: 90/100 (90%), 1.0/s, 10s left"
    assert lines[4] == "training the model: 100/100 done in 1m 40s"
    assert len(lines) == 5


def test_a_resumed_piece_of_work_counts_its_rate_from_where_it_resumed():
    console, buffer = _log_console()
    clock = Clock()
    with ProgressReport(console, clock=clock, indent="  ") as report:
        report.update("sampling", 600, 1000)
        clock.now += EVERY
        report.update("sampling", 660, 1000)
    assert buffer.getvalue().splitlines() == [
        "  sampling: 600/1,000 (60%)",
        "  sampling: 660/1,000 (66%), 2.0/s, 2m 50s left",
    ]


def test_slow_work_says_how_long_each_item_takes_and_hours_read_as_hours():
    assert progress_line("eval", 1, 9, 1 / 40, 40.0) == "eval: 1/9 (11%), 40.0s each, 5m 20s left"
    assert (
        progress_line("build", 10, 5000, 0.5, 20.0)
        == "build: 10/5,000 (0%), 2.0s each, 2h 46m left"
    )


def test_two_pieces_of_work_are_reported_apart():
    console, buffer = _log_console()
    clock = Clock()
    with ProgressReport(console, clock=clock) as report:
        report.update("corpus", 0, 1)
        report.update("corpus", 1, 1)
        report.update("training", 0, 10)
    assert buffer.getvalue().splitlines() == [
        "corpus: 0/1 (0%)",
        "corpus: 1/1 done in 0s",
        "training: 0/10 (0%)",
    ]


def test_on_a_terminal_it_draws_a_bar_and_prints_no_plain_lines():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with ProgressReport(console) as report:
        report.update("training the model", 5, 10)
        report.update("training the model", 10, 10)
    drawn = buffer.getvalue()
    assert "━" in drawn and "10/10" in drawn
    assert "done in" not in drawn


def test_work_that_goes_quiet_in_a_log_prints_its_line_again():
    """One long call (a whole evaluation cell) must not leave a log silent for minutes."""
    import time

    console, buffer = _log_console()
    with ProgressReport(console, every=0.05) as report:
        report.update("evaluating (cells)", 1, 7)
        time.sleep(0.4)
        report.update("evaluating (cells)", 7, 7)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "evaluating (cells): 1/7 (14%)"
    quiet = [line for line in lines[1:-1] if line.startswith("evaluating (cells): 1/7 (14%)")]
    assert len(quiet) >= 3
    assert lines[-1].startswith("evaluating (cells): 7/7 done in")


def test_a_counter_starts_at_zero_and_counts_each_call_whatever_its_arguments():
    console, buffer = _log_console()
    clock = Clock()
    with ProgressReport(console, clock=clock) as report:
        one_more = report.counter("cells", 2)
        one_more("countdown 3", {"accuracy": 0.1})
        one_more()
    assert buffer.getvalue().splitlines() == [
        "cells: 0/2 (0%)",
        "cells: 2/2 done in 0s",
    ]
