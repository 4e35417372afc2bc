"""CommonsenseQA: real multiple-choice questions loaded with `datasets`, scored on the letter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory import Problem, SkillFactoryError
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import get_registry
from skillfactory.tasks.csqa import Csqa
from skillfactory.testing import check_task

SAMPLE = Path(__file__).parent / "data" / "csqa_sample.jsonl"
"""Eight made-up questions in CommonsenseQA's schema (id, question, question_concept,
choices with label and text lists, answerKey)."""

MILK = Problem(
    "p1",
    "csqa",
    1,
    "",
    "B",
    {
        "labels": ["A", "B", "C", "D", "E"],
        "texts": ["cupboard", "refrigerator", "garden shed", "bookshelf", "mailbox"],
    },
)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Csqa:
    return Csqa(path=SAMPLE, cache_dir=tmp_path_factory.mktemp("hf-cache"))


def test_conforms_on_a_local_jsonl_file(task):
    problems = check_task(task, difficulty=1)

    assert {p.answer for p in problems} == {"A", "B", "C", "D", "E"}
    milk = next(p for p in problems if p.data["source_id"] == "sf-csqa-0001")
    assert milk.question.endswith(
        "A. cupboard\nB. refrigerator\nC. garden shed\nD. bookshelf\nE. mailbox"
    )


def test_a_seed_picks_the_same_sample(task):
    assert task.generate(4, difficulty=1, seed=2) == task.generate(4, difficulty=1, seed=2)


def test_an_unlabelled_split_is_explained(tmp_path):
    unlabelled = tmp_path / "test.jsonl"
    rows = [{**json.loads(line), "answerKey": ""} for line in SAMPLE.read_text().splitlines()]
    unlabelled.write_text("".join(json.dumps(row) + "\n" for row in rows))

    with pytest.raises(SkillFactoryError, match="use split=validation"):
        Csqa(path=unlabelled, cache_dir=tmp_path / "cache").problems()


def test_without_a_hub_or_a_path_the_error_says_to_pass_a_path(monkeypatch, tmp_path):
    import datasets
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(SkillFactoryError) as caught:
        Csqa(cache_dir=tmp_path).generate(1, difficulty=1, seed=0)

    message = str(caught.value)
    assert "\n" not in message
    assert "tau/commonsense_qa" in message
    assert "path=" in message


@pytest.mark.parametrize(
    "answer",
    [
        "B",
        "b",
        "(B)",
        "B.",
        "[B]",
        "B) refrigerator",
        "B. Refrigerator",
        "Answer: B",
        "The answer is B",
        "refrigerator",
        "the refrigerator.",
    ],
)
def test_the_right_choice_scores_in_the_ways_models_write_it(answer):
    assert Csqa().score(MILK, answer).reason == "correct"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no answer"),
        ("A", "wrong answer"),
        ("cupboard", "wrong answer"),
        ("B) cupboard", "unparseable"),
        ("F", "unparseable"),
        ("fridge", "unparseable"),
        ("B or C", "unparseable"),
        ("B) fridge", "unparseable"),
    ],
)
def test_other_or_ambiguous_choices_score_zero(answer, reason):
    score = Csqa().score(MILK, answer)

    assert (score.value, score.reason) == (0.0, reason)


@given(st.text())
def test_scoring_never_raises(text):
    assert Csqa().score(MILK, text).value in (0.0, 1.0)


def test_registered_through_its_entry_point(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "csqa")

    registration = get_registry().get("task", "csqa")

    assert registration.factory is Csqa
    assert registration.create(path=str(SAMPLE), split="validation").path == str(SAMPLE)
