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

from skillfactory.models.drills import OPERATORS, apply
from skillfactory.models.worked import Attempt, TaskWriter, verdict_tag
from skillfactory.records import Problem
from skillfactory.tasks.countdown_solver import find_moves

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
    """An attempt's steps, the expression they make, and the numbers it uses.

    ``steps`` are the true arithmetic of ``expression``; ``shown`` are the steps the
    attempt writes, which differ after a slip (the slipped value is carried on).
    """

    steps: tuple[Step, ...]
    expression: str
    used: tuple[int, ...]
    shown: tuple[Step, ...] | None = None

    @property
    def value(self) -> int:
        return self.steps[-1].result if self.steps else self.used[0]

    @property
    def written_steps(self) -> tuple[Step, ...]:
        return self.steps if self.shown is None else self.shown


def _numbers_and_target(problem: Problem) -> tuple[list[int], int]:
    return list(problem.data["numbers"]), int(problem.data["target"])


def _combine(big: tuple[int, str, bool], op: str, small: tuple[int, str, bool]) -> str:
    """Join two operands, parenthesising every one that is not a plain number.

    Parentheses the grammar does not need keep the answer a copy of the steps, in
    their order, which a small model writes far more reliably than a minimal form.
    """
    left = big[1] if big[2] else f"({big[1]})"
    right = small[1] if small[2] else f"({small[1]})"
    return f"{left} {op} {right}"


def _chain(
    numbers: list[int],
    moves: list[tuple[int, int, str]],
    *,
    slips: dict[int, int] | None = None,
    claimed: int | None = None,
) -> Chain:
    """Play ``moves`` (positions into the remaining values) and record the steps.

    ``slips`` maps a step's index to the value the attempt writes instead of its
    result; later steps work on from the written value, as someone who slipped
    would. ``claimed`` is what the last written step says it gives, whatever its
    arithmetic. The expression and its true steps never change.
    """
    slips = slips or {}
    # (true value, written value, text, is a plain number)
    items = [(n, n, str(n), True) for n in numbers]
    steps, shown = [], []
    for index, (i, j, op) in enumerate(moves):
        first, second = items[i], items[j]
        rest = items[:i] + items[i + 1 : j] + items[j + 1 :]
        big, small = (first, second) if first[0] >= second[0] else (second, first)
        result = apply(op, big[0], small[0])
        if result is None:
            raise ValueError("move does not apply")
        steps.append(Step(big[0], op, small[0], result, result))
        written = slips.get(index, apply(op, big[1], small[1]))
        if written is None:
            written = result
        if claimed is not None and index == len(moves) - 1:
            written = claimed
        shown.append(Step(big[1], op, small[1], written, written))
        text = _combine((big[0], big[2], big[3]), op, (small[0], small[2], small[3]))
        items = [*rest, (result, written, text, False)]
    changed = tuple(shown) != tuple(steps)
    return Chain(tuple(steps), items[0][2], tuple(numbers), tuple(shown) if changed else None)


def _random_moves(count: int, rng: random.Random) -> list[tuple[int, int, str]]:
    moves = []
    for left in range(count, 1, -1):
        i, j = sorted(rng.sample(range(left), 2))
        moves.append((i, j, rng.choice(OPERATORS)))
    return moves


def random_chain(numbers: list[int], rng: random.Random) -> Chain:
    """A chain of random legal moves over ``numbers`` (whole, positive results)."""
    return _chain(numbers, random_moves(numbers, rng))


def steps_of(
    numbers: list[int], moves: list[tuple[int, int, str]]
) -> list[tuple[int, str, int, int]]:
    """The true steps ``(left, op, right, result)`` that ``moves`` make over ``numbers``."""
    return [(s.left, s.op, s.right, s.result) for s in _chain(numbers, moves).steps]


def random_moves(numbers: list[int], rng: random.Random) -> list[tuple[int, int, str]]:
    """Random moves that apply to ``numbers`` (every result whole and positive)."""
    for _ in range(200):
        moves = _random_moves(len(numbers), rng)
        try:
            _chain(numbers, moves)
        except ValueError:
            continue
        return moves
    return [(0, 1, "+")] * (len(numbers) - 1)


def solution_chain(problem: Problem) -> Chain:
    """The solver's solution as a chain."""
    numbers, target = _numbers_and_target(problem)
    moves = find_moves(numbers, target)
    if moves is None:
        raise ValueError(f"no solution found for problem {problem.id}")
    return _chain(numbers, moves)


def wrong_chain(problem: Problem, rng: random.Random) -> Chain:
    """A plausible wrong attempt: random moves, a slip, a number misused, a miscopied answer.

    Random moves sometimes hit the target (often, with two numbers); such a
    chain is drawn again, and after a few tries the target is claimed by a slip.
    """
    numbers, target = _numbers_and_target(problem)
    for _ in range(20):
        chain = _mistake(numbers, target, rng)
        if chain.value != target or Counter(chain.used) != Counter(numbers):
            return chain
    return _chain(numbers, random_moves(numbers, rng), claimed=target + 1)


def _slipped_value(value: int, rng: random.Random) -> int:
    """A wrong value near ``value``, as an arithmetic slip gives."""
    delta = rng.choice((-10, -2, -1, 1, 1, 2, 10)) if value > 10 else rng.choice((-1, 1, 2))
    return value + delta if value + delta > 0 else value + abs(delta)


def _mistake(numbers: list[int], target: int, rng: random.Random) -> Chain:
    """What a small model's own wrong attempts look like.

    Most claim the target they did not reach (a slip in the last step, or an
    earlier slip carried on), so a check that copies an attempt's stated results
    never pays: it has to redo each step from its operands. The rest reach the
    target with a number misused, write an answer that is not the steps they
    worked, or simply miss.
    """
    kind = rng.random()
    if kind < 0.1:
        return random_chain(numbers, rng)
    if kind < 0.6:
        moves = _near_moves(numbers, target, rng)
        true = _chain(numbers, moves)
        if rng.random() < 0.5 or len(moves) == 1:
            return _chain(numbers, moves, claimed=target)
        at = rng.randrange(len(moves) - 1)
        slip = {at: _slipped_value(true.steps[at].result, rng)}
        return _chain(numbers, moves, slips=slip, claimed=target if rng.random() < 0.7 else None)
    if kind < 0.7:
        return _miscopied(numbers, target, rng)
    misused = list(numbers)
    position = rng.randrange(len(misused))
    if rng.random() < 0.5 and len(misused) > 2:
        misused[position] = rng.choice([n for k, n in enumerate(numbers) if k != position])
    else:
        misused[position] = rng.randint(1, max(20, *numbers))
    moves = find_moves(misused, target)
    if moves is None:
        return random_chain(misused, rng)
    return _chain(misused, moves)


def _near_moves(numbers: list[int], target: int, rng: random.Random) -> list[tuple[int, int, str]]:
    """Moves like a solution's: the solver's with one operator changed, or random ones."""
    moves = find_moves(numbers, target)
    if moves is not None and rng.random() < 0.6:
        for _ in range(10):
            changed = list(moves)
            at = rng.randrange(len(changed))
            i, j, op = changed[at]
            changed[at] = (i, j, rng.choice([o for o in OPERATORS if o != op]))
            try:
                if _chain(numbers, changed).value != target:
                    return changed
            except ValueError:
                continue
    return random_moves(numbers, rng)


def _miscopied(numbers: list[int], target: int, rng: random.Random) -> Chain:
    """Right steps written out, then an answer that is not what they worked.

    The answer's operator differs from the steps', so only a check that redoes the
    answer itself (not the steps above it) finds the mistake.
    """
    moves = find_moves(numbers, target)
    if moves is None:
        return random_chain(numbers, rng)
    worked = _chain(numbers, moves)
    for _ in range(10):
        changed = list(moves)
        at = rng.randrange(len(changed))
        i, j, op = changed[at]
        changed[at] = (i, j, rng.choice([o for o in OPERATORS if o != op]))
        try:
            answer = _chain(numbers, changed)
        except ValueError:
            continue
        if answer.value != target:
            return Chain(answer.steps, answer.expression, answer.used, worked.steps)
    return random_chain(numbers, rng)


def attempt_text(problem: Problem, chain: Chain, variant: str, rng: random.Random) -> str:
    """A linear attempt in ``variant``'s style: the data restated, a few steps, the answer.

    The numbers are restated first, in the order the steps will use them: the
    choice of a route is made once, in that line, and every step after it copies
    its operands from close by, which a small model learns far sooner than picking
    them out of the question.
    """
    numbers, target = _numbers_and_target(problem)
    listed = ", ".join(map(str, _in_order_of_use(chain, numbers)))
    lines = [step.text() for step in chain.written_steps]
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
    closing = f"That gives {chain.written_steps[-1].written}." if chain.steps else ""
    body = "\n".join([*head, *lines, closing]).strip()
    return f"{body}\n<answer>{chain.expression}</answer>"


def _in_order_of_use(chain: Chain, numbers: list[int]) -> list[int]:
    """``numbers`` reordered as the chain's steps first take them; unused ones last."""
    left = list(numbers)
    ordered = []
    for step in chain.written_steps:
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


OPTIONS = {"max_number": 20}
"""The Countdown range the default model learns and the default run uses: numbers 1 to 20
(targets 10 to 100, the task's default). The paper's numbers go up to 100, whose products a
model of a few million parameters trained on a CPU does not learn well enough to check."""

WRITER = TaskWriter(
    task="countdown",
    difficulties={3: 0.7, 4: 0.3},
    right=right_attempt,
    wrong=wrong_attempt,
    options=OPTIONS,
    # Numbers 1 to 20 with targets 10 to 100 give only about 12,000 distinct
    # three-number problems, so each is written several times.
    passes=4,
)
