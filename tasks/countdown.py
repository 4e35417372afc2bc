"""Countdown, the paper's training task: reach a target from given numbers with + - * /.

Difficulty is how many numbers there are (2 to 8): the paper trains on three and
evaluates on four, five and six. Every number must be used exactly once.

Problems are drawn by rejection: numbers and a target uniformly from their ranges,
kept only when the task's own solver finds a solution, which becomes the reference
answer. So the problems are uniform over the draws the solver proves (with whole,
positive intermediate results; with six or more numbers, within a search budget),
and none is unsolvable.
The scorer is :mod:`skillfactory.tasks.countdown_verifier`: exact rational
arithmetic over a grammar of its own, safe to run on hostile text in-process.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from skillfactory import Conversation, Problem, Score, Task, UsageError, hookimpl
from skillfactory.answers import extract_answer_block
from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt
from skillfactory.tasks.countdown_solver import solve
from skillfactory.tasks.countdown_verifier import REASONS, verify

MAX_NUMBER = 1_000_000
"""Largest number the options accept, which keeps every answer's values small."""
MAX_TARGET = 1_000_000_000
"""Largest target the options accept."""

_DRAWS_PER_PROBLEM = 2_000
"""Draws allowed per requested problem before generation gives up on the options."""

_SCORES = {reason: Score(1.0 if reason == "correct" else 0.0, reason) for reason in REASONS}
_BAD_PROBLEM = Score(0.0, "bad problem")

_ANSWER_FORMAT = (
    "one arithmetic expression that uses each given number exactly once, or one step per "
    "line such as `Step 1: 10 - 4 = 6`, where each step may use the given numbers and the "
    "results of earlier steps once each"
)
_EXAMPLES = ("(10 - 4) * 3", "(9 + 7) / 2")
"""Shown as the answer format; two, so one can stand in when the other solves the problem."""


class Countdown(Task):
    """Reach a target from N numbers with + - * / and parentheses, each number used once.

    Options: ``min_number``/``max_number`` (default 1 to 100) and
    ``min_target``/``max_target`` (default 10 to 100). Numbers up to 100 against a
    target of at most 100 make three-number problems a real search that is still
    often winnable: about 4% of random draws are solvable, a plain sum solves only
    about 4% of those, and a third of the references need a product or a quotient.
    Targets start at 10 because single-digit targets are hit about 1.6 times as often
    (small differences and quotients reach them) and would crowd the easy end. With
    six or more numbers almost every draw is solvable, and the difficulty is the size
    of the search.
    """

    name = "countdown"
    description = "Reach a target from N numbers with + - * /, each used once (N = difficulty)."
    variants: ClassVar[tuple[str, ...]] = PROMPT_VARIANTS
    difficulties: ClassVar[tuple[int, ...]] = tuple(range(2, 9))
    default_difficulty = 3

    def __init__(
        self,
        *,
        min_number: int = 1,
        max_number: int = 100,
        min_target: int = 10,
        max_target: int = 100,
    ) -> None:
        _check_range("number", min_number, max_number, MAX_NUMBER)
        _check_range("target", min_target, max_target, MAX_TARGET)
        self.min_number = min_number
        self.max_number = max_number
        self.min_target = min_target
        self.max_target = max_target

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        """``count`` distinct solvable problems; a longer list starts with the shorter one."""
        difficulty = self.resolve_difficulty(difficulty)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UsageError(f"countdown: count must be a whole number >= 0, got {count!r}")
        rng = random.Random(f"countdown/{difficulty}/{seed}")
        problems: dict[str, Problem] = {}
        draws = 0
        while len(problems) < count:
            draws += 1
            if draws > _DRAWS_PER_PROBLEM * count:
                raise UsageError(
                    f"countdown: found only {len(problems)} of {count} distinct solvable problems "
                    f"with {difficulty} numbers in {self.min_number}..{self.max_number} and "
                    f"targets in {self.min_target}..{self.max_target}; widen the ranges"
                )
            numbers = [rng.randint(self.min_number, self.max_number) for _ in range(difficulty)]
            target = rng.randint(self.min_target, self.max_target)
            problem_id = problem_id_for(difficulty, numbers, target)
            if problem_id in problems:
                continue
            solution = solve(numbers, target)
            if solution is not None:
                problems[problem_id] = Problem(
                    id=problem_id,
                    task=self.name,
                    difficulty=difficulty,
                    question=_question(numbers, target),
                    answer=solution,
                    data={"numbers": numbers, "target": target},
                )
        return list(problems.values())

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        variant = self.resolve_variant(variant)
        example = _EXAMPLES[0]
        checked = _scoring_inputs(problem.data)
        if checked is not None and verify(example, *checked) == "correct":
            example = _EXAMPLES[1]
        return solve_prompt(
            variant, problem.question, answer_format=_ANSWER_FORMAT, example=example
        )

    def extract_answer(self, completion: str) -> str | None:
        return extract_answer_block(completion)

    def score(self, problem: Problem, answer: str | None) -> Score:
        """Exact and safe on any text; the reason says what was wrong."""
        if answer is None:
            return _SCORES["no answer"]
        if not isinstance(answer, str):
            return _SCORES["unparseable"]
        checked = _scoring_inputs(problem.data)
        if checked is None:
            return _BAD_PROBLEM
        return _SCORES[verify(answer, *checked)]


def problem_id_for(difficulty: int, numbers: list[int], target: int) -> str:
    """The stable id of a problem: the same numbers (in any order) and target give the same id."""
    canonical = f"countdown/{difficulty}/{','.join(map(str, sorted(numbers)))}/{target}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _question(numbers: list[int], target: int) -> str:
    """The problem statement, in the order the numbers were drawn."""
    listed = ", ".join(map(str, numbers))
    return (
        f"Make {target} from the numbers {listed}. You may add, subtract, multiply and divide "
        f"(+, -, *, /) and use parentheses. Every number must be used exactly once, and no "
        f"other numbers may appear."
    )


def _scoring_inputs(data: Mapping[str, Any]) -> tuple[list[int], int] | None:
    """The numbers and target a problem's data holds, or None when they are malformed."""
    numbers = data.get("numbers")
    target = data.get("target")
    if type(target) is not int or type(numbers) is not list or not 0 < len(numbers) <= 16:
        return None
    for number in numbers:
        if type(number) is not int or not 0 <= number <= MAX_NUMBER:
            return None
    return numbers, target


def _check_range(what: str, low: int, high: int, limit: int) -> None:
    """Refuse a range option that is not whole numbers with 1 <= low <= high <= limit."""
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"countdown: {what} range bounds must be whole numbers, got {value!r}")
    if not 1 <= low <= high <= limit:
        raise UsageError(
            f"countdown: {what} range must satisfy 1 <= min_{what} <= max_{what} <= {limit:,}, "
            f"got {low}..{high}"
        )


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(Countdown)
