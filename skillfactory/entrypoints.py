"""Find the installed plugins: entry points of the group ``skillfactory``.

Only installed entry points are ever loaded; there is no way to load a plugin
from a loose file. ``SKILLFACTORY_PLUGINS`` narrows the set (tests, debugging).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from skillfactory.hookspecs import PROJECT_NAME

GROUP = PROJECT_NAME
"""The entry-point group every plugin, built-in or third-party, is listed in."""

PLUGINS_ENV = "SKILLFACTORY_PLUGINS"
"""Comma-separated entry-point names to load; unset loads all, empty loads none."""

HOME_DISTRIBUTION = "skillfactory"
"""This project's own distribution: its plugins load first, so that their names win."""


@dataclass(frozen=True)
class PluginSource:
    """An entry point together with the distribution that declares it."""

    name: str
    """The entry-point name, which is also the plugin's name."""
    value: str
    """What the entry point points at, e.g. ``my_package.plugin``."""
    distribution: str | None
    version: str | None
    entry_point: EntryPoint | None
    """None when ``SKILLFACTORY_PLUGINS`` asked for a name that is not installed."""


def requested_plugins(environ: Mapping[str, str] = os.environ) -> list[str] | None:
    """The entry-point names ``SKILLFACTORY_PLUGINS`` asks for, or None to load every plugin."""
    raw = environ.get(PLUGINS_ENV)
    if raw is None:
        return None
    return list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))


def discover(requested: list[str] | None = None) -> list[PluginSource]:
    """Every installed plugin (or the requested ones), this project's own first, then by name.

    A requested name that no distribution declares comes last, as a source without
    an entry point, so that the typo shows up in ``skillfactory plugins``.
    """
    sources = sorted((_source(ep) for ep in entry_points(group=GROUP)), key=_load_order)
    if requested is None:
        return sources
    found = {source.name for source in sources}
    missing = [PluginSource(name, "", None, None, None) for name in requested if name not in found]
    return [source for source in sources if source.name in requested] + missing


def _source(entry_point: EntryPoint) -> PluginSource:
    dist = getattr(entry_point, "dist", None)
    distribution = dist.metadata["Name"] if dist is not None else None
    version = dist.version if dist is not None else None
    return PluginSource(entry_point.name, entry_point.value, distribution, version, entry_point)


def _load_order(source: PluginSource) -> tuple[bool, str, str]:
    distribution = (source.distribution or "").lower()
    return (distribution != HOME_DISTRIBUTION, distribution, source.name)
