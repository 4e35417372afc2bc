"""Which reasoning-gym datasets exist and which difficulty levels each has, found cheaply.

Importing ``reasoning_gym`` takes about a second (it imports every dataset module,
and with them sympy, numpy and matplotlib), and the CLI imports every plugin when
it starts. The catalogue (names, one-line descriptions, levels) is therefore built
once per installed reasoning-gym (its version and location) and kept as JSON in
the user's cache directory; later start-ups read that file and import nothing
from reasoning-gym. After editing reasoning-gym in place, delete the file.
Scanning reasoning-gym's sources instead was considered and rejected: dataset
names are often module constants and the levels come from curriculum objects, so
only importing it gives a true answer.

Difficulty levels come from reasoning-gym's curricula: our difficulty ``d`` is
curriculum level ``d - 1`` set on every attribute at once (``set_global_level``),
turned into a config in reasoning-gym's default ("inclusive") way, where each
range runs from the easiest value up to that level's. A level whose config fails
reasoning-gym's own validation, or repeats the config of the level kept below it,
is left out, so the difficulties keep reasoning-gym's numbering and may have gaps.
A dataset without a curriculum (or whose every level is invalid) has the single
difficulty 1: its default config.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from skillfactory.cache import cache_dir

FORMAT = 1
"""Bump when the catalogue's content or the level mapping changes, to drop old caches."""

SKIPPED = ("composite",)
"""Datasets that cannot be built from a default config: composite mixes other datasets."""

MAX_DESCRIPTION = 100


@dataclass(frozen=True)
class DatasetInfo:
    """What the plugin needs to know about one dataset to register it as a task."""

    name: str
    description: str
    levels: tuple[int, ...]
    """The curriculum levels (0-based) offered; empty for the default config only."""

    @property
    def difficulties(self) -> tuple[int, ...]:
        return tuple(level + 1 for level in self.levels) or (1,)


def load_catalogue() -> list[DatasetInfo]:
    """Every dataset, from the cache when it matches the installed reasoning-gym.

    Reading the cache costs a few milliseconds; a missing or stale one is rebuilt
    (about a second) and written back where the cache directory is writable.
    """
    key = _cache_key()
    path = cache_dir() / f"reasoning-gym-{key['version']}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached["key"] == key:
            return [
                DatasetInfo(item["name"], item["description"], tuple(item["levels"]))
                for item in cached["datasets"]
            ]
    catalogue = build_catalogue()
    _write_atomically(path, {"key": key, "datasets": [_as_json(info) for info in catalogue]})
    return catalogue


def build_catalogue() -> list[DatasetInfo]:
    """Import reasoning-gym and describe each of its datasets."""
    from reasoning_gym.factory import DATASETS

    return [
        DatasetInfo(name, _describe(name, dataset_class), tuple(_valid_levels(name)))
        for name, (dataset_class, _config_class) in sorted(DATASETS.items())
        if name not in SKIPPED
    ]


def level_config(name: str, level: int | None) -> dict[str, Any]:
    """The config fields of a dataset at a curriculum level, but for its seed and size
    (``{}``: the default config)."""
    if level is None:
        return {}
    from reasoning_gym.coaching.base_curriculum import (
        DefaultCurriculumContext,
        RangeAttributeMode,
    )
    from reasoning_gym.factory import create_curriculum

    curriculum = create_curriculum(name)
    curriculum.set_global_level(level)
    config = curriculum.generate_configuration(
        context=DefaultCurriculumContext(mode=RangeAttributeMode.INCLUSIVE)
    )
    return {
        item.name: getattr(config, item.name)
        for item in fields(config)
        if item.init and item.name not in ("seed", "size")
    }


def _valid_levels(name: str) -> Iterator[int]:
    from reasoning_gym.factory import DATASETS, create_curriculum, has_curriculum

    if not has_curriculum(name):
        return
    config_class = DATASETS[name][1]
    attributes = create_curriculum(name).attributes.values()
    count = max((len(attribute.levels) for attribute in attributes), default=0)
    previous: dict[str, Any] | None = None
    for level in range(count):
        try:
            config = level_config(name, level)
            validate = getattr(config_class(**config), "validate", None)
            if callable(validate):
                validate()
        except Exception:
            continue
        if config != previous:
            yield level
        previous = config


def _describe(name: str, dataset_class: type) -> str:
    """One line from the dataset class's own docstring, or a plain one naming the dataset."""
    category = dataset_class.__module__.split(".")[1] if "." in dataset_class.__module__ else ""
    own = dataset_class.__dict__.get("__doc__") or ""
    paragraph = " ".join(inspect.cleandoc(own).split("\n\n")[0].split())
    summary = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", paragraph)  # markdown links: keep the text
    summary = re.split(r"(?<=[.!?])\s|:\s", summary)[0]
    summary = re.sub(r"\s+(together with|by|with|either)$", "", summary.rstrip(" .:-"))
    if len(summary) > MAX_DESCRIPTION:
        summary = summary[:MAX_DESCRIPTION].rsplit(" ", 1)[0] + " …"
    copied = re.match(r"Generates (.+?) exercises", summary)  # some docstrings were copy-pasted
    if not summary or (copied and copied.group(1).lower().replace(" ", "_") != name):
        summary = f"the {name} dataset"
    prefix = f"reasoning-gym {category}" if category else "reasoning-gym"
    return f"{prefix}: {summary}"


def _cache_key() -> dict[str, Any]:
    spec = importlib.util.find_spec("reasoning_gym")
    location = str(Path(spec.origin).parent) if spec and spec.origin else ""
    try:
        version = importlib.metadata.version("reasoning-gym")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"format": FORMAT, "version": version, "location": location}


def _as_json(info: DatasetInfo) -> dict[str, Any]:
    return {"name": info.name, "description": info.description, "levels": list(info.levels)}


def _write_atomically(path: Path, data: Any) -> None:
    """Write JSON so that a reader never sees half a file; give up quietly where we cannot."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=1)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
