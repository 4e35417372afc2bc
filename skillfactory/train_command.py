"""``skillfactory train sft|grpo``: one trainer plugin on one dataset, outside a run.

``--data`` takes what the trainer reads: traces for ``sft`` (a saved datasets
directory such as a run's ``traces/``, a ``traces.jsonl``, or a run directory),
problems for ``grpo`` (the JSON Lines ``skillfactory problems`` writes, a saved
problems dataset, or a run directory whose ``grpo`` stage saved its questions).
An interrupted training resumes from its last checkpoint when the same command
is run again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from skillfactory.errors import UsageError
from skillfactory.model_commands import model_option
from skillfactory.task_commands import parse_options

RUN_DATA = {"traces": "traces", "problems": "rl_problems"}
"""Where a run directory keeps each kind of data a trainer reads."""
OURS = ("checkpoints", "training.json")
"""Files a trainer leaves in its output directory: such a directory may be trained into again."""


def load_training_data(path: Path, kind: str, split: str | None = None) -> Any:
    """The dataset at ``path`` in the shape a trainer of ``kind`` data reads.

    A directory saved as a ``DatasetDict`` is read through its only split, or ``split``.
    """
    from datasets import Dataset, load_from_disk

    from skillfactory.dataset_splits import split_directory

    if path.is_dir() and (path / "config.json").is_file() and (path / RUN_DATA[kind]).is_dir():
        path = path / RUN_DATA[kind]
    if path.is_dir():
        path = split_directory(path, split)
        try:
            dataset = load_from_disk(str(path))
        except (FileNotFoundError, ValueError) as error:
            raise UsageError(f"--data {str(path)!r} is not a saved dataset ({error})") from None
    elif split is not None:
        raise UsageError(f"--split {split!r} was given, but --data {str(path)!r} is not a dataset")
    elif path.is_file():
        rows = _json_lines(path)
        if kind == "problems":
            rows = _problem_rows(rows, path)
        dataset = Dataset.from_list(rows) if rows else Dataset.from_dict({})
    else:
        raise UsageError(f"--data {str(path)!r} does not exist")
    return dataset


def _json_lines(path: Path) -> list[dict[str, Any]]:
    from skillfactory.jsonl import read_rows, storable

    rows = []
    # Bytes, so that a line that is not UTF-8 is named like any malformed line; lone
    # surrogates kept as their escape's text, since the dataset stores UTF-8 only.
    with open(path, "rb") as handle:
        for number, row, why in read_rows(handle):
            if row is None:
                raise UsageError(f"--data {str(path)!r} line {number}: {why}")
            rows.append(storable(row))
    return rows


def _problem_rows(rows: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    from skillfactory.pipeline.problems import problem_row
    from skillfactory.records import Problem

    result = []
    for number, row in enumerate(rows, start=1):
        data = row.get("data")
        if isinstance(data, str):  # already a dataset row: data as JSON text
            try:
                row = {**row, "data": json.loads(data)}
            except ValueError:
                raise UsageError(f"--data {str(path)!r} line {number}: data is not JSON") from None
        try:
            result.append(problem_row(Problem.from_json(row)))
        except ValueError as error:
            raise UsageError(f"--data {str(path)!r} line {number}: {error}") from None
    return result


@click.command(name="train")
@click.argument("trainer_name", metavar="TRAINER")
@model_option
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Traces (sft) or problems (grpo): a saved dataset, a JSONL file, or a run directory.",
)
@click.option(
    "--output",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the trained model goes (and its checkpoints while it trains).",
)
@click.option(
    "--split",
    default=None,
    help="The split to train on when --data is a dataset saved with several splits.",
)
@click.option(
    "--option",
    "-O",
    "options",
    metavar="KEY=VALUE",
    multiple=True,
    help="A trainer option (named as in TRL's SFTConfig or GRPOConfig), e.g. -O max_steps=20.",
)
def train_command(
    trainer_name: str,
    model: str,
    trust_remote_code: bool,
    data_path: Path,
    output_dir: Path,
    split: str | None,
    options: tuple[str, ...],
) -> None:
    """Train MODEL with the TRAINER plugin (sft or grpo) and save it in --output.

    Run the same command again after an interruption: training resumes from the
    last checkpoint in --output.
    """
    from skillfactory.registry import get_registry

    registration = get_registry().get("trainer", trainer_name)
    if registration.factory.produces != "model":
        raise UsageError(
            f"{trainer_name!r} writes files for another engine; use "
            f"'skillfactory export {trainer_name} RUN_DIR --output DIR'"
        )
    settings = parse_options(options)
    if trust_remote_code:
        settings["trust_remote_code"] = True
    trainer = registration.create(**settings)
    ours = any((output_dir / name).exists() for name in OURS)
    if output_dir.is_dir() and not ours and any(output_dir.iterdir()):
        raise UsageError(
            f"--output {str(output_dir)!r} is not empty and holds no training of ours; "
            "choose a new or empty directory"
        )
    dataset = load_training_data(data_path, registration.factory.data, split)
    from skillfactory.models.resolve import resolve_model

    written = trainer.train(resolve_model(model), dataset, output_dir)
    record = json.loads((written / "training.json").read_text(encoding="utf-8"))
    facts = ", ".join(
        f"{key} {value}"
        for key, value in record.items()
        if key in ("steps", "training_loss", "last_reward", "traces_used", "problems", "seconds")
    )
    click.echo(f"Trained with {trainer_name}: {facts}")
    click.echo(f"Model: {written}")
