"""GSM8K: grade-school word problems with a single numeric answer.

The paper evaluates on it to catch regressions outside the training task. The
problems are the real dataset's (``openai/gsm8k``, config ``main``, ``test`` split by
default), loaded with ``datasets``; on a machine without Hub access, pass a local
copy as ``path=``. The gold answer is the number after ``####`` in a row's
``answer`` field.

Answers are compared as exact rationals built from a validated number string,
never by evaluating anything: "$1,250.00", "1250 dollars", "x = 1250" and "1250."
all equal 1250, while "1250.5" and "2500/2 + 0" do not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from skillfactory import Conversation, Problem, Score, SkillFactoryError, Task, hookimpl
from skillfactory.prompts import solve_prompt
from skillfactory.tasks.dataset_rows import DatasetTask, question_id

MAX_NUMBER_CHARS = 60
"""A longer answer is unparseable; GSM8K's answers are short."""

_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_GROUPED = re.compile(r"[-+]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_FRACTION = re.compile(r"([-+]?[0-9]+)\s*/\s*([0-9]+)")
_CURRENCY = re.compile(r"^([-+]?)\s*(?:\\?\$|£|€|usd\b)\s*", re.IGNORECASE)
_UNITS = re.compile(r"^(.*?[0-9.])\s*(?:%|\\%|[A-Za-z][A-Za-z .'/²³-]*)$")


class Gsm8k(DatasetTask):
    name = "gsm8k"
    description = "Grade-school math word problems (GSM8K); answer with the final number."
    hub_name = "openai/gsm8k"
    hub_config = "main"
    default_split = "test"

    def problem_from_row(self, row: Mapping[str, Any], number: int) -> Problem:
        question, solution = row.get("question"), row.get("answer")
        gold = gold_answer(solution) if isinstance(solution, str) else None
        if not isinstance(question, str) or gold is None:
            raise SkillFactoryError(
                f"gsm8k: row {number} is not in GSM8K's shape: it needs a 'question' string and "
                f"an 'answer' string that ends with '#### <number>'"
            )
        return Problem(question_id(self.name, question), self.name, 1, question, gold, {})

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        return solve_prompt(
            variant,
            problem.question,
            answer_format="the final number alone, without units",
            example="42",
        )

    def score(self, problem: Problem, answer: str | None) -> Score:
        if answer is None:
            return Score(0.0, "no answer")
        value = parse_number(answer)
        if value is None:
            return Score(0.0, "unparseable")
        if value != parse_number(problem.answer):
            return Score(0.0, "wrong answer")
        return Score(1.0, "correct")


def gold_answer(solution: str) -> str | None:
    """The number after the last ``####`` of a GSM8K solution, commas removed."""
    if "####" not in solution:
        return None
    text = solution.rsplit("####", 1)[1].strip()
    return text.replace(",", "") if parse_number(text) is not None else None


def parse_number(text: str) -> Fraction | None:
    """The exact value of a number the way models write one, or None.

    Tolerates a restated left-hand side ("x = 12"), currency signs, thousands
    commas, a trailing period, units or a percent sign after the number, and a
    simple fraction ("3/4"). Only ASCII digits count, and nothing is evaluated.
    """
    text = text.strip()
    if len(text) > 4 * MAX_NUMBER_CHARS:
        return None
    text = text.rsplit("=", 1)[-1].strip().rstrip(".").strip()
    currency = _CURRENCY.match(text)
    if currency:
        text = currency.group(1) + text[currency.end() :]
    units = _UNITS.match(text)
    if units:
        text = units.group(1).rstrip(".").strip()
    if len(text) > MAX_NUMBER_CHARS:
        return None
    fraction = _FRACTION.fullmatch(text)
    if fraction:
        denominator = int(fraction.group(2))
        return Fraction(int(fraction.group(1)), denominator) if denominator else None
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        return None
    return Fraction(text)


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(Gsm8k)
