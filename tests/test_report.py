"""``skillfactory report``: report.md tables, plots and plots.json from hand-made metrics."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skillfactory.errors import UsageError
from skillfactory.evaluation.report import load_sources, write_report
from skillfactory.report_command import report_command

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = ("base", "sft", "grpo")
CELLS = [("countdown", 3), ("countdown", 4), ("countdown", 5), ("countdown", 6)]
CELLS += [("letter_countdown", 4)]
CELL_TEXT = re.compile(r"^([\d.]+)% \[([\d.]+)\u2013([\d.]+)\] \(n=(\d+)\)$")


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def make_cell(task: str, difficulty: int, correct: int, samples: int, seed: int) -> dict:
    problems = 20 + seed % 7
    responses = problems * samples
    low, high = wilson(correct, responses)
    attempts = 1.0 + (seed % 5) / 4
    return {
        "task": task,
        "difficulty": difficulty,
        "problems": problems,
        "responses": responses,
        "correct": correct,
        "accuracy": correct / responses,
        "ci_low": low,
        "ci_high": high,
        "format_rate": 0.9 + (seed % 10) / 100,
        "mean_length": 100.0 + seed,
        "attempts": attempts,
        "reflections": (seed % 3) / 2,
        "trace_rate": (seed % 4) / 4,
        "verdicts": seed,
        "verdict_f1_correct": 0.5 if seed % 2 else None,
        "verdict_f1_incorrect": 0.75,
        # An interval may be missing or null (an older metrics file, an undefined F1).
        "intervals": {
            "attempts": [attempts - 0.125, attempts + 0.125],
            "verdict_f1_incorrect": [0.6, 0.9],
            "trace_rate": None,
        },
        "budget_forcing": None,
    }


def make_metrics(offset: int, budget: bool) -> dict:
    models = []
    for index, label in enumerate(LABELS):
        cells = []
        for position, (task, difficulty) in enumerate(CELLS):
            seed = offset + 10 * index + position
            cells.append(make_cell(task, difficulty, correct=3 + seed % 17, samples=4, seed=seed))
        models.append({"label": label, "model": f"/models/{label}", "cells": cells})
    if budget:
        cell = models[2]["cells"][1]
        cell["budget_forcing"] = {
            "rounds": 2,
            "reopened": 37,
            "accuracy": 0.3125,
            "ci_low": 0.2,
            "ci_high": 0.45,
            "mean_length": 321.5,
        }
    settings = {"samples": 4, "temperature": 0.7, "top_p": 0.8, "top_k": 20}
    settings |= {"max_new_tokens": 512, "budget_forcing": 2 if budget else 0, "seed": 0}
    return {"settings": settings, "models": models}


SFT_CURVE = [
    {"step": 1, "loss": 1.25, "learning_rate": 1e-6},
    {"step": 2, "loss": 1.0},
    {"step": 3, "loss": 0.75},
    {"step": 3, "train_runtime": 12.0},
]
GRPO_CURVE = [
    {
        "step": 1,
        "reward": 0.125,
        "rewards/accuracy/mean": 0.125,
        "completions/mean_length": 90,
        "frac_reward_zero_std": 0.75,
        "entropy": 1.5,
    },
    {
        "step": 2,
        "reward": 0.25,
        "rewards/accuracy/mean": 0.25,
        "completions/mean_length": 95,
        "frac_reward_zero_std": 0.5,
        "entropy": 1.25,
    },
]


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


def make_run(root: Path, name: str, offset: int, budget: bool, curves: bool) -> Path:
    run = root / name
    write_json(run / "eval" / "metrics.json", make_metrics(offset, budget))
    config = {"task": "countdown", "difficulty": 3, "model": "tiny", "skills": ["verify", "retry"]}
    config |= {"questions": 64, "samples_per_variant": 4, "reflections": 2, "seed": 0}
    config |= {"sft_learning_rate": 1e-5, "grpo_steps": 40}
    write_json(run / "config.json", config)
    if curves:
        write_json(run / "sft" / "curve.json", SFT_CURVE)
        write_json(run / "grpo" / "curve.json", GRPO_CURVE)
    return run


def metrics_of(run: Path) -> dict:
    return json.loads((run / "eval" / "metrics.json").read_text(encoding="utf-8"))


def section(text: str, title: str) -> str:
    """The text under ``## title`` up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {title!r} in the report"
    return match.group(1)


def parse_table(text: str) -> list[dict[str, str]]:
    """The first markdown table in ``text`` as one dict per row, keyed by the header."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[part.strip() for part in line.strip().strip("|").split(" | ")] for line in lines]
    header, rows = split[0], split[2:]
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    return (
        make_run(root, "run-a", offset=0, budget=True, curves=True),
        make_run(root, "run-b", offset=5, budget=False, curves=False),
    )


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> Path:
    """The report comparing both runs."""
    return write_report(list(runs), tmp_path_factory.mktemp("compared"))


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> tuple[Path, Any]:
    """``skillfactory report RUN`` on a run without curves or budget forcing: the run and result."""
    run = make_run(tmp_path_factory.mktemp("single"), "run-c", offset=5, budget=False, curves=False)
    return run, CliRunner().invoke(report_command, [str(run)])


def assert_cell_matches(text: str, cell: dict) -> None:
    match = CELL_TEXT.match(text)
    assert match, text
    accuracy, low, high, n = match.groups()
    assert float(accuracy) == pytest.approx(100 * cell["accuracy"], abs=0.0501)
    assert float(low) == pytest.approx(100 * cell["ci_low"], abs=0.0501)
    assert float(high) == pytest.approx(100 * cell["ci_high"], abs=0.0501)
    assert int(n) == cell["responses"]


def test_a_single_run_has_one_accuracy_column_per_label(single):
    run, result = single
    assert result.exit_code == 0, result.output
    report = run / "report.md"
    text = report.read_text(encoding="utf-8")
    rows = parse_table(section(text, "Accuracy"))
    metrics = metrics_of(run)

    assert list(rows[0]) == ["Task", "Difficulty", *LABELS]
    assert [(row["Task"], int(row["Difficulty"])) for row in rows] == CELLS
    for model in metrics["models"]:
        for row, cell in zip(rows, model["cells"], strict=True):
            assert_cell_matches(row[model["label"]], cell)
    assert "### run-c" in text
    assert "samples_per_variant: 4" in text
    assert "## Budget forcing" not in text
    assert "training_curves.png was not drawn" in text
    assert not (run / "training_curves.png").exists()


def test_two_runs_are_compared_side_by_side(runs, compared):
    rows = parse_table(section(compared.read_text(encoding="utf-8"), "Accuracy"))
    names = [f"{run.name} / {label}" for run in runs for label in LABELS]

    assert list(rows[0]) == ["Task", "Difficulty", *names]
    for run in runs:
        for model in metrics_of(run)["models"]:
            for row, cell in zip(rows, model["cells"], strict=True):
                assert_cell_matches(row[f"{run.name} / {model['label']}"], cell)


def test_skill_usage_and_budget_forcing_tables(runs, compared):
    text = compared.read_text(encoding="utf-8")
    skills = parse_table(section(text, "Skill usage"))
    budget = parse_table(section(text, "Budget forcing"))
    cell = metrics_of(runs[0])["models"][2]["cells"][1]

    assert len(skills) == 2 * len(LABELS) * len(CELLS)
    first = skills[0]
    first_cell = metrics_of(runs[0])["models"][0]["cells"][0]
    assert first["RUN / LABEL"] == "run-a / base"
    attempts = first_cell["attempts"]
    bounds = f"{attempts - 0.125:.2f}\u2013{attempts + 0.125:.2f}"
    assert first["Attempts"] == f"{attempts:.2f} [{bounds}]"
    assert first["In trace format"] == f"{100 * first_cell['trace_rate']:.1f}%"
    assert first["Reflections"] == f"{first_cell['reflections']:.2f}"
    assert first["F1 incorrect"] == "0.75 [0.60\u20130.90]"
    assert budget == [
        {
            "Task": "countdown",
            "Difficulty": "4",
            "RUN / LABEL": "run-a / grpo",
            "Rounds": "2",
            "Re-opened": "37",
            "Accuracy": re.sub(r" \(n=\d+\)$", "", budget[0]["Accuracy"]),
            "Accuracy forced": "31.2% [20.0\u201345.0]",
            "Mean length": f"{cell['mean_length']:.1f}",
            "Mean length forced": "321.5",
        }
    ]
    assert budget[0]["Accuracy"].startswith(f"{100 * cell['accuracy']:.1f}%")
    curves = parse_table(section(text, "Training curves"))
    assert curves == [
        {
            "Run": "run-a",
            "SFT log entries": "3",
            "SFT loss first": "1.2500",
            "SFT loss last": "0.7500",
            "GRPO log entries": "2",
            "GRPO reward first quarter": "0.125",
            "GRPO reward last quarter": "0.250",
            "GRPO reward gain": "+0.125",
            "GRPO accuracy last": "0.250",
            "GRPO length last": "95.0",
        }
    ]
    assert "No curves for: run-b." in text


def test_plots_are_pngs_that_open(compared, single):
    from matplotlib.image import imread

    for name in ("accuracy_by_difficulty.png", "skill_usage.png", "training_curves.png"):
        path = compared.parent / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = imread(path)
        assert image.shape[0] > 0 and image.shape[1] > 0
        assert f"({name})" in compared.read_text(encoding="utf-8")
    assert (single[0] / "skill_usage.png").read_bytes()[:8] == PNG_SIGNATURE


def test_plots_json_holds_the_metrics_as_drawn(runs, compared):
    plots = json.loads((compared.parent / "plots.json").read_text(encoding="utf-8"))
    by_file = {plot["file"]: plot for plot in plots["plots"]}
    assert set(by_file) == {"accuracy_by_difficulty.png", "skill_usage.png", "training_curves.png"}

    accuracy = {panel["title"]: panel for panel in by_file["accuracy_by_difficulty.png"]["panels"]}
    skills = {panel["title"]: panel for panel in by_file["skill_usage.png"]["panels"]}
    assert list(accuracy) == ["countdown", "letter_countdown"]
    for task in accuracy:
        expected: dict[str, list] = {}
        intervals: dict[str, list] = {}
        attempts: dict[str, list] = {}
        reflections: dict[str, list] = {}
        for run in runs:
            for model in metrics_of(run)["models"]:
                name = f"{run.name} / {model['label']}"
                for cell in model["cells"]:
                    if cell["task"] != task:
                        continue
                    d = cell["difficulty"]
                    expected.setdefault(name, []).append([d, cell["accuracy"]])
                    intervals.setdefault(name, []).append([d, cell["ci_low"], cell["ci_high"]])
                    attempts.setdefault(name, []).append([d, cell["attempts"]])
                    reflections.setdefault(name, []).append([d, cell["reflections"]])
        assert accuracy[task]["series"] == expected
        assert accuracy[task]["intervals"] == intervals
        assert skills[f"{task}: attempts"]["series"] == attempts
        assert skills[f"{task}: reflections"]["series"] == reflections

    curves = {panel["title"]: panel for panel in by_file["training_curves.png"]["panels"]}
    assert curves["SFT loss"]["series"] == {
        "run-a": [[entry["step"], entry["loss"]] for entry in SFT_CURVE if "loss" in entry]
    }
    assert curves["GRPO reward"]["series"] == {
        "run-a": [[entry["step"], entry["reward"]] for entry in GRPO_CURVE]
    }
    for title, key in (
        ("GRPO groups with one reward for all", "frac_reward_zero_std"),
        ("GRPO entropy", "entropy"),
        ("GRPO completion length", "completions/mean_length"),
    ):
        assert curves[title]["series"] == {
            "run-a": [[entry["step"], entry[key]] for entry in GRPO_CURVE]
        }, title


def test_an_evaluation_directory_is_a_source_too(runs, tmp_path):
    evaluation = tmp_path / "eval-qwen"
    write_json(evaluation / "metrics.json", metrics_of(runs[0]))

    result = CliRunner().invoke(report_command, [str(evaluation), "--output", str(tmp_path / "x")])

    assert result.exit_code == 0, result.output
    text = (tmp_path / "x" / "report.md").read_text(encoding="utf-8")
    assert "### eval-qwen" in text
    assert "## Budget forcing" in text
    plots = json.loads((tmp_path / "x" / "plots.json").read_text(encoding="utf-8"))
    assert "training_curves.png" in plots["skipped"]
    assert not (evaluation / "report.md").exists()


def test_a_source_without_metrics_is_a_usage_error(tmp_path):
    (tmp_path / "empty").mkdir()

    with pytest.raises(UsageError, match="empty") as error:
        write_report([tmp_path / "empty"], tmp_path / "out")

    assert "\n" not in str(error.value)


def test_sources_with_the_same_directory_name_are_told_apart(runs, tmp_path):
    for name in ("a", "b"):
        write_json(tmp_path / name / "eval" / "metrics.json", metrics_of(runs[1]))

    sources = load_sources([tmp_path / "a" / "eval", tmp_path / "b" / "eval", runs[1]])

    assert [source.name for source in sources] == ["a/eval", "b/eval", "run-b"]
    assert [source.kind for source in sources] == ["evaluation", "evaluation", "run"]


def test_the_command_writes_into_the_run_and_prints_the_headline(single):
    run, result = single
    cell = metrics_of(run)["models"][0]["cells"][0]

    assert result.exit_code == 0, result.output
    assert f"Report: {run / 'report.md'}" in result.output
    assert "countdown accuracy by difficulty (3, 4, 5, 6)" in result.output
    base_line = next(line for line in result.output.splitlines() if "base" in line)
    assert f"3: {100 * cell['accuracy']:.1f}% [" in base_line


def test_the_command_compares_several_runs_into_report_by_default(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(report_command, [str(runs[0]), str(runs[1])])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "report.md").is_file()
    assert "run-b / grpo" in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: root, "has no metrics.json"),
        (
            lambda root: write_json(root / "config.json", {"task": "countdown"}) or root,
            "evaluate it",
        ),
        (
            lambda root: (root / "metrics.json").write_text("{not json") and root,
            "is not valid JSON (Expecting property name",
        ),
        (
            lambda root: (root / "metrics.json").write_bytes(b'{"models": [\xff]}') and root,
            "is not valid UTF-8 (byte 0xff at offset 12)",
        ),
        (lambda root: write_json(root / "metrics.json", [1]) or root, "no 'models' list"),
        (
            lambda root: (
                write_json(root / "metrics.json", {"models": [{"cells": [{"task": 5}]}]}) or root
            ),
            "names no task",
        ),
    ],
)
def test_bad_input_exits_2_in_one_line(tmp_path, make, message):
    root = tmp_path / "bad"
    root.mkdir()
    source = make(root)

    result = CliRunner().invoke(report_command, [str(source), "--output", str(tmp_path / "o")])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert "bad" in result.stderr
    assert not (tmp_path / "o" / "report.md").exists()


def test_no_source_exits_2_in_one_line():
    result = CliRunner().invoke(report_command, [])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "at least one" in result.stderr


def test_hostile_text_in_metrics_is_reported_as_valid_utf8(tmp_path):
    """Labels and task names are text someone else wrote: a lone surrogate, NUL, controls."""
    root = tmp_path / "hostile"
    root.mkdir()
    (root / "metrics.json").write_text(
        '{"settings": {}, "models": [{"label": "\\ud800 NUL \\u0000 \\u202e", "model": "m",'
        ' "cells": [{"task": "count\\udfffdown", "difficulty": 3, "responses": "many"}]}]}'
    )
    result = CliRunner().invoke(report_command, [str(root), "--output", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "o" / "report.md").read_bytes().decode("utf-8")
    assert "\\ud800 NUL" in report and "count\\udfffdown" in report
