"""``skillfactory run``: the method, stage by stage, in one resumable run directory.

Every flag comes from the settings table in :mod:`skillfactory.run_config`, so a
flag, a config-file key and a line of ``--print-config`` are always the same
setting. Flags left out fall back to the config file, then to the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from skillfactory.run_config import (
    BY_NAME,
    NAMES,
    OPTIONS,
    SETTINGS,
    Setting,
    load_config_file,
    merge,
    parse_value,
    resolve,
    to_yaml,
)
from skillfactory.task_commands import parse_options

STAGE_NAMES = ("problems", "samples", "reflections", "traces", "sft", "grpo", "eval")
"""Kept in step with :data:`skillfactory.pipeline.stages.STAGE_NAMES` (checked by a test),
so that ``--help`` does not import the stages."""

_CLICK_TYPES: dict[Any, Any] = {int: int, float: float, str: str}


def _option(setting: Setting):  # -> a click decorator
    if setting.kind is bool:
        return click.option(
            f"{setting.flag}/--no-{setting.flag[2:]}", setting.name, default=None, help=setting.help
        )
    if setting.kind is OPTIONS:
        flag = setting.flag.removesuffix("s")
        return click.option(
            flag, setting.name, multiple=True, metavar="KEY=VALUE", help=setting.help
        )
    if setting.name in ("until", "from"):
        return click.option(
            setting.flag,
            setting.name,
            type=click.Choice(STAGE_NAMES),
            default=None,
            help=setting.help,
        )
    if setting.choices:
        return click.option(
            setting.flag,
            setting.name,
            type=click.Choice(setting.choices),
            default=None,
            help=setting.help,
        )
    kind = str if setting.kind is NAMES else _CLICK_TYPES[setting.kind]
    metavar = "A,B" if setting.kind is NAMES else None
    shown = "" if setting.default in (None, (), {}) else f"  [default: {setting.default}]"
    return click.option(
        setting.flag,
        setting.name,
        type=kind,
        default=None,
        metavar=metavar,
        help=setting.help + shown,
    )


def _with_settings(function):
    for setting in reversed(SETTINGS):
        function = _option(setting)(function)
    return function


@click.command(name="run")
@_with_settings
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML or YAML file of settings (keys as the flags, with _ for -).",
)
@click.option("--print-config", is_flag=True, help="Print the resolved settings as YAML and stop.")
@click.option(
    "--force", is_flag=True, help="Redo stages whose finished work was made with other settings."
)
def run_command(config_file: Path | None, print_config: bool, force: bool, **flags: Any) -> None:
    """Run the method: problems → samples → reflections → traces → sft → grpo → eval.

    Finished stages are skipped when their settings are unchanged; an interrupted
    stage resumes from its finished shards. Example:

        skillfactory run --skills verify,retry --until traces
    """
    from_file = load_config_file(config_file) if config_file is not None else {}
    from_flags = {}
    for name, value in flags.items():
        setting = BY_NAME[name]
        if setting.kind is OPTIONS:
            if value:
                from_flags[name] = parse_options(value, flag=setting.flag.removesuffix("s"))
        elif value is not None:
            from_flags[name] = parse_value(setting, value, where=setting.flag)
    config = resolve(merge(from_file, from_flags))
    if print_config:
        click.echo(to_yaml(config), nl=False)
        return
    from skillfactory.pipeline.runner import run_pipeline
    from skillfactory.pipeline.stages import STAGES

    until = config["until"] or STAGES[-1].name
    summaries = run_pipeline(STAGES, config, until=until, start=config["from"], force=force)
    click.echo(f"Run directory: {config['run_dir']} (stages up to {until} are done)")
    evaluation = summaries.get("eval")
    if evaluation:
        click.echo(f"Report: {evaluation['report']}")
        for label, cells in evaluation["accuracy"].items():
            figures = ", ".join(f"{cell} {value:.1%}" for cell, value in cells.items())
            click.echo(f"  {label}: {figures}")
