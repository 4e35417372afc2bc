"""The sft and grpo trainers, for real on the micro model, and the run's training stages.

Every test here trains: a few steps of TRL's SFTTrainer or GRPOTrainer on the
micro build of the default model, through the trainer plugins as installed
(entry points), and checks what only a real run shows: which tokens carry loss,
that the loss falls, that rewards are the verifier's scores, that an interrupted
training resumes, and that the run's stages skip and redo as they should.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillfactory.cli import cli
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.errors import UsageError
from skillfactory.registry import get_registry
from skillfactory.run_store import LOG_FILE

pytest.importorskip("trl")


def trace(number: int, *, attempts: int = 2) -> list[dict[str, str]]:
    """A small trace in the paper's shape: wrong attempts, then a right one, each checked."""
    parts = ["<think>"]
    for index in range(attempts):
        right = index == attempts - 1
        answer = number + 3 if right else number + 4 + index
        verdict = "Correct" if right else "Incorrect"
        parts += [
            f"<sample>\n{number} + 3 = {answer}\n<answer>{answer}</answer>\n</sample>",
            f"<reflect>\n{number} + 3 is {number + 3}.\n<verdict>{verdict}</verdict>\n</reflect>",
        ]
    parts += ["</think>", f"<answer>{number + 3}</answer>"]
    return [
        {"role": "user", "content": f"What is {number} + 3?"},
        {"role": "assistant", "content": "\n".join(parts)},
    ]


def traces(count: int = 8, **kwargs):
    from datasets import Dataset

    return Dataset.from_dict({"messages": [trace(n, **kwargs) for n in range(10, 10 + count)]})


def sft(**options):
    return get_registry().get("trainer", "sft").create(**options)


def grpo(**options):
    small = {
        "max_steps": 2,
        "num_generations": 2,
        "per_device_train_batch_size": 4,
        "max_completion_length": 12,
        "learning_rate": 1e-4,
        "save_steps": 100,
    }
    return get_registry().get("trainer", "grpo").create(**{**small, **options})


def labelled_text(trainer, row) -> str:
    """The tokens of a training example that carry loss, decoded."""
    tokens = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
    return trainer.processing_class.decode(tokens)


def test_sft_learns_only_the_reply_and_its_loss_falls(micro_model, tmp_path):
    from transformers import AutoModelForCausalLM

    data = traces()
    trainer, facts = sft(max_length=512).prepare(str(micro_model), data, tmp_path / "probe")
    assert facts["loss_on"] == "assistant tokens (chat template marks)"
    for row, messages in zip(trainer.train_dataset, data["messages"], strict=True):
        learned = labelled_text(trainer, row)
        assert learned.startswith(messages[-1]["content"])
        assert "What is" not in learned  # the question never carries loss

    output = tmp_path / "sft"
    written = sft(
        learning_rate=3e-3,
        num_train_epochs=6,
        per_device_train_batch_size=4,
        max_length=512,
        lr_scheduler_type="constant",
    ).train(str(micro_model), data, output)
    curve = [
        entry["loss"]
        for entry in json.loads((output / "curve.json").read_text())
        if "loss" in entry
    ]
    assert len(curve) == 12
    assert sum(curve[-3:]) / 3 < sum(curve[:3]) / 3 - 0.8  # a clear fall, not noise
    record = json.loads((output / "training.json").read_text())
    assert record["steps"] == 12 and record["traces_used"] == 8 and record["resumed"] is False
    assert record["settings"]["learning_rate"] == 3e-3
    assert not (output / "checkpoints").exists()
    AutoModelForCausalLM.from_pretrained(written)  # a standard model directory


def test_without_generation_marks_the_prompt_is_masked_instead(micro_model, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(micro_model, plain)
    template = plain / "chat_template.jinja"
    text = template.read_text()
    assert "{% generation %}" in text
    template.write_text(text.replace("{% generation %}", "").replace("{% endgeneration %}", ""))
    data = traces(3)
    trainer, facts = sft(max_length=512).prepare(str(plain), data, tmp_path / "probe")
    assert facts["loss_on"] == "completion"
    for row, messages in zip(trainer.train_dataset, data["messages"], strict=True):
        learned = labelled_text(trainer, row)
        assert learned.startswith(messages[-1]["content"]) and "What is" not in learned


def test_a_model_without_a_chat_template_is_one_clear_error(micro_model, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(micro_model, bare)
    (bare / "chat_template.jinja").unlink()
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(UsageError, match=r"no chat template.*chat_template"):
        sft().train(str(bare), traces(2), tmp_path / "out")


def test_empty_and_too_long_trace_sets(micro_model, tmp_path):
    from datasets import Dataset

    with pytest.raises(UsageError, match="no traces to train on"):
        sft().train(str(micro_model), Dataset.from_dict({"messages": []}), tmp_path / "a")
    mixed = Dataset.from_dict({"messages": [trace(1, attempts=1), trace(2, attempts=6)]})
    _, facts = sft(max_length=120).prepare(str(micro_model), mixed, tmp_path / "b")
    assert facts["traces_used"] == 1 and facts["traces_dropped_too_long"] == 1
    with pytest.raises(UsageError, match="raise max_length"):
        sft(max_length=20).prepare(str(micro_model), mixed, tmp_path / "c")


def test_an_interrupted_training_resumes_from_its_last_checkpoint(micro_model, tmp_path):
    data_dir = tmp_path / "traces"
    traces(16).save_to_disk(str(data_dir))
    output = tmp_path / "out"
    command = [
        sys.executable, "-m", "skillfactory", "train", "sft", "--model", str(micro_model),
        "--data", str(data_dir), "--output", str(output), "-O", "num_train_epochs=10",
        "-O", "save_steps=4", "-O", "max_length=512", "-O", "learning_rate=1e-3",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = output / "checkpoints"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(
        checkpoints.glob("checkpoint-*/trainer_state.json")
    ):
        time.sleep(0.05)
    time.sleep(0.5)  # let the checkpoint finish writing its last file
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list(checkpoints.glob("checkpoint-*")), "the training must be killed after a checkpoint"
    assert not (output / "training.json").exists(), "and before it finished"

    finished = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    assert finished.returncode == 0, finished.stderr[-2000:]
    record = json.loads((output / "training.json").read_text())
    assert record["resumed"] is True
    assert record["steps"] == 10 * 16  # batch 1: one step per trace and epoch


def test_grpo_rewards_are_the_verifiers_scores(
    micro_model, tmp_path, make_distribution, monkeypatch
):
    from datasets import Dataset

    make_distribution(
        "skillfactory-fixed", plugins={"fixed": "sf_test_fixed"}, modules={"sf_test_fixed": FIXED}
    )
    monkeypatch.setenv(PLUGINS_ENV, "fixed,countdown,grpo")
    from skillfactory.pipeline.problems import problem_row

    for name, expected in (("always", 1.0), ("never", 0.0)):
        task = get_registry().get("task", name).create()
        rows = [problem_row(p) for p in task.generate(6, difficulty=1, seed=0)]
        output = tmp_path / name
        grpo().train(str(micro_model), Dataset.from_list(rows), output)
        logged = [e for e in json.loads((output / "curve.json").read_text()) if "reward" in e]
        assert len(logged) == 2
        assert all(
            e["reward"] == expected and e["rewards/accuracy/mean"] == expected for e in logged
        )

    countdown = get_registry().get("task", "countdown").create()
    problems = {p.id: p for p in countdown.generate(4, difficulty=3, seed=0)}
    output = tmp_path / "countdown"
    rows = [problem_row(p) for p in problems.values()]
    grpo(max_completion_length=24).train(str(micro_model), Dataset.from_list(rows), output)
    samples = [json.loads(line) for line in (output / "completions.jsonl").read_text().splitlines()]
    assert samples
    for sample in samples:
        problem = problems[sample["problem_id"]]
        score = countdown.score(problem, countdown.extract_answer(sample["completion"]))
        assert sample["reward"] == score.value
    record = json.loads((output / "training.json").read_text())
    assert record["steps"] == 2 and record["settings"]["beta"] == 0.0


FIXED = """
    from skillfactory import Problem, Score, Task, hookimpl


    class Fixed(Task):
        variants = ("plain",)
        difficulties = (1,)
        verdict = 1.0

        def generate(self, count, *, difficulty, seed):
            return [
                Problem(f"{self.name}-{seed}-{i}", self.name, 1, f"Say {i}.", str(i), {})
                for i in range(count)
            ]

        def prompt(self, problem, variant):
            return [{"role": "user", "content": problem.question}]

        def extract_answer(self, completion):
            return completion

        def score(self, problem, answer):
            return Score(self.verdict, "fixed")


    class Always(Fixed):
        name = "always"
        description = "Every answer is right."


    class Never(Fixed):
        name = "never"
        description = "Every answer is wrong."
        verdict = 0.0


    @hookimpl
    def register_tasks(register):
        register(Always)
        register(Never)
"""


def test_grpo_asks_each_question_through_the_model_s_chat_template(micro_model, tmp_path):
    """TRL templates only conversational prompts; a bare string would reach the model as
    a document to continue, not as the user's question that sampling and eval ask."""
    import contextlib

    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl.data_utils import maybe_apply_chat_template

    from skillfactory.pipeline.problems import problem_row
    from skillfactory.plugins.grpo_trainer import _prompts_and_rewards

    countdown = get_registry().get("task", "countdown").create()
    problem = countdown.generate(1, difficulty=3, seed=0)[0]
    tokenizer = AutoTokenizer.from_pretrained(micro_model)
    with contextlib.ExitStack() as stack:
        prompts, _ = _prompts_and_rewards(
            Dataset.from_list([problem_row(problem)]), {}, None, tmp_path, stack
        )
    asked = countdown.prompt(problem, countdown.resolve_variant(None))
    assert maybe_apply_chat_template(prompts[0], tokenizer)["prompt"] == (
        tokenizer.apply_chat_template(asked, tokenize=False, add_generation_prompt=True)
    )


def test_grpo_refuses_batches_that_split_a_question_s_completions():
    with pytest.raises(UsageError, match="multiple of num_generations"):
        grpo(num_generations=3, per_device_train_batch_size=4)


RUN_TRAINING = [
    "--sft-epochs", "1", "--sft-batch-size", "2", "--sft-max-length", "512",
    "--grpo-steps", "2", "--grpo-questions", "4", "--grpo-generations", "2",
    "--grpo-batch-size", "4", "--grpo-max-completion-length", "12",
]  # fmt: skip


def test_the_run_trains_through_grpo_then_skips_and_redoes_from(
    scripted_echo, micro_model, tmp_path
):
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM

    run_dir = tmp_path / "run"
    args = [
        "run", "--skills", "verify,retry", "--task", "echo", "--sampler", "scripted",
        "--model", str(micro_model), "--questions", "4", "--samples-per-variant", "3",
        "--reflections", "2", "--run-dir", str(run_dir), "--until", "grpo", *RUN_TRAINING,
    ]  # fmt: skip
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "GRPO (reward from the verifier)" in first.output
    # Not a terminal: progress comes as plain lines, first and last of each stage at least.
    for what in ("sampling attempts", "reflecting", "SFT steps", "GRPO steps"):
        assert f"  {what}: 0/" in first.output or f"  {what}: 1/" in first.output, what
        assert re.search(rf"  {what}: [\d,]+/[\d,]+ done in \d", first.output), what
    for stage in ("sft", "grpo"):
        AutoModelForCausalLM.from_pretrained(run_dir / stage)
    assert len(load_from_disk(str(run_dir / "rl_problems"))) == 4
    stages = json.loads((run_dir / "stages.json").read_text())
    assert stages["sft"]["summary"]["traces_used"] == len(load_from_disk(str(run_dir / "traces")))
    assert [entry["step"] for entry in stages["grpo"]["summary"]["log"]] == [1, 2]
    grpo_settings = json.loads((run_dir / "grpo" / "training.json").read_text())["settings"]
    assert (grpo_settings["top_p"], grpo_settings["top_k"]) == (0.8, 20)  # the run's sampling

    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0
    assert _events(run_dir)[-6:] == [("stage_skipped", s) for s in _ALL]

    redo = CliRunner().invoke(cli, [*args, "--from", "grpo"], catch_exceptions=False)
    assert redo.exit_code == 0
    assert _events(run_dir)[-7:] == [
        *[("stage_skipped", s) for s in _ALL[:5]],
        ("stage_started", "grpo"),
        ("stage_finished", "grpo"),
    ]

    refused = CliRunner().invoke(cli, [*args, "--grpo-steps", "3"], catch_exceptions=False)
    assert refused.exit_code == 2 and "grpo_steps: 2 → 3" in refused.output


_ALL = ("problems", "samples", "reflections", "traces", "sft", "grpo")


def _events(run_dir: Path) -> list[tuple[str, str]]:
    rows = map(json.loads, (run_dir / LOG_FILE).read_text().splitlines())
    return [(row["event"], row["stage"]) for row in rows if "stage" in row]


ECHO = """
    from skillfactory import Problem, Sampler, Score, Task, hookimpl
    from skillfactory.answers import extract_answer_block


    class Echo(Task):
        name = "echo"
        description = "Repeat the word the question names."
        variants = ("plain", "loud")
        difficulties = (1,)

        def generate(self, count, *, difficulty, seed):
            return [
                Problem(f"echo-{seed}-{i}", self.name, 1, f"Say: w{seed}x{i}", f"w{seed}x{i}", {})
                for i in range(count)
            ]

        def prompt(self, problem, variant):
            return [{"role": "user", "content": f"[{variant}] {problem.question}"}]

        def extract_answer(self, completion):
            return extract_answer_block(completion)

        def score(self, problem, answer):
            return Score(1.0 if answer == problem.answer else 0.0, "checked")


    class Scripted(Sampler):
        name = "scripted"
        description = "Right, then wrong attempts; reflections that agree."

        def sample(self, prompts, n, settings):
            return [[self._one(p[-1]["content"], i) for i in range(n)] for p in prompts]

        def _one(self, text, i):
            word = text.split("Say: ")[1].split()[0]
            if text.startswith("Check this response"):
                right = f"<answer>{word}</answer>" in text
                return f"Checked. <verdict>{'Correct' if right else 'Incorrect'}</verdict>"
            return f"<answer>{word}</answer>" if i == 0 else "<answer>no</answer>"


    @hookimpl
    def register_tasks(register):
        register(Echo)


    @hookimpl
    def register_samplers(register):
        register(Scripted)
"""


@pytest.fixture
def scripted_echo(make_distribution, monkeypatch) -> None:
    make_distribution(
        "skillfactory-echo-task", plugins={"echo_task": "sf_test_echo_task"},
        modules={"sf_test_echo_task": ECHO},
    )  # fmt: skip
    monkeypatch.setenv(PLUGINS_ENV, "echo_task,verify,retry,transformers,sft,grpo")


def test_train_command_checks_its_input(micro_model, tmp_path):
    runner = CliRunner()
    exporter = runner.invoke(cli, ["train", "llamafactory", "--data", "x", "--output", "y"])
    assert exporter.exit_code == 2 and "skillfactory export llamafactory" in exporter.output
    missing = runner.invoke(
        cli, ["train", "sft", "--model", str(micro_model), "--data", str(tmp_path / "none"),
              "--output", str(tmp_path / "o")],
    )  # fmt: skip
    assert missing.exit_code == 2 and "does not exist" in missing.output
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    data = tmp_path / "t"
    traces(2).save_to_disk(str(data))
    refused = runner.invoke(
        cli, ["train", "sft", "--model", str(micro_model), "--data", str(data),
              "--output", str(precious)],
    )  # fmt: skip
    assert refused.exit_code == 2 and "holds no training of ours" in refused.output
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]
    bad = runner.invoke(cli, ["train", "sft", "--data", str(data), "--output", "o", "-O", "lr"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


def test_train_command_names_a_line_that_is_not_utf8_and_trains_on_a_lone_surrogate(
    micro_model, tmp_path
):
    rows = [json.loads(json.dumps(row)) for row in traces(2)]
    rows[0]["messages"][-1]["content"] += " \ud800"
    data = tmp_path / "t.jsonl"
    data.write_bytes(b"\n".join(json.dumps(row).encode() for row in rows) + b"\n")
    base = ["train", "sft", "--model", str(micro_model), "-O", "num_train_epochs=1"]

    trained = CliRunner().invoke(cli, [*base, "--data", str(data), "--output", str(tmp_path / "a")])
    assert trained.exit_code == 0, trained.output

    data.write_bytes(data.read_bytes() + b'{"messages": "\xff"}\n')
    refused = CliRunner().invoke(cli, [*base, "--data", str(data), "--output", str(tmp_path / "b")])
    assert refused.exit_code == 2
    assert "line 3: not valid UTF-8 (byte 0xff at column 15)" in refused.output


def test_train_command_reads_a_dataset_saved_with_splits(micro_model, tmp_path):
    from datasets import DatasetDict

    runner = CliRunner()
    base = ["train", "sft", "--model", str(micro_model), "-O", "num_train_epochs=1"]
    one = tmp_path / "one"
    DatasetDict({"train": traces(2)}).save_to_disk(str(one))
    trained = runner.invoke(cli, [*base, "--data", str(one), "--output", str(tmp_path / "a")])
    assert trained.exit_code == 0, trained.output
    assert json.loads((tmp_path / "a" / "training.json").read_text())["traces"] == 2

    several = tmp_path / "several"
    DatasetDict({"train": traces(3), "test": traces(1)}).save_to_disk(str(several))
    refused = runner.invoke(cli, [*base, "--data", str(several), "--output", str(tmp_path / "b")])
    assert refused.exit_code == 2
    assert "holds the splits train, test; choose one with --split NAME" in refused.output
    chosen = runner.invoke(
        cli, [*base, "--data", str(several), "--split", "test", "--output", str(tmp_path / "c")]
    )
    assert chosen.exit_code == 0, chosen.output
    assert json.loads((tmp_path / "c" / "training.json").read_text())["traces"] == 1


def test_train_command_trains_problems_from_jsonl(micro_model, tmp_path):
    runner = CliRunner()
    problems = runner.invoke(cli, ["problems", "countdown", "--count", "4"])
    (tmp_path / "p.jsonl").write_text(problems.output)
    result = runner.invoke(
        cli,
        [
            "train", "grpo", "--model", str(micro_model), "--data", str(tmp_path / "p.jsonl"),
            "--output", str(tmp_path / "g"), "-O", "max_steps=1", "-O", "num_generations=2",
            "-O", "per_device_train_batch_size=4", "-O", "max_completion_length=8",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Trained with grpo" in result.output
    assert json.loads((tmp_path / "g" / "training.json").read_text())["problems"] == 4


def test_out_of_memory_in_training_is_one_line_naming_the_setting_to_lower():
    import torch

    from skillfactory.errors import SkillFactoryError
    from skillfactory.training import out_of_memory_as_one_line

    with pytest.raises(SkillFactoryError) as caught, out_of_memory_as_one_line("max_length"):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    message = str(caught.value)
    assert "\n" not in message and "lower max_length" in message and "resumes" in message
