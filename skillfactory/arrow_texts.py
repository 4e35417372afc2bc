"""Attempt and reflection texts that stay out of Python until a trace shows them.

At paper scale a compose run reads about a million reflections but shows a few
thousand; turning them all into Python strings would cost seconds and gigabytes.
A saved ``datasets`` directory is memory-mapped, not read; the texts a trace
shows are then read straight from the file by byte range, so that neither the
scan of every reflection nor the scattered reads of a few leave the file's pages
counted in the process's memory. Tables held in memory (parsed JSON Lines) keep
their Arrow arrays and convert one string when it is asked for.
"""

from __future__ import annotations

import bisect
import json
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from skillfactory.dataset_splits import split_directory
from skillfactory.errors import UsageError

RELEASE_EVERY_BYTES = 1 << 26
"""How much mapped data a scan covers before handing its pages back."""


class Strings(Protocol):
    """Random access to one column's strings, each made a Python string only when asked for."""

    def __len__(self) -> int: ...

    def __getitem__(self, position: int) -> str: ...


class _Descriptor:
    """An open file descriptor, closed when the last text source using it is gone."""

    __slots__ = ("number",)

    def __init__(self, path: Path) -> None:
        self.number = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        if hasattr(self, "number"):
            os.close(self.number)


@dataclass
class _MappedFile:
    descriptor: _Descriptor
    mapping: mmap.mmap
    address: int
    """Where the mapping starts in memory: Arrow buffer addresses minus this are file offsets."""


@dataclass
class SavedDataset:
    """The table of a ``Dataset.save_to_disk`` directory, over memory-mapped Arrow files."""

    table: pa.Table
    files: list[_MappedFile] = field(default_factory=list, repr=False)

    def release_pages(self) -> None:
        """Drop the pages read so far from this process's resident memory.

        They stay in the operating system's file cache and map back in if read
        again; scanning every reflection once then costs no memory in proportion
        to the file.
        """
        if hasattr(mmap, "MADV_DONTNEED"):
            for file in self.files:
                file.mapping.madvise(mmap.MADV_DONTNEED)

    def strings(self, column: pa.ChunkedArray) -> Strings:
        """Access to ``column``'s strings by file reads, or in memory when they are not mapped.

        The byte range of every string is worked out now from the column's offsets
        (a few bytes each); the text itself is read only when asked for.
        """
        if not hasattr(os, "pread"):  # not on Windows
            return ArrowStrings(column)
        ranges = []
        for group in chunk_runs(column.chunks, RELEASE_EVERY_BYTES):
            for chunk in group:
                found = self._ranges(chunk)
                if found is None:
                    return ArrowStrings(column)
                ranges.append(found)
            self.release_pages()
        if not ranges:
            return ArrowStrings(column)
        which, starts, stops = (np.concatenate(parts) for parts in zip(*ranges, strict=True))
        return FileStrings([file.descriptor for file in self.files], which, starts, stops)

    def _ranges(self, chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """File number, start and stop of each string in ``chunk``; None if not in a mapping."""
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return None
        length = len(chunk)
        validity, offsets, data = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        if offsets is None or data is None:
            bounds = np.zeros(length + 1, dtype=np.int64)
            base, number = 0, 0
        else:
            number = self._file_holding(data)
            if number is None:
                return None
            base = data.address - self.files[number].address
            view = np.frombuffer(offsets, dtype=width)
            bounds = view[chunk.offset : chunk.offset + length + 1].astype(np.int64)
        starts, stops = base + bounds[:-1], base + bounds[1:]
        if chunk.null_count:
            present = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            missing = ~present[chunk.offset : chunk.offset + length].view(bool)
            stops[missing] = starts[missing]
        return np.full(length, number, dtype=np.int32), starts, stops

    def _file_holding(self, buffer: pa.Buffer) -> int | None:
        for number, file in enumerate(self.files):
            if file.address <= buffer.address < file.address + len(file.mapping):
                return number
        return None


class FileStrings:
    """Strings read from their files by byte range, one ``pread`` each, never mapped in."""

    __slots__ = ("_files", "_starts", "_stops", "_which")

    def __init__(
        self, files: list[_Descriptor], which: np.ndarray, starts: np.ndarray, stops: np.ndarray
    ) -> None:
        self._files = files
        self._which = which
        self._starts = starts
        self._stops = stops

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, position: int) -> str:
        if not 0 <= position < len(self._starts):
            raise IndexError(f"text {position} is out of range (0..{len(self._starts) - 1})")
        start = int(self._starts[position])
        size = int(self._stops[position]) - start
        if size == 0:
            return ""
        file = self._files[self._which[position]].number
        return os.pread(file, size, start).decode("utf-8", errors="replace")


def chunk_runs(chunks: list[pa.Array], size: int) -> Iterator[list[pa.Array]]:
    """Consecutive runs of chunks holding about ``size`` bytes each."""
    group: list[pa.Array] = []
    held = 0
    for chunk in chunks:
        group.append(chunk)
        held += chunk.nbytes
        if held >= size:
            yield group
            group, held = [], 0
    if group:
        yield group


def map_saved_dataset(directory: Path, split: str | None = None) -> SavedDataset:
    """Map a saved ``datasets`` directory without copying it or importing ``datasets``.

    The directory's ``state.json`` lists its Arrow files; reading them directly
    skips importing ``datasets``, which takes most of a second. A ``DatasetDict``
    directory is read through its only split, or through ``split``.
    """
    directory = split_directory(directory, split)
    state_file = directory / "state.json"
    if not state_file.is_file():
        raise UsageError(
            f"{directory} is not a saved datasets directory (no state.json); pass a JSONL "
            "file or a directory written by Dataset.save_to_disk"
        )
    saved = SavedDataset(pa.table({}))
    tables = []
    try:
        state = json.loads(state_file.read_text())
        for entry in state["_data_files"]:
            table, file = _map_arrow_file(directory / entry["filename"])
            tables.append(table)
            saved.files.append(file)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
        raise UsageError(f"cannot read the saved dataset {directory}: {error}") from None
    if tables:
        saved.table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return saved


def _map_arrow_file(path: Path) -> tuple[pa.Table, _MappedFile]:
    descriptor = _Descriptor(path)
    mapping = mmap.mmap(descriptor.number, 0, access=mmap.ACCESS_READ)
    buffer = pa.py_buffer(mapping)
    file = _MappedFile(descriptor, mapping, buffer.address)
    try:
        return pa.ipc.open_stream(buffer).read_all(), file
    except pa.ArrowInvalid:
        return pa.ipc.open_file(buffer).read_all(), file


class ArrowStrings:
    """Random access to the strings of a chunked Arrow array held in memory, one at a time.

    Indexing a ``ChunkedArray`` directly walks its chunks on every call; this keeps
    the chunk boundaries so that a lookup is one binary search.
    """

    __slots__ = ("_chunks", "_starts")

    def __init__(self, column: pa.ChunkedArray | pa.Array) -> None:
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        self._chunks = [chunk for chunk in chunks if len(chunk)]
        self._starts = [0]
        for chunk in self._chunks:
            self._starts.append(self._starts[-1] + len(chunk))

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, position: int) -> str:
        if not 0 <= position < self._starts[-1]:
            raise IndexError(f"text {position} is out of range (0..{self._starts[-1] - 1})")
        chunk = bisect.bisect_right(self._starts, position) - 1
        value = self._chunks[chunk][position - self._starts[chunk]].as_py()
        return "" if value is None else value


class ArrowTexts:
    """One question's :class:`~skillfactory.records.TextSource` over shared columns.

    ``attempt_text(i)`` is the text of the question's ``i``-th attempt (its
    :attr:`~skillfactory.records.Attempt.index`); ``reflection_text(key)`` takes the
    key :attr:`~skillfactory.records.Attempt.reflection` holds, a position in the
    run's flattened reflections, so questions need no reflection table of their own.
    """

    __slots__ = ("_attempts", "_positions", "_reflections")

    def __init__(self, attempts: Strings, positions: np.ndarray, reflections: Strings) -> None:
        self._attempts = attempts
        self._positions = positions
        self._reflections = reflections

    def attempt_text(self, index: int) -> str:
        if not 0 <= index < len(self._positions):
            raise IndexError(f"this question has no attempt {index}")
        return self._attempts[int(self._positions[index])]

    def reflection_text(self, index: int) -> str:
        return self._reflections[index]


def to_numpy(column: pa.ChunkedArray | pa.Array, dtype: type, null: Any = 0) -> np.ndarray:
    """A boolean or integer column as numpy, straight from its buffers; nulls become ``null``.

    Arrow's own ``to_numpy`` and ``fill_null`` (like ``pa.array``) import pandas, which
    costs a fifth of a second.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        if not len(chunk):
            continue
        start, end = chunk.offset, chunk.offset + len(chunk)
        validity, data = chunk.buffers()[:2]
        if pa.types.is_boolean(chunk.type):
            part = _bits(data, start, end)
        else:
            part = np.frombuffer(data, dtype=_NUMPY_INTEGERS[chunk.type.id])[start:end]
        if chunk.null_count:
            part = np.where(_bits(validity, start, end), part, null)
        parts.append(part)
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.asarray(parts[0] if len(parts) == 1 else np.concatenate(parts), dtype=dtype)


def _bits(buffer: pa.Buffer, start: int, end: int) -> np.ndarray:
    packed = np.frombuffer(buffer, dtype=np.uint8)[start // 8 : (end + 7) // 8]
    return np.unpackbits(packed, bitorder="little")[start % 8 : start % 8 + end - start].view(bool)


_NUMPY_INTEGERS = {
    pa.int8().id: np.int8,
    pa.int16().id: np.int16,
    pa.int32().id: np.int32,
    pa.int64().id: np.int64,
}
