"""JSON Lines in and out: one record per line, errors reported by line number.

Output files are written to a temporary file beside the target and renamed into
place, so that an interrupted command never leaves a half-written file where a
finished one is expected.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO


def dumps(row: Any) -> str:
    """One record as one line; key order is kept, so equal input gives equal bytes."""
    return json.dumps(row, ensure_ascii=False)


def read_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line_number, row, None)`` per JSON object, else ``(line_number, None, why)``.

    Blank lines are skipped; line numbers count from 1, as editors do.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, None, f"not valid JSON ({error.msg} at column {error.colno})"
            continue
        if not isinstance(row, dict):
            yield number, None, f"expected a JSON object, got {type(row).__name__}"
            continue
        yield number, row, None


@contextlib.contextmanager
def output_stream(path: Path | None) -> Iterator[TextIO]:
    """Standard output for None; otherwise a file that appears only once it is complete."""
    if path is None:
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
        ) as handle:
            temporary = handle.name
            yield handle
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise
