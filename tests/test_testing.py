"""The conformance checks catch each broken promise of the Task contract."""

from __future__ import annotations

import random
import re

import pytest

from skillfactory import Problem, Score, Task
from skillfactory.testing import check_task


class Repeat(Task):
    name = "repeat"
    description = "Repeat a whole number; difficulty is its number of digits."
    variants = ("original", "terse")

    def generate(self, count, *, difficulty, seed):
        numbers = random.Random(seed).sample(range(10 ** (difficulty - 1), 10**difficulty), count)
        return [
            Problem(f"repeat-{n}", self.name, difficulty, f"Repeat {n}.", str(n), {"n": n})
            for n in numbers
        ]

    def prompt(self, problem, variant):
        suffix = "" if variant == "terse" else " Put it in <answer></answer>."
        return [{"role": "user", "content": problem.question + suffix}]

    def extract_answer(self, completion):
        return completion.rsplit("<answer>", 1)[-1].split("</answer>")[0].strip() or None

    def score(self, problem, answer):
        return Score(1.0, "correct") if answer == problem.answer else Score(0.0, "different")


class Unseeded(Repeat):
    def generate(self, count, *, difficulty, seed):
        return super().generate(count, difficulty=difficulty, seed=random.random())


class Fragile(Repeat):
    def score(self, problem, answer):
        return Score(1.0, "correct") if int(answer) == problem.data["n"] else Score(0.0, "off")


class Lenient(Repeat):
    def score(self, problem, answer):
        return Score(1.0, "correct")


class Repetitive(Repeat):
    def generate(self, count, *, difficulty, seed):
        return super().generate(1, difficulty=difficulty, seed=seed) * count


def test_a_conforming_task_passes_and_returns_its_problems():
    problems = check_task(Repeat(), difficulty=3, count=5)

    assert [len(problem.answer) for problem in problems] == [3] * 5


@pytest.mark.parametrize(
    ("task", "complaint"),
    [
        (Unseeded(), "the same seed gave different problems"),
        (Fragile(), "score() raised on None"),
        (Lenient(), "None was scored correct"),
        (Repetitive(), "problem ids repeat"),
    ],
)
def test_each_broken_promise_is_named(task, complaint):
    with pytest.raises(AssertionError, match=re.escape(complaint)):
        check_task(task, difficulty=2)
