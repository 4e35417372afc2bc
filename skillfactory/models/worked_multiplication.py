"""Worked long multiplication attempts and checks, written for the default model.

An attempt multiplies the first number by each digit of the second, with that
digit's place value (``365 x 20 = 7300``), then adds the partial products one at
a time, one short line each, and answers with the last sum. A wrong attempt makes
one slip a small model makes (a partial product off in one digit, a carry
dropped, two neighbouring digits swapped) and carries on correctly from the
slipped number, so the final answer is wrong. A check undoes every line (divides
a partial product by its multiplier, subtracts a partial product from a sum) and
so tests the working without ever working out the right product itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from skillfactory.models.worked import Attempt, TaskWriter, verdict_tag
from skillfactory.records import Problem


@dataclass(frozen=True)
class Line:
    """One line of working, ``left op right = written``: ``op`` is ``x`` or ``+``."""

    left: int
    op: str
    right: int
    written: int

    @property
    def result(self) -> int:
        return self.left * self.right if self.op == "x" else self.left + self.right

    def text(self) -> str:
        return f"{self.left} {self.op} {self.right} = {self.written}"


Slip = Callable[[Line, random.Random], "int | None"]
"""``(line, rng) -> the number written instead of the line's result``, or None if it can't."""


def _factors(problem: Problem) -> tuple[int, int]:
    return int(problem.data["a"]), int(problem.data["b"])


def _multipliers(b: int) -> list[int]:
    """Each digit of ``b`` with its place value, ones first: 427 -> 7, 20, 400."""
    return [int(digit) * 10**place for place, digit in enumerate(reversed(str(b)))]


def working(a: int, b: int, slip_at: int | None = None, slip: int = 0) -> list[Line]:
    """The partial products of ``a x b`` and their running sums.

    Line ``slip_at`` is written as ``slip`` instead of its result; the lines after it
    work on from the number written, as someone who slipped would.
    """
    lines: list[Line] = []

    def add(left: int, op: str, right: int) -> int:
        result = left * right if op == "x" else left + right
        written = slip if len(lines) == slip_at else result
        lines.append(Line(left, op, right, written))
        return written

    partials = [add(a, "x", multiplier) for multiplier in _multipliers(b)]
    total = partials[0]
    for partial in partials[1:]:
        total = add(total, "+", partial)
    return lines


def _digit_off(line: Line, rng: random.Random) -> int | None:
    """A partial product with one digit one too high or too low (not a trailing place zero)."""
    result = line.result
    if result == 0 or line.op != "x":
        return None
    zeros = len(str(line.right)) - 1
    places = range(zeros, len(str(result)))
    for _ in range(10):
        written = result + rng.choice((-1, 1)) * 10 ** rng.choice(places)
        if written > 0 and len(str(written)) == len(str(result)):
            return written
    return None


def _column_values(line: Line) -> list[int]:
    """What each column adds up to before carries, ones first (a partial product unshifted)."""
    if line.op == "+":
        width = len(str(max(line.left, line.right)))
        return [line.left // 10**i % 10 + line.right // 10**i % 10 for i in range(width)]
    digit = line.right // 10 ** (len(str(line.right)) - 1)
    return [int(d) * digit for d in reversed(str(line.left))]


def _carries(line: Line) -> list[tuple[int, int]]:
    """``(column, carry)`` for every carry the line's column-by-column working makes."""
    values = _column_values(line)
    carries = []
    carry = 0
    for column, value in enumerate(values):
        carry = (value + carry) // 10
        # A carry out of the last column is written, not carried; leaving it out is no slip.
        if carry and column < len(values) - 1:
            carries.append((column, carry))
    return carries


def _carry_dropped(line: Line, rng: random.Random) -> int | None:
    """The line's result with one carry left out of the next column."""
    carries = _carries(line)
    if not carries:
        return None
    column, carry = rng.choice(carries)
    shift = len(str(line.right)) - 1 if line.op == "x" else 0
    written = line.result - carry * 10 ** (column + 1 + shift)
    return written if written > 0 else None


def _digits_swapped(line: Line, rng: random.Random) -> int | None:
    """The line's result with two different neighbouring digits swapped."""
    digits = str(line.result)
    places = [
        i
        for i in range(len(digits) - 1)
        if digits[i] != digits[i + 1] and not (i == 0 and digits[1] == "0")
    ]
    if not places:
        return None
    i = rng.choice(places)
    return int(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])


def wrong_working(problem: Problem, rng: random.Random) -> list[Line]:
    """The working with one slip (see the slips above), chosen at random, carried through."""
    a, b = _factors(problem)
    lines = working(a, b)
    slips: list[Slip] = [_digit_off, _carry_dropped, _digits_swapped]
    first = rng.randrange(len(slips))
    for slip in slips[first:] + slips[:first]:
        # A swap is a copying slip, made on the final sum; the others may happen on any line
        # that allows them, so try the lines in a random order.
        places = [len(lines) - 1] if slip is _digits_swapped else list(range(len(lines)))
        rng.shuffle(places)
        for at in places:
            written = slip(lines[at], rng)
            if written is not None and written != lines[at].result:
                return working(a, b, at, written)
    last = len(lines) - 1
    return working(a, b, last, lines[last].result + 1)


def _estimate(n: int) -> int:
    """``n`` rounded to its leading digit (half up): 365 -> 400, 74 -> 70."""
    unit = 10 ** (len(str(n)) - 1)
    return (n + unit // 2) // unit * unit


def attempt_text(problem: Problem, lines: list[Line], variant: str, rng: random.Random) -> str:
    """A linear attempt in ``variant``'s style: the partial products and sums, then the answer."""
    a, b = _factors(problem)
    body = [line.text() for line in lines]
    method = (
        f"multiply {a} by each digit of {b} with its place value, then add the partial products"
        if b >= 10
        else f"multiply {a} by {b} with the times table"
    )
    if variant == "plan_and_execute":
        head = [f"Plan: {method}."]
    elif variant == "rephrase":
        head = [f"Restated question: {a} x {b} = ?"]
    elif variant == "alternatively":
        head = []
        rough = _estimate(a) * _estimate(b)
        if rough != a * b and rng.random() < 0.6:
            head.append(
                f"Alternatively, {_estimate(a)} x {_estimate(b)} = {rough}, "
                "but that is only an estimate."
            )
        head.append(f"Alternatively, {method}:")
    else:
        head = [f"{a} x {b}:"]
    return "\n".join([*head, *body]) + f"\n<answer>{lines[-1].written}</answer>"


def _undo(line: Line) -> tuple[str, bool]:
    """Undo one line from the number it wrote; the text says whether the line holds."""
    if line.op == "x" and line.right == 0:
        if line.written == 0:
            return f"{line.left} x 0 = 0, ok.", True
        return f"{line.left} x 0 = 0, not {line.written}: wrong.", False
    if line.op == "+":
        back, remainder = line.written - line.right, 0
        text = f"{line.written} - {line.right} = {back}"
    else:
        back, remainder = divmod(line.written, line.right)
        text = f"{line.written} / {line.right} = {back}" + (f" r {remainder}" if remainder else "")
    if back == line.left and remainder == 0:
        return f"{text}, ok.", True
    return f"{text}, not {line.left}: wrong.", False


def check_text(problem: Problem, lines: list[Line]) -> tuple[str, bool]:
    """A reflection on the working's final answer: undo each line, check the multipliers."""
    a, b = _factors(problem)
    answer = lines[-1].written
    multipliers = [line.right for line in lines if line.op == "x"]
    undone = [_undo(line) for line in lines]
    out = ["Undo each line of the working:", *(text for text, _ in undone)]
    whole = all(line.left == a for line in lines if line.op == "x") and sum(multipliers) == b
    if len(multipliers) > 1:
        parts = " + ".join(map(str, multipliers))
        made = f"{sum(multipliers)}" if sum(multipliers) == b else f"{sum(multipliers)}, not {b}"
        out.append(f"The multipliers {parts} make {made}.")
    correct = whole and all(holds for _, holds in undone)
    if correct:
        out.append(f"Every line holds, so {answer} = {a} x {b}.")
    else:
        out.append(f"The working breaks, so {answer} is not {a} x {b}.")
    return "\n".join([*out, verdict_tag(correct)]), correct


def right_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """The exact working, in ``variant``'s style."""
    a, b = _factors(problem)
    return _attempt(problem, working(a, b), variant, rng)


def wrong_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """The working with one slip (see :func:`wrong_working`), in ``variant``'s style."""
    return _attempt(problem, wrong_working(problem, rng), variant, rng)


def _attempt(problem: Problem, lines: list[Line], variant: str, rng: random.Random) -> Attempt:
    check, correct = check_text(problem, lines)
    return Attempt(attempt_text(problem, lines, variant, rng), check, correct)


WRITER = TaskWriter(
    task="long_multiplication",
    difficulties={1: 0.15, 2: 0.5, 3: 0.35},
    right=right_attempt,
    wrong=wrong_attempt,
)
