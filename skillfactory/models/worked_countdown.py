"""Worked Countdown attempts and checks, written the way the default model should learn to.

An attempt is a chain of steps ``a op b = c`` that ends in an ``<answer>``; the
right ones come from the task's solver, the wrong ones from random moves, slips in
the arithmetic, and numbers used twice or left out: the mistakes a small model
makes. A check redoes the answer's arithmetic and its use of the numbers and ends
in a verdict. Whether an attempt is right is never decided here: the corpus asks
the task's own verifier.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from skillfactory.models.worked import Attempt, TaskWriter, verdict_tag
from skillfactory.records import Problem
from skillfactory.tasks.countdown_solver import find_moves

_OPERATORS = ("+", "-", "*", "/")
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class Step:
    """One move: ``left op right = result`` (``written`` is what the attempt claims)."""

    left: int
    op: str
    right: int
    result: int
    written: int

    def text(self, *, true: bool = False) -> str:
        value = self.result if true else self.written
        return f"{self.left} {self.op} {self.right} = {value}"


@dataclass(frozen=True)
class Chain:
    """An attempt's steps, the expression they make, and the numbers it uses."""

    steps: tuple[Step, ...]
    expression: str
    used: tuple[int, ...]

    @property
    def value(self) -> int:
        return self.steps[-1].result if self.steps else self.used[0]


def _numbers_and_target(problem: Problem) -> tuple[list[int], int]:
    return list(problem.data["numbers"]), int(problem.data["target"])


def _apply(op: str, big: int, small: int) -> int | None:
    if op == "+":
        return big + small
    if op == "-":
        return big - small if big > small else None
    if op == "*":
        return big * small
    return big // small if big % small == 0 else None


def _combine(big: tuple[int, str, bool], op: str, small: tuple[int, str, bool]) -> str:
    """Join two operands, parenthesising every one that is not a plain number.

    Parentheses the grammar does not need keep the answer a copy of the steps, in
    their order, which a small model writes far more reliably than a minimal form.
    """
    left = big[1] if big[2] else f"({big[1]})"
    right = small[1] if small[2] else f"({small[1]})"
    return f"{left} {op} {right}"


def _chain(numbers: list[int], moves: list[tuple[int, int, str]]) -> Chain:
    """Play ``moves`` (positions into the remaining values) and record the steps."""
    items = [(n, str(n), True) for n in numbers]  # (value, text, is a plain number)
    steps = []
    for i, j, op in moves:
        first, second = items[i], items[j]
        rest = items[:i] + items[i + 1 : j] + items[j + 1 :]
        big, small = (first, second) if first[0] >= second[0] else (second, first)
        result = _apply(op, big[0], small[0])
        if result is None:
            raise ValueError("move does not apply")
        items = [*rest, (result, _combine(big, op, small), False)]
        steps.append(Step(big[0], op, small[0], result, result))
    return Chain(tuple(steps), items[0][1], tuple(numbers))


def _random_moves(count: int, rng: random.Random) -> list[tuple[int, int, str]]:
    moves = []
    for left in range(count, 1, -1):
        i, j = sorted(rng.sample(range(left), 2))
        moves.append((i, j, rng.choice(_OPERATORS)))
    return moves


def random_chain(numbers: list[int], rng: random.Random) -> Chain:
    """A chain of random legal moves over ``numbers`` (whole, positive results)."""
    for _ in range(200):
        try:
            return _chain(numbers, _random_moves(len(numbers), rng))
        except ValueError:
            continue
    return _chain(numbers, [(0, 1, "+")] * (len(numbers) - 1))


def solution_chain(problem: Problem) -> Chain:
    """The solver's solution as a chain."""
    numbers, target = _numbers_and_target(problem)
    moves = find_moves(numbers, target)
    if moves is None:
        raise ValueError(f"no solution found for problem {problem.id}")
    return _chain(numbers, moves)


def wrong_chain(problem: Problem, rng: random.Random) -> Chain:
    """A plausible wrong attempt: random moves, a slip, or a number misused.

    Random moves sometimes hit the target (often, with two numbers); such a
    chain is drawn again, and after a few tries the target is claimed by a slip.
    """
    numbers, target = _numbers_and_target(problem)
    for _ in range(20):
        chain = _mistake(numbers, target, rng)
        if chain.value != target or Counter(chain.used) != Counter(numbers):
            return chain
    return _slip(random_chain(numbers, rng), target + 1)


def _slip(chain: Chain, claimed: int) -> Chain:
    """``chain`` with its last step claiming ``claimed`` whatever the arithmetic says."""
    last = chain.steps[-1]
    slipped = Step(last.left, last.op, last.right, last.result, claimed)
    return Chain((*chain.steps[:-1], slipped), chain.expression, chain.used)


def _mistake(numbers: list[int], target: int, rng: random.Random) -> Chain:
    """Mostly what a small model's own wrong attempts look like: a slip that claims the
    target, or the target reached with a number misused; now and then random moves."""
    kind = rng.random()
    if kind < 0.1:
        return random_chain(numbers, rng)
    if kind < 0.65:
        return _slip(random_chain(numbers, rng), target)
    misused = list(numbers)
    position = rng.randrange(len(misused))
    if rng.random() < 0.5 and len(misused) > 2:
        misused[position] = rng.choice([n for k, n in enumerate(numbers) if k != position])
    else:
        misused[position] = rng.randint(1, 100)
    moves = find_moves(misused, target)
    if moves is None:
        return random_chain(misused, rng)
    return _chain(misused, moves)


def attempt_text(problem: Problem, chain: Chain, variant: str, rng: random.Random) -> str:
    """A linear attempt in ``variant``'s style: the data restated, a few steps, the answer.

    The numbers are restated first, in the order the steps will use them: the
    choice of a route is made once, in that line, and every step after it copies
    its operands from close by, which a small model learns far sooner than picking
    them out of the question.
    """
    numbers, target = _numbers_and_target(problem)
    listed = ", ".join(map(str, _in_order_of_use(chain, numbers)))
    lines = [step.text() for step in chain.steps]
    if variant == "plan_and_execute":
        head = [
            f"Plan: combine two of {listed} at a time, keeping whole numbers, "
            f"until one value is left, and aim for {target}.",
        ]
    elif variant == "rephrase":
        head = [f"Restated question: reach {target} using {listed}, each once."]
    elif variant == "alternatively":
        head = [f"Numbers: {listed}. Target: {target}."]
        for _ in range(rng.choice((0, 1, 1))):
            other = random_chain(numbers, rng)
            if other.value != target:
                head.append(f"Alternatively, {other.expression} = {other.value}, not {target}.")
        lines = [f"Alternatively, {' and '.join(lines)}."]
    else:
        head = [f"Numbers: {listed}. Target: {target}."]
    closing = f"That gives {chain.steps[-1].written}." if chain.steps else ""
    body = "\n".join([*head, *lines, closing]).strip()
    return f"{body}\n<answer>{chain.expression}</answer>"


def _in_order_of_use(chain: Chain, numbers: list[int]) -> list[int]:
    """``numbers`` reordered as the chain's steps first take them; unused ones last."""
    left = list(numbers)
    ordered = []
    for step in chain.steps:
        for operand in (step.left, step.right):
            if operand in left:
                left.remove(operand)
                ordered.append(operand)
    return ordered + left


def check_text(problem: Problem, chain: Chain) -> tuple[str, bool]:
    """A reflection on ``chain``'s answer and its verdict.

    The check goes one small step at a time, each against text close by: every
    number of the answer, in the order it is written, is looked up among the
    question's numbers ("given", "given, but already used", "not given"), the
    numbers never used are named, each step is redone with its true result, and
    only then is the result set beside the target. Small local steps are meant to
    be within a tiny model's reach, as comparing whole lists at once is not (recipe
    2 still falls short: see docs/default-model.md). The target is named only at
    the end, so that redoing a step is not pulled towards it.
    """
    numbers, target = _numbers_and_target(problem)
    lines = [f"Answer: {chain.expression}."]
    left = Counter(numbers)
    looked_up = []
    misused = False
    for number in map(int, _NUMBER.findall(chain.expression)):
        if left[number] > 0:
            left[number] -= 1
            looked_up.append(f"{number} is given.")
        elif number in numbers:
            looked_up.append(f"{number} is given, but already used.")
            misused = True
        else:
            looked_up.append(f"{number} is not given.")
            misused = True
    lines.append(" ".join(looked_up))
    unused = sorted(left.elements())
    if unused:
        lines.append(f"Not used: {', '.join(map(str, unused))}.")
    else:
        lines.append("Every given number is used.")
    lines += [step.text(true=True) for step in chain.steps]
    if chain.value == target:
        lines.append(f"The result is {chain.value}, and the target is {target}: they match.")
    else:
        lines.append(f"The result is {chain.value}, but the target is {target}.")
    correct = chain.value == target and not misused and not unused
    return "\n".join([*lines, verdict_tag(correct)]), correct


def right_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """The solver's solution, worked in ``variant``'s style."""
    return _attempt(problem, solution_chain(problem), variant, rng)


def wrong_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """A plausible mistake (see :func:`wrong_chain`), worked in ``variant``'s style."""
    return _attempt(problem, wrong_chain(problem, rng), variant, rng)


def _attempt(problem: Problem, chain: Chain, variant: str, rng: random.Random) -> Attempt:
    check, correct = check_text(problem, chain)
    return Attempt(attempt_text(problem, chain, variant, rng), check, correct)


WRITER = TaskWriter(
    task="countdown",
    difficulties={2: 0.05, 3: 0.75, 4: 0.2},
    right=right_attempt,
    wrong=wrong_attempt,
)
