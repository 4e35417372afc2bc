"""Files that appear whole or not at all: written beside their name, synced, renamed into place.

A reader (a resumed run, a report, an engine loading an export) must never find
half a file under a finished name, whatever killed the writer. Every file the
project writes goes through one of these three, which differ only in who writes
the bytes: the caller's text, a file handle, or another library given a path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for any library to write; renamed to ``path`` on success.

    On an error the temporary file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose file becomes ``path`` once the block ends without error."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    with atomic_text(path) as handle:
        handle.write(text)
