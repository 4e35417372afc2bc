"""JSON Lines in and out: one record per line, errors reported by line number.

The text in these lines is untrusted (model output, users' files), so reading and
writing survive any of it. A lone surrogate (``"\\ud800"`` in the JSON, which
``json.loads`` accepts) is written back escaped, since UTF-8 cannot hold it; a
line whose bytes are not UTF-8 is reported by its number like any malformed line,
and the other lines are still read; a byte order mark before the first line and
CRLF line ends are ignored.

Output files are written to a temporary file beside the target and renamed into
place, so that an interrupted command never leaves a half-written file where a
finished one is expected.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""Code points that Python strings may hold but UTF-8 cannot encode."""

BYTE_ORDER_MARK = "\ufeff"


_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)
"""Rows are parsed JSON or plain records, never circular: the check costs a tenth of a write."""


def dumps(row: Any) -> str:
    """One record as one line; key order is kept, so equal input gives equal bytes.

    Text stays readable (no ASCII escaping) except lone surrogates, which are
    escaped as JSON writes them, so that the line is valid UTF-8 and reads back
    to the same strings.
    """
    text = _ENCODER.encode(row)
    try:
        text.encode("utf-8")  # a copy at C speed, five times faster than the search
    except UnicodeEncodeError:  # only a surrogate fails
        return escape_lone_surrogates(text)
    return text


def escape_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate written as its JSON escape (``\\ud800``), six
    characters of text, so that it can be stored as UTF-8 (Arrow, files) and still
    shows what the input said."""
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def storable(value: Any) -> Any:
    """A parsed JSON value whose strings (keys included) can all be stored as UTF-8."""
    if isinstance(value, str):
        return escape_lone_surrogates(value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def read_rows(
    lines: Iterable[str | bytes],
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line_number, row, None)`` per JSON object, else ``(line_number, None, why)``.

    ``lines`` may be text or, from a file opened in binary mode, bytes: then a
    line that is not UTF-8 is one malformed line rather than the end of the
    file. Blank lines are skipped; line numbers count from 1, as editors do.
    """
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield (
                    number,
                    None,
                    f"not valid UTF-8 (byte {raw[error.start]:#04x} at column {error.start + 1})",
                )
                continue
        else:
            line = raw
        if number == 1:
            line = line.removeprefix(BYTE_ORDER_MARK)
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
    from skillfactory.atomic import atomic_text

    with atomic_text(path) as handle:
        yield handle
