"""``skillfactory export``: hand a run to another training engine as files it reads.

An exporter is a trainer plugin whose ``produces`` is ``"files"``. Its ``data`` says what
it is given: ``"traces"``, the run's ``traces/`` dataset (for SFT engines), or
``"problems"``, fresh RL questions of the run's task and difficulty that leave out every
evaluation question (for RL engines, which prompt with the task and reward with its
verifier). See docs/exports.md.

An exporter writes for one release of its engine by default, the one its files were
checked against; one that can write for others takes an ``engine_version`` option
(``--engine-version``). Settings that depend on the model, such as its chat template and
how many positions it has, come from :func:`model_facts`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from skillfactory.cli_types import WholeNumber
from skillfactory.errors import UsageError
from skillfactory.task_commands import parse_options

CONFIG_FILE = "config.json"
STAGES_FILE = "stages.json"
TRACES_DIR = "traces"
DEFAULT_QUESTIONS = 1000
"""RL questions exported for ``"problems"`` exporters: the paper's RL set was 1,000."""
ENGINE_VERSION = "engine_version"
"""The exporter option that ``--engine-version`` sets."""


@dataclass(frozen=True)
class ModelFacts:
    """What an export knows of the model its example config trains, read without loading it.

    Engines fail late, on a cluster, when a config asks more of a model than it has (more
    positions than it was built with, another chat format than its own), so an export
    derives those settings from the model where it can. A field is None where the model's
    files are not on this machine (a hub id) or do not say.
    """

    name: str
    model_type: str | None = None
    positions: int | None = None
    """``max_position_embeddings`` in the model's config.json: the longest sequence it takes."""
    chat_template: str | None = None


def model_facts(model: str) -> ModelFacts:
    """The facts of ``model``, named as ``--model`` names it; never downloads or loads it.

    The named models speak the project's ChatML template even before their files exist
    (``rebuilt`` before a build, ``smollm2`` before its fetch): the build and the import
    write that template.
    """
    from skillfactory.models.resolve import NAMED_MODELS, local_model_dir

    directory = local_model_dir(model)
    if directory is None:
        return ModelFacts(model)
    config = _json_object(directory / "config.json")
    model_type = config.get("model_type")
    positions = config.get("max_position_embeddings")
    if isinstance(positions, bool) or not isinstance(positions, int) or positions <= 0:
        positions = None
    chat_template = _chat_template(directory)
    if chat_template is None and model in NAMED_MODELS:
        from skillfactory.models.chat_template import CHATML_TEMPLATE

        chat_template = CHATML_TEMPLATE
    return ModelFacts(
        name=model,
        model_type=model_type if isinstance(model_type, str) else None,
        positions=positions,
        chat_template=chat_template,
    )


def _chat_template(directory: Path) -> str | None:
    """The model's chat template: tokenizer_config.json's, else chat_template.jinja."""
    template = _json_object(directory / "tokenizer_config.json").get("chat_template")
    if isinstance(template, str):
        return template
    try:
        return (directory / "chat_template.jinja").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; empty when it is missing or not one (the facts are hints)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The settings of the run in ``run_dir``; a missing or foreign directory is a usage error."""
    if not run_dir.exists():
        raise UsageError(f"run directory {str(run_dir)!r} does not exist")
    if not run_dir.is_dir():
        raise UsageError(f"{str(run_dir)!r} is a file, not a run directory")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise UsageError(
            f"{str(run_dir)!r} is not a run directory (it has no {CONFIG_FILE}); "
            f"pass a directory made by `skillfactory run`"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"{str(path)!r} is unreadable ({type(error).__name__}); is it a run?"
        ) from None
    if not isinstance(config, dict):
        raise UsageError(f"{str(path)!r} does not hold a run's settings")
    for key, kind, name in _SETTING_TYPES:
        value = config.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise UsageError(f"{str(path)!r}: {key!r} must be {name}, got {value!r}")
    return config


_SETTING_TYPES = (
    ("task", str, "a task name"),
    ("difficulty", int, "a whole number"),
    ("task_options", dict, "an object of options"),
    ("seed", int, "a whole number"),
)
"""The settings an export reads from a run's config.json, and what each must be."""


def run_setting(config: Mapping[str, Any], key: str, run_dir: Path) -> Any:
    if config.get(key) is None:
        raise UsageError(f"the run's {CONFIG_FILE} in {str(run_dir)!r} has no {key!r} setting")
    return config[key]


def load_traces(run_dir: Path) -> Any:  # -> datasets.Dataset
    """The run's finished traces dataset; refuses a run whose traces are missing or stale."""
    directory = run_dir / TRACES_DIR
    finished = _finished_stages(run_dir)
    if not directory.is_dir() or (finished is not None and TRACES_DIR not in finished):
        raise UsageError(
            f"run {str(run_dir)!r} has no finished traces; run its traces stage first "
            f"(`skillfactory run` with the run's settings and --run-dir {str(run_dir)!r})"
        )
    from datasets import load_from_disk

    try:
        return load_from_disk(str(directory))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"the traces of run {str(run_dir)!r} are unreadable ({type(error).__name__}); "
            f"run its traces stage again"
        ) from None


def rl_problem_rows(config: Mapping[str, Any], run_dir: Path, count: int) -> Any:
    """``count`` RL questions of the run's task and difficulty as a problems dataset."""
    from datasets import Dataset

    from skillfactory.pipeline.problems import problem_features, problem_row
    from skillfactory.pipeline.rl_problems import rl_problems
    from skillfactory.registry import get_registry

    task_name = run_setting(config, "task", run_dir)
    task = get_registry().get("task", task_name).create(**(config.get("task_options") or {}))
    problems = rl_problems(
        task,
        difficulty=run_setting(config, "difficulty", run_dir),
        count=count,
        seed=config.get("seed") or 0,
    )
    rows = [problem_row(problem) for problem in problems]
    features = problem_features()
    columns = {name: [row[name] for row in rows] for name in features}
    return Dataset.from_dict(columns, features=features)


def export_run(
    exporter_name: str,
    run_dir: Path,
    output_dir: Path,
    *,
    model: str | None = None,
    options: Mapping[str, Any] | None = None,
    questions: int = DEFAULT_QUESTIONS,
    engine_version: str | None = None,
) -> tuple[Path, int]:
    """Export the run in ``run_dir`` with the named exporter; returns its directory and rows."""
    from skillfactory.registry import get_registry

    registration = get_registry().get("trainer", exporter_name)
    factory = registration.factory
    if factory.produces != "files":
        raise UsageError(
            f"trainer {exporter_name!r} trains a model rather than writing files; "
            f"use `skillfactory train {exporter_name} ...` instead"
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"--output {str(output_dir)!r} is a file; give a directory")
    config = read_run_config(run_dir)
    options = dict(options or {})
    if engine_version is not None:
        options = _with_engine_version(exporter_name, factory, options, engine_version)
    if "task_options" not in options and "task_options" in _parameters(factory):
        options["task_options"] = dict(config.get("task_options") or {})
    exporter = registration.create(**options)
    if factory.data == "traces":
        dataset = load_traces(run_dir)
    elif factory.data == "problems":
        dataset = rl_problem_rows(config, run_dir, questions)
    else:
        raise UsageError(f"exporter {exporter_name!r} asks for unknown data {factory.data!r}")
    chosen_model = model if model is not None else run_setting(config, "model", run_dir)
    written = exporter.train(str(chosen_model), dataset, output_dir)
    return Path(written), len(dataset)


def _with_engine_version(
    exporter_name: str, factory: type, options: dict[str, Any], version: str
) -> dict[str, Any]:
    """``options`` with ``--engine-version``, which only exporters with that option take."""
    if ENGINE_VERSION not in _parameters(factory):
        raise UsageError(
            f"exporter {exporter_name!r} writes for one engine version only; drop --engine-version"
        )
    given = options.get(ENGINE_VERSION, version)
    if str(given) != version:
        raise UsageError(
            f"--engine-version {version} and --option {ENGINE_VERSION}={given} disagree; "
            f"give one of them"
        )
    return {**options, ENGINE_VERSION: version}


@click.command(name="export")
@click.argument("exporter")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "output_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to write the files into (made if missing).",
)
@click.option(
    "--model",
    default=None,
    help="The model the example config trains: a directory or hub id (default: the run's).",
)
@click.option(
    "--option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the exporter (repeatable), e.g. template=qwen or test_size=100.",
)
@click.option(
    "--questions",
    type=WholeNumber(min=1),
    default=DEFAULT_QUESTIONS,
    show_default=True,
    help="RL questions to export, for exporters that take problems (verl).",
)
@click.option(
    "--engine-version",
    default=None,
    metavar="VERSION",
    help="The engine release to write for (default: the one the exporter was checked against).",
)
def export_command(
    exporter: str,
    run_dir: Path,
    output_dir: Path,
    model: str | None,
    option_pairs: tuple[str, ...],
    questions: int,
    engine_version: str | None,
) -> None:
    """Write a run's data as files another engine trains from: llamafactory (SFT on the
    traces) or verl (GRPO on fresh questions, rewarded by the task's verifier).

    EXPORTER is an exporter's name (see `skillfactory trainers`); RUN_DIR is a directory
    made by `skillfactory run`.
    """
    before = _snapshot(output_dir)
    written, rows = export_run(
        exporter,
        run_dir,
        output_dir,
        model=model,
        options=parse_options(option_pairs),
        questions=questions,
        engine_version=engine_version,
    )
    after = _snapshot(written)
    changed = sorted(name for name, stamp in after.items() if before.get(name) != stamp)
    what = "traces" if _data_of(exporter) == "traces" else "questions"
    click.echo(f"Exported {rows} {what} of {run_dir} for {exporter} to {written}:")
    for name in changed:
        click.echo(f"  {written / name}")


def _parameters(factory: type) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def _data_of(exporter: str) -> str:
    from skillfactory.registry import get_registry

    return get_registry().get("trainer", exporter).factory.data


def _finished_stages(run_dir: Path) -> set[str] | None:
    """The stages ``stages.json`` records as finished, or None when the run has no record."""
    path = run_dir / STAGES_FILE
    if not path.is_file():
        return None
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"{str(path)!r} is unreadable; is it a run?") from None
    return set(records) if isinstance(records, dict) else set()


def _snapshot(directory: Path) -> dict[str, int]:
    """Each plain file in ``directory`` (not hidden) and its modification time."""
    if not directory.is_dir():
        return {}
    return {
        path.name: path.stat().st_mtime_ns
        for path in directory.iterdir()
        if path.is_file() and not path.name.startswith(".")
    }
