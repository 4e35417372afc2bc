"""Acronym: choose listed words, in order, whose first letters spell an English word."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory import Problem, UsageError
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import get_registry
from skillfactory.tasks.acronym import Acronym
from skillfactory.testing import check_task

TASK = Acronym()
WORDS = ["stone", "apple", "owl", "river", "tiger", "nest", "egg", "dance"]
# Reference: stone, apple, tiger -> "sat"; "sot", "art" and "one" can be spelled too.
SAT = Problem("p1", "acronym", 3, "", "stone, apple, tiger", {"words": WORDS, "length": 3})


@pytest.mark.parametrize("difficulty", Acronym.difficulties)
def test_conforms_at_every_length(difficulty):
    problems = check_task(TASK, difficulty=difficulty)

    for problem in problems:
        chosen = problem.answer.split(", ")
        assert len(chosen) == difficulty
        assert len(problem.data["words"]) == 2 * difficulty
        assert len(set(problem.data["words"])) == 2 * difficulty
        assert ", ".join(problem.data["words"]) in problem.question


def test_the_number_of_distractors_is_an_option():
    problems = check_task(Acronym(distractors=0), difficulty=4)

    assert all(len(problem.data["words"]) == 4 for problem in problems)
    with pytest.raises(UsageError, match="distractors"):
        Acronym(distractors=-2)


def test_the_default_is_four_letters_and_generation_is_seeded():
    assert Acronym.resolve_difficulty(None) == 4
    assert TASK.generate(4, difficulty=5, seed=3) == TASK.generate(4, difficulty=5, seed=3)
    assert TASK.generate(4, difficulty=5, seed=3) != TASK.generate(4, difficulty=5, seed=4)


@pytest.mark.parametrize(
    "answer",
    [
        "stone, apple, tiger",
        "Stone, Apple, Tiger",
        "stone apple tiger",
        "stone, apple and tiger",
        "stone; apple; tiger.",
        "stone, apple, tiger = SAT",
        "SAT: stone, apple, tiger",
        "owl, nest, egg",
        "apple, river, tiger",
        "sat",
        "ART",
    ],
)
def test_any_in_order_choice_that_spells_a_word_scores(answer):
    assert TASK.score(SAT, answer).reason == "correct"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no answer"),
        ("tiger, apple, stone", "not in list order"),
        ("stone, stone, tiger", "word used twice"),
        ("stone, ant, tiger", "word not in list"),
        ("stone, apple, tiger, egg", "wrong length"),
        ("stone, river, dance", "not a word"),
        ("tas", "initials not available"),
        ("sate", "wrong length"),
        ("tan", "initials not available"),
        ("s-a-t!", "unparseable"),
        ("1, 2, 3", "unparseable"),
    ],
)
def test_wrong_answers_say_why(answer, reason):
    score = TASK.score(SAT, answer)

    assert (score.value, score.reason) == (0.0, reason)


def test_extraction_takes_the_last_answer_block():
    completion = "<answer>tiger</answer> hmm, no.\n<answer>**Stone, Apple, Tiger**</answer>"

    assert TASK.extract_answer(completion) == "stone, apple, tiger"
    assert TASK.score(SAT, TASK.extract_answer(completion)).correct


@given(st.text())
def test_scoring_never_raises(text):
    assert TASK.score(SAT, text).value in (0.0, 1.0)


def test_unsupported_difficulty_is_a_usage_error():
    with pytest.raises(UsageError, match="no difficulty 9"):
        TASK.generate(1, difficulty=9, seed=0)


def test_registered_through_its_entry_point(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "acronym")

    registration = get_registry().get("task", "acronym")

    assert registration.factory is Acronym
    assert registration.create(distractors=3).distractors == 3
