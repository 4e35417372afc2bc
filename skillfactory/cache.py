"""Where SkillFactory keeps what it can rebuild: built models, catalogues.

One place, so that every part agrees and a user can move it with one variable.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SKILLFACTORY_CACHE_DIR"
"""Environment variable that moves the cache; default is the platform's user cache directory."""


def cache_dir() -> Path:
    """The cache root: ``$SKILLFACTORY_CACHE_DIR``, else the platform's user cache directory."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("skillfactory", appauthor=False))


def models_dir() -> Path:
    """Where built, fetched and imported models live, one directory each."""
    return cache_dir() / "models"
