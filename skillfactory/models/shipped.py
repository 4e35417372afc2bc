"""The default model as it ships: a finished build inside the package, used as it is.

``--model default`` means :data:`SHIPPED_DIR`, a directory ``build_model`` wrote
and the package carries as package data, so a fresh install runs offline at once.
It is never built or fetched on use: a package without it, or holding a build of
another recipe than the code's, is refused with one line that says how to make
one. ``--model rebuilt`` is what ``skillfactory model build`` makes, in the cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from skillfactory.errors import SkillFactoryError
from skillfactory.models.build import BUILD_FILE, RECIPE, default_model_dir, is_built

SHIPPED_DIR = Path(__file__).resolve().parent / "default"
"""Where the shipped default model lives (``skillfactory/models/default``)."""

SHIPPED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "generation_config.json",
    BUILD_FILE,
    "README.md",
)
"""Exactly what ``build_model`` writes; the wheel must hold every one of them."""

_REBUILD = (
    "make one with `skillfactory model build` (one-time, long), "
    "then pass --model rebuilt (or the path it prints)"
)


def shipped_model_dir() -> Path:
    """The shipped directory, unchecked: where ``--model default`` looks."""
    return SHIPPED_DIR


def built_recipe(directory: Path) -> int | None:
    """The recipe a finished build in ``directory`` was made with; None where there is none."""
    try:
        report = json.loads((directory / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    recipe = report.get("recipe") if isinstance(report, dict) else None
    return recipe if isinstance(recipe, int) else None


def shipped_model() -> Path:
    """The shipped directory, complete and of the code's recipe; else one line saying so.

    A stale model would load and run, but it is not the model this code
    describes, so it is refused rather than used quietly.
    """
    directory = shipped_model_dir()
    missing = [name for name in SHIPPED_FILES if not (directory / name).is_file()]
    if missing:
        raise SkillFactoryError(
            f"the shipped default model is missing from {directory} (no {missing[0]}); {_REBUILD}"
        )
    recipe = built_recipe(directory)
    if recipe != RECIPE:
        raise SkillFactoryError(
            f"the shipped default model in {directory} is recipe {recipe}, "
            f"but this code is recipe {RECIPE}; {_REBUILD}"
        )
    return directory


def shipped_identity() -> str:
    """``default``'s part of a run's fingerprint: the recipe and a hash of the shipped build.json.

    build.json records the build's settings, timings and loss curve, so any new
    shipped build changes it, and with it every fingerprint made with the model.
    """
    directory = shipped_model()
    digest = hashlib.sha256((directory / BUILD_FILE).read_bytes()).hexdigest()[:12]
    return f"default:r{RECIPE}:{digest}"


def rebuilt_model() -> Path:
    """The cache's build of the default model (``skillfactory model build``); one line if absent."""
    directory = default_model_dir()
    if not is_built(directory):
        raise SkillFactoryError(
            f"no rebuilt default model of recipe {RECIPE} in {directory}; "
            "make one with `skillfactory model build`"
        )
    return directory
