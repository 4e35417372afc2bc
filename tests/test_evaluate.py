"""Evaluation for real: held-out questions, budget forcing on a micro model, command, stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillfactory.cli import cli
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.evaluation.evaluate import EvalSettings, force_budget, held_out
from skillfactory.evaluation.suites import Cell
from skillfactory.registry import get_registry

pytest.importorskip("transformers")

CELL_KEYS = {
    "task", "difficulty", "problems", "responses", "correct", "accuracy", "ci_low", "ci_high",
    "format_rate", "trace_rate", "mean_length", "attempts", "reflections", "verdicts",
    "verdict_f1_correct", "verdict_f1_incorrect", "intervals", "budget_forcing",
}  # fmt: skip


def test_held_out_questions_leave_out_what_training_used():
    from skillfactory.pipeline.rl_problems import rl_problems

    task = get_registry().get("task", "countdown").create()
    first = held_out(task, Cell("countdown", 3, 10), set())
    assert len(first) == 10
    skipped = held_out(task, Cell("countdown", 3, 10), {first[0].id, first[3].id})
    assert first[0] not in skipped and first[3] not in skipped and len(skipped) == 10
    trained = {p.id for p in rl_problems(task, difficulty=3, count=50, seed=0)}
    assert not trained & {p.id for p in held_out(task, Cell("countdown", 3, 400), set())}


def test_budget_forcing_reopens_the_thinking_of_a_micro_model(micro_model):
    sampler = get_registry().get("sampler", "transformers").create(str(micro_model))
    prompt = [{"role": "user", "content": "Make 10 from 2, 3, 5."}]
    closed = "<think>\n<sample>\n2 * 5 = 10\n<answer>2 * 5</answer>\n</sample>\n</think>"
    settings = EvalSettings(max_new_tokens=12, budget_forcing=2, temperature=0.0, budget_cap="each")
    texts, rounds = force_budget(sampler, [prompt], [closed], settings)
    reopened = closed[: -len("</think>")] + "<sample>"
    assert texts[0].startswith(reopened)
    assert len(texts[0]) > len(reopened), "the model wrote on after the re-opened sample"
    assert rounds == [1]  # the micro model never closes its thinking again by itself


class Closer:
    """A sampler that closes its thinking every time, so forcing runs every round."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], tuple[str, ...]]] = []

    def sample(self, prompts, n, settings):
        self.calls.append(([p[-1]["content"] for p in prompts], settings.stop))
        text = " try </think>" if settings.stop else " so <answer>7</answer>"
        return [[text] for _ in prompts]


def test_budget_forcing_stops_after_n_rounds_then_lets_the_answer_come():
    sampler = Closer()
    prompts = [[{"role": "user", "content": "q1"}], [{"role": "user", "content": "q2"}]]
    texts, rounds = force_budget(
        sampler,
        prompts,
        ["<think> a </think>", "no tags"],
        EvalSettings(budget_forcing=3, budget_cap="each"),
    )
    assert rounds == [3, 0]
    assert (
        texts[0]
        == "<think> a <sample> try <sample> try <sample> try </think> so <answer>7</answer>"
    )
    assert texts[1] == "no tags"
    assert [stop for _, stop in sampler.calls] == [("</think>",)] * 3 + [()]


class Characters:
    """A tokenizer with one token per character, so budgets can be counted by eye."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, ids):
        return "".join(chr(i) for i in ids)


class Budgeted(Closer):
    """A Closer that records each call's token budget and writes past it if allowed."""

    def sample(self, prompts, n, settings):
        self.calls.append(([p[-1]["content"] for p in prompts], settings.max_new_tokens))
        text = " try again </think>" if settings.stop else " so <answer>7</answer>"
        return [[text[: settings.max_new_tokens]] for _ in prompts]


def test_budget_forcing_holds_the_whole_response_to_the_budget_by_default():
    """The paper caps the response's total tokens: continuations share what is left."""
    sampler = Budgeted()
    first = "<think> a </think>"  # 18 characters of a 50-token budget
    texts, rounds = force_budget(
        sampler, [[{"role": "user", "content": "q"}]], [first], EvalSettings(
            max_new_tokens=50, budget_forcing=3
        ), Characters()
    )  # fmt: skip
    assert len(texts[0]) <= 50
    assert texts[0] == "<think> a <sample> try again <sample> try again </"
    assert rounds == [2], "the second re-opening used up the budget; no third"
    assert [budget for _, budget in sampler.calls] == [32, 13]
    with pytest.raises(ValueError, match="tokenizer"):
        force_budget(sampler, [[]], [first], EvalSettings(budget_forcing=1))


def test_evaluate_writes_metrics_responses_and_a_report(micro_model, tmp_path):
    output = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate", "--model", str(micro_model), "--task", "countdown", "--difficulty", "3,4",
            "--questions", "3", "--samples", "2", "--max-new-tokens", "16",
            "--output", str(output), "--label", "micro",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["settings"]["samples"] == 2
    (model,) = metrics["models"]
    assert model["label"] == "micro"
    assert [(c["task"], c["difficulty"]) for c in model["cells"]] == [
        ("countdown", 3),
        ("countdown", 4),
    ]
    for cell in model["cells"]:
        assert set(cell) == CELL_KEYS
        assert cell["responses"] == 6 and 0 <= cell["ci_low"] <= cell["accuracy"] <= cell["ci_high"]
    responses = (output / "responses.jsonl").read_text().splitlines()
    assert len(responses) == 12
    assert (output / "report.md").is_file()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--difficulty", "3"], "--difficulty needs --task"),
        (["--task", "countdown", "--difficulty", "three"], "whole numbers"),
        (["--task", "nope"], "unknown task 'nope'"),
        (["--model", "/no/such/model"], "no such directory"),
    ],
)
def test_evaluate_refuses_bad_input_in_one_line(args, expected, tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "--output", str(tmp_path / "o"), *args])
    assert result.exit_code == 2, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_evaluate_never_writes_into_a_directory_that_is_not_an_evaluation(micro_model, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        cli, ["evaluate", "--model", str(micro_model), "--output", str(precious)]
    )
    assert result.exit_code == 2 and "holds no evaluation" in result.output
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]


def test_the_run_ends_with_an_evaluation_and_a_report(
    make_distribution, monkeypatch, micro_model, tmp_path
):
    from test_training import ECHO, RUN_TRAINING

    make_distribution(
        "skillfactory-echo-task", plugins={"echo_task": "sf_test_echo_eval"},
        modules={"sf_test_echo_eval": ECHO},
    )  # fmt: skip
    monkeypatch.setenv(PLUGINS_ENV, "echo_task,verify,retry,transformers,sft,grpo")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "run", "--skills", "verify,retry", "--task", "echo", "--sampler", "scripted",
            "--model", str(micro_model), "--questions", "4", "--samples-per-variant", "3",
            "--reflections", "2", "--run-dir", str(run_dir), *RUN_TRAINING,
            "--eval-questions", "3", "--eval-samples", "2", "--eval-max-new-tokens", "12",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert [m["label"] for m in metrics["models"]] == ["base", "sft", "grpo"]
    for model in metrics["models"]:
        assert [(c["task"], c["difficulty"], c["responses"]) for c in model["cells"]] == [
            ("echo", 1, 6)
        ]
    assert (run_dir / "report.md").is_file()
    assert "Report:" in result.output and "base: echo 1" in result.output
    stages = json.loads((run_dir / "stages.json").read_text())
    assert list(stages)[-1] == "eval"
    assert Path(stages["eval"]["summary"]["report"]) == run_dir / "report.md"


def test_attempts_inside_a_response_are_scored_through_the_verifier():
    """In-trace attempts go through the same Verifier as whole responses (its sandbox too)."""
    from skillfactory.evaluation.evaluate import _judge
    from skillfactory.scoring import Verifier

    task = get_registry().get("task", "countdown").create()
    (problem,) = task.generate(1, difficulty=3, seed=0)
    with Verifier(task, sandbox=True) as verifier:
        right = _judge(verifier, problem)
        assert right(f"<answer>{problem.answer}</answer>") is True
        assert right("<answer>1 + 1</answer>") is False
        assert right("no answer here") is None


def test_kill_9_in_the_middle_of_an_evaluation_resumes_from_its_finished_cells(
    micro_model, tmp_path
):
    """SIGKILL ``evaluate`` between cells, rerun it, and compare with an uninterrupted one."""
    import os
    import subprocess
    import sys

    from conftest import kill_9_when

    from skillfactory.evaluation.finished_cells import PARTIAL_DIR

    args = [
        sys.executable, "-m", "skillfactory", "evaluate", "--model", str(micro_model),
        "--suite", "quick", "--questions", "4", "--samples", "2", "--max-new-tokens", "48",
        "--label", "micro",
    ]  # fmt: skip
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    partial = killed / PARTIAL_DIR
    kill_9_when(
        [*args, "--output", str(killed)], lambda: len(list(partial.glob("cell-*.json"))) >= 2
    )
    at_kill = len(list(partial.glob("cell-*.json")))
    assert 2 <= at_kill < 7, "the evaluation must be killed in the middle"
    assert not (killed / "metrics.json").exists()

    resumed = subprocess.run(
        [*args, "--output", str(killed)], env=env, check=True, capture_output=True, text=True
    )
    assert f"resuming: {at_kill} of 7 cells were already finished" in resumed.stdout
    subprocess.run([*args, "--output", str(whole)], env=env, check=True, capture_output=True)

    def results(directory: Path) -> tuple[list, str]:
        metrics = json.loads((directory / "metrics.json").read_text())
        return metrics["models"][0]["cells"], (directory / "responses.jsonl").read_text()

    assert results(killed) == results(whole)
    assert not partial.exists()


def test_an_evaluation_in_a_log_prints_progress_lines(micro_model, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "evaluate", "--model", str(micro_model), "--task", "countdown", "--difficulty", "3,4",
            "--questions", "2", "--samples", "1", "--max-new-tokens", "8",
            "--output", str(tmp_path / "eval"), "--label", "micro",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "evaluating micro (cells): 0/2 (0%)" in result.output
    assert "evaluating micro (cells): 2/2 done in" in result.output


class Hostile:
    """A sampler whose text holds what model output may: lone surrogates, NUL, controls."""

    def sample(self, prompts, n, settings):
        text = "\ud800 NUL \x00 \x1b[2J \u202e <answer>1 + 2</answer> \udfff" + "z" * 2**16
        return [[text] * n for _ in prompts]


def test_hostile_model_text_is_scored_and_written_as_valid_utf8(micro_model, tmp_path):
    from transformers import AutoTokenizer

    from skillfactory.evaluation.evaluate import evaluate_model

    tokenizer = AutoTokenizer.from_pretrained(micro_model)
    responses = tmp_path / "responses.jsonl"
    (row,) = evaluate_model(
        Hostile(), tokenizer, [Cell("countdown", 3, 2)], EvalSettings(samples=2),
        responses_file=responses,
    )  # fmt: skip
    assert row["responses"] == 4 and row["format_rate"] == 1.0
    lines = responses.read_bytes().decode("utf-8").splitlines()
    assert len(lines) == 4
    kept = json.loads(lines[0])["response"]
    assert kept.startswith("\\ud800 NUL \x00 \x1b[2J \u202e <answer>")
