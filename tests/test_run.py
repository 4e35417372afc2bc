"""``skillfactory run`` through traces: real stages, real datasets, skipping, redoing, resuming.

Two kinds of model drive the runs. The micro build of the default model runs the
transformers sampler for real; a scripted sampler and a tiny task, installed as a
third-party distribution through entry points, make answers whose correctness is
known, so that the agreement filter and the traces can be checked exactly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import kill_9_when

from skillfactory.cli import cli
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.run_store import CONFIG_FILE, LOG_FILE, STAGES_FILE

pytest.importorskip("transformers")

SCRIPTED = """
    import json
    import os

    from skillfactory import Problem, Sampler, Score, Task, hookimpl
    from skillfactory.answers import extract_answer_block

    WORDS = ["apple", "river", "stone", "cloud", "tiger", "lemon"]
    calls = {"count": 0}


    class Parrot(Task):
        name = "parrot"
        description = "Say the word the question names."
        variants = ("plain", "loud")
        difficulties = (1,)

        def generate(self, count, *, difficulty, seed):
            words = WORDS[seed % len(WORDS):] + WORDS[: seed % len(WORDS)]
            return [
                Problem(f"parrot-{w}", self.name, difficulty, f"Say: {w}", w, {"word": w})
                for w in words[:count]
            ]

        def prompt(self, problem, variant):
            return [{"role": "user", "content": f"[{variant}] {problem.question}"}]

        def extract_answer(self, completion):
            return extract_answer_block(completion)

        def score(self, problem, answer):
            if answer is None:
                return Score(0.0, "no answer")
            return Score(1.0, "correct") if answer == problem.answer else Score(0.0, "wrong word")


    class Scripted(Sampler):
        '''Attempts: right, wrong, empty in turn; reflections: one agrees, one does not.'''

        name = "scripted"
        description = "Answers from a script, for tests."

        def sample(self, prompts, n, settings):
            calls["count"] += 1
            crash_after = os.environ.get("SCRIPTED_CRASH_AFTER")
            if crash_after is not None and calls["count"] > int(crash_after):
                raise RuntimeError("the accelerator fell over")
            hostile_file = os.environ.get("SCRIPTED_HOSTILE")
            hostile = json.loads(open(hostile_file).read()) if hostile_file else ""
            return [
                [self._one(p[-1]["content"], i) + hostile for i in range(n)] for p in prompts
            ]

        def _one(self, text, i):
            if text.startswith("Check this response"):
                if os.environ.get("SCRIPTED_NO_VERDICT"):
                    return "Looks fine to me, I would say."
                word = text.split("Say: ")[1].split()[0]
                right = f"<answer>{word}</answer>" in text
                says_correct = right if i % 2 == 0 else not right
                verdict = "Correct" if says_correct else "Incorrect"
                return f"I read the answer again. <verdict>{verdict}</verdict>"
            word = text.split("Say: ")[1].strip()
            return [f"It is {word}. <answer>{word}</answer>", "<answer>nope</answer>", ""][i % 3]


    @hookimpl
    def register_tasks(register):
        register(Parrot)


    @hookimpl
    def register_samplers(register):
        register(Scripted)
"""


@pytest.fixture
def scripted(make_distribution, monkeypatch) -> None:
    """The parrot task and the scripted sampler, with the built-in skills beside them."""
    make_distribution(
        "skillfactory-scripted",
        plugins={"scripted": "sf_test_scripted"},
        modules={"sf_test_scripted": SCRIPTED},
    )
    monkeypatch.setenv(PLUGINS_ENV, "scripted,verify,retry,backtrack,confirm,transformers")
    monkeypatch.delenv("SCRIPTED_CRASH_AFTER", raising=False)
    monkeypatch.delenv("SCRIPTED_HOSTILE", raising=False)
    monkeypatch.delenv("SCRIPTED_NO_VERDICT", raising=False)


def scripted_args(run_dir: Path, micro_model: Path, *extra: str) -> list[str]:
    return [
        "run", "--skills", "verify,retry", "--task", "parrot", "--sampler", "scripted",
        "--model", str(micro_model), "--questions", "3", "--samples-per-variant", "3",
        "--reflections", "2", "--shard-size", "2", "--run-dir", str(run_dir), "--until", "traces",
        *extra,
    ]  # fmt: skip


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def events(run_dir: Path) -> list[tuple[str, str]]:
    lines = (run_dir / LOG_FILE).read_text().splitlines()
    return [(row["event"], row["stage"]) for row in map(json.loads, lines) if "stage" in row]


def test_a_scripted_run_writes_every_stage_as_a_dataset(scripted, micro_model, tmp_path):
    from datasets import load_from_disk

    run_dir = tmp_path / "run"
    result = invoke(scripted_args(run_dir, micro_model))
    assert result.exit_code == 0, result.output

    problems = load_from_disk(str(run_dir / "problems"))
    assert problems["id"] == ["parrot-apple", "parrot-river", "parrot-stone"]

    samples = load_from_disk(str(run_dir / "samples"))
    assert len(samples) == 3 * 2 * 3  # questions x variants x samples per variant
    assert sorted({(r["question_id"], r["variant"], r["sample"]) for r in samples}) == sorted(
        (p, v, i) for p in problems["id"] for v in ("plain", "loud") for i in range(3)
    )
    by_sample = {}
    for row in samples:
        by_sample.setdefault(row["sample"], set()).add((row["correct"], row["reason"]))
    assert by_sample == {
        0: {(True, "correct")},
        1: {(False, "wrong word")},
        2: {(False, "no answer")},
    }
    assert all(
        r["prompt"] == [{"role": "user", "content": f"[plain] {r['question']}"}] for r in samples
    )

    reflections = load_from_disk(str(run_dir / "reflections"))
    assert len(reflections) == len(samples)
    for row in reflections:
        if not row["completion"]:
            assert row["reflections"] == row["verdicts"] == row["agrees"] == []
            continue
        assert len(row["reflections"]) == 2
        verdict = "correct" if row["correct"] else "incorrect"
        opposite = "incorrect" if row["correct"] else "correct"
        assert row["verdicts"] == [verdict, opposite]
        assert row["agrees"] == [True, False]

    traces = load_from_disk(str(run_dir / "traces"))
    per_question = Counter(trace["question_id"] for trace in traces)
    assert len(per_question) == 3  # every question gives traces
    assert max(per_question.values()) <= 8  # traces_per_question's default
    for trace in traces:
        reply = trace["messages"][-1]["content"]
        assert trace["messages"][0]["content"].startswith("[plain] Say: ")
        word = trace["question_id"].split("-")[1]
        pairs = re.findall(r"<sample>(.*?)</sample>\s*<reflect>(.*?)</reflect>", reply, re.DOTALL)
        assert len(pairs) == trace["attempts"] >= 1
        for attempt, check in pairs:
            right = f"<answer>{word}</answer>" in attempt
            assert (
                "<verdict>Correct</verdict>" if right else "<verdict>Incorrect</verdict>"
            ) in check
        assert "".join(reply.split()).endswith(f"<answer>{word}</answer>")
        assert "<sample>\n\n</sample>" not in reply
    assert (run_dir / "traces.jsonl").read_text().count("\n") == len(traces)

    stages = json.loads((run_dir / STAGES_FILE).read_text())
    assert list(stages) == ["problems", "samples", "reflections", "traces"]
    assert stages["samples"]["summary"]["all"] == {"samples": 18, "answered": 12, "correct": 6}
    assert stages["reflections"]["summary"]["agreement"] == 0.5
    assert stages["reflections"]["summary"]["all"]["reflections"] == 2 * 12
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    assert config["variants"] == ["plain", "loud"] and config["difficulty"] == 1
    assert "Samples" in result.output and "Reflections" in result.output
    assert "Composition" in result.output


def test_an_unchanged_run_is_skipped_and_a_change_redoes_its_stage_and_after(
    scripted, micro_model, tmp_path
):
    run_dir = tmp_path / "run"
    assert invoke(scripted_args(run_dir, micro_model)).exit_code == 0
    samples_before = (run_dir / "samples").stat().st_mtime_ns

    again = invoke(scripted_args(run_dir, micro_model))
    assert again.exit_code == 0
    assert events(run_dir)[-4:] == [("stage_skipped", s) for s in _STAGES]
    assert "unchanged, skipped" in again.output

    refused = invoke(scripted_args(run_dir, micro_model, "--reflections", "4"))
    assert refused.exit_code == 2
    assert len(refused.output.strip().splitlines()) == 1
    assert "reflections: 2 → 4" in refused.output and "--force" in refused.output

    redone = invoke(scripted_args(run_dir, micro_model, "--reflections", "4", "--force"))
    assert redone.exit_code == 0, redone.output
    assert events(run_dir)[-6:] == [
        ("stage_skipped", "problems"),
        ("stage_skipped", "samples"),
        ("stage_started", "reflections"),
        ("stage_finished", "reflections"),
        ("stage_started", "traces"),
        ("stage_finished", "traces"),
    ]
    assert (run_dir / "samples").stat().st_mtime_ns == samples_before
    from datasets import load_from_disk

    reflections = load_from_disk(str(run_dir / "reflections"))["reflections"]
    assert {len(r) for r in reflections} == {0, 4}  # empty attempts get none


def test_until_stops_early_and_a_later_run_goes_on_from_there(scripted, micro_model, tmp_path):
    run_dir = tmp_path / "run"
    assert invoke(scripted_args(run_dir, micro_model, "--until", "samples")).exit_code == 0
    assert not (run_dir / "reflections").exists()
    assert invoke(scripted_args(run_dir, micro_model)).exit_code == 0
    assert events(run_dir)[-6:-4] == [("stage_skipped", "problems"), ("stage_skipped", "samples")]
    assert (run_dir / "traces").is_dir()


def test_a_crashed_sampler_keeps_finished_shards_and_a_rerun_resumes(
    scripted, micro_model, tmp_path, monkeypatch
):
    run_dir = tmp_path / "run"
    monkeypatch.setenv("SCRIPTED_CRASH_AFTER", "2")
    crashed = invoke(scripted_args(run_dir, micro_model))
    assert crashed.exit_code == 1
    message = crashed.output.strip().splitlines()[-1]
    assert "the accelerator fell over" in message and "2 finished shards are kept" in message
    assert "Traceback" not in crashed.output
    assert sorted(p.name for p in (run_dir / "samples.partial").glob("shard-*")) == [
        "shard-000000.jsonl",
        "shard-000001.jsonl",
    ]
    monkeypatch.delenv("SCRIPTED_CRASH_AFTER")
    resumed = invoke(scripted_args(run_dir, micro_model))
    assert resumed.exit_code == 0, resumed.output
    assert "2 of 3 shards were already finished" in resumed.output
    assert not (run_dir / "samples.partial").exists()
    from datasets import load_from_disk

    assert len(load_from_disk(str(run_dir / "samples"))) == 18


def test_a_full_disk_is_one_line_and_keeps_finished_shards(
    scripted, micro_model, tmp_path, monkeypatch
):
    import errno

    from skillfactory import run_store

    real_write = run_store.write_atomically
    written = []

    def fill_up(path, text):
        if path.name.startswith("shard-") and len(written) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, text)
        if path.name.startswith("shard-"):
            written.append(path)

    monkeypatch.setattr(run_store, "write_atomically", fill_up)
    run_dir = tmp_path / "run"
    result = invoke(scripted_args(run_dir, micro_model))
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "finished work is kept" in result.output
    assert [p.name for p in (run_dir / "samples.partial").glob("shard-*")] == ["shard-000000.jsonl"]
    assert not list((run_dir / "samples.partial").glob(".*.tmp"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--task", "nope"], "unknown task 'nope'"),
        (["--skills", "verify,nope"], "unknown skill 'nope'"),
        (["--sampler", "nope"], "unknown sampler 'nope'"),
        (["--model", "/no/such/model"], "no such directory"),
        (["--variants", "whisper"], "no prompt variant 'whisper'"),
        (["--questions", "0"], "questions must be at least 1"),
        (["--top-p", "1.5"], "top_p must be above 0 and at most 1"),
        (["--sampler-option", "batch_size"], "takes KEY=VALUE"),
        (["--skills", ""], "choose the skills"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(scripted, micro_model, tmp_path, args, expected):
    result = invoke(scripted_args(tmp_path / "run", micro_model, *args))
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_directory_that_is_not_a_run_is_never_written_into(scripted, micro_model, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("…")
    result = invoke(scripted_args(precious, micro_model))
    assert result.exit_code == 2 and "not a run directory" in result.output
    assert [p.name for p in precious.iterdir()] == ["chapter1.tex"]


def test_print_config_reads_back_through_config_and_flags_win(scripted, micro_model, tmp_path):
    printed = invoke(scripted_args(tmp_path / "run", micro_model, "--print-config"))
    assert printed.exit_code == 0
    assert not (tmp_path / "run").exists()
    saved = tmp_path / "run.yaml"
    saved.write_text(printed.output)
    again = invoke(["run", "--config", str(saved), "--print-config"])
    assert again.output == printed.output

    toml = tmp_path / "run.toml"
    toml.write_text(
        'skills = ["verify"]\ntask = "parrot"\nsampler = "scripted"\nquestions = 2\n'
        f'model = "{micro_model}"\n[sampler_options]\n'
    )
    overridden = invoke(["run", "--config", str(toml), "--questions", "5", "--print-config"])
    assert overridden.exit_code == 0, overridden.output
    import yaml

    resolved = yaml.safe_load(overridden.output)
    assert resolved["questions"] == 5 and resolved["skills"] == ["verify"]
    assert resolved["variants"] == ["plain", "loud"] and resolved["sampler"] == "scripted"

    toml.write_text('skills = ["verify"]\nsamples_per_varaint = 3\n')
    wrong = invoke(["run", "--config", str(toml)])
    assert wrong.exit_code == 2 and "unknown setting 'samples_per_varaint'" in wrong.output


def test_the_command_lists_the_pipeline_stages():
    from skillfactory.pipeline.stages import STAGE_NAMES
    from skillfactory.run_command import STAGE_NAMES as LISTED

    assert LISTED == STAGE_NAMES
    assert STAGE_NAMES[:4] == _STAGES


_STAGES = ("problems", "samples", "reflections", "traces")


def test_a_real_run_on_the_micro_model_through_traces(micro_model, tmp_path):
    from datasets import load_from_disk

    run_dir = tmp_path / "run"
    result = invoke(
        [
            "run",
            "--skills",
            "verify,retry",
            "--model",
            str(micro_model),
            "--questions",
            "2",
            "--samples-per-variant",
            "2",
            "--reflections",
            "1",
            "--max-new-tokens",
            "40",
            "--reflection-max-new-tokens",
            "40",
            "--run-dir",
            str(run_dir),
            "--until",
            "traces",
        ]
    )
    assert result.exit_code == 0, result.output
    samples = load_from_disk(str(run_dir / "samples"))
    assert len(samples) == 2 * 4 * 2
    assert all(isinstance(text, str) for text in samples["completion"])
    assert all(row["reason"] for row in samples)
    assert all((row["score"] == 1.0) == row["correct"] for row in samples)
    reflections = load_from_disk(str(run_dir / "reflections"))
    assert [len(r) for r in reflections["reflections"]] == [1] * len(samples)
    traces = load_from_disk(str(run_dir / "traces"))
    assert set(traces.column_names) >= {"messages", "format", "question_id"}
    stages = json.loads((run_dir / STAGES_FILE).read_text())
    assert stages["traces"]["summary"]["questions"] == 2


def test_the_transformers_sampler_is_deterministic_for_a_seed(micro_model):
    from skillfactory.registry import get_registry
    from skillfactory.sampler import SamplingSettings

    sampler = get_registry().get("sampler", "transformers").create(str(micro_model), batch_size=4)
    prompts = [
        [{"role": "user", "content": f"Make {t} from the numbers 3, 5, 7."}] for t in (8, 15)
    ]
    settings = SamplingSettings(max_new_tokens=24, seed=7, top_k=0, repetition_penalty=1.0)
    first = sampler.sample(prompts, 3, settings)
    assert [len(texts) for texts in first] == [3, 3]
    assert sampler.sample(prompts, 3, settings) == first
    other = sampler.sample(prompts, 3, SamplingSettings(max_new_tokens=24, seed=8))
    assert other != first


def test_a_stop_string_ends_a_completion_and_is_kept():
    from skillfactory.models.generation import cut_at_stop

    assert cut_at_stop("a <answer>1</answer> more", ("</answer>",)) == "a <answer>1</answer>"
    assert cut_at_stop("x </verdict> y </answer>", ("</answer>", "</verdict>")) == "x </verdict>"
    assert cut_at_stop("nothing here", ("</answer>",)) == "nothing here"


def test_kill_9_in_the_middle_of_sampling_loses_and_duplicates_nothing(micro_model, tmp_path):
    """SIGKILL a real run mid-sampling, rerun it, and compare with an uninterrupted run."""
    args = [
        sys.executable, "-m", "skillfactory", "run", "--skills", "verify", "--until", "samples",
        "--model", str(micro_model), "--questions", "8", "--samples-per-variant", "2",
        "--shard-size", "1", "--max-new-tokens", "48",
    ]  # fmt: skip
    killed_dir, whole_dir = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    partial = killed_dir / "samples.partial"
    kill_9_when(
        [*args, "--run-dir", str(killed_dir)],
        lambda: len(list(partial.glob("shard-*.jsonl"))) >= 5,
    )
    shards_at_kill = len(list(partial.glob("shard-*.jsonl")))
    assert 5 <= shards_at_kill < 32, "the run must be killed in the middle of sampling"
    assert not (killed_dir / "samples").exists()

    subprocess.run([*args, "--run-dir", str(killed_dir)], env=env, check=True, capture_output=True)
    subprocess.run([*args, "--run-dir", str(whole_dir)], env=env, check=True, capture_output=True)

    from datasets import load_from_disk

    resumed = load_from_disk(str(killed_dir / "samples")).to_list()
    whole = load_from_disk(str(whole_dir / "samples")).to_list()
    keys = [(r["question_id"], r["variant"], r["sample"]) for r in resumed]
    assert len(keys) == len(set(keys)) == 8 * 4 * 2
    assert resumed == whole
    log = [json.loads(line)["event"] for line in (killed_dir / LOG_FILE).read_text().splitlines()]
    assert log.count("stage_started") >= 2 and log.count("stage_finished") == 2


def test_a_batch_that_runs_out_of_memory_is_split_and_nothing_is_lost(micro_model):
    """Generation halves the batch on out-of-memory until it fits, and returns every completion."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from skillfactory.models.generation import sample_completions
    from skillfactory.sampler import SamplingSettings

    model = AutoModelForCausalLM.from_pretrained(micro_model)
    tokenizer = AutoTokenizer.from_pretrained(micro_model)
    real_generate = model.generate
    sizes = []

    def generate_with_little_memory(**batch):
        sizes.append(batch["input_ids"].shape[0])
        if batch["input_ids"].shape[0] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (pretend)")
        return real_generate(**batch)

    model.generate = generate_with_little_memory
    prompts = [[{"role": "user", "content": f"Make {t} from 2, 3, 4."}] for t in range(5)]
    settings = SamplingSettings(max_new_tokens=8, temperature=0.0)
    completions = sample_completions(model, tokenizer, prompts, settings, n=2, batch_size=16)
    assert [len(texts) for texts in completions] == [2] * 5
    assert sizes[:3] == [10, 5, 2] and max(sizes[3:]) <= 2
    assert sum(sizes[2:]) == 10


def test_redoing_a_stage_unfinishes_every_stage_made_from_it(scripted, micro_model, tmp_path):
    run_dir = tmp_path / "run"
    assert invoke(scripted_args(run_dir, micro_model)).exit_code == 0
    redo = invoke(
        scripted_args(run_dir, micro_model, "--from", "reflections", "--until", "reflections")
    )
    assert redo.exit_code == 0, redo.output
    finished = json.loads((run_dir / STAGES_FILE).read_text())
    assert list(finished) == ["problems", "samples", "reflections"]  # traces came from the old ones
    again = invoke(scripted_args(run_dir, micro_model))
    assert events(run_dir)[-2:] == [("stage_started", "traces"), ("stage_finished", "traces")]
    assert again.exit_code == 0


def test_the_default_model_asks_countdown_in_its_own_range_unless_told_otherwise(fake_hub):
    """Numbers 1 to 20 for the default model; the task's range for any other; a flag wins."""
    from skillfactory.run_config import merge, resolve

    base = {"skills": ("verify", "retry")}
    default = resolve(merge({**base, "model": "default"}))
    assert default["task_options"] == {"max_number": 20}
    other = resolve(merge({**base, "model": "someorg/some-model"}))
    assert other["task_options"] == {}
    given = resolve(merge({**base, "model": "default", "task_options": {"max_number": 50}}))
    assert given["task_options"] == {"max_number": 50}
    words = resolve(merge({**base, "model": "default", "task": "letter_countdown"}))
    assert words["task_options"] == {}


HOSTILE = (
    " \ud800 lone, NUL \x00, escape \x1b[31m, bidi \u202e, BOM \ufeff, CR\r\n, \U0001d54f "
    + "z" * 2**20
)


def test_hostile_model_text_goes_through_every_data_stage_and_is_kept(
    scripted, micro_model, tmp_path, monkeypatch
):
    """A sampler's text is untrusted: lone surrogates, NUL, control characters, 1 MB each."""
    from datasets import load_from_disk

    hostile_file = tmp_path / "hostile.json"
    hostile_file.write_text(json.dumps(HOSTILE))  # ASCII escapes: an environment holds no NUL
    monkeypatch.setenv("SCRIPTED_HOSTILE", str(hostile_file))
    run_dir = tmp_path / "run"
    result = invoke(scripted_args(run_dir, micro_model))
    assert result.exit_code == 0, result.output
    samples = load_from_disk(str(run_dir / "samples"))
    kept = HOSTILE.replace("\ud800", "\\ud800")  # a lone surrogate stays, as its escape
    assert all(text.endswith(kept) for text in samples["completion"])
    reflections = load_from_disk(str(run_dir / "reflections"))
    assert all(r.endswith(kept) for rs in reflections["reflections"] for r in rs)
    traces = load_from_disk(str(run_dir / "traces"))
    assert len(traces) > 0
    assert all("\x00" in row["messages"][-1]["content"] for row in traces)


def test_a_model_that_never_reaches_a_verdict_stops_the_run_at_reflections(
    scripted, micro_model, tmp_path, monkeypatch
):
    """Not minutes later at SFT with "no traces": here, saying why, its reflections kept."""
    from datasets import load_from_disk

    monkeypatch.setenv("SCRIPTED_NO_VERDICT", "1")
    run_dir = tmp_path / "run"
    data_only = invoke(scripted_args(tmp_path / "data-only", micro_model))  # --until traces
    assert data_only.exit_code == 0, data_only.output
    assert "warning: none of the 24 reflections reached a single verdict" in data_only.output
    result = invoke([*scripted_args(run_dir, micro_model), "--until", "sft"])
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "none of the 24 reflections reached a single verdict" in line
    assert " need" in line and "--reflection-max-new-tokens" in line
    assert len(load_from_disk(str(run_dir / "reflections"))) == 18
    assert events(run_dir)[-1] == ("stage_failed", "reflections")


def test_a_setting_is_checked_only_where_a_selected_stage_uses_it(tmp_path):
    """``--until problems`` needs no model, so a model that cannot load is no reason to stop."""
    args = ["run", "--skills", "verify", "--model", "no/such-model-dir/", "--questions", "2"]
    early = invoke([*args, "--until", "problems", "--run-dir", str(tmp_path / "early")])
    assert early.exit_code == 0, early.output
    later = CliRunner().invoke(cli, [*args, "--until", "samples", "--run-dir", str(tmp_path / "l")])
    assert later.exit_code == 2 and "no such directory" in later.output
