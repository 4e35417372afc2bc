"""Which directory of a saved dataset to read: one ``Dataset``, or one split of a ``DatasetDict``.

A dataset taken from a hub and saved with ``save_to_disk`` is a ``DatasetDict``,
even when it holds a single split (``train``): its directory has a
``dataset_dict.json`` and one sub-directory per split. Readers accept such a
directory as it is when it holds one split, and take ``--split NAME`` to choose
when it holds several. Reading the small JSON file directly keeps this free of
the ``datasets`` import.
"""

from __future__ import annotations

import json
from pathlib import Path

from skillfactory.errors import UsageError

DICT_FILE = "dataset_dict.json"
"""What ``DatasetDict.save_to_disk`` writes beside its splits' directories."""


def saved_splits(directory: Path) -> list[str] | None:
    """The split names of a saved ``DatasetDict`` directory, or None for a plain dataset."""
    index = directory / DICT_FILE
    if not index.is_file():
        return None
    try:
        splits = json.loads(index.read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read {index}: {type(error).__name__}: {error}") from None
    if not isinstance(splits, list) or not all(isinstance(name, str) for name in splits):
        raise UsageError(f"{index} does not list its splits as names")
    return splits


def split_directory(directory: Path, split: str | None = None) -> Path:
    """The directory that holds the rows to read.

    ``directory`` itself for a plain saved dataset (``split`` must then be None);
    for a ``DatasetDict``, its only split, or ``split`` when it has several.
    """
    splits = saved_splits(directory)
    if splits is None:
        if split is not None:
            raise UsageError(
                f"--split {split!r} was given, but {directory} is a single dataset, not one "
                "saved with splits; leave --split out"
            )
        return directory
    if split is None:
        if len(splits) == 1:
            return directory / splits[0]
        raise UsageError(
            f"{directory} holds the splits {', '.join(splits) or '(none)'}; choose one with "
            "--split NAME"
        )
    if split not in splits:
        raise UsageError(
            f"{directory} has no split {split!r}; its splits: {', '.join(splits) or '(none)'}"
        )
    return directory / split
