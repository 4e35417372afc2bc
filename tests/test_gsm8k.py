"""GSM8K: real word problems loaded with `datasets`, scored on the exact final number."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory import Problem, SkillFactoryError, UsageError
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import get_registry
from skillfactory.tasks.gsm8k import Gsm8k, gold_answer, parse_number
from skillfactory.testing import check_task

SAMPLE = Path(__file__).parent / "data" / "gsm8k_sample.jsonl"
"""Eight made-up problems in GSM8K's schema: a question, and a worked answer ending '#### N'."""

PROBLEM = Problem("p1", "gsm8k", 1, "", "1170", {})


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Gsm8k:
    return Gsm8k(path=SAMPLE, cache_dir=tmp_path_factory.mktemp("hf-cache"))


def test_conforms_on_a_local_jsonl_file(task):
    problems = check_task(task, difficulty=1)

    assert sorted(p.answer for p in problems) == sorted(
        ["25", "608", "15", "126", "1170", "240", "11.25", "18"]
    )
    assert len(problems[0].id) == 16


def test_a_seed_picks_the_same_sample_and_too_many_is_a_usage_error(task):
    assert task.generate(3, difficulty=1, seed=5) == task.generate(3, difficulty=1, seed=5)
    with pytest.raises(UsageError, match="asked for 9 problems but the data has 8"):
        task.generate(9, difficulty=1, seed=0)


def test_a_folder_of_parquet_files_uses_the_split_asked_for(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows[:5]), tmp_path / "test-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(rows[5:]), tmp_path / "train-00000-of-00001.parquet")

    test_split = Gsm8k(path=tmp_path, cache_dir=tmp_path / "cache")
    train_split = Gsm8k(path=tmp_path, split="train", cache_dir=tmp_path / "cache")

    assert len(test_split.problems()) == 5
    assert len(train_split.problems()) == 3
    with pytest.raises(UsageError, match="no file for the 'validation' split"):
        Gsm8k(path=tmp_path, split="validation").problems()


def test_without_a_hub_or_a_path_the_error_says_to_pass_a_path(monkeypatch, tmp_path):
    import datasets
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(SkillFactoryError) as caught:
        Gsm8k(cache_dir=tmp_path).generate(1, difficulty=1, seed=0)

    message = str(caught.value)
    assert "\n" not in message
    assert "openai/gsm8k" in message
    assert "path=" in message


def test_a_missing_path_or_a_file_in_another_shape_is_explained(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        Gsm8k(path=tmp_path / "nowhere.jsonl").problems()
    other = tmp_path / "other.jsonl"
    other.write_text('{"question": "What is 2 + 2?", "answer": "4"}\n')
    with pytest.raises(SkillFactoryError, match="#### <number>"):
        Gsm8k(path=other, cache_dir=tmp_path / "cache").problems()


def test_the_gold_answer_is_the_number_after_the_hashes():
    assert gold_answer("12 + 3 = <<12+3=15>>15 apples\n#### 15") == "15"
    assert gold_answer("so\n#### 1,170") == "1170"
    assert gold_answer("no final line") is None


@pytest.mark.parametrize(
    "answer",
    ["1170", "1,170", "$1,170", "$1,170.00", "1170 dollars", "1170.", "x = 1170", "\\$1170"],
)
def test_the_right_number_scores_in_the_ways_models_write_it(answer):
    assert Gsm8k().score(PROBLEM, answer).reason == "correct"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no answer"),
        ("1170.5", "wrong answer"),
        ("1171", "wrong answer"),
        ("1000 + 170", "unparseable"),
        ("1.17e3", "unparseable"),
        ("0x492", "unparseable"),
        ("1_170", "unparseable"),
        ("\u0661\u0661\u0667\u0660", "unparseable"),
        ("about a thousand", "unparseable"),
    ],
)
def test_wrong_or_unreadable_numbers_score_zero(answer, reason):
    score = Gsm8k().score(PROBLEM, answer)

    assert (score.value, score.reason) == (0.0, reason)


def test_numbers_are_exact_rationals():
    assert parse_number("11.25") == Fraction(45, 4)
    assert parse_number("3/4 cup") == Fraction(3, 4)
    assert parse_number("-$5") == -5
    assert parse_number("12%") == 12
    assert parse_number("1/0") is None


@given(st.text())
def test_scoring_never_raises(text):
    assert Gsm8k().score(PROBLEM, text).value in (0.0, 1.0)


def test_importing_the_dataset_tasks_does_not_import_datasets():
    code = (
        "import sys, skillfactory.tasks.gsm8k, skillfactory.tasks.csqa; "
        "print('datasets' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.stdout.strip() == "False", result.stderr


def test_registered_through_its_entry_point(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "gsm8k")

    registration = get_registry().get("task", "gsm8k")

    assert registration.factory is Gsm8k
    assert registration.create(path=str(SAMPLE)).path == str(SAMPLE)
