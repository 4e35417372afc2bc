"""The countdown task: problems, prompts, extraction and scoring, as a plugin user sees them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from skillfactory import Problem, Score, UsageError
from skillfactory.cli import cli
from skillfactory.prompts import PROMPT_VARIANTS
from skillfactory.registry import get_registry
from skillfactory.tasks.countdown import Countdown, problem_id_for
from skillfactory.tasks.countdown_corpus import hostile_answers
from skillfactory.tasks.countdown_solver import as_steps, find_moves
from skillfactory.testing import check_task

TASK = Countdown()


def a_problem(numbers: list[int], target: int) -> Problem:
    """A problem written by hand, as a scorer receives it."""
    problem_id = problem_id_for(len(numbers), numbers, target)
    question = f"Make {target} from {numbers}."
    return Problem(
        problem_id,
        "countdown",
        len(numbers),
        question,
        "",
        {
            "numbers": numbers,
            "target": target,
        },
    )


@pytest.mark.parametrize("difficulty", range(2, 9))
def test_countdown_conforms_to_the_task_contract(difficulty):
    problems = check_task(TASK, difficulty=difficulty)

    for problem in problems:
        assert len(problem.data["numbers"]) == difficulty


def test_countdown_is_a_registered_task_with_difficulties_2_to_8():
    task = get_registry().get("task", "countdown").create()

    assert isinstance(task, Countdown)
    assert list(task.difficulties) == [2, 3, 4, 5, 6, 7, 8]
    assert task.resolve_difficulty(None) == 3
    assert list(task.variants) == list(PROMPT_VARIANTS)


# Generation


def test_problems_hold_numbers_and_a_target_in_range_and_a_reference_solution():
    task = Countdown(min_number=1, max_number=25, min_target=50, max_target=60)

    for problem in task.generate(20, difficulty=4, seed=7):
        numbers, target = problem.data["numbers"], problem.data["target"]
        assert all(1 <= number <= 25 for number in numbers)
        assert 50 <= target <= 60 and type(target) is int
        assert task.score(problem, problem.answer).correct
        assert str(target) in problem.question
        assert ", ".join(map(str, numbers)) in problem.question


def test_the_same_seed_gives_the_same_problems_and_another_seed_others():
    first = TASK.generate(30, difficulty=4, seed=1)

    assert TASK.generate(30, difficulty=4, seed=1) == first
    assert {p.id for p in TASK.generate(30, difficulty=4, seed=2)}.isdisjoint({p.id for p in first})


def test_asking_for_more_problems_extends_the_list():
    assert TASK.generate(40, difficulty=3, seed=5)[:10] == TASK.generate(10, difficulty=3, seed=5)


def test_the_cli_makes_a_thousand_distinct_problems_whose_references_score_one():
    runner = CliRunner()
    made = runner.invoke(
        cli, ["problems", "countdown", "--count", "1000", "--difficulty", "5", "--seed", "1"]
    )
    rows = [json.loads(line) for line in made.output.splitlines()]
    completions = "".join(
        json.dumps(row | {"completion": f"So: <answer>{row['answer']}</answer>"}) + "\n"
        for row in rows
    )

    scored = runner.invoke(cli, ["score", "countdown"], input=completions)

    assert made.exit_code == 0 and scored.exit_code == 0, made.output + scored.output
    assert len(rows) == len({row["id"] for row in rows}) == 1000
    assert {json.loads(line)["score"] for line in scored.output.splitlines()} == {1.0}


def test_problem_ids_depend_on_content_only():
    assert problem_id_for(3, [44, 19, 35], 98) == problem_id_for(3, [35, 44, 19], 98)
    assert problem_id_for(3, [44, 19, 35], 98) != problem_id_for(3, [44, 19, 35], 97)
    assert problem_id_for(3, [44, 19, 35], 98) != problem_id_for(3, [44, 19, 36], 98)


def test_problem_ids_and_problems_are_stable_across_versions():
    # Pinned: if these change, ids of old train and eval sets no longer compare.
    assert problem_id_for(3, [44, 19, 35], 98) == "1312211f6e8518b9"
    first = TASK.generate(1, difficulty=3, seed=0)[0]
    assert (first.id, first.data, first.answer) == (
        "6ede8f9400466234",
        {"numbers": [65, 40, 5], "target": 100},
        "65 + 40 - 5",
    )


def test_problems_are_byte_identical_across_processes_and_hash_seeds():
    script = (
        "import json\n"
        "from skillfactory.tasks.countdown import Countdown\n"
        "problems = Countdown().generate(25, difficulty=4, seed=3)\n"
        "print('\\n'.join(json.dumps(p.to_json()) for p in problems))\n"
    )
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, check=True
        )
        outputs.add(result.stdout)
    here = "\n".join(json.dumps(p.to_json()) for p in TASK.generate(25, difficulty=4, seed=3))

    assert outputs == {here.encode() + b"\n"}


def test_problems_survive_a_json_round_trip():
    for problem in TASK.generate(5, difficulty=6, seed=0):
        again = Problem.from_json(json.loads(json.dumps(problem.to_json())))
        assert again == problem
        assert TASK.score(again, again.answer).correct


@pytest.mark.parametrize(
    "options",
    [
        {"min_number": 0},
        {"min_number": 50, "max_number": 10},
        {"max_number": 10**9},
        {"min_target": 0},
        {"min_target": 200, "max_target": 100},
        {"max_target": 2.5},
        {"min_number": True},
        {"max_number": "100"},
    ],
)
def test_bad_options_are_a_one_line_usage_error(options):
    with pytest.raises(UsageError) as error:
        Countdown(**options)

    assert "countdown" in str(error.value) and "\n" not in str(error.value)


def test_bad_difficulty_or_count_is_a_usage_error():
    with pytest.raises(UsageError, match="difficulty 9"):
        TASK.generate(1, difficulty=9, seed=0)
    with pytest.raises(UsageError, match="count"):
        TASK.generate(-1, difficulty=3, seed=0)
    assert TASK.generate(0, difficulty=3, seed=0) == []


def test_options_that_allow_too_few_problems_are_a_usage_error():
    tiny = Countdown(min_number=1, max_number=2, min_target=1, max_target=4)

    with pytest.raises(UsageError, match="widen the ranges"):
        tiny.generate(20, difficulty=2, seed=0)


# Prompts and extraction


@pytest.mark.parametrize("variant", PROMPT_VARIANTS)
def test_every_variant_states_the_numbers_target_and_rules(variant):
    problem = TASK.generate(1, difficulty=4, seed=0)[0]

    conversation = TASK.prompt(problem, variant)
    text = conversation[-1]["content"]

    assert conversation[-1]["role"] == "user"
    assert str(problem.data["target"]) in text
    assert ", ".join(map(str, problem.data["numbers"])) in text
    assert "exactly once" in text
    assert "<answer>" in text and "</answer>" in text


def test_the_prompt_example_never_gives_the_answer_away():
    solved_by_the_example = a_problem([10, 4, 3], 18)  # (10 - 4) * 3

    text = TASK.prompt(solved_by_the_example, "original")[-1]["content"]

    assert "<answer>(10 - 4) * 3</answer>" not in text
    assert "<answer>" in text


def test_an_unknown_variant_is_a_usage_error():
    with pytest.raises(UsageError, match="variant"):
        TASK.prompt(TASK.generate(1, difficulty=3, seed=0)[0], "shout")


@pytest.mark.parametrize(
    ("completion", "answer"),
    [
        ("Let me try. <answer>44 + 19 + 35</answer>", "44 + 19 + 35"),
        ("<answer>1 + 2</answer> no wait <answer> (44 + 19) + 35 </answer>", "(44 + 19) + 35"),
        (
            "<answer>\nStep 1: 44 + 19 = 63\nStep 2: 63 + 35 = 98\n</answer>",
            "Step 1: 44 + 19 = 63\nStep 2: 63 + 35 = 98",
        ),
        ("<answer>`44 + 19 + 35`</answer>", "44 + 19 + 35"),
        ("I could not find one.", None),
    ],
)
def test_the_last_answer_block_is_extracted(completion, answer):
    assert TASK.extract_answer(completion) == answer


# Scoring through the task


def test_scores_carry_a_reason():
    problem = a_problem([44, 19, 35], 98)

    assert TASK.score(problem, "44 + 19 + 35") == Score(1.0, "correct")
    assert TASK.score(problem, "44 + 19 - 35") == Score(0.0, "wrong result")
    assert TASK.score(problem, "44 + 19") == Score(0.0, "wrong numbers")
    assert TASK.score(problem, None) == Score(0.0, "no answer")
    assert TASK.score(problem, 98) == Score(0.0, "unparseable")  # not even text


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"numbers": "44 19", "target": 98},
        {"numbers": [44, 1.5], "target": 98},
        {"numbers": [44, 19], "target": "98"},
        {"numbers": [], "target": 1},
    ],
)
def test_a_problem_with_malformed_data_scores_zero_instead_of_raising(data):
    problem = Problem("x", "countdown", 2, "?", "?", data)

    assert TASK.score(problem, "44 + 19").reason == "bad problem"


@pytest.mark.parametrize("difficulty", range(2, 9))
def test_hostile_answers_score_zero_at_every_difficulty(difficulty):
    problem = TASK.generate(1, difficulty=difficulty, seed=11)[0]
    numbers, target = problem.data["numbers"], problem.data["target"]

    for name, answer in hostile_answers(numbers, target).items():
        score = TASK.score(problem, answer)
        assert score.value == 0.0 and score.reason, name


@settings(max_examples=60, deadline=None)
@given(difficulty=st.integers(2, 8), seed=st.integers(0, 2**32))
def test_generated_problems_are_solvable_and_their_references_score_one(difficulty, seed):
    problem = TASK.generate(1, difficulty=difficulty, seed=seed)[0]
    numbers, target = problem.data["numbers"], problem.data["target"]
    moves = find_moves(numbers, target)

    assert moves is not None
    assert TASK.score(problem, problem.answer).correct
    assert TASK.score(problem, "\n".join(as_steps(numbers, moves))).correct
    assert TASK.score(problem, f"{problem.answer} = {target}").correct


@settings(max_examples=200, deadline=None)
@given(answer=st.text())
def test_task_scoring_never_raises_on_any_text(answer):
    problem = TASK.generate(1, difficulty=4, seed=0)[0]

    assert 0.0 <= TASK.score(problem, answer).value <= 1.0
