"""`skillfactory compose` end to end, on both input schemas, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillfactory.cli import cli

DATA = Path(__file__).parent / "data" / "compose"
INPUTS = {
    "skillfactory": DATA / "skillfactory_sample.jsonl",
    "authors": DATA / "authors_sample.jsonl",
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "120"})


def compose(runner: CliRunner, *args: str):
    return runner.invoke(cli, ["compose", *args])


@pytest.mark.parametrize("schema", INPUTS)
def test_compose_writes_sft_ready_traces_and_a_summary(runner, tmp_path, schema):
    from datasets import load_from_disk

    out = tmp_path / "out"
    result = compose(
        runner, "--skills", "verify,retry", "--input", str(INPUTS[schema]), "--output", str(out)
    )

    assert result.exit_code == 0, result.output
    assert "questions that gave traces" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    dataset = load_from_disk(str(out / "traces"))
    assert summary["traces"] == len(dataset) > 0
    assert summary["input"]["reflections_disagreeing"] > 0
    for row in dataset:
        roles = [message["role"] for message in row["messages"]]
        assert roles == ["user", "assistant"]
        reply = row["messages"][-1]["content"]
        assert reply.startswith("<think>\n<sample>") and reply.endswith("</answer>")
        assert reply.count("<sample>") == row["attempts"] == reply.count("<reflect>")
        assert row["skills"] == ["retry", "verify"]
        assert "Incorrect</verdict>\n</reflect>\n</think>" not in reply, "ends on a correct attempt"
    lines = (out / "traces.jsonl").read_text().splitlines()
    assert [json.loads(line)["question_id"] for line in lines] == dataset["question_id"]


def test_both_schemas_give_the_same_traces_for_the_same_material(runner, tmp_path):
    texts = {}
    for schema, path in INPUTS.items():
        compose(
            runner,
            "--skills",
            "verify,retry",
            "--input",
            str(path),
            "--output",
            str(tmp_path / schema),
            "--seed",
            "3",
        )
        rows = [json.loads(line) for line in (tmp_path / schema / "traces.jsonl").open()]
        texts[schema] = [row["messages"] for row in rows]

    assert texts["skillfactory"] == texts["authors"]


def test_the_same_seed_gives_byte_identical_output(runner, tmp_path):
    for name in ("first", "second"):
        compose(
            runner,
            "--skills",
            "verify,retry,confirm",
            "--input",
            str(INPUTS["authors"]),
            "--output",
            str(tmp_path / name),
            "--seed",
            "7",
            "--traces-per-question",
            "3",
        )

    first = (tmp_path / "first" / "traces.jsonl").read_bytes()
    assert first == (tmp_path / "second" / "traces.jsonl").read_bytes()


def test_ablations_and_all_lengths_reach_the_output(runner, tmp_path):
    result = compose(
        runner,
        "--skills",
        "verify,retry",
        "--input",
        str(INPUTS["skillfactory"]),
        "--output",
        str(tmp_path),
        "--all-lengths",
        "--no-reflections",
    )

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "traces.jsonl").open()]
    assert {row["format"] for row in rows} == {"no_reflection"}
    assert all("<reflect>" not in row["messages"][-1]["content"] for row in rows)
    assert len({row["attempts"] for row in rows}) > 1


@pytest.mark.parametrize(
    ("skills", "message"),
    [
        ("verify,retyr", "unknown skill 'retyr'; known skills: backtrack, confirm, retry, verify"),
        ("retry", "skill 'retry' builds on 'verify'; select it too"),
        (" , ", "--skills needs at least one skill name"),
    ],
)
def test_a_skill_set_that_cannot_form_a_trace_exits_2_in_one_line(
    runner, tmp_path, skills, message
):
    result = compose(
        runner, "--skills", skills, "--input", str(INPUTS["authors"]), "--output", str(tmp_path)
    )

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not (tmp_path / "traces").exists()


def test_compose_reads_a_dataset_saved_with_splits_as_a_hub_download_is(runner, tmp_path):
    import datasets

    rows = [json.loads(line) for line in INPUTS["skillfactory"].read_text().splitlines()]
    single = tmp_path / "single"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(single))
    several = tmp_path / "several"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows), "test": datasets.Dataset.from_list(rows)}
    ).save_to_disk(str(several))
    from_file = compose(
        runner, "--skills", "verify", "--input", str(INPUTS["skillfactory"]),
        "--output", str(tmp_path / "file"),
    )  # fmt: skip
    assert from_file.exit_code == 0, from_file.output

    whole = compose(
        runner, "--skills", "verify", "--input", str(single), "--output", str(tmp_path / "a")
    )
    assert whole.exit_code == 0, whole.output
    refused = compose(
        runner, "--skills", "verify", "--input", str(several), "--output", str(tmp_path / "b")
    )
    assert refused.exit_code == 2
    assert "holds the splits train, test; choose one with --split NAME" in refused.output
    chosen = compose(
        runner, "--skills", "verify", "--input", str(several), "--split", "test",
        "--output", str(tmp_path / "c"),
    )  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    expected = (tmp_path / "file" / "traces.jsonl").read_text()
    assert (tmp_path / "a" / "traces.jsonl").read_text() == expected
    assert (tmp_path / "c" / "traces.jsonl").read_text() == expected


def test_compose_keeps_a_lone_surrogate_as_text_and_skips_a_line_that_is_not_utf8(runner, tmp_path):
    lines = INPUTS["skillfactory"].read_bytes().splitlines()
    first = json.loads(lines[0])
    first["completion"] += " \ud800"
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"\n".join([json.dumps(first).encode(), *lines[1:], b'{"x": "\xff"}']))

    result = compose(
        runner, "--skills", "verify,retry", "--input", str(source), "--output", str(tmp_path / "o")
    )

    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["input"]["malformed_rows"] == 1
    replies = [
        json.loads(line)["messages"][-1]["content"]
        for line in (tmp_path / "o" / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert any("\\ud800" in reply for reply in replies), "the surrogate is kept as its escape"
