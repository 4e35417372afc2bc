"""Letter Countdown: unscramble letters into an English word of the stated length."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory import Problem, UsageError
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import get_registry
from skillfactory.tasks.letter_countdown import LetterCountdown
from skillfactory.tasks.words import common_words, is_word
from skillfactory.testing import check_task

TASK = LetterCountdown()
APPLE = Problem("p1", "letter_countdown", 5, "", "apple", {"letters": "ppale", "length": 5})
STOP = Problem("p2", "letter_countdown", 4, "", "stop", {"letters": "tpso", "length": 4})
WITH_SPARES = Problem("p3", "letter_countdown", 4, "", "stop", {"letters": "tpsoxq", "length": 4})


@pytest.mark.parametrize("difficulty", LetterCountdown.difficulties)
def test_conforms_at_every_length(difficulty):
    problems = check_task(TASK, difficulty=difficulty)

    for problem in problems:
        letters = problem.data["letters"]
        assert sorted(letters) == sorted(problem.answer)
        assert len(letters) == difficulty
        assert letters != problem.answer
        assert " ".join(letters) in problem.question


def test_distractor_letters_are_an_option():
    problems = check_task(LetterCountdown(extra_letters=3), difficulty=5)

    assert all(len(problem.data["letters"]) == 8 for problem in problems)
    assert "left over" in problems[0].question


def test_the_default_is_four_letters_as_in_the_paper():
    assert LetterCountdown.resolve_difficulty(None) == 4


def test_same_seed_same_problems_and_other_seeds_differ():
    first = TASK.generate(5, difficulty=5, seed=7)

    assert TASK.generate(5, difficulty=5, seed=7) == first
    assert TASK.generate(5, difficulty=5, seed=8) != first


@pytest.mark.parametrize("answer", ["apple", "Apple", "APPLE.", " apple ", '"apple"', "**apple**"])
def test_the_word_scores_in_the_ways_models_write_it(answer):
    assert TASK.score(APPLE, answer).reason == "correct"


def test_any_word_that_fits_scores_not_only_the_reference():
    for answer in ("stop", "pots", "tops", "spot", "post"):
        assert TASK.score(STOP, answer).correct, answer


def test_spare_letters_may_be_left_unused():
    assert TASK.score(WITH_SPARES, "spot").correct
    assert TASK.score(WITH_SPARES, "stox").reason == "not a word"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no answer"),
        ("plape", "not a word"),
        ("apples", "wrong length"),
        ("pale", "wrong length"),
        ("apply", "letters not available"),
        ("ap ple", "unparseable"),
        ("12345", "unparseable"),
        ("äpple", "unparseable"),
    ],
)
def test_wrong_answers_say_why(answer, reason):
    score = TASK.score(APPLE, answer)
    assert (score.value, score.reason) == (0.0, reason)


def test_extraction_takes_the_last_answer_block_as_a_lower_case_word():
    completion = "Maybe <answer>plea</answer>... no: <answer> Apple. </answer>"

    assert TASK.extract_answer(completion) == "apple"
    assert TASK.extract_answer("no tags here") is None


def test_the_prompt_example_never_gives_the_answer_away():
    stone = Problem("p4", "letter_countdown", 5, "q", "stone", {"letters": "noste", "length": 5})

    assert "<answer>stone</answer>" not in TASK.prompt(stone, "original")[-1]["content"]


@given(st.text())
def test_scoring_never_raises(text):
    assert TASK.score(APPLE, text).value in (0.0, 1.0)


def test_too_many_or_unsupported_requests_are_usage_errors():
    with pytest.raises(UsageError, match="distinct problems"):
        TASK.generate(10_000, difficulty=8, seed=0)
    with pytest.raises(UsageError, match="no difficulty 2"):
        TASK.generate(1, difficulty=2, seed=0)
    with pytest.raises(UsageError, match="extra_letters"):
        LetterCountdown(extra_letters=-1)


def test_the_word_list_accepts_inflections_and_its_common_words_are_everyday():
    assert all(is_word(w) for w in ("apple", "apples", "walked", "hoping", "stopped", "cities"))
    assert not any(is_word(w) for w in ("plape", "qzx", "Apple", "", "caf\u00e9"))
    assert {"apple", "water", "house"} <= set(common_words(5))
    assert "mesne" not in common_words(5)


def test_importing_the_word_tasks_does_not_load_the_word_list():
    code = (
        "import sys, skillfactory.tasks.letter_countdown, skillfactory.tasks.acronym; "
        "print('english_words' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.stdout.strip() == "False", result.stderr


def test_registered_through_its_entry_point(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "letter_countdown")

    registration = get_registry().get("task", "letter_countdown")

    assert registration.factory is LetterCountdown
    assert registration.create(extra_letters=2).extra_letters == 2
