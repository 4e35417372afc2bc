"""Judging a Countdown answer: exact, bounded, and fast enough to be an RL reward.

An answer is model output, so it is hostile until proven otherwise. It is never
handed to ``eval``, ``ast`` or sympy; a small grammar is checked here by hand:

    expression := term (("+" | "-") term)*
    term       := factor (("*" | "/") factor)*
    factor     := whole-number | "(" expression ")"

There is no unary sign, power, modulo, factorial, name, call, decimal point or
exponent, so ``9**9**9``, ``17e0``, ``0x11``, ``1_7``, ``100.3``, ``+ x - x`` and
``__import__('os')`` all score 0. Numbers are ASCII digits without leading zeros.
The ways models write operators are read as the plain ones: the multiplication
sign, a middle dot or ``x`` between two operands, the division sign, the minus sign
or an en dash, and LaTeX ``\\times``, ``\\cdot`` and ``\\div``.

Two answer shapes are accepted:

* one expression, optionally followed by ``= target`` (``(44 + 19) - 35 = 28``);
* steps, one per line (or separated by ``;`` or ``,``), each ``expression = result``,
  optionally prefixed ``Step 1:``, ``1.`` or a ``-`` bullet (a line that meant the
  ``-`` as a sign states another result, so it still fails). A step may use the
  given numbers and the results of earlier steps, each once; its arithmetic must be
  right; at the end every given number and every result but the last must have been
  used, and the last result is the target.

Work per answer is bounded: a length limit, a nesting limit (nesting is kept on an
explicit stack, so ten thousand ``(`` cannot reach Python's recursion limit), a
digit limit, and, because every number must be one of the given numbers (checked as
soon as it is read), values can only be as large as the given numbers allow.

Speed comes from doing the common case with plain ``int`` arithmetic in a single
left-to-right pass (an accumulator per parenthesis level instead of a syntax tree),
switching to :class:`fractions.Fraction` only when a division is inexact, from
one precompiled tokenizer, and from cheap early rejects (length, ASCII).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

MAX_CHARS = 1_000
"""Longer answers are refused: eight numbers written as steps need about 250 characters."""
MAX_DEPTH = 32
"""Deepest parenthesis nesting accepted; eight numbers never need more than seven."""
MAX_DIGITS = 60
"""Longest number accepted; a step result over eight six-digit numbers has at most 48 digits."""
MAX_STEPS = 64
"""Most step lines accepted."""
MAX_VALUE = 10**100
"""Largest magnitude (numerator or denominator) an intermediate value may reach."""

CORRECT = "correct"
NO_ANSWER = "no answer"
TOO_LONG = "too long"
TOO_DEEP = "too deep"
TOO_LARGE = "number too large"
UNPARSEABLE = "unparseable"
WRONG_NUMBERS = "wrong numbers"
WRONG_RESULT = "wrong result"
DIVISION_BY_ZERO = "division by zero"
BAD_STEP = "bad step"

REASONS = (
    CORRECT,
    NO_ANSWER,
    TOO_LONG,
    TOO_DEEP,
    TOO_LARGE,
    UNPARSEABLE,
    WRONG_NUMBERS,
    WRONG_RESULT,
    DIVISION_BY_ZERO,
    BAD_STEP,
)
"""Every reason :func:`verify` can give."""

_UNICODE_OPERATORS = (
    ("\u00d7", "*"),  # multiplication sign
    ("\u00b7", "*"),  # middle dot
    ("\u22c5", "*"),  # dot operator
    ("\u2217", "*"),  # asterisk operator
    ("\u00f7", "/"),  # division sign
    ("\u2215", "/"),  # division slash
    ("\u2212", "-"),  # minus sign
    ("\u2013", "-"),  # en dash
    ("\u00a0", " "),  # no-break space
    ("\u2009", " "),  # thin space
    ("\u202f", " "),  # narrow no-break space
)
_OTHER_UNICODE = re.compile("[^\x00-\x7f" + "".join(char for char, _ in _UNICODE_OPERATORS) + "]")
_LATEX = (
    ("\\times", "*"),
    ("\\cdot", "*"),
    ("\\div", "/"),
    ("\\left", ""),
    ("\\right", ""),
    ("\\(", ""),
    ("\\)", ""),
)
_TOKEN = re.compile(r"[0-9]+|\S")
_SEPARATOR = re.compile(r"[\n;,]")
_STEP_PREFIX = re.compile(r"(?:step\s*[0-9]+\s*[:.]|[0-9]+[:.](?=\s))\s*", re.IGNORECASE)
_HEX = re.compile(r"0[xX](?<![0-9]0[xX])")
_TIMES_X = re.compile(r"([0-9)]\s*)[xX](?=\s*[0-9(])")
_DIGITS = frozenset("0123456789")
_BULLETS = ("- ", "* ")
_EAGER_CHARS = 120
_group = re.Match.group


def verify(answer: str, numbers: Sequence[int], target: int) -> str:
    """Why ``answer`` does or does not reach ``target`` from ``numbers``: one of :data:`REASONS`.

    ``"correct"`` means the answer uses exactly the given numbers, as a multiset,
    and its exact rational value is the target. Never raises on any string.
    """
    if len(answer) > MAX_CHARS:
        return TOO_LONG
    if not answer or answer.isspace():
        return NO_ANSWER
    if not answer.isascii():
        if _OTHER_UNICODE.search(answer):
            return UNPARSEABLE
        for char, plain in _UNICODE_OPERATORS:
            if char in answer:
                answer = answer.replace(char, plain)
    if "\\" in answer:
        for latex, plain in _LATEX:
            answer = answer.replace(latex, plain)
    if "x" in answer or "X" in answer:
        if _HEX.search(answer):
            return UNPARSEABLE
        answer = _TIMES_X.sub(r"\1*", answer)
    if "\n" in answer or ";" in answer or "," in answer:
        lines = [line for line in _SEPARATOR.split(answer) if line and not line.isspace()]
        if len(lines) > 1:
            return _verify_steps(lines, numbers, target)
        if not lines:
            return NO_ANSWER
        answer = lines[0]
    return _verify_expression(_clean_line(answer), numbers, target)


def _verify_expression(line: str, numbers: Sequence[int], target: int) -> str:
    """One expression, optionally ``= target`` (either side)."""
    claimed = None
    if "=" in line:
        left, _, right = line.partition("=")
        if "=" in right:
            return UNPARSEABLE
        claimed = _whole_number(right)
        if claimed is None:
            claimed = _whole_number(left)
            left = right
        if claimed is None:
            return UNPARSEABLE
        if type(claimed) is str:
            return claimed
        line = left
    pool = list(numbers)
    value = evaluate(line, pool)
    if type(value) is str:
        return value
    if pool:
        return WRONG_NUMBERS
    if value != target or (claimed is not None and claimed != target):
        return WRONG_RESULT
    return CORRECT


def _verify_steps(lines: list[str], numbers: Sequence[int], target: int) -> str:
    """Steps ``expression = result``, each drawing on the numbers and earlier results."""
    if len(lines) > MAX_STEPS:
        return TOO_LONG
    pool = list(numbers)
    for line in lines:
        line = line.strip()
        if line[:2] in _BULLETS:
            line = line[2:]
        left, equals, right = _clean_line(line).partition("=")
        if not equals or "=" in right:
            return BAD_STEP
        claimed = _whole_number(right)
        if claimed is None:
            return BAD_STEP
        if type(claimed) is str:
            return claimed
        value = evaluate(left, pool)
        if type(value) is str:
            return value
        if value != claimed:
            return BAD_STEP
        pool.append(claimed)
    if len(pool) != 1:
        return WRONG_NUMBERS
    return CORRECT if pool[0] == target else WRONG_RESULT


def _clean_line(line: str) -> str:
    """Drop a ``Step 1:`` or ``1.`` prefix and a trailing full stop."""
    line = line.strip()
    if line[:1] in "sS" or ":" in line or ". " in line:
        prefix = _STEP_PREFIX.match(line)
        if prefix:
            line = line[prefix.end() :]
    if line.endswith("."):
        line = line[:-1]
    return line


def _whole_number(text: str) -> int | str | None:
    """The number ``text`` holds, a reason if it is too large, or None if it is no number."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or (text[0] == "0" and len(text) > 1):
        return None
    if len(text) > MAX_DIGITS:
        return TOO_LARGE
    return int(text)


def evaluate(text: str, pool: list[int | Fraction]) -> int | Fraction | str:
    """The exact value of one expression, or the reason it has none.

    Every number read is removed from ``pool`` (a multiset of the values the answer
    may still use); a number that is not there ends the work with ``"wrong numbers"``,
    which also keeps every value as small as the pool allows. Safe on any text; only
    ASCII digits count as digits.
    """
    stack: list[tuple] = []
    total: int | Fraction = 0
    negative = False
    term: int | Fraction = 0
    product = 0  # 0: no pending operator, 1: pending "*", 2: pending "/"
    want_value = True
    # A short answer is tokenized at once; a long one lazily, so that a refusal early in
    # 900 characters of "(((" does not wait for the other 867 to be tokenized.
    tokens = (
        _TOKEN.findall(text) if len(text) <= _EAGER_CHARS else map(_group, _TOKEN.finditer(text))
    )
    for token in tokens:
        if want_value:
            if token == "(":
                if len(stack) >= MAX_DEPTH:
                    return TOO_DEEP
                stack.append((total, negative, term, product))
                total, negative, term, product = 0, False, 0, 0
                continue
            if token[0] not in _DIGITS:
                return UNPARSEABLE
            if len(token) > 1 and token[0] == "0":
                return UNPARSEABLE
            if len(token) > MAX_DIGITS:
                return TOO_LARGE
            value = int(token)
            try:
                pool.remove(value)
            except ValueError:
                return WRONG_NUMBERS
        elif token == "+" or token == "-":
            total = total - term if negative else total + term
            negative = token == "-"
            product = 0
            want_value = True
            continue
        elif token == "*":
            product = 1
            want_value = True
            continue
        elif token == "/":
            product = 2
            want_value = True
            continue
        elif token == ")":
            if not stack:
                return UNPARSEABLE
            value = total - term if negative else total + term
            total, negative, term, product = stack.pop()
        else:
            return UNPARSEABLE
        want_value = False
        if product == 0:
            term = value
        elif product == 1:
            term = term * value
            if term > MAX_VALUE or term < -MAX_VALUE:
                return TOO_LARGE
        else:
            if not value:
                return DIVISION_BY_ZERO
            if type(term) is int and type(value) is int:
                quotient, remainder = divmod(term, value)
                term = Fraction(term, value) if remainder else quotient
            else:
                term = Fraction(term) / value
            if type(term) is Fraction and (
                term.denominator > MAX_VALUE or abs(term.numerator) > MAX_VALUE
            ):
                return TOO_LARGE
    if want_value or stack:
        return UNPARSEABLE
    return total - term if negative else total + term
