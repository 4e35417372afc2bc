"""`skillfactory problems`, `score` and the task listing, with a task from a real plugin."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from skillfactory.cli import cli

REPEAT_TASK = """
    import random

    from skillfactory import Problem, Score, Task, hookimpl
    from skillfactory.answers import extract_answer_block
    from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt


    class Repeat(Task):
        name = "repeat"
        description = "Repeat a whole number; difficulty is its number of digits."
        variants = PROMPT_VARIANTS
        difficulties = (1, 2, 3, 4)
        default_difficulty = 2

        def __init__(self, *, negative=False):
            self.sign = -1 if negative else 1

        def generate(self, count, *, difficulty, seed):
            rng = random.Random(f"repeat/{difficulty}/{seed}")
            numbers = rng.sample(range(10 ** (difficulty - 1), 10**difficulty), count)
            numbers = [self.sign * n for n in numbers]
            return [
                Problem(f"repeat-{n}", self.name, difficulty, f"Repeat {n}.", str(n), {"n": n})
                for n in numbers
            ]

        def prompt(self, problem, variant):
            return solve_prompt(
                variant, problem.question, answer_format="the number itself", example="7"
            )

        def extract_answer(self, completion):
            return extract_answer_block(completion)

        def score(self, problem, answer):
            if answer == "boom":
                raise KeyError("numbers")  # a bug in the plugin, not a wrong answer
            if answer is None:
                return Score(0.0, "no answer")
            return Score(1.0, "correct") if answer == problem.answer else Score(0.0, "different")


    @hookimpl
    def register_tasks(register):
        register(Repeat)
"""


@pytest.fixture(autouse=True)
def repeat_task(make_distribution):
    make_distribution(
        "skillfactory-repeat",
        plugins={"repeat": "sf_test_repeat"},
        modules={"sf_test_repeat": REPEAT_TASK},
    )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_problems_writes_one_problem_per_line_with_its_prompt(runner):
    result = runner.invoke(cli, ["problems", "repeat", "--count", "5", "--seed", "3"])

    assert result.exit_code == 0, result.output
    rows = lines(result.stdout)
    assert len(rows) == 5
    assert len({row["id"] for row in rows}) == 5
    first = rows[0]
    assert list(first) == [
        "id",
        "task",
        "difficulty",
        "question",
        "answer",
        "data",
        "variant",
        "prompt",
    ]
    assert first["task"] == "repeat"
    assert first["difficulty"] == 2, "the task's default difficulty"
    assert first["variant"] == "original"
    assert first["prompt"][-1]["role"] == "user"
    assert first["question"] in first["prompt"][-1]["content"]
    assert "<answer>" in first["prompt"][-1]["content"]


def test_the_same_arguments_give_the_same_bytes(runner, tmp_path):
    args = ["problems", "repeat", "-n", "20", "-d", "3", "--seed", "9", "--variant", "rephrase"]
    first = runner.invoke(cli, args)
    second = runner.invoke(cli, [*args, "--output", str(tmp_path / "problems.jsonl")])

    assert second.stdout == ""
    assert (tmp_path / "problems.jsonl").read_text() == first.stdout
    assert [row["variant"] for row in lines(first.stdout)] == ["rephrase"] * 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "7"], "task 'repeat' has no difficulty 7; levels: 1, 2, 3, 4"),
        (["--variant", "socratic"], "has no prompt variant 'socratic'; variants: original,"),
        (["--count", "0"], "Invalid value for '--count' / '-n': 0 is not in the range x>=1"),
    ],
)
def test_problems_refuses_bad_values_in_one_line(runner, args, message):
    result = runner.invoke(cli, ["problems", "repeat", *args])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_problems_of_an_unknown_task(runner):
    result = runner.invoke(cli, ["problems", "countdwn"])

    assert result.exit_code == 2
    assert "unknown task 'countdwn'; known tasks: repeat" in result.stderr


def scored_input(runner, completions: list[str]) -> str:
    problems = lines(runner.invoke(cli, ["problems", "repeat", "-n", str(len(completions))]).stdout)
    return "".join(
        json.dumps({**problem, "completion": completion}) + "\n"
        for problem, completion in zip(problems, completions, strict=True)
    )


def test_score_adds_extracted_score_and_reason(runner):
    text = scored_input(runner, ["x", "y", "z"])
    problems = lines(text)
    problems[0]["completion"] = f"It is <answer>{problems[0]['answer']}</answer>"
    problems[1]["completion"] = "I think <answer>0</answer>"
    problems[2]["completion"] = "no idea"
    text = "".join(json.dumps(row) + "\n" for row in problems)

    result = runner.invoke(cli, ["score", "repeat"], input=text)

    assert result.exit_code == 0, result.output
    rows = lines(result.stdout)
    assert [(row["extracted"], row["score"], row["reason"]) for row in rows] == [
        (problems[0]["answer"], 1.0, "correct"),
        ("0", 0.0, "different"),
        (None, 0.0, "no answer"),
    ]
    assert rows[0]["prompt"] == problems[0]["prompt"], "every input field is kept"


def test_score_reports_malformed_lines_by_number_and_keeps_the_rest(runner, tmp_path):
    good = scored_input(runner, ["<answer>1</answer>", "<answer>2</answer>"]).splitlines()
    wrong_task = json.loads(good[0]) | {"task": "countdown"}
    no_completion = {k: v for k, v in json.loads(good[0]).items() if k != "completion"}
    no_task = {k: v for k, v in json.loads(good[0]).items() if k != "task"}
    numeric_completion = json.loads(good[0]) | {"completion": 7}
    source = tmp_path / "completions.jsonl"
    source.write_text(
        "\n".join(
            [
                good[0],
                "{not json",
                "",
                json.dumps(wrong_task),
                "[1, 2]",
                json.dumps(no_completion),
                json.dumps(no_task),
                json.dumps(numeric_completion),
                good[1],
            ]
        )
        + "\n"
    )
    output = tmp_path / "scored.jsonl"

    result = runner.invoke(cli, ["score", "repeat", str(source), "--output", str(output)])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: line 2: not valid JSON (Expecting property name enclosed in double quotes "
        "at column 2)",
        "Error: line 4: the problem belongs to task 'countdown', not 'repeat'",
        "Error: line 5: expected a JSON object, got list",
        "Error: line 6: field 'completion' is missing",
        "Error: line 7: field 'task' is missing",
        "Error: line 8: field 'completion' must be a string, got 7 (6 malformed lines)",
    ]
    assert len(lines(output.read_text())) == 2


def test_score_survives_hostile_text_and_loses_no_good_line(runner, tmp_path):
    """Lone surrogates, NUL and control characters are scored and written back as they came;
    bytes that are not UTF-8 make one malformed line; a BOM and CRLF line ends are ignored."""
    hostile = ["lone \ud800 surrogate <answer>1</answer>", "nul \x00 and \x1b[2J", "\udfff"]
    good = scored_input(runner, [*hostile, "<answer>2</answer>"]).splitlines()
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(
        b"\xef\xbb\xbf"  # a byte order mark, as some editors write
        + b"\r\n".join(line.encode("utf-8") for line in good[:2])
        + b'\r\n{"completion": "\xff\xfe"}\r\n'
        + "\n".join(good[2:]).encode("utf-8")
        + b"\n"
    )
    output = tmp_path / "scored.jsonl"

    result = runner.invoke(cli, ["score", "repeat", str(source), "--output", str(output)])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["Error: line 3: not valid UTF-8 (byte 0xff at column 17)"]
    rows = lines(output.read_bytes().decode("utf-8"))  # the output is valid UTF-8
    assert [row["completion"] for row in rows] == [*hostile, "<answer>2</answer>"]
    assert [row["extracted"] for row in rows] == ["1", None, None, "2"]


def test_tasks_lists_difficulties_and_variants(runner):
    table = runner.invoke(cli, ["tasks"])
    as_json = json.loads(runner.invoke(cli, ["tasks", "--json"]).stdout)

    assert "1-4 (default 2)" in table.stdout
    assert "original, plan_and_execute, alternatively, rephrase" in table.stdout
    assert as_json[0]["difficulties"] == [1, 2, 3, 4]
    assert as_json[0]["default_difficulty"] == 2
    assert as_json[0]["variants"] == ["original", "plan_and_execute", "alternatively", "rephrase"]
    assert as_json[0]["sandboxed_scoring"] is False


def test_task_options_reach_the_task(runner):
    result = runner.invoke(cli, ["problems", "repeat", "-n", "3", "-O", "negative=true"])

    assert result.exit_code == 0, result.output
    assert all(row["answer"].startswith("-") for row in lines(result.stdout))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("colour=blue", "task 'repeat' cannot take these options "),
        ("colour=blue", "its options: negative"),
        ("negative", "--option takes KEY=VALUE with KEY a name, got 'negative'"),
    ],
)
def test_bad_task_options_are_usage_errors(runner, option, message):
    result = runner.invoke(cli, ["problems", "repeat", "-O", option])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_score_takes_a_10_mb_line_and_a_value_of_the_wrong_type_is_one_malformed_line(
    runner, tmp_path
):
    huge = "x" * (10 * 2**20) + " <answer>3</answer>"
    good = scored_input(runner, [huge, "<answer>2</answer>"]).splitlines()
    wrong_type = json.loads(good[1])
    wrong_type["completion"] = ["not", "a", "string"]
    source = tmp_path / "big.jsonl"
    source.write_text("\n".join([good[0], json.dumps(wrong_type), good[1]]) + "\n")
    output = tmp_path / "scored.jsonl"

    result = runner.invoke(cli, ["score", "repeat", str(source), "--output", str(output)])

    assert result.exit_code == 2
    (error,) = result.stderr.splitlines()
    assert error.startswith("Error: line 2: ") and "completion" in error
    rows = lines(output.read_text())
    assert [row["extracted"] for row in rows] == ["3", "2"]
    assert len(rows[0]["completion"]) == len(huge)


def test_a_scorer_that_raises_is_counted_and_said_on_stderr(runner):
    """A plugin bug must not pass for a model that is always wrong."""
    text = scored_input(runner, ["<answer>boom</answer>", "<answer>boom</answer>", "x"])
    result = runner.invoke(cli, ["score", "repeat"], input=text)
    assert result.exit_code == 0
    assert [row["reason"] for row in lines(result.stdout)][:2] == [
        "scorer raised KeyError: 'numbers'"
    ] * 2
    assert result.stderr.splitlines() == [
        "Warning: the repeat scorer raised on 2 of 3 answers (first: KeyError: 'numbers'); each "
        "scored 0, which looks like a wrong answer but is a bug in the task plugin"
    ]
