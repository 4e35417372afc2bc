"""Pulling the final answer out of a completion, the way models actually write it.

Models open the tag with odd spacing or case (``< Answer >``), answer more than
once (the last answer counts), stop before the closing tag, or wrap the answer in
backticks, quotes, bold or ``$``. Everything here is plain string work on bounded
input: no pattern can backtrack badly, and nothing is evaluated.
"""

from __future__ import annotations

import re

_OPEN = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*answer\s*>", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{(.*)\}", re.DOTALL)
_LANGUAGE_TAG = re.compile(r"[A-Za-z0-9_+-]{0,20}")
_WRAPPERS = ("**", "`", '"', "'", "$")

MAX_ANSWER_CHARS = 2_000
"""A longer answer block is cut to this length; no task has an answer this long."""


def extract_answer_block(completion: str) -> str | None:
    """The text of the last ``<answer>`` block, cleaned; None when there is no (non-empty) answer.

    A block that is opened but never closed runs to the end of the completion, so
    that a reply cut off at the closing tag still counts.
    """
    openings = [*_OPEN.finditer(completion)]
    if not openings:
        return None
    rest = completion[openings[-1].end() :]
    closing = _CLOSE.search(rest)
    block = rest[: closing.start()] if closing else rest
    return clean_answer(block[:MAX_ANSWER_CHARS])


def answer_blocks(response: str) -> list[str]:
    """Every non-empty ``<answer>`` block in order, cleaned as the final answer is.

    :func:`extract_answer_block` keeps only the last block, which is what
    scoring needs; counting a response's attempts needs them all. Each block is read by handing
    ``extract_answer_block`` the text from its opening tag to the next one, so
    the cleaning, length cap and tolerance of an unclosed block stay the same.
    """
    openings = [match.start() for match in _OPEN.finditer(response)]
    if not openings:
        return []
    ends = [*openings[1:], len(response)]
    spans = zip(openings, ends, strict=True)
    blocks = (extract_answer_block(response[begin:end]) for begin, end in spans)
    return [block for block in blocks if block is not None]


def clean_answer(text: str) -> str | None:
    """Strip whitespace and the wrappers models put around answers; None when nothing is left."""
    text = text.strip()
    if len(text) >= 6 and text.startswith("```") and text.endswith("```"):
        language, newline, body = text[3:-3].partition("\n")
        text = body if newline and _LANGUAGE_TAG.fullmatch(language.strip()) else text[3:-3]
        text = text.strip()
    changed = True
    while changed:
        changed = False
        boxed = _BOXED.fullmatch(text)
        if boxed:
            text = boxed.group(1).strip()
            changed = True
        for wrapper in _WRAPPERS:
            if (
                len(text) >= 2 * len(wrapper)
                and text.startswith(wrapper)
                and text.endswith(wrapper)
            ):
                text = text[len(wrapper) : -len(wrapper)].strip()
                changed = True
    return text or None
