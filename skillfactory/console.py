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
    """A table of plugins: where each came from, what it registered, whether it works.

    What went wrong is printed under the table, one whole line per problem, so that a
    long error message is neither folded into a narrow column nor cut.
    """
    if not records:
        click.echo("No plugins installed.")
        return
    from rich.table import Table

    table = Table(title="SkillFactory plugins", title_justify="left")
    # Names, versions and the status never fold; what a plugin registered takes the rest.
    table.add_column("plugin", no_wrap=True)
    table.add_column("distribution", no_wrap=True)
    table.add_column("registered")
    table.add_column("status", no_wrap=True)
    problems = []
    for record in records:
        registered = "\n".join(
            f"{key}: {_names(names)}" for key, names in record.registered.items() if names
        )
        distribution = " ".join(filter(None, (record.distribution, record.version)))
        name = _escape(record.name)
        problems += [f"[red]{name}: {_escape(error)}[/]" for error in record.errors]
        if record.unavailable:
            problems.append(f"[yellow]{name}: unavailable: {_escape(record.unavailable)}[/]")
        status = (
            "[red]failed[/]"
            if record.errors
            else "[yellow]unavailable[/]"
            if record.unavailable
            else "[green]ok[/]"
        )
        table.add_row(name, distribution or "-", registered or "-", status)
    _print(table)
    if problems:
        from rich.console import Console

        console = Console(soft_wrap=True)
        console.print("Problems (also in --json):")
        for problem in problems:
            console.print(f"  {problem}")


def show_registrations(kind: Kind, registrations: Sequence[Registration]) -> None:
    """A table of the tasks, skills, samplers or trainers that plugins registered."""
    if not registrations:
        click.echo(f"No {kind.plural} installed. Plugins add them: see 'skillfactory plugins'.")
        return
    from rich.table import Table

    shared = _shared_variants(kind, registrations)
    table = Table(
        title=f"SkillFactory {kind.plural}",
        title_justify="left",
    )
    # Two columns, so that a description keeps most of an 80-column terminal; the plugin
    # is named under the name where it differs from it (--json always names it).
    table.add_column("name", no_wrap=True)
    table.add_column("description", ratio=1)
    for registration in registrations:
        description = _escape(registration.description)
        if kind.name == "task":
            data = registration.to_json()
            levels = _levels(data["difficulties"])
            description += f"\n[dim]difficulty {levels} (default {data['default_difficulty']})"
            if not shared:
                description += f"; variants: {', '.join(data['variants'])}"
            description += "[/]"
        if kind.name == "skill":
            description += f"\n[dim]{_escape(_skill_order(registration.to_json()))}[/]"
        name = _escape(registration.name)
        if registration.plugin != registration.name:
            name += f"\n[dim]from {_escape(registration.plugin)}[/]"
        table.add_row(name, description)
    _print(table)
    if shared:  # under the table, whole (a caption would fold to the table's width)
        click.echo(f"variants of every task: {', '.join(shared)}")
    if kind.name == "skill":
        click.echo("Selected skills apply in ascending stage, each to what the earlier made;")
        click.echo("two that both choose the attempts cannot be selected together.")


def _skill_order(data: dict[str, object]) -> str:
    """Where a skill stands among others: its stage, what it needs, whether it chooses."""
    parts = [f"stage {data['stage']}"]
    if data["chooses_attempts"]:
        parts.append("chooses the attempts")
    requires = data["requires"]
    if isinstance(requires, list) and requires:
        parts.append(f"needs {', '.join(map(str, requires))}")
    return "; ".join(parts)


def _shared_variants(kind: Kind, registrations: Sequence[Registration]) -> list[str]:
    """The prompt variants, when every task has the same ones (shown once, not per row)."""
    if kind.name != "task":
        return []
    variants = {tuple(registration.to_json()["variants"]) for registration in registrations}
    return list(variants.pop()) if len(variants) == 1 else []


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
