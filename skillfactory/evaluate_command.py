"""``skillfactory evaluate``: a model on held-out questions, with metrics.json and a report."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from skillfactory.cli_types import WholeNumber
from skillfactory.errors import UsageError
from skillfactory.model_commands import model_option
from skillfactory.task_commands import parse_options


def parse_levels(text: str | None) -> tuple[int, ...]:
    """``"3,4,5"`` → ``(3, 4, 5)``."""
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"--difficulty takes whole numbers separated by commas, got {text!r}"
        ) from None


def load_sampler(
    model: str, sampler: str, options: dict[str, Any], *, trust_remote_code: bool = False
) -> tuple[Any, Any, str]:
    """The sampler plugin loaded with ``model``, the model's tokenizer, and its location."""
    from transformers import AutoTokenizer

    from skillfactory.models.resolve import resolve_model
    from skillfactory.registry import get_registry

    registration = get_registry().get("sampler", sampler)
    location = resolve_model(model)
    if trust_remote_code:
        options = {**options, "trust_remote_code": True}
    loaded = registration.create(location, **options)
    tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=trust_remote_code)
    return loaded, tokenizer, location


def prepare_output(output_dir: Path) -> None:
    """An output directory that is new, empty, or an earlier evaluation's (replaced)."""
    from skillfactory.evaluation.evaluate import METRICS_FILE, RESPONSES_FILE
    from skillfactory.evaluation.finished_cells import PARTIAL_DIR

    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"--output {str(output_dir)!r} is a file")
    earlier = (output_dir / METRICS_FILE).is_file() or (output_dir / PARTIAL_DIR).is_dir()
    if output_dir.is_dir() and not earlier and any(output_dir.iterdir()):
        raise UsageError(
            f"--output {str(output_dir)!r} is not empty and holds no evaluation; choose a "
            "new or empty directory"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESPONSES_FILE).unlink(missing_ok=True)


@click.command(name="evaluate")
@model_option
@click.option("--suite", type=click.Choice(["quick", "paper"]), default=None,
              help="A named set of tasks and levels (default: quick).")  # fmt: skip
@click.option("--task", default=None, help="One task instead of a suite.")
@click.option("--difficulty", default=None, metavar="3,4,5", help="Levels of --task.")
@click.option("--questions", type=WholeNumber(min=1), default=None,
              help="Held-out questions per level (default: the suite's).")  # fmt: skip
@click.option("--samples", type=WholeNumber(min=1), default=4, show_default=True,
              help="Responses per question (the paper: 4).")  # fmt: skip
@click.option("--max-new-tokens", type=WholeNumber(min=1), default=512, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.7, show_default=True)
@click.option("--budget-forcing", type=WholeNumber(min=0), default=0, show_default=True,
              help="Re-open the thinking with <sample> up to N times.")  # fmt: skip
@click.option("--budget-cap", type=click.Choice(["total", "each"]), default="total",
              show_default=True,
              help="Budget forcing's cap on --max-new-tokens: the whole response, or each "
                   "continuation.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--sampler", default="transformers", show_default=True)
@click.option("--sampler-option", "sampler_options", multiple=True, metavar="KEY=VALUE")
@click.option("--label", default=None, help="The model's name in the report (default: --model).")
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="For metrics.json and report.md (default: evals/LABEL).",
)
def evaluate_command(
    model: str,
    trust_remote_code: bool,
    suite: str | None,
    task: str | None,
    difficulty: str | None,
    questions: int | None,
    samples: int,
    max_new_tokens: int,
    temperature: float,
    budget_forcing: int,
    budget_cap: str,
    seed: int,
    sampler: str,
    sampler_options: tuple[str, ...],
    label: str | None,
    output_dir: Path | None,
) -> None:
    """Evaluate --model on held-out questions: accuracy with a 95% interval, answer format,
    length, attempts, reflections and verdict F1, per task and level."""
    from rich.console import Console

    from skillfactory.evaluation.evaluate import (
        RESPONSES_FILE,
        EvalSettings,
        evaluate_model,
        write_metrics,
    )
    from skillfactory.evaluation.finished_cells import FinishedCells
    from skillfactory.evaluation.suites import chosen_cells
    from skillfactory.progress import ProgressReport

    if task is None and difficulty:
        raise UsageError("--difficulty needs --task")
    cells = chosen_cells(suite, task, parse_levels(difficulty), questions)
    label = label or Path(model).name or model
    output_dir = output_dir or Path("evals") / label
    prepare_output(output_dir)
    settings = EvalSettings(
        samples=samples,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        budget_forcing=budget_forcing,
        budget_cap=budget_cap,
        seed=seed,
        suite=suite or ("custom" if task else "quick"),
    )
    loaded, tokenizer, location = load_sampler(
        model, sampler, parse_options(sampler_options, flag="--sampler-option"),
        trust_remote_code=trust_remote_code,
    )  # fmt: skip
    console = Console()
    finished = FinishedCells(
        output_dir,
        {
            "settings": asdict(settings),
            "model": [model, location, _weights_stamp(location)],
            "sampler": [sampler, sorted(sampler_options)],
            "cells": [asdict(cell) for cell in cells],
        },
    )
    if finished.count():
        console.print(f"resuming: {finished.count()} of {len(cells)} cells were already finished")
    with ProgressReport(console) as progress:
        results = evaluate_model(
            loaded,
            tokenizer,
            cells,
            settings,
            responses_file=output_dir / RESPONSES_FILE,
            on_cell=progress.counter(f"evaluating {label} (cells)", len(cells)),
            finished=finished,
        )
    write_metrics(output_dir, settings, [{"label": label, "model": location, "cells": results}])
    finished.remove()
    show_cells(console, label, results)
    from skillfactory.evaluation.report import write_report

    report = write_report([output_dir], output_dir)
    click.echo(f"Metrics: {output_dir / 'metrics.json'}; report: {report}")


def _weights_stamp(location: str) -> list[Any]:
    """Size and time of a local model's files: a model retrained in place is a new model."""
    directory = Path(location)
    if not directory.is_dir():
        return []
    return sorted(
        [path.name, path.stat().st_size, path.stat().st_mtime_ns]
        for path in directory.iterdir()
        if path.is_file() and path.suffix in {".safetensors", ".bin", ".json"}
    )


def show_cells(console: Any, label: str, cells: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"Evaluation of {label}", title_justify="left")
    for column in ("task", "level", "responses", "accuracy", "95% interval", "format", "attempts",
                   "reflections"):  # fmt: skip
        table.add_column(column, justify="left" if column == "task" else "right")
    for cell in cells:
        table.add_row(
            cell["task"],
            str(cell["difficulty"]),
            str(cell["responses"]),
            f"{cell['accuracy']:.1%}",
            f"{cell['ci_low']:.1%} to {cell['ci_high']:.1%}",
            f"{cell['format_rate']:.0%}",
            f"{cell['attempts']:.2f}",
            f"{cell['reflections']:.2f}",
        )
    console.print(table)
