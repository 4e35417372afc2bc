"""How the CLI shows things: rich tables for people, stable JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from skillfactory.registry import Kind, PluginRecord, Registration


def echo_json(data: Any) -> None:
    """Print JSON on stdout and nothing else, so that ``| jq`` always works."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show_plugins(records: Sequence[PluginRecord]) -> None:
    """A table of plugins: where each came from, what it registered, what went wrong."""
    if not records:
        click.echo("No plugins installed.")
        return
    from rich.table import Table

    table = Table(title="SkillFactory plugins", title_justify="left")
    for column in ("plugin", "distribution", "registered", "status"):
        table.add_column(column)
    for record in records:
        registered = "\n".join(
            f"{key}: {_names(names)}" for key, names in record.registered.items() if names
        )
        distribution = " ".join(filter(None, (record.distribution, record.version)))
        problems = [f"[red]{_escape(error)}[/]" for error in record.errors]
        if record.unavailable:
            problems.append(f"[yellow]unavailable: {_escape(record.unavailable)}[/]")
        status = "\n".join(problems) or "[green]ok[/]"
        table.add_row(record.name, distribution or "-", registered or "-", status)
    _print(table)


def show_registrations(kind: Kind, registrations: Sequence[Registration]) -> None:
    """A table of the tasks, skills, samplers or trainers that plugins registered."""
    if not registrations:
        click.echo(f"No {kind.plural} installed. Plugins add them: see 'skillfactory plugins'.")
        return
    from rich.table import Table

    table = Table(title=f"SkillFactory {kind.plural}", title_justify="left")
    for column in ("name", "description", "plugin"):
        table.add_column(column)
    for registration in registrations:
        description = _escape(registration.description)
        if kind.name == "task":
            data = registration.to_json()
            levels = _levels(data["difficulties"])
            description += (
                f"\n[dim]difficulty {levels} (default {data['default_difficulty']}); "
                f"variants: {', '.join(data['variants'])}[/]"
            )
        table.add_row(registration.name, description, registration.plugin)
    _print(table)


def _levels(levels: Sequence[int]) -> str:
    """``2-8`` for a run of consecutive levels, ``1, 3, 5`` otherwise."""
    if len(levels) > 2 and list(levels) == list(range(levels[0], levels[-1] + 1)):
        return f"{levels[0]}-{levels[-1]}"
    return ", ".join(str(level) for level in levels)


MAX_NAMES_SHOWN = 6
"""A plugin that registers more names than this (a bridge to a whole library) is summarised."""


def _names(names: Sequence[str]) -> str:
    ordered = sorted(names)
    if len(ordered) <= MAX_NAMES_SHOWN:
        return ", ".join(ordered)
    shown = ", ".join(ordered[: MAX_NAMES_SHOWN - 1])
    return f"{len(ordered)}: {shown}, … (--json lists all)"


def _print(renderable: object) -> None:
    from rich.console import Console

    Console(soft_wrap=False).print(renderable)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
