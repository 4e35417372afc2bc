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
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from skillfactory.answers import extract_answer_block
from skillfactory.errors import SkillFactoryError, UsageError, one_line
from skillfactory.prompts import PROMPT_VARIANTS
from skillfactory.records import Problem
from skillfactory.task import Task

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


class DatasetTask(Task):
    """A task whose problems are the rows of a real benchmark dataset.

    Subclasses name the Hub dataset and turn one row into a :class:`Problem`; loading
    (Hub or ``path``), de-duplication and the seeded sample are shared here. The rows
    are loaded once per task object, on first use, not when the plugin is imported.
    """

    hub_name: ClassVar[str]
    hub_config: ClassVar[str | None] = None
    default_split: ClassVar[str]
    variants = PROMPT_VARIANTS
    difficulties = (1,)

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        split: str | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.path = path
        """A local .jsonl/.json/.parquet file or folder; None loads from the Hub."""
        self.split = split or self.default_split
        self.cache_dir = cache_dir
        self._problems: list[Problem] | None = None

    @abstractmethod
    def problem_from_row(self, row: Mapping[str, Any], number: int) -> Problem | None:
        """Row ``number`` (from 1) as a problem, None to skip it; raise for a malformed row."""

    def no_problems_message(self) -> str:
        """What to say when the split has rows but none of them makes a problem."""
        return f"{self.name}: no row of the {self.split!r} data makes a problem"

    def problems(self) -> list[Problem]:
        """Every distinct usable row of the split as a problem, loaded once per task object."""
        if self._problems is None:
            rows = load_rows(
                self.name,
                hub_name=self.hub_name,
                hub_config=self.hub_config,
                split=self.split,
                path=self.path,
                cache_dir=self.cache_dir,
            )
            problems: dict[str, Problem] = {}
            for number, row in enumerate(rows, start=1):
                problem = self.problem_from_row(row, number)
                if problem is not None:
                    problems.setdefault(problem.id, problem)
            if rows and not problems:
                raise SkillFactoryError(self.no_problems_message())
            self._problems = list(problems.values())
        return self._problems

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        difficulty = self.resolve_difficulty(difficulty)
        return sample_rows(self.name, self.problems(), count, difficulty=difficulty, seed=seed)

    def extract_answer(self, completion: str) -> str | None:
        return extract_answer_block(completion)
