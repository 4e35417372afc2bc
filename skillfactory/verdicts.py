"""Reading the verdict a reflection ends with: ``<verdict>Correct</verdict>`` or ``Incorrect``.

A reflection counts only when it reaches exactly one verdict: none, or both
"correct" and "incorrect", and it is dropped. Case and spacing inside the tags are
forgiven, because models vary them; anything else in the tag is not a verdict.
"""

from __future__ import annotations

import re

VERDICT_PATTERN = r"<\s*verdict\s*>\s*(correct|incorrect)\s*<\s*/\s*verdict\s*>"
"""The tag, as a regular expression (used case-insensitively) for column-wise readers too."""

_VERDICT = re.compile(VERDICT_PATTERN, re.IGNORECASE)


def parse_verdict(reflection: str) -> bool | None:
    """True for a "correct" verdict, False for "incorrect", None for none or conflicting ones."""
    found = {verdict.lower() for verdict in _VERDICT.findall(reflection)}
    if len(found) != 1:
        return None
    return found == {"correct"}
