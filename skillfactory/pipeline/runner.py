"""Running the stages in order: skip what is unchanged, redo what changed and all after it.

A stage's fingerprint is a hash of the settings it depends on (see
:mod:`skillfactory.run_config`), the model's identity when it uses one, its code
version and the fingerprint of the stage before it. A finished stage whose
fingerprint still matches is skipped. One that no longer matches is redone, and
so is every stage after it, because each fingerprint folds in the one before.

Redoing a stage replaces finished work, so it needs ``--force`` when finished
work would be lost; the refusal names the settings that changed and the stages
they would redo. Shards of an interrupted stage made under the same settings are
never at risk: a rerun picks them up.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from skillfactory.errors import SkillFactoryError, UsageError
from skillfactory.pipeline.stage import Stage, StageContext
from skillfactory.run_config import made_settings, stage_settings
from skillfactory.run_store import RunStore


def fingerprints(stages: Sequence[Stage], config: Mapping[str, Any]) -> dict[str, str]:
    """Each stage's fingerprint under ``config``, in stage order."""
    from skillfactory.models.resolve import model_identity

    result: dict[str, str] = {}
    upstream = ""
    for stage in stages:
        material = {
            "stage": stage.name,
            "version": stage.version,
            "settings": {name: made_settings(config)[name] for name in stage_settings(stage.name)},
            "upstream": upstream,
        }
        if stage.uses_model:
            material["model"] = model_identity(config["model"])
        upstream = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:20]
        result[stage.name] = upstream
    return result


@dataclass(frozen=True)
class Plan:
    """What a run will do with each stage up to ``--until``."""

    skip: tuple[str, ...]
    run: tuple[str, ...]
    replaced: tuple[str, ...]
    """Stages whose finished work (or finished shards) the run would replace."""


def plan(
    stages: Sequence[Stage],
    store: RunStore,
    prints: Mapping[str, str],
    until: str,
    start: str | None = None,
) -> Plan:
    """Which stages to skip and which to run; ``start`` (``--from``) redoes it and all after."""
    finished = store.finished()
    skip: list[str] = []
    run: list[str] = []
    stale = False
    for stage in stages:
        if stage.name == start:
            stale = True
        record = finished.get(stage.name)
        matches = record is not None and record.get("fingerprint") == prints[stage.name]
        present = all(store.path(path).exists() for path in stage.outputs)
        if matches and present and not stale:
            skip.append(stage.name)
        elif start is not None and not stale:
            raise UsageError(
                f"--from {start}: the stage before it, {stage.name}, is not finished with these "
                "settings; run without --from first"
            )
        else:
            stale = True
            run.append(stage.name)
        if stage.name == until:
            break
    replaced = [
        stage.name
        for stage in stages
        if (
            stage.name in finished and finished[stage.name].get("fingerprint") != prints[stage.name]
        )
        or _other_shards(store, stage.name, prints[stage.name])
    ]
    return Plan(tuple(skip), tuple(run), tuple(replaced))


def _other_shards(store: RunStore, stage: str, fingerprint: str) -> bool:
    shards = store.shards(stage)
    found = shards.fingerprint()
    return found is not None and found != fingerprint and bool(shards.done())


def changed_settings(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """``name: old → new`` for each made setting that differs between two configs."""
    if not old:
        return []
    made = made_settings(new)
    return [
        f"{name}: {_show(old.get(name))} → {_show(value)}"
        for name, value in made.items()
        if old.get(name) != value
    ]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def run_pipeline(
    stages: Sequence[Stage],
    config: Mapping[str, Any],
    *,
    until: str,
    start: str | None = None,
    force: bool = False,
    console: Console | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``stages`` up to ``until`` in ``config['run_dir']``; returns each stage's summary.

    ``start`` (``--from``) redoes that stage and the ones after it even when they
    are finished and unchanged; the stages before it must be finished.
    """
    console = console or Console()
    store = RunStore(Path(config["run_dir"]))
    store.check_usable()
    prints = fingerprints(stages, config)
    names = [stage.name for stage in stages]
    if start is not None and names.index(start) > names.index(until):
        raise UsageError(f"--from {start} comes after --until {until}")
    steps = plan(stages, store, prints, until, start)
    if steps.replaced and not force:
        changes = changed_settings(store.read_config(), config)
        why = "; ".join(changes) if changes else "the model or the stage code changed"
        raise UsageError(
            f"run directory {str(store.root)!r} holds finished {', '.join(steps.replaced)} "
            f"made with other settings ({why}); rerun with --force to redo them, or choose "
            "another --run-dir"
        )
    store.root.mkdir(parents=True, exist_ok=True)
    store.write_config(made_settings(config))
    store.forget(steps.replaced)
    for name in steps.replaced:
        store.shards(name).remove()
    summaries: dict[str, dict[str, Any]] = {}
    context_samplers: dict[str, Any] = {}
    finished = store.finished()
    for stage in stages:
        if stage.name in steps.skip:
            summary = finished[stage.name]["summary"]
            console.rule(f"[bold]{stage.name}[/] · unchanged, skipped")
            store.log("stage_skipped", stage=stage.name, fingerprint=prints[stage.name])
        elif stage.name in steps.run:
            # Its output and everything made from it are about to change: none of it counts
            # as finished, even the stages after --until.
            store.forget(names[names.index(stage.name) :])
            console.rule(f"[bold]{stage.name}[/] · {stage.title}")
            store.log("stage_started", stage=stage.name, fingerprint=prints[stage.name])
            context = StageContext(config, store, console, prints[stage.name], context_samplers)
            started = time.perf_counter()
            try:
                summary = stage.run(context)
            except (SkillFactoryError, KeyboardInterrupt) as error:
                store.log("stage_failed", stage=stage.name, error=str(error) or "interrupted")
                raise
            seconds = time.perf_counter() - started
            store.mark_finished(stage.name, prints[stage.name], seconds, summary)
            store.shards(stage.name).remove()
            store.log(
                "stage_finished",
                stage=stage.name,
                fingerprint=prints[stage.name],
                seconds=round(seconds, 3),
                summary=summary,
            )
        else:
            break
        stage.show(summary, console)
        summaries[stage.name] = summary
    return summaries
