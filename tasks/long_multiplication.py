"""Long multiplication: the exact product of two N-digit whole numbers.

One of the paper's out-of-domain tasks; difficulty is N. The answer must be a
plain whole number: thousands separators (commas or spaces, in groups of three)
are tolerated, and so is a leading "... =" that restates the sum, but nothing is
ever evaluated, so "56 * 78" or "4.368e3" is unparseable, not right or wrong.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from skillfactory import Conversation, Problem, Score, Task, UsageError, hookimpl
from skillfactory.answers import extract_answer_block
from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt

MAX_ANSWER_CHARS = 200
"""Longer answers are unparseable: no product here has more than 16 digits."""

_PLAIN = re.compile(r"-?[0-9]+")
_GROUPED = re.compile(r"-?[0-9]{1,3}(?:([, ])[0-9]{3})(?:\1[0-9]{3})*")


class LongMultiplication(Task):
    name = "long_multiplication"
    description = "Multiply two whole numbers exactly; difficulty is how many digits each has."
    variants = PROMPT_VARIANTS
    difficulties = (1, 2, 3, 4, 5, 6, 7, 8)
    default_difficulty = 2

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        difficulty = self.resolve_difficulty(difficulty)
        low, high = 10 ** (difficulty - 1), 10**difficulty - 1
        numbers = high - low + 1
        if count > numbers * (numbers + 1) // 2:
            raise UsageError(
                f"long_multiplication: only {numbers * (numbers + 1) // 2} distinct problems "
                f"with {difficulty}-digit numbers exist; ask for fewer"
            )
        rng = random.Random(f"{self.name}/{difficulty}/{seed}")
        problems: dict[str, Problem] = {}
        while len(problems) < count:
            a, b = rng.randint(low, high), rng.randint(low, high)
            # a x b and b x a are one problem, so that train and test sets cannot share it.
            key = f"{self.name}/{difficulty}/{min(a, b)}x{max(a, b)}"
            problem_id = hashlib.sha256(key.encode()).hexdigest()[:16]
            question = f"What is {a} multiplied by {b}?"
            problems.setdefault(
                problem_id,
                Problem(problem_id, self.name, difficulty, question, str(a * b), {"a": a, "b": b}),
            )
        return list(problems.values())

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        return solve_prompt(
            variant,
            problem.question,
            answer_format="the exact product as a whole number, digits only",
            example="40391",
        )

    def extract_answer(self, completion: str) -> str | None:
        block = extract_answer_block(completion)
        if block is None:
            return None
        return parse_integer(block) or block

    def score(self, problem: Problem, answer: str | None) -> Score:
        if answer is None:
            return Score(0.0, "no answer")
        value = parse_integer(answer)
        if value is None:
            return Score(0.0, "unparseable")
        if value != _product(problem.data):
            return Score(0.0, "wrong answer")
        return Score(1.0, "correct")


def parse_integer(text: str) -> str | None:
    """The canonical digits of a plain whole number ("-12", "1,234", "= 56"), else None.

    Digits stay a string, so that a huge answer is never converted to an int.
    """
    text = text.strip()
    if len(text) > MAX_ANSWER_CHARS:
        return None
    text = text.rsplit("=", 1)[-1].strip().rstrip(".").strip()
    if not (_PLAIN.fullmatch(text) or _GROUPED.fullmatch(text)):
        return None
    sign = "-" if text.startswith("-") else ""
    digits = re.sub(r"[^0-9]", "", text).lstrip("0") or "0"
    return sign + digits if digits != "0" else "0"


def _product(data: Mapping[str, Any]) -> str | None:
    """The product a problem asks for, as canonical digits; None when its data is broken."""
    a, b = data.get("a"), data.get("b")
    if not isinstance(a, int) or not isinstance(b, int) or max(abs(a), abs(b)) >= 10**20:
        return None
    return str(a * b)


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(LongMultiplication)
