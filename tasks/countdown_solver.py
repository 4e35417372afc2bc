"""Finding one Countdown solution, to prove a generated problem solvable.

The search combines two of the remaining values at a time with + - * / until one
value is left, depth first, and stops at the first that equals the target. It only
makes positive whole intermediate results (no zero, no fraction), the classic
Countdown rule: solutions are then easy to read and to check by hand, and a problem
it proves solvable is certainly solvable under the looser rules the verifier accepts.

Four things keep it cheap. It searches values only and writes the expression once,
from the winning moves. Division and subtraction are tried first: targets are small
next to products, so shrinking moves reach them sooner. Multisets of values already
searched without success are remembered. And the search has a budget of visited
states: a caller that gets None draws another problem, so an unlucky draw costs
bounded time even with eight numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_BUDGET = 500
"""States of four or more values one search may visit before giving up.

Proving five numbers unsolvable takes fewer than 50; with six or more numbers, half
of the solvable draws are proved within 15, and the rare long search is cut short.
"""

Move = tuple[int, int, str]
"""Combine the values at positions ``i < j`` with an operator (larger value first); the
result is appended after the values left."""

_SUM, _PRODUCT, _ATOM = 1, 2, 3
"""Binding strength of an expression's outermost operator, for printing parentheses."""


class _OutOfBudget(Exception):
    pass


def solve(numbers: Sequence[int], target: int, *, budget: int = DEFAULT_BUDGET) -> str | None:
    """An expression that uses every number exactly once and equals ``target``.

    None when no solution was found within ``budget`` visited states, which does not
    prove there is none. The expression has no redundant parentheses.
    """
    moves = find_moves(numbers, target, budget=budget)
    return None if moves is None else as_expression(numbers, moves)


def find_moves(
    numbers: Sequence[int], target: int, *, budget: int = DEFAULT_BUDGET
) -> list[Move] | None:
    """The moves of one solution, or None when none was found within ``budget``.

    The numbers must be positive whole numbers.
    """
    if not numbers:
        return None
    if min(numbers) < 1:
        raise ValueError(f"countdown numbers must be positive, got {list(numbers)}")
    try:
        return _Search(target, budget).run(list(numbers))
    except _OutOfBudget:
        return None


def as_expression(numbers: Sequence[int], moves: list[Move]) -> str:
    """The solution as one expression, with parentheses only where they are needed."""
    items = [(number, str(number), _ATOM) for number in numbers]
    for i, j, op in moves:
        big, small, items = _take(items, i, j)
        items.append(_combine(big, op, small))
    return items[0][1]


def as_steps(numbers: Sequence[int], moves: list[Move]) -> list[str]:
    """The solution as steps ``a op b = c``, one per move."""
    items = [(number,) for number in numbers]
    steps = []
    for i, j, op in moves:
        (big,), (small,), items = _take(items, i, j)
        result = _APPLY[op](big, small)
        steps.append(f"{big} {op} {small} = {result}")
        items.append((result,))
    return steps


def _take(items: list[tuple], i: int, j: int) -> tuple[tuple, tuple, list[tuple]]:
    """Items ``i`` and ``j``, the one of larger value first, and the list without them."""
    first, second = items[i], items[j]
    rest = items[:i] + items[i + 1 : j] + items[j + 1 :]
    if first[0] < second[0]:
        first, second = second, first
    return first, second, rest


_APPLY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a // b,
}


class _Search:
    """Depth-first search over values, remembering multisets that failed."""

    def __init__(self, target: int, budget: int) -> None:
        self.target = target
        self.budget = budget
        self.failed: set[tuple[int, ...]] = set()

    def run(self, values: list[int]) -> list[Move] | None:
        if len(values) == 1:
            return [] if values[0] == self.target else None
        if len(values) == 2:
            op = _last_move(values[0], values[1], self.target)
            return None if op is None else [(0, 1, op)]
        if len(values) == 3:
            return self._three(values)
        key = tuple(sorted(values))
        if key in self.failed:
            return None
        self.budget -= 1
        if self.budget < 0:
            raise _OutOfBudget
        count = len(values)
        for i in range(count - 1):
            a = values[i]
            for j in range(i + 1, count):
                b = values[j]
                rest = values[:i] + values[i + 1 : j] + values[j + 1 :]
                big, small = (a, b) if a >= b else (b, a)
                for op, result in (
                    ("/", big // small if big % small == 0 else 0),
                    ("-", big - small),
                    ("+", big + small),
                    ("*", big * small),
                ):
                    if result <= 0:
                        continue
                    rest.append(result)
                    moves = self.run(rest)
                    rest.pop()
                    if moves is not None:
                        moves.insert(0, (i, j, op))
                        return moves
        self.failed.add(key)
        return None

    def _three(self, values: list[int]) -> list[Move] | None:
        """The search from three values, unrolled: it is where almost all the time goes."""
        target = self.target
        for i, j, k in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
            a, b = values[i], values[j]
            big, small = (a, b) if a >= b else (b, a)
            for op, result in (
                ("/", big // small if big % small == 0 else 0),
                ("-", big - small),
                ("+", big + small),
                ("*", big * small),
            ):
                if result > 0:
                    last = _last_move(values[k], result, target)
                    if last is not None:
                        return [(i, j, op), (0, 1, last)]
        return None


def _last_move(a: int, b: int, target: int) -> str | None:
    """The operator that makes ``target`` from ``a`` and ``b``, if one does."""
    big, small = (a, b) if a >= b else (b, a)
    if target <= 0:
        return None
    if big == target * small:
        return "/"
    if big - small == target:
        return "-"
    if big + small == target:
        return "+"
    if big * small == target:
        return "*"
    return None


def _combine(
    big: tuple[int, str, int], op: str, small: tuple[int, str, int]
) -> tuple[int, str, int]:
    """Apply a move to two expressions, parenthesising an operand only when it needs it."""
    a, a_text, a_strength = big
    b, b_text, b_strength = small
    if op == "+":
        return a + b, f"{a_text} + {b_text}", _SUM
    if op == "-":
        b_term = b_text if b_strength >= _PRODUCT else f"({b_text})"
        return a - b, f"{a_text} - {b_term}", _SUM
    a_factor = a_text if a_strength >= _PRODUCT else f"({a_text})"
    if op == "*":
        b_factor = b_text if b_strength >= _PRODUCT else f"({b_text})"
        return a * b, f"{a_factor} * {b_factor}", _PRODUCT
    b_divisor = b_text if b_strength == _ATOM else f"({b_text})"
    return a // b, f"{a_factor} / {b_divisor}", _PRODUCT
