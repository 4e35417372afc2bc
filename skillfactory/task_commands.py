"""`skillfactory problems` and `skillfactory score`: a task's generator and verifier as commands.

``problems`` writes JSON Lines that ``score`` reads back with a ``completion``
added to each line, so a user can check any model's output, or their own
reference answers, against the exact verifier the pipeline uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import click

from skillfactory.cli_types import WholeNumber
from skillfactory.errors import UsageError
from skillfactory.jsonl import dumps, output_stream, read_rows
from skillfactory.records import Problem
from skillfactory.registry import get_registry
from skillfactory.scoring import Verifier
from skillfactory.task import Task

SCORE_BATCH = 512
"""Lines judged per batch: bounds memory on large files and keeps output flowing."""

_output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output (the file appears once complete).",
)


_task_option = click.option(
    "--option",
    "-O",
    "options",
    metavar="KEY=VALUE",
    multiple=True,
    help="An option of the task, e.g. -O path=gsm8k.jsonl; VALUE is read as JSON when it can be.",
)


def parse_options(pairs: Sequence[str], *, flag: str = "--option") -> dict[str, Any]:
    """``("a=1", "b=x")`` → ``{"a": 1, "b": "x"}``; a value that is not JSON stays a string."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.isidentifier():
            raise UsageError(f"{flag} takes KEY=VALUE with KEY a name, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _task(name: str, options: dict[str, Any]) -> Task:
    return get_registry().get("task", name).create(**options)


@click.command()
@click.argument("task_name", metavar="TASK")
@click.option("--count", "-n", type=WholeNumber(min=1), default=10, show_default=True)
@click.option("--difficulty", "-d", type=int, default=None, help="[default: the task's default]")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--variant", default=None, help="Prompt variant [default: the task's first].")
@_task_option
@_output_option
def problems(
    task_name: str,
    count: int,
    difficulty: int | None,
    seed: int,
    variant: str | None,
    options: tuple[str, ...],
    output: Path | None,
) -> None:
    """Generate COUNT problems of TASK as JSON Lines, each with its chat prompt.

    Every line holds the problem (id, task, difficulty, question, reference answer,
    the data the scorer needs), the variant, and the prompt messages. The same
    arguments always give the same bytes.
    """
    task = _task(task_name, parse_options(options))
    level = task.resolve_difficulty(difficulty)
    variant = task.resolve_variant(variant)
    generated = task.generate(count, difficulty=level, seed=seed)
    with output_stream(output) as stream:
        for problem in generated:
            row = {**problem.to_json(), "variant": variant, "prompt": task.prompt(problem, variant)}
            stream.write(dumps(row) + "\n")


@click.command()
@click.argument("task_name", metavar="TASK")
@click.argument("source", metavar="[FILE]", type=click.File("rb"), default="-")
@_task_option
@_output_option
def score(task_name: str, source: BinaryIO, options: tuple[str, ...], output: Path | None) -> None:
    """Score completions against TASK's verifier.

    Reads JSON Lines from FILE (standard input when omitted), each a problem as
    ``skillfactory problems`` wrote it plus a ``completion`` string, and writes each
    line back with ``extracted``, ``score`` and ``reason`` added. Malformed lines are
    reported by line number (exit 2) after every good line has been scored.
    """
    task_options = parse_options(options)
    task = _task(task_name, task_options)
    bad_lines: list[str] = []
    batch: list[tuple[dict[str, Any], Problem, str]] = []
    with output_stream(output) as stream, Verifier(task, task_options) as verifier:
        for number, row, why in read_rows(source):
            parsed = _parse_row(task, row) if row is not None else why
            if isinstance(parsed, str):
                bad_lines.append(f"line {number}: {parsed}")
                continue
            batch.append((row, *parsed))
            if len(batch) >= SCORE_BATCH:
                _write_scored(verifier, batch, stream)
                batch = []
        _write_scored(verifier, batch, stream)
    warning = verifier.scorer_warning()
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    for message in bad_lines[:-1]:
        click.echo(f"Error: {message}", err=True)
    if bad_lines:
        raise UsageError(
            bad_lines[-1] + (f" ({len(bad_lines)} malformed lines)" if len(bad_lines) > 1 else "")
        )


def _parse_row(task: Task, row: dict[str, Any]) -> tuple[Problem, str] | str:
    """The problem and completion a line holds, or why it holds none."""
    try:
        problem = Problem.from_json(row)
    except ValueError as error:
        return str(error)
    if problem.task != task.name:
        return f"the problem belongs to task {problem.task!r}, not {task.name!r}"
    if "completion" not in row:
        return "field 'completion' is missing"
    completion = row["completion"]
    if not isinstance(completion, str):
        return f"field 'completion' must be a string, got {completion!r:.40}"
    return problem, completion


def _write_scored(
    verifier: Verifier, batch: list[tuple[dict[str, Any], Problem, str]], stream: TextIO
) -> None:
    if not batch:
        return
    judgements = verifier.judge([(problem, completion) for _, problem, completion in batch])
    for (row, _, _), judgement in zip(batch, judgements, strict=True):
        scored = {
            **row,
            "extracted": judgement.extracted,
            "score": judgement.score.value,
            "reason": judgement.score.reason,
        }
        stream.write(dumps(scored) + "\n")
