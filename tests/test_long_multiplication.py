"""Long multiplication: the exact product of two N-digit numbers, as a plain whole number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory import Problem, UsageError
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import get_registry
from skillfactory.tasks.long_multiplication import LongMultiplication, parse_integer
from skillfactory.testing import check_task

TASK = LongMultiplication()
PROBLEM = Problem("p1", "long_multiplication", 4, "", "10293317", {"a": 3481, "b": 2957})


@pytest.mark.parametrize("difficulty", LongMultiplication.difficulties)
def test_conforms_at_every_length(difficulty):
    problems = check_task(TASK, difficulty=difficulty)

    for problem in problems:
        a, b = problem.data["a"], problem.data["b"]
        assert len(str(a)) == len(str(b)) == difficulty
        assert problem.answer == str(a * b)


def test_the_default_is_two_digits_and_generation_is_seeded():
    assert LongMultiplication.resolve_difficulty(None) == 2
    assert TASK.generate(5, difficulty=3, seed=1) == TASK.generate(5, difficulty=3, seed=1)
    assert TASK.generate(5, difficulty=3, seed=1) != TASK.generate(5, difficulty=3, seed=2)


def test_a_times_b_and_b_times_a_are_one_problem():
    problems = TASK.generate(45, difficulty=1, seed=0)

    pairs = {tuple(sorted((p.data["a"], p.data["b"]))) for p in problems}
    assert len(pairs) == 45
    with pytest.raises(UsageError, match="only 45 distinct"):
        TASK.generate(46, difficulty=1, seed=0)


@pytest.mark.parametrize(
    "answer",
    ["10293317", "10,293,317", "10 293 317", "10293317.", "3481 * 2957 = 10293317", "010293317"],
)
def test_the_product_scores_in_the_ways_models_write_it(answer):
    assert TASK.score(PROBLEM, answer).reason == "correct"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no answer"),
        ("10293318", "wrong answer"),
        ("-10293317", "wrong answer"),
        ("3481 * 2957", "unparseable"),
        ("1.0293317e7", "unparseable"),
        ("10293317.0", "unparseable"),
        ("1029,3317", "unparseable"),
        ("10_293_317", "unparseable"),
        ("\u0661\u0660\u0662", "unparseable"),
        ("9" * 5000, "unparseable"),
    ],
)
def test_anything_but_the_exact_whole_number_scores_zero(answer, reason):
    score = TASK.score(PROBLEM, answer)

    assert (score.value, score.reason) == (0.0, reason)


def test_extraction_reads_the_number_out_of_the_last_block():
    assert TASK.extract_answer("so <answer> 10,293,317 </answer>") == "10293317"
    assert TASK.extract_answer("<answer>about ten million</answer>") == "about ten million"
    assert parse_integer("= 0") == "0"


@given(st.text())
def test_scoring_never_raises(text):
    assert TASK.score(PROBLEM, text).value in (0.0, 1.0)


def test_registered_through_its_entry_point(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "long_multiplication")

    registration = get_registry().get("task", "long_multiplication")

    assert registration.factory is LongMultiplication
    assert isinstance(registration.create(), LongMultiplication)
