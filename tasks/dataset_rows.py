"""Rows of a benchmark dataset, from the Hugging Face Hub or from a local copy.

``gsm8k`` and ``csqa`` evaluate on real datasets rather than generated ones. Both
load through ``datasets.load_dataset``: from the Hub by default, or from a file or
folder given as the task option ``path``, for machines without Hub access. Any
failure becomes a one-line :class:`~skillfactory.SkillFactoryError` that says how
to use a local copy, because that is the fix on an offline machine.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skillfactory.errors import SkillFactoryError, UsageError, one_line

BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
"""The ``datasets`` builder for each kind of local file."""

KNOWN_SPLITS = ("train", "test", "validation", "dev")


def load_rows(
    task: str,
    *,
    hub_name: str,
    hub_config: str | None,
    split: str,
    path: str | Path | None,
    cache_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Every row of ``split``, from ``path`` when given, otherwise from the Hub."""
    import datasets

    cache = str(cache_dir) if cache_dir is not None else None
    if path is None:
        try:
            loaded = datasets.load_dataset(hub_name, hub_config, split=split, cache_dir=cache)
        except Exception as error:
            raise SkillFactoryError(
                f"{task}: could not load {hub_name} ({split} split) from the Hugging Face Hub "
                f"({one_line(error)}); download it and pass the task option path=FILE_OR_FOLDER "
                f"(.jsonl, .json or .parquet)"
            ) from error
    else:
        builder, files = _local_files(task, Path(path), split)
        try:
            loaded = datasets.load_dataset(
                builder, data_files=files, split="train", cache_dir=cache
            )
        except Exception as error:
            raise SkillFactoryError(f"{task}: could not read {path}: {one_line(error)}") from error
    return [dict(row) for row in loaded]


def _local_files(task: str, path: Path, split: str) -> tuple[str, list[str]]:
    """The builder and data files for a local file, or a folder of files of one kind.

    In a folder, files whose names start with ``split`` ("test-00000-of-00001.parquet",
    "validation.jsonl") are used; when no file is named after any split, all are.
    """
    if not path.exists():
        raise UsageError(f"{task}: no such file or folder: {path}")
    if path.is_file():
        candidates = [path]
    else:
        candidates = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in BUILDERS)
        named = [p for p in candidates if p.name.startswith(split)]
        if named:
            candidates = named
        elif any(p.name.startswith(KNOWN_SPLITS) for p in candidates):
            raise UsageError(f"{task}: {path} has no file for the {split!r} split")
    kinds = {BUILDERS.get(p.suffix) for p in candidates}
    if not candidates or None in kinds:
        raise UsageError(f"{task}: {path} holds no .jsonl, .json or .parquet data files")
    if len(kinds) > 1:
        raise UsageError(f"{task}: {path} mixes JSON and Parquet files; keep one kind")
    return kinds.pop(), [str(p) for p in candidates]


def sample_rows(
    task: str, rows: Sequence[dict[str, Any]], count: int, *, difficulty: int, seed: int
) -> list[dict[str, Any]]:
    """A seeded sample of ``count`` rows; the same arguments always pick the same rows."""
    if count < 0:
        raise UsageError(f"{task}: count must not be negative, got {count}")
    if count > len(rows):
        raise UsageError(f"{task}: asked for {count} problems but the data has {len(rows)}")
    rng = random.Random(f"{task}/{difficulty}/{seed}")
    return [rows[index] for index in rng.sample(range(len(rows)), count)]


def question_id(task: str, question: str) -> str:
    """A stable problem id: the same question of the same task always gets the same one."""
    return hashlib.sha256(f"{task}/{question}".encode()).hexdigest()[:16]
