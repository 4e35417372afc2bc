"""``skillfactory compose``: judged attempts and reflections in, silver traces out."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from skillfactory.cli_types import WholeNumber
from skillfactory.composer import ComposeSummary, check_skill_set, compose
from skillfactory.errors import UsageError
from skillfactory.registry import get_registry
from skillfactory.skill import ComposeSettings, Skill

if TYPE_CHECKING:
    from skillfactory.trace_inputs import InputSummary

SUMMARY_FILE = "summary.json"
PROGRESS_FROM = 500
"""Inputs with at least this many questions get a progress bar."""


def parse_names(text: str) -> list[str]:
    """``"verify, retry"`` → ``["verify", "retry"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]


def selected_skills(text: str) -> list[Skill]:
    """The skills ``--skills`` names, checked as a set; errors name the problem and the options."""
    registry = get_registry()
    names = parse_names(text)
    if not names:
        known = ", ".join(registry.names("skill")) or "none are installed"
        raise UsageError(f"--skills needs at least one skill name; known skills: {known}")
    skills = [registration.create() for registration in registry.select("skill", names)]
    try:
        return check_skill_set(skills)
    except UsageError as error:
        raise UsageError(f"{error} (known skills: {', '.join(registry.names('skill'))})") from None


@click.command(name="compose")
@click.option("--skills", "skill_names", required=True, help="Comma-separated, e.g. verify,retry.")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Judged attempts with reflections: a JSONL file or a saved datasets directory.",
)
@click.option(
    "--output",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for traces/ (a datasets directory), traces.jsonl and summary.json.",
)
@click.option(
    "--split",
    default=None,
    help="The split to read when --input is a dataset saved with several splits.",
)
@click.option("--max-attempts", type=WholeNumber(min=1), default=5, show_default=True)
@click.option("--traces-per-question", type=WholeNumber(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--input-format",
    type=click.Choice(["auto", "skillfactory", "authors"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--order",
    type=click.Choice(["correct-last", "random"]),
    default="correct-last",
    show_default=True,
    help="random: the paper's no-sample-order ablation (the last attempt may be wrong).",
)
@click.option(
    "--no-reflections",
    is_flag=True,
    help="The paper's no-reflection ablation: no <reflect> blocks, neutral joining phrases.",
)
@click.option(
    "--all-lengths",
    is_flag=True,
    help="One trace per length 1..max-attempts for each question (the authors' *C_full).",
)
def compose_command(
    skill_names: str,
    input_path: Path,
    output_dir: Path,
    split: str | None,
    max_attempts: int,
    traces_per_question: int,
    seed: int,
    input_format: str,
    order: str,
    no_reflections: bool,
    all_lengths: bool,
) -> None:
    """Compose silver traces that show the chosen skills from judged attempts and reflections.

    Reflections are kept only where their verdict agrees with the verifier. Traces
    end on a correct attempt unless --order random. The same input and seed give
    byte-identical output.
    """
    skills = selected_skills(skill_names)
    from skillfactory.trace_inputs import read_questions
    from skillfactory.trace_output import write_traces

    settings = ComposeSettings(
        max_attempts=max_attempts,
        order=order,  # type: ignore[arg-type]
        reflections=not no_reflections,
    )
    questions, inputs = read_questions(
        input_path, input_format=input_format, seed=seed, split=split
    )
    with _progress(len(questions)) as advance:
        traces, summary = compose(
            questions,
            skills,
            settings,
            seed=seed,
            traces_per_question=traces_per_question,
            all_lengths=all_lengths,
            progress=advance,
        )
    dataset_dir, jsonl = write_traces(traces, output_dir)
    report = compose_report(
        inputs,
        summary,
        skills,
        {
            "max_attempts": max_attempts,
            "traces_per_question": traces_per_question,
            "seed": seed,
            "order": order,
            "reflections": not no_reflections,
            "all_lengths": all_lengths,
        },
    )
    (output_dir / SUMMARY_FILE).write_text(json.dumps(report, indent=2) + "\n")
    show_compose_summary(report)
    click.echo(f"Wrote {summary.traces} traces to {dataset_dir} and {jsonl}")


class _progress:
    """A progress bar on stderr for large inputs; nothing for small ones."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._bar = None

    def __enter__(self):  # -> Callable[[int], None] | None
        if self.total < PROGRESS_FROM:
            return None
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.start()
        task = self._bar.add_task("composing", total=self.total)
        return lambda done: self._bar.update(task, completed=done)

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def compose_report(
    inputs: InputSummary, summary: ComposeSummary, skills: list[Skill], settings: dict[str, Any]
) -> dict[str, Any]:
    """What composition read and made, as JSON: the summary file and the run's stage record."""
    return {
        "input": dataclasses.asdict(inputs),
        "questions": summary.questions,
        "usable_questions": summary.usable,
        "traces": summary.traces,
        "by_format": dict(sorted(summary.by_format.items())),
        "skipped": dict(sorted(summary.skipped.items())),
        "skills": [skill.name for skill in skills],
        "settings": settings,
    }


def show_compose_summary(report: dict[str, Any]) -> None:
    """The composition table: questions in and used, traces by format, reflections dropped."""
    from rich.console import Console
    from rich.table import Table

    inputs = report["input"]
    table = Table(title="Composition", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("questions in", report["questions"]),
        ("questions that gave traces", report["usable_questions"]),
        ("traces out", report["traces"]),
        *((f"  format {label}", count) for label, count in report["by_format"].items()),
        ("attempts read", inputs.get("attempts", 0)),
        ("malformed rows skipped", inputs.get("malformed_rows", 0)),
        ("reflections read", inputs.get("reflections", 0)),
        ("  dropped: no single verdict", inputs.get("reflections_without_verdict", 0)),
        ("  dropped: disagree with the verifier", inputs.get("reflections_disagreeing", 0)),
        *((f"skipped: {reason}", count) for reason, count in report["skipped"].items()),
    ]
    for label, count in rows:
        table.add_row(label, str(count))
    Console(soft_wrap=False).print(table)
