"""Cells an evaluation has finished, kept on disk so that an interrupted one resumes.

An evaluation answers cell after cell (a task at one level) for one model after
another; on a CPU that is minutes of work. Each finished cell's metrics and
responses are saved to ``cells.partial/`` in the output directory before the next
cell starts, under the identity of the whole evaluation (settings, models, cells).
Rerun after a crash or a ``kill -9``, the same evaluation takes those cells from
disk and answers only the rest, and since every cell is sampled with the same
seed whatever ran before it, the result equals an uninterrupted run's. A
different evaluation in the same directory starts over. The directory goes once
``metrics.json`` is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PARTIAL_DIR = "cells.partial"
IDENTITY_FILE = "identity.json"


class FinishedCells:
    """The finished cells of one evaluation, identified by ``identity`` (any JSON value)."""

    def __init__(self, output_dir: Path, identity: Any) -> None:
        self.directory = output_dir / PARTIAL_DIR
        self.identity = json.loads(json.dumps(identity, sort_keys=True, default=str))
        if self._recorded_identity() != self.identity:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        from skillfactory.atomic import write_atomically

        write_atomically(self.directory / IDENTITY_FILE, json.dumps(self.identity) + "\n")

    def count(self) -> int:
        """How many cells are saved."""
        return sum(1 for _ in self.directory.glob("cell-*.json"))

    def get(self, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The saved ``(metrics row, response rows)`` of cell ``key``, or None."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # not saved, or cut short: the cell is answered again
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return data["row"], data["responses"]

    def put(self, key: str, row: Mapping[str, Any], responses: Sequence[Mapping[str, Any]]) -> None:
        from skillfactory.atomic import write_atomically
        from skillfactory.jsonl import dumps

        payload = {"key": key, "row": row, "responses": list(responses)}
        write_atomically(self._path(key), dumps(payload) + "\n")

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self.directory / f"cell-{digest}.json"

    def _recorded_identity(self) -> Any:
        try:
            return json.loads((self.directory / IDENTITY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
