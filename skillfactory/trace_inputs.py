"""Reading judged attempts and their reflections into :class:`~skillfactory.records.Question` s.

``skillfactory compose`` reads one of two layouts (docs/compose-inputs.md): the
project's own (``skillfactory``: one row per attempt) and the paper authors'
released data (``authors``), each as a JSON Lines file or a saved ``datasets``
directory. At paper scale that is 256,000 attempts and a million reflections, so
the work is done column-wise in Arrow: verdicts are matched with Arrow's regular
expressions (:mod:`skillfactory.arrow_verdicts`), the one agreeing reflection per
attempt is chosen with numpy, and no text becomes a Python string until a trace
shows it (:mod:`skillfactory.arrow_texts`).

A row that cannot be an attempt (a missing or null field, a wrong type, an empty
list) is counted in :class:`InputSummary` and skipped; only a file that fits
neither layout at all is an error.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skillfactory.arrow_texts import (
    ArrowStrings,
    ArrowTexts,
    SavedDataset,
    Strings,
    map_saved_dataset,
    to_numpy,
)
from skillfactory.arrow_verdicts import verdicts
from skillfactory.errors import UsageError
from skillfactory.jsonl import storable
from skillfactory.records import Attempt, Message, Question

FORMATS = ("auto", "skillfactory", "authors")
ROLES = ("system", "user", "assistant")
_ROLE_PATTERN = "^(" + "|".join(ROLES) + ")$"

RESPONSES = "model_responses__mutated_prompts"
EXTRACTED = "model_responses__mutated_prompts__eval_extracted_answers"
IS_CORRECT = "model_responses__mutated_prompts__eval_is_correct"
REFLECTIONS = "model_responses__mutated_prompts_reflection"


@dataclass(frozen=True)
class Schema:
    """An input layout: its name and the columns it cannot do without."""

    name: str
    required: tuple[str, ...]

    def missing(self, columns: Collection[str]) -> list[str]:
        return [name for name in self.required if name not in columns]


SKILLFACTORY = Schema(
    "skillfactory",
    ("question_id", "prompt", "variant", "completion", "extracted", "correct", "reflections"),
)
AUTHORS = Schema(
    "authors", ("question", "prompt_variant", RESPONSES, EXTRACTED, IS_CORRECT, REFLECTIONS)
)
SCHEMAS = {schema.name: schema for schema in (SKILLFACTORY, AUTHORS)}


@dataclass
class InputSummary:
    """What reading found, for the compose summary table."""

    rows: int = 0
    malformed_rows: int = 0
    """Rows skipped because they cannot be an attempt (included in ``rows``)."""
    questions: int = 0
    attempts: int = 0
    reflections: int = 0
    """Reflections on the attempts read, before filtering."""
    reflections_without_verdict: int = 0
    """Dropped: no verdict, or both a correct and an incorrect one."""
    reflections_disagreeing: int = 0
    """Dropped: a single verdict that contradicts the verifier."""
    attempts_with_reflection: int = 0
    """Attempts with at least one agreeing reflection (one of them is chosen)."""


def read_questions(
    path: str | Path, *, input_format: str = "auto", seed: int = 0, split: str | None = None
) -> tuple[list[Question], InputSummary]:
    """The questions in ``path`` (JSONL file or saved ``datasets`` directory) and a summary.

    A directory saved as a ``DatasetDict`` is read through its only split, or ``split``.

    Questions come in the order they first appear, attempts in row order. Each
    attempt carries one of its agreeing reflections, chosen at random by ``seed``
    alone: the choice does not depend on the file's layout or on other questions.
    """
    if input_format not in FORMATS:
        raise UsageError(
            f"unknown input format {input_format!r}; choose one of {', '.join(FORMATS)}"
        )
    source = Path(path)
    skipped = 0
    saved = None
    if source.is_dir():
        saved = map_saved_dataset(source, split)
        schema = choose_schema(saved.table.column_names, input_format, source)
        columns = _Columns.read(saved.table, schema, strict=False)
        saved.release_pages()
    elif split is not None:
        raise UsageError(f"--split {split!r} was given, but {source} is a file, not a dataset")
    elif source.is_file():
        table = _read_json_lines_with_arrow(source)
        columns = None
        if table is not None and table.num_columns:
            schema = choose_schema(table.column_names, input_format, source)
            columns = _Columns.read(table, schema, strict=True)
        if columns is None:
            table, schema, skipped = _read_json_lines_row_by_row(source, input_format)
            columns = _Columns.read(table, schema, strict=False)
    else:
        raise UsageError(f"input {str(source)!r} does not exist")
    assert columns is not None
    return _questions(columns, schema, seed, skipped, saved)


def _nothing() -> None:
    pass


def choose_schema(columns: Collection[str], input_format: str, source: Path) -> Schema:
    """The layout ``input_format`` names, or the one the columns fit for ``auto``."""
    if input_format != "auto":
        schema = SCHEMAS[input_format]
        missing = schema.missing(columns)
        if missing:
            raise UsageError(
                f"{source} lacks the {schema.name} format's columns {', '.join(missing)} "
                "(see docs/compose-inputs.md)"
            )
        return schema
    for schema in SCHEMAS.values():
        if not schema.missing(columns):
            return schema
    gaps = "; ".join(
        f"the {schema.name} format lacks {', '.join(schema.missing(columns))}"
        for schema in SCHEMAS.values()
    )
    raise UsageError(f"{source} fits no input format: {gaps} (see docs/compose-inputs.md)")


# --- JSON Lines ---------------------------------------------------------------------------


def _read_json_lines_with_arrow(path: Path) -> pa.Table | None:
    """The file parsed by Arrow's multi-threaded reader, or None when it needs the slow path.

    Arrow refuses whole files for one bad line or one column of mixed types; those
    files are read row by row instead, so that only the bad rows are lost.
    """
    from pyarrow import json as pa_json

    block = 1 << 24
    size = path.stat().st_size
    while True:
        try:
            return pa_json.read_json(path, read_options=pa_json.ReadOptions(block_size=block))
        except pa.ArrowInvalid as error:
            # A line longer than a block: retry once with the whole file as one block.
            if "straddl" in str(error) and block < size < 1 << 31:
                block = size + 1
                continue
            return None
        except (pa.ArrowException, OSError):
            return None


def _read_json_lines_row_by_row(path: Path, input_format: str) -> tuple[pa.Table, Schema, int]:
    """Parse and check each line in Python; returns the good rows, the layout, the bad count."""
    rows: list[dict[str, Any] | None] = []
    keys: set[str] = set()
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                # Arrow holds UTF-8 only: a lone surrogate is kept as its escape's text.
                row = storable(json.loads(line))
            except ValueError:  # not JSON, or not UTF-8 (a malformed line, counted)
                row = None
            if isinstance(row, dict):
                keys.update(row)
                rows.append(row)
            else:
                rows.append(None)
    if not keys:
        why = f"{len(rows)} lines, none a JSON object" if rows else "it is empty"
        raise UsageError(f"{path} holds no rows to read ({why})")
    schema = choose_schema(keys, input_format, path)
    clean = _ROW_CHECKS[schema.name]
    kept = []
    for position, row in enumerate(rows):
        rows[position] = None
        checked = clean(row) if row is not None else None
        if checked is not None:
            kept.append(checked)
    table = pa.Table.from_pylist(kept, schema=_ARROW_SCHEMAS[schema.name])
    return table, schema, len(rows) - len(kept)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(v is None or isinstance(v, str) for v in value)


def _message(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("role") in ROLES
        and isinstance(value.get("content"), str)
    )


def _skillfactory_row(row: dict[str, Any]) -> dict[str, Any] | None:
    prompt = row.get("prompt")
    if not (
        _text(row.get("question_id"))
        and isinstance(prompt, list)
        and prompt
        and all(_message(message) for message in prompt)
        and _text(row.get("variant"))
        and _text(row.get("completion"))
        and (row.get("extracted") is None or _text(row.get("extracted")))
        and isinstance(row.get("correct"), bool)
        and _texts(row.get("reflections"))
    ):
        return None
    return {name: row.get(name) for name in SKILLFACTORY.required}


def _first_of(row: dict[str, Any], name: str, check: Callable[[Any], bool]) -> bool:
    values = row.get(name)
    return isinstance(values, list) and bool(values) and check(values[0])


def _authors_row(row: dict[str, Any]) -> dict[str, Any] | None:
    if not (
        _text(row.get("question"))
        and _text(row.get("prompt_variant"))
        and _first_of(row, RESPONSES, _text)
        and _first_of(row, EXTRACTED, lambda value: value is None or _text(value))
        and _first_of(row, IS_CORRECT, lambda value: isinstance(value, bool))
        and _texts(row.get(REFLECTIONS))
    ):
        return None
    kept = {name: row[name] for name in ("question", "prompt_variant", REFLECTIONS)}
    kept.update({name: row[name][:1] for name in (RESPONSES, EXTRACTED, IS_CORRECT)})
    return kept


_ROW_CHECKS = {"skillfactory": _skillfactory_row, "authors": _authors_row}
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_ARROW_SCHEMAS = {
    "skillfactory": pa.schema(
        [
            ("question_id", pa.string()),
            ("prompt", _MESSAGES),
            ("variant", pa.string()),
            ("completion", pa.string()),
            ("extracted", pa.string()),
            ("correct", pa.bool_()),
            ("reflections", pa.list_(pa.string())),
        ]
    ),
    "authors": pa.schema(
        [
            ("question", pa.string()),
            ("prompt_variant", pa.string()),
            (RESPONSES, pa.list_(pa.string())),
            (EXTRACTED, pa.list_(pa.string())),
            (IS_CORRECT, pa.list_(pa.bool_())),
            (REFLECTIONS, pa.list_(pa.string())),
        ]
    ),
}


# --- Columns ------------------------------------------------------------------------------


class _WrongType(Exception):
    pass


@dataclass
class _Columns:
    """Both layouts brought to one shape: per row, where its pieces are, and whether it is good.

    Strings stay in Arrow; ``*_at`` arrays hold each row's position in a flattened
    column (the first element of a list, for the authors' layout).
    """

    rows: int
    valid: np.ndarray
    keys: pa.ChunkedArray
    prompts: pa.ChunkedArray | None
    variants: pa.ChunkedArray
    completions: pa.ChunkedArray
    completion_at: np.ndarray
    answers: pa.ChunkedArray
    answer_at: np.ndarray
    correct: np.ndarray
    reflections: pa.ChunkedArray
    reflection_row: np.ndarray

    @classmethod
    def read(cls, table: pa.Table, schema: Schema, *, strict: bool) -> _Columns | None:
        """None, when ``strict``, if a column has the wrong type; else such rows are invalid."""
        reader = _Reader(table, strict)
        try:
            return _READERS[schema.name](reader)
        except _WrongType:
            return None


class _Reader:
    """Typed access to a table's columns that tracks which rows are still good."""

    def __init__(self, table: pa.Table, strict: bool) -> None:
        self.table = table
        self.strict = strict
        self.rows = table.num_rows
        self.valid = np.ones(self.rows, dtype=bool)

    def column(
        self, name: str, expected: pa.DataType, fits: Callable[[pa.DataType], bool]
    ) -> pa.ChunkedArray:
        column = self.table.column(name)
        if pa.types.is_null(column.type):
            return pa.chunked_array([pa.nulls(self.rows, expected)])
        if fits(column.type):
            return column
        if self.strict:
            raise _WrongType(name)
        self.valid[:] = False
        return pa.chunked_array([pa.nulls(self.rows, expected)])

    def text(self, name: str, *, nullable: bool = False) -> pa.ChunkedArray:
        column = self.column(name, pa.string(), _is_text)
        if not nullable:
            self.require(column)
        return column

    def require(self, column: pa.ChunkedArray) -> None:
        self.valid &= to_numpy(pc.is_valid(column), bool)

    def listed(
        self, name: str, item: pa.DataType, fits: Callable[[pa.DataType], bool]
    ) -> tuple[pa.ChunkedArray, np.ndarray]:
        """A list column flattened: the values and, for each value, its row."""
        column = self.column(name, pa.list_(item), lambda kind: _is_list(kind) and fits(kind))
        if pa.types.is_null(column.type.value_type):
            column = column.cast(pa.list_(item))
        self.require(column)
        return pc.list_flatten(column), to_numpy(pc.list_parent_indices(column), np.int64)

    def first(
        self,
        name: str,
        item: pa.DataType,
        fits: Callable[[pa.DataType], bool],
        *,
        nullable: bool = False,
    ) -> tuple[pa.ChunkedArray, np.ndarray]:
        """Each row's first list element: the flattened values and positions (-1 for none)."""
        values, parents = self.listed(name, item, fits)
        first = np.full(self.rows, -1, dtype=np.int64)
        if len(parents):
            starts = np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])
            first[parents[starts]] = starts
        self.valid &= first >= 0
        if not nullable:
            present = to_numpy(pc.is_valid(values), bool)
            self.valid &= present[np.maximum(first, 0)] if len(present) else False
        return values, first


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def _items(fits: Callable[[pa.DataType], bool]) -> Callable[[pa.DataType], bool]:
    return lambda kind: fits(kind.value_type) or pa.types.is_null(kind.value_type)


def _arrow_indices(values: np.ndarray) -> pa.Array:
    """Positions for ``take``, handed to Arrow without ``pa.array`` (which imports pandas)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def _is_messages(kind: pa.DataType) -> bool:
    if not (_is_list(kind) and pa.types.is_struct(kind.value_type)):
        return False
    fields = {field.name: field.type for field in kind.value_type}
    return all(
        name in fields and (_is_text(fields[name]) or pa.types.is_null(fields[name]))
        for name in ("role", "content")
    )


def _read_skillfactory(reader: _Reader) -> _Columns:
    prompts = reader.column("prompt", _MESSAGES, _is_messages)
    _check_messages(reader, prompts)
    correct = reader.column("correct", pa.bool_(), pa.types.is_boolean)
    reader.require(correct)
    positions = np.arange(reader.rows, dtype=np.int64)
    reflections, reflection_row = reader.listed("reflections", pa.string(), _items(_is_text))
    return _Columns(
        rows=reader.rows,
        valid=reader.valid,
        keys=reader.text("question_id"),
        prompts=prompts,
        variants=reader.text("variant"),
        completions=reader.text("completion"),
        completion_at=positions,
        answers=reader.text("extracted", nullable=True),
        answer_at=positions,
        correct=to_numpy(correct, bool, False),
        reflections=reflections,
        reflection_row=reflection_row,
    )


def _check_messages(reader: _Reader, prompts: pa.ChunkedArray) -> None:
    """A prompt needs at least one message, each with a known role and a content."""
    reader.require(prompts)
    messages = pc.list_flatten(prompts)
    parents = to_numpy(pc.list_parent_indices(prompts), np.int64)
    reader.valid &= np.bincount(parents, minlength=reader.rows)[: reader.rows] > 0
    if not len(messages):
        return
    good = pc.and_(
        pc.is_valid(messages),
        pc.and_(
            pc.match_substring_regex(pc.struct_field(messages, "role"), _ROLE_PATTERN),
            pc.is_valid(pc.struct_field(messages, "content")),
        ),
    )
    reader.valid[parents[~to_numpy(good, bool, False)]] = False


def _read_authors(reader: _Reader) -> _Columns:
    completions, completion_at = reader.first(RESPONSES, pa.string(), _items(_is_text))
    answers, answer_at = reader.first(EXTRACTED, pa.string(), _items(_is_text), nullable=True)
    verdicts, verdict_at = reader.first(IS_CORRECT, pa.bool_(), _items(pa.types.is_boolean))
    flags = to_numpy(verdicts, bool, False)
    reflections, reflection_row = reader.listed(REFLECTIONS, pa.string(), _items(_is_text))
    return _Columns(
        rows=reader.rows,
        valid=reader.valid,
        keys=reader.text("question"),
        prompts=None,
        variants=reader.text("prompt_variant"),
        completions=completions,
        completion_at=completion_at,
        answers=answers,
        answer_at=answer_at,
        correct=flags[verdict_at] if len(flags) else np.zeros(reader.rows, dtype=bool),
        reflections=reflections,
        reflection_row=reflection_row,
    )


_READERS: dict[str, Callable[[_Reader], _Columns]] = {
    "skillfactory": _read_skillfactory,
    "authors": _read_authors,
}


# --- Choosing and grouping ----------------------------------------------------------------

_U64 = np.uint64


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a fast, well-spread hash of 64-bit integers, same everywhere."""
    values = values ^ (values >> _U64(30))
    values = values * _U64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> _U64(27))
    values = values * _U64(0x94D049BB133111EB)
    return values ^ (values >> _U64(31))


def question_keys(question_ids: Iterable[str], seed: int) -> np.ndarray:
    """One 64-bit random key per question, from the seed and the question's id only."""
    base = int(seed) & (2**64 - 1)
    digests = [
        int.from_bytes(hashlib.blake2b(qid.encode(), digest_size=8).digest(), "little") ^ base
        for qid in question_ids
    ]
    return _mix(np.array(digests, dtype=_U64))


def choose_reflections(
    agree: np.ndarray,
    row: np.ndarray,
    row_key: np.ndarray,
    attempt_number: np.ndarray,
    rows: int,
) -> np.ndarray:
    """Per row, the position of one agreeing reflection (-1 for none), chosen at random.

    ``row`` is each reflection's row (ascending); ``row_key`` (its question's random
    key) and ``attempt_number`` (its number in the question) are per row. A
    reflection's own key mixes those with its number among its row's reflections;
    the smallest key wins. Nothing else enters, so the choice does not depend on
    where the question sits in the file or on what else the file holds.
    """
    chosen = np.full(rows, -1, dtype=np.int64)
    positions = np.flatnonzero(agree)
    if not len(positions):
        return chosen
    owners = row[positions]
    number_in_row = positions - _segment_starts(row)[positions]
    within_question = (attempt_number[owners].astype(_U64) << _U64(32)) | number_in_row.astype(_U64)
    keys = _mix(row_key[owners] + within_question * _U64(0x9E3779B97F4A7C15))
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    lowest = np.minimum.reduceat(keys, starts)
    winners = np.flatnonzero(keys == np.repeat(lowest, np.diff(np.r_[starts, len(keys)])))
    winning_rows, first = np.unique(owners[winners], return_index=True)
    chosen[winning_rows] = positions[winners[first]]
    return chosen


def _segment_starts(ascending: np.ndarray) -> np.ndarray:
    """For each element of a sorted array, the position where its run of equal values starts."""
    starts = np.zeros(len(ascending), dtype=np.int64)
    if len(ascending):
        changes = np.flatnonzero(ascending[1:] != ascending[:-1]) + 1
        starts[changes] = changes
        np.maximum.accumulate(starts, out=starts)
    return starts


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic records.

    A quarter of a million new objects otherwise trigger repeated collections that
    rescan them all: about 40% of the time spent making :class:`Attempt` s.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _groups(keys: pa.ChunkedArray, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each of ``rows``' question number (in order of first appearance) and the question keys."""
    encoded = pc.dictionary_encode(keys)
    chunks = [chunk for chunk in encoded.chunks if len(chunk)]
    if not chunks or not len(rows):
        return np.zeros(len(rows), dtype=np.int64), []
    codes = np.concatenate([to_numpy(chunk.indices, np.int64) for chunk in chunks])[rows]
    present, first = np.unique(codes, return_index=True)
    order = present[np.argsort(first, kind="stable")]
    number = np.zeros(len(chunks[0].dictionary), dtype=np.int64)
    number[order] = np.arange(len(order))
    return number[codes], chunks[0].dictionary.take(_arrow_indices(order)).to_pylist()


def _strings(column: pa.ChunkedArray, positions: np.ndarray) -> list[str | None]:
    """The strings at ``positions``, each distinct one made into a Python string once."""
    if not len(positions):
        return []
    encoded = pc.dictionary_encode(column.take(_arrow_indices(positions))).combine_chunks()
    values = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    codes = to_numpy(encoded.indices, np.int64, len(values) - 1)
    return values[codes].tolist()


def _strings_of(column: pa.ChunkedArray, saved: SavedDataset | None) -> Strings:
    return ArrowStrings(column) if saved is None else saved.strings(column)


def _questions(
    columns: _Columns, schema: Schema, seed: int, skipped: int, saved: SavedDataset | None
) -> tuple[list[Question], InputSummary]:
    release = saved.release_pages if saved is not None else _nothing
    valid = columns.valid
    rows = np.flatnonzero(valid)
    group, keys = _groups(columns.keys, rows)
    release()
    if schema is AUTHORS:
        ids = [hashlib.sha256(text.encode()).hexdigest()[:16] for text in keys]
        prompts: list[list[Message]] = [[{"role": "user", "content": text}] for text in keys]
    else:
        ids = keys
    order = np.argsort(group, kind="stable")
    sorted_rows = rows[order]
    counts = np.bincount(group, minlength=len(ids))
    starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64) if len(ids) else counts
    number = np.zeros(columns.rows, dtype=np.int64)
    number[sorted_rows] = np.arange(len(sorted_rows)) - np.repeat(starts, counts)
    question_of_row = np.zeros(columns.rows, dtype=np.int64)
    question_of_row[rows] = group
    if schema is SKILLFACTORY:
        assert columns.prompts is not None
        first_rows = _arrow_indices(sorted_rows[starts] if len(ids) else [])
        prompts = [
            [{"role": m["role"], "content": m["content"]} for m in messages]
            for messages in columns.prompts.take(first_rows).to_pylist()
        ]

    owner = columns.reflection_row
    owned = valid[owner] if len(owner) else np.zeros(0, dtype=bool)
    verdict = verdicts(columns.reflections, release)
    single = verdict >= 0
    agree = owned & single & (verdict == columns.correct[owner])
    row_key = question_keys(ids, seed)[question_of_row] if len(ids) else np.zeros(0, _U64)
    chosen = choose_reflections(agree, owner, row_key, number, columns.rows)

    correct = columns.correct[sorted_rows].tolist()
    answers = _strings(columns.answers, columns.answer_at[sorted_rows])
    variants = _strings(columns.variants, sorted_rows)
    picked = chosen[sorted_rows].astype(object)
    picked[picked < 0] = None
    completions = _strings_of(columns.completions, saved)
    reflections = _strings_of(columns.reflections, saved)
    at = columns.completion_at[sorted_rows]
    questions = []
    with _collector_paused():
        attempts = list(
            map(Attempt, number[sorted_rows].tolist(), correct, answers, variants, picked.tolist())
        )
        for q, (qid, prompt) in enumerate(zip(ids, prompts, strict=True)):
            start, end = int(starts[q]), int(starts[q] + counts[q])
            texts = ArrowTexts(completions, at[start:end], reflections)
            questions.append(Question(qid, prompt, tuple(attempts[start:end]), texts))
    summary = InputSummary(
        rows=columns.rows + skipped,
        malformed_rows=int(columns.rows - len(rows)) + skipped,
        questions=len(questions),
        attempts=len(rows),
        reflections=int(owned.sum()),
        reflections_without_verdict=int((owned & ~single).sum()),
        reflections_disagreeing=int((owned & single & ~agree).sum()),
        attempts_with_reflection=int((chosen >= 0).sum()),
    )
    return questions, summary
