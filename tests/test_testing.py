"""The conformance checks catch each broken promise of the Task contract."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import ClassVar

import pytest

from skillfactory import Problem, Score, Skill, Task
from skillfactory.registry import get_registry
from skillfactory.testing import check_skill, check_task, make_question


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


# -- skills ------------------------------------------------------------------------------


class FirstCorrect(Skill):
    """A conforming skill: the first correct attempt, or two when the length asks for it."""

    name = "first-correct"
    description = "The first correct attempt the question has."
    stage = 15
    chooses_attempts = True

    def apply(self, draft, question, settings, rng):
        correct = [attempt for attempt in question.attempts if attempt.correct]
        length = settings.length or 1
        if len(correct) < length or length > settings.max_attempts:
            return None
        return replace(draft, attempts=tuple(correct[:length]), format=f"first{length}")


class GlobalRandom(FirstCorrect):
    def apply(self, draft, question, settings, rng):
        correct = [attempt for attempt in question.attempts if attempt.correct]
        if not correct or settings.length not in (None, 1):
            return None
        return replace(draft, attempts=(random.choice(correct),))


class WrongLength(FirstCorrect):
    def apply(self, draft, question, settings, rng):
        return super().apply(draft, question, replace(settings, length=None), rng)


class Crashing(FirstCorrect):
    def apply(self, draft, question, settings, rng):
        return super().apply(draft, question, settings, rng) if question.attempts else [][0]


class SilentOverride(FirstCorrect):
    """Chooses after retry without saying so: what ``chooses_attempts`` is there to refuse."""

    chooses_attempts = False
    requires = ("verify", "retry")
    stage = 40


class NeverShows(FirstCorrect):
    def apply(self, draft, question, settings, rng):
        return None


class BadPhrases(FirstCorrect):
    phrases: ClassVar[dict[str, tuple[str, ...]]] = {"after_correct": ()}


class BadName(FirstCorrect):
    name = "First Correct"


def test_a_conforming_skill_passes_and_returns_its_traces():
    traces = check_skill(FirstCorrect())

    assert traces and all(text.startswith("<think>") for text in traces)


@pytest.mark.parametrize("name", ["verify", "retry", "backtrack", "confirm"])
def test_every_built_in_skill_conforms(name):
    assert check_skill(get_registry().get("skill", name).create())


@pytest.mark.parametrize(
    ("skill", "message"),
    [
        (GlobalRandom(), "draw randomness only from rng"),
        (WrongLength(), "chose 1 attempts for length 2; return None for a length it cannot"),
        (Crashing(), "on question 'no-attempts' with ComposeSettings(max_attempts=5"),
        (SilentOverride(), "replaced the attempts an earlier skill chose"),
        (NeverShows(), "no sample question gave a trace"),
        (BadPhrases(), "phrases['after_correct'] must be a non-empty sequence"),
        (BadName(), "a name must be lower-case"),
    ],
)
def test_each_broken_promise_of_a_skill_is_named(skill, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_skill(skill)


def test_make_question_numbers_attempts_and_reflections_as_the_composer_does():
    question = make_question(
        [("6 x 7 = 42", "42", True, "<verdict>Correct</verdict>"), ("no idea", None, False, None)]
    )

    first, second = question.attempts
    assert (first.index, first.reflection, first.correct, first.answer) == (0, 0, True, "42")
    assert (second.index, second.reflection, second.answer) == (1, None, None)
    assert question.texts.attempt_text(1) == "no idea"
    assert question.texts.reflection_text(0) == "<verdict>Correct</verdict>"
    assert question.prompt[-1]["role"] == "user"
