"""A run directory: its config, one dataset per stage, a log, and work in progress in shards.

::

    RUN_DIR/
      config.json          every setting, resolved
      stages.json          each finished stage: its fingerprint, when, how long, its summary
      log.jsonl            one event per line: started, skipped, finished, failed
      problems/ samples/ reflections/ traces/    one saved ``datasets`` directory per stage
      traces.jsonl         the traces again, to read
      samples.partial/     while a stage samples: its fingerprint and finished shards

Nothing half-written ever sits where a finished file is expected: files and
datasets are written beside their final name and renamed into place, and a stage
counts as finished only once ``stages.json`` says so. A shard is one file, written
whole and renamed, so after a ``kill -9`` the shards on disk are exactly the
finished ones and a rerun samples only the rest.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from skillfactory.atomic import write_atomically
from skillfactory.errors import SkillFactoryError, UsageError

CONFIG_FILE = "config.json"
STAGES_FILE = "stages.json"
LOG_FILE = "log.jsonl"
PARTIAL_SUFFIX = ".partial"
FINGERPRINT_FILE = "fingerprint"
_SHARD_PREFIX = "shard-"
_SHARD_SUFFIX = ".jsonl"


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # The directory itself ------------------------------------------------------------------

    def check_usable(self) -> None:
        """Refuse a directory that holds something other than a run, before writing into it."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"run directory {str(self.root)!r} is a file")
        is_run = (self.root / CONFIG_FILE).is_file()
        if self.root.is_dir() and not is_run and any(self.root.iterdir()):
            raise UsageError(
                f"{str(self.root)!r} is not empty and is not a run directory (it has no "
                f"{CONFIG_FILE}); choose a new or empty --run-dir"
            )

    def read_config(self) -> dict[str, Any] | None:
        return self._read_json(self.root / CONFIG_FILE)

    def write_config(self, config: dict[str, Any]) -> None:
        write_atomically(self.root / CONFIG_FILE, json.dumps(config, indent=2) + "\n")

    def path(self, name: str) -> Path:
        return self.root / name

    # Finished stages -----------------------------------------------------------------------

    def finished(self) -> dict[str, dict[str, Any]]:
        """Each finished stage's record: fingerprint, finished_at, seconds, summary."""
        return self._read_json(self.root / STAGES_FILE) or {}

    def mark_finished(
        self, stage: str, fingerprint: str, seconds: float, summary: dict[str, Any]
    ) -> None:
        records = self.finished()
        records[stage] = {
            "fingerprint": fingerprint,
            "finished_at": _now(),
            "seconds": round(seconds, 3),
            "summary": summary,
        }
        write_atomically(self.root / STAGES_FILE, json.dumps(records, indent=2) + "\n")

    def forget(self, stages: Iterable[str]) -> None:
        """Mark stages unfinished (their outputs stay until the stage is run again)."""
        records = self.finished()
        dropped = [name for name in stages if records.pop(name, None) is not None]
        if dropped:
            write_atomically(self.root / STAGES_FILE, json.dumps(records, indent=2) + "\n")

    # The log -------------------------------------------------------------------------------

    def log(self, event: str, **fields: Any) -> None:
        """Append one event to ``log.jsonl``; a line is written whole or not at all."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": _now(), "event": event, **fields}, ensure_ascii=False)
        with open(self.root / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    # Datasets ------------------------------------------------------------------------------

    def save_dataset(self, dataset: Any, name: str) -> Path:
        """Save a ``datasets.Dataset`` as ``RUN_DIR/name``, replacing what was there, atomically."""
        from skillfactory.trace_output import save_quietly

        final = self.root / name
        staging = self.root / f".{name}.saving"
        shutil.rmtree(staging, ignore_errors=True)
        with disk_errors(f"saving {name}"):
            save_quietly(dataset, staging)
        old = self.root / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def load_dataset(self, name: str) -> Any:
        from datasets import load_from_disk

        return load_from_disk(str(self.root / name))

    # Work in progress ----------------------------------------------------------------------

    def shards(self, stage: str) -> Shards:
        return Shards(self.root / f"{stage}{PARTIAL_SUFFIX}")

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise SkillFactoryError(
                f"{str(path)!r} is unreadable ({error}); is it a run?"
            ) from None


class Shards:
    """A stage's finished pieces of work, one JSON Lines file each, under one fingerprint."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def fingerprint(self) -> str | None:
        try:
            return (self.directory / FINGERPRINT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def start(self, fingerprint: str) -> None:
        """Begin (or go on with) work under ``fingerprint``; shards of other settings go."""
        if self.fingerprint() != fingerprint:
            self.remove()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.directory / FINGERPRINT_FILE, fingerprint + "\n")

    def done(self) -> set[int]:
        """Indices of the shards on disk: each was written whole."""
        if not self.directory.is_dir():
            return set()
        found = set()
        for item in self.directory.iterdir():
            name = item.name
            if name.startswith(_SHARD_PREFIX) and name.endswith(_SHARD_SUFFIX):
                number = name[len(_SHARD_PREFIX) : -len(_SHARD_SUFFIX)]
                if number.isdigit():
                    found.add(int(number))
        return found

    def write(self, index: int, rows: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        with disk_errors(f"writing shard {index}"):
            write_atomically(self._file(index), text)

    def read(self, count: int) -> Iterator[dict[str, Any]]:
        """The rows of shards ``0 .. count-1``, in order."""
        for index in range(count):
            with open(self._file(index), encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _file(self, index: int) -> Path:
        return self.directory / f"{_SHARD_PREFIX}{index:06d}{_SHARD_SUFFIX}"


@contextlib.contextmanager
def disk_errors(doing: str) -> Iterator[None]:
    """Turn a full disk (or any other OS error) into one line that says finished work is kept."""
    try:
        yield
    except OSError as error:
        why = error.strerror or str(error)
        raise SkillFactoryError(
            f"{doing} failed: {why}; finished work is kept, rerun the same command to go on"
        ) from None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
