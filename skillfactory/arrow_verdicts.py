"""Reading verdicts column-wise: the Arrow twin of :func:`skillfactory.verdicts.parse_verdict`.

A million reflections are matched with Arrow's regular expressions (RE2) instead
of a Python loop. RE2 and Python's ``re`` disagree on a few details (which
characters are spaces, how a few letters fold case), so the verdict pattern is
rewritten with explicit character classes until both match exactly the same
texts; a test checks that over every Unicode character.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skillfactory.arrow_texts import RELEASE_EVERY_BYTES, chunk_runs, to_numpy
from skillfactory.verdicts import VERDICT_PATTERN

PYTHON_SPACES = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
"""What Python's ``\\s`` matches in text (nothing above U+3000 is a space)."""

PYTHON_CASE_EXTRAS = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}
"""Non-ASCII letters Python's case-insensitive ``re`` also matches: dotted and dotless i,
the Kelvin sign, long s."""


def re2_pattern(pattern: str) -> str:
    """``pattern`` rewritten so that Arrow's RE2 matches exactly what Python's ``re`` does.

    RE2's ``\\s`` is ASCII-only and its case folding differs from Python's for a
    few letters, so spaces and letters become explicit classes (which also keeps
    RE2's fast literal scan for the leading ``<``). Only the simple patterns a
    verdict needs are supported: literals, ``\\s``, groups, alternation, ``*+?``.
    """
    out = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            escape = pattern[position : position + 2]
            if escape == r"\s":
                out.append("[" + "".join(f"\\x{{{ord(c):x}}}" for c in PYTHON_SPACES) + "]")
            elif escape[1:].isalnum():
                raise ValueError(f"cannot translate {escape!r} for RE2")
            else:
                out.append(escape)
            position += 2
            continue
        if char in "[{" or pattern.startswith("(?", position):
            raise ValueError(f"cannot translate {pattern[position : position + 2]!r} for RE2")
        if char.isascii() and char.isalpha():
            variants = char.lower() + char.upper() + PYTHON_CASE_EXTRAS.get(char.lower(), "")
            out.append("[" + "".join(f"\\x{{{ord(c):x}}}" for c in variants) + "]")
        else:
            out.append(char)
        position += 1
    return "".join(out)


def _verdict_patterns() -> tuple[str, str]:
    group = "(correct|incorrect)"
    if VERDICT_PATTERN.count(group) != 1:
        raise ValueError(f"VERDICT_PATTERN no longer has one {group} group")
    return (
        re2_pattern(VERDICT_PATTERN.replace(group, "correct")),
        re2_pattern(VERDICT_PATTERN.replace(group, "incorrect")),
    )


CORRECT_PATTERN, INCORRECT_PATTERN = _verdict_patterns()


def verdicts(
    reflections: pa.ChunkedArray | pa.Array, release: Callable[[], None] | None = None
) -> np.ndarray:
    """Per reflection: 1 for a correct verdict, 0 for incorrect, -1 for none or both kinds.

    The column-wise twin of :func:`skillfactory.verdicts.parse_verdict`; nulls have none.
    The two kinds are matched in two threads (Arrow lets go of the GIL), a slice of
    about 64 MB at a time, calling ``release`` after each so that memory-mapped
    text read so far can leave the process's memory.
    """
    chunks = reflections.chunks if isinstance(reflections, pa.ChunkedArray) else [reflections]
    found: list[list[np.ndarray]] = [[], []]
    with ThreadPoolExecutor(2) as pool:
        for group in chunk_runs(chunks, RELEASE_EVERY_BYTES):
            column = pa.chunked_array(group, type=reflections.type)
            patterns = (CORRECT_PATTERN, INCORRECT_PATTERN)
            for kind, hits in enumerate(pool.map(_matches, (column, column), patterns)):
                found[kind].append(hits)
            if release is not None:
                release()
    correct, incorrect = (np.concatenate(parts) if parts else np.zeros(0, bool) for parts in found)
    result = np.full(len(correct), -1, dtype=np.int8)
    result[correct & ~incorrect] = 1
    result[incorrect & ~correct] = 0
    return result


def _matches(column: pa.ChunkedArray, pattern: str) -> np.ndarray:
    return to_numpy(pc.match_substring_regex(column, pattern), bool, False)
