"""The llamafactory and verl exporters, through the real registry, entry points and CLI."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from skillfactory import Attempt, InMemoryTexts, Problem, Question, UsageError
from skillfactory.cli import cli
from skillfactory.composer import compose
from skillfactory.export_command import export_command
from skillfactory.pipeline.rl_problems import held_out_ids
from skillfactory.plugins.retry import Retry
from skillfactory.plugins.verify import Verify
from skillfactory.registry import get_registry
from skillfactory.task_commands import parse_options
from skillfactory.trace_output import save_quietly, trace_features, write_traces

VERL_COLUMNS = ["data_source", "prompt", "ability", "reward_model", "extra_info"]

MODEL_TRAINER = """
    from skillfactory import Trainer, hookimpl


    class FakeSFT(Trainer):
        name = "fake-sft"
        description = "Trains a model (in name only)."

        def train(self, model, dataset, output_dir):
            raise AssertionError("an export never trains")


    @hookimpl
    def register_trainers(register):
        register(FakeSFT)
"""


# Fixtures ---------------------------------------------------------------------------------


def arithmetic_question(number: int) -> Question:
    texts = [f"Try {i}: 3 + {i} = {3 + i}. <answer>{3 + i}</answer>" for i in range(4)]
    reflections = [
        f"Checking {3 + i}. <verdict>{'Correct' if i == 2 else 'Incorrect'}</verdict>"
        for i in range(4)
    ]
    attempts = tuple(Attempt(i, i == 2, str(3 + i), "original", i) for i in range(4))
    prompt = [{"role": "user", "content": f"What is 3 + 2? (version {number})"}]
    return Question(f"q{number}", prompt, attempts, InMemoryTexts(texts, reflections))


def write_config(run_dir: Path, **changes) -> None:
    config = {
        "skills": ["verify", "retry"],
        "task": "countdown",
        "task_options": {},
        "difficulty": 3,
        "questions": 8,
        "seed": 0,
        "model": "default",
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory as `skillfactory run` leaves it, made by hand: config and traces."""
    directory = tmp_path / "run"
    write_config(directory)
    traces, _ = compose([arithmetic_question(n) for n in range(3)], [Verify(), Retry()], seed=0)
    write_traces(traces, directory)
    return directory


@pytest.fixture
def invoke():
    """Run the real `skillfactory` CLI (adding `export` if cli.py does not register it yet)."""
    runner = CliRunner(env={"COLUMNS": "200"})

    def run(*args: str):
        with pytest.MonkeyPatch.context() as patch:
            if "export" not in cli.commands:
                patch.setitem(cli.commands, "export", export_command)
            return runner.invoke(cli, ["export", *map(str, args)])

    return run


def assert_one_line_error(result, text: str, exit_code: int = 2) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert text in result.stderr, result.stderr


def model_dir(
    path: Path, *, model_type: str, positions: int, chat_template: str | None = None
) -> Path:
    """A model directory as the export reads it: config.json and, if given, a chat template."""
    path.mkdir(parents=True)
    config = {"model_type": model_type, "max_position_embeddings": positions}
    (path / "config.json").write_text(json.dumps(config))
    if chat_template is not None:
        (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": chat_template}))
    return path


def shipped_positions() -> int:
    """The default model's positions, read from its shipped config.json."""
    from skillfactory.models.shipped import shipped_model_dir

    return json.loads((shipped_model_dir() / "config.json").read_text())["max_position_embeddings"]


def script_overrides(script: str) -> dict[str, str]:
    """The ``key=value`` arguments run_grpo.sh hands to verl's main_ppo."""
    launch = script.split("python3 -m verl.trainer.main_ppo", 1)[1]
    return dict(re.findall(r"^\s+([A-Za-z_][\w.]*)=(.*?) \\$", launch, flags=re.M))


def python_shim(directory: Path, *, isolated: bool = False) -> Path:
    """A ``python3`` for run_grpo.sh: this interpreter, but ``-m MODULE`` prints its arguments.

    ``isolated`` runs it without site-packages, so skillfactory cannot be imported.
    """
    directory.mkdir(parents=True, exist_ok=True)
    flags = " -I -S" if isolated else ""
    shim = directory / "python3"
    shim.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ]; then printf "%s\\n" "$@"; exit 0; fi\n'
        f'exec {shlex.quote(sys.executable)}{flags} "$@"\n'
    )
    shim.chmod(0o755)
    return directory


def fake_verl(directory: Path, version: str) -> Path:
    """A folder for PYTHONPATH in which verl ``version`` looks installed (its metadata only)."""
    info = directory / f"verl-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: verl\nVersion: {version}\n")
    return directory


def run_script(script: Path, shim_dir: Path, *args: str, **env: str):
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        cwd=shim_dir,
        env={"PATH": f"{shim_dir}:/usr/bin:/bin", "HOME": str(shim_dir), **env},
    )


def load_reward(directory: Path):
    path = directory / "skillfactory_reward.py"
    spec = importlib.util.spec_from_file_location("skillfactory_reward_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Registration ------------------------------------------------------------------------------


def test_both_exporters_come_from_the_projects_entry_points_and_write_files():
    registry = get_registry()
    llamafactory = registry.get("trainer", "llamafactory")
    verl = registry.get("trainer", "verl")

    assert (llamafactory.plugin, verl.plugin) == ("llamafactory", "verl")
    assert llamafactory.distribution == verl.distribution == "skillfactory"
    assert llamafactory.factory.produces == verl.factory.produces == "files"
    assert (llamafactory.factory.data, verl.factory.data) == ("traces", "problems")
    with pytest.raises(UsageError, match="cannot take these options"):
        llamafactory.create(dataset_nam="typo")
    with pytest.raises(UsageError, match="test_size"):
        verl.create(test_size=1.5)


# LLaMA-Factory -----------------------------------------------------------------------------


def test_llamafactory_export_is_sharegpt_with_its_dataset_info_and_the_papers_sft_config(
    run_dir: Path, tmp_path: Path, invoke
):
    from datasets import load_from_disk

    out = tmp_path / "lf"
    result = invoke("llamafactory", run_dir, "--output", out)

    assert result.exit_code == 0, result.output
    assert f"to {out}:" in result.stdout
    for name in ("skillfactory_traces.json", "dataset_info.json", "sft_skillfactory.yaml"):
        assert str(out / name) in result.stdout

    traces = load_from_disk(str(run_dir / "traces"))
    records = json.loads((out / "skillfactory_traces.json").read_text())
    assert len(records) == len(traces) == 3
    for record, trace in zip(records, traces, strict=True):
        assert set(record) == {"conversations"}  # these traces have no system message
        turns = record["conversations"]
        assert [turn["from"] for turn in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert all(set(turn) == {"from", "value"} for turn in turns)
        assert [turn["value"] for turn in turns] == [m["content"] for m in trace["messages"]]

    info = json.loads((out / "dataset_info.json").read_text())
    assert info == {
        "skillfactory_traces": {
            "file_name": "skillfactory_traces.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
            },
        }
    }

    config = yaml.safe_load((out / "sft_skillfactory.yaml").read_text())
    assert config["model_name_or_path"] == "default"  # the run's model, as given
    assert config["stage"] == "sft" and config["do_train"] is True
    assert config["finetuning_type"] == "full"
    assert config["learning_rate"] == pytest.approx(1e-6)
    assert config["lr_scheduler_type"] == "cosine"
    assert config["num_train_epochs"] == 2
    assert config["cutoff_len"] == min(4096, shipped_positions())  # the default model's
    assert config["per_device_train_batch_size"] == 1
    assert config["bf16"] is False  # an option: the paper's GPU setting
    assert config["warmup_steps"] == pytest.approx(0.05)  # below 1: a share of the steps
    assert config["dataset"] == "skillfactory_traces"
    assert Path(config["dataset_dir"]) == out.resolve()
    assert (Path(config["dataset_dir"]) / info[config["dataset"]]["file_name"]).is_file()
    assert config["template"] == "chatml"  # the default model speaks ChatML
    assert config["output_dir"]


def test_llamafactory_keeps_system_prompts_other_entries_and_takes_its_options(
    tmp_path: Path, invoke
):
    run_dir = tmp_path / "run"
    write_config(run_dir)
    rows = [
        {
            "question_id": "with-system",
            "messages": [
                {"role": "system", "content": "Answer in <answer> tags."},
                {"role": "user", "content": "Make 6 from 2, 3."},
                {"role": "assistant", "content": "<think>2*3</think> <answer>2 * 3</answer>"},
            ],
            "format": "1C",
            "skills": ["verify"],
            "attempts": 1,
            "reflections": 1,
        },
        {
            "question_id": "plain",
            "messages": [
                {"role": "user", "content": "Make 5 from 2, 3."},
                {"role": "assistant", "content": "<answer>2 + 3</answer>"},
            ],
            "format": "1C",
            "skills": ["verify"],
            "attempts": 1,
            "reflections": 1,
        },
    ]
    from datasets import Dataset

    features = trace_features()
    columns = {name: [row[name] for row in rows] for name in features}
    save_quietly(Dataset.from_dict(columns, features=features), run_dir / "traces")
    out = tmp_path / "LLaMA-Factory" / "data"
    out.mkdir(parents=True)
    (out / "dataset_info.json").write_text(json.dumps({"identity": {"file_name": "id.json"}}))

    result = invoke(
        "llamafactory",
        run_dir,
        "--output",
        out,
        "--model",
        "/models/Qwen2.5-1.5B-Instruct",
        "--option",
        "dataset_name=cd3_traces",
        "--option",
        "template=qwen3_nothink",
    )

    assert result.exit_code == 0, result.output
    records = json.loads((out / "cd3_traces.json").read_text())
    assert records[0] == {
        "conversations": [
            {"from": "human", "value": "Make 6 from 2, 3."},
            {"from": "gpt", "value": "<think>2*3</think> <answer>2 * 3</answer>"},
        ],
        "system": "Answer in <answer> tags.",
    }
    assert "system" not in records[1]
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["identity"] == {"file_name": "id.json"}
    assert info["cd3_traces"]["columns"] == {"messages": "conversations", "system": "system"}
    config = yaml.safe_load((out / "sft_skillfactory.yaml").read_text())
    assert config["model_name_or_path"] == "/models/Qwen2.5-1.5B-Instruct"
    assert (config["dataset"], config["template"]) == ("cd3_traces", "qwen3_nothink")


def test_llamafactory_refuses_empty_and_malformed_traces(tmp_path: Path):
    from datasets import Dataset

    exporter = get_registry().get("trainer", "llamafactory").create(template="chatml")
    empty = Dataset.from_dict({name: [] for name in trace_features()}, features=trace_features())
    with pytest.raises(UsageError, match="no traces") as caught:
        exporter.train("m", empty, tmp_path / "a")
    assert "\n" not in str(caught.value)

    user_only = [{"question_id": "q", "messages": [{"role": "user", "content": "hi"}]}]
    with pytest.raises(UsageError, match="'q' must end with an assistant turn"):
        exporter.train("m", user_only, tmp_path / "b")


# LLaMA-Factory: settings from the model, the machine and the engine version -----------------

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>\\n' }}{% endfor %}"
)
"""A ChatML chat template, as a model directory's tokenizer_config.json holds it."""

DEPRECATED_SFT_KEYS = {
    "warmup_ratio": "transformers 5 deprecates it: warmup_steps below 1 is the share",
    "overwrite_output_dir": "transformers 5 removed it; LLaMA-Factory 0.9.5 marks it deprecated",
}


def sft_config(directory: Path) -> dict:
    return yaml.safe_load((directory / "sft_skillfactory.yaml").read_text())


@pytest.mark.parametrize(
    ("model", "template"),
    [
        ("default", "chatml"),
        ("rebuilt", "chatml"),
        ("smollm2", "chatml"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "chatml"),
        ("Qwen/Qwen2.5-1.5B-Instruct", "qwen"),
    ],
)
def test_llamafactory_template_is_the_one_the_model_speaks(
    run_dir: Path, tmp_path: Path, invoke, model: str, template: str
):
    out = tmp_path / "lf"
    result = invoke("llamafactory", run_dir, "--output", out, "--model", model)

    assert result.exit_code == 0, result.output
    assert sft_config(out)["template"] == template


def test_llamafactory_reads_the_template_and_positions_from_a_model_directory(
    run_dir: Path, tmp_path: Path, invoke
):
    tiny = model_dir(tmp_path / "tiny", model_type="llama", positions=2048, chat_template=CHATML)
    paper = model_dir(tmp_path / "paper", model_type="qwen2", positions=32768, chat_template=CHATML)

    for model, template, cutoff in ((tiny, "chatml", 2048), (paper, "qwen", 4096)):
        out = tmp_path / f"lf-{model.name}"
        result = invoke("llamafactory", run_dir, "--output", out, "--model", model)
        assert result.exit_code == 0, result.output
        config = sft_config(out)
        assert (config["template"], config["cutoff_len"]) == (template, cutoff)


def test_llamafactory_asks_for_the_template_of_a_model_it_cannot_tell(
    run_dir: Path, tmp_path: Path, invoke
):
    out = tmp_path / "lf"
    llama3 = "meta-llama/Llama-3.1-8B-Instruct"
    qwen3 = model_dir(tmp_path / "qwen3", model_type="qwen3", positions=40960, chat_template=CHATML)
    for model in (llama3, qwen3):
        result = invoke("llamafactory", run_dir, "--output", out, "--model", model)
        assert_one_line_error(result, "--option template=")
    assert not out.exists()

    result = invoke(
        "llamafactory", run_dir, "--output", out, "--model", llama3, "--option", "template=llama3"
    )
    assert result.exit_code == 0, result.output
    config = sft_config(out)
    assert (config["template"], config["cutoff_len"]) == ("llama3", 4096)  # positions unknown
    assert "not checked against the model" in (out / "sft_skillfactory.yaml").read_text()


def test_chatml_is_how_the_default_model_renders_a_trace(run_dir: Path):
    """LLaMA-Factory 0.9.5's ``chatml`` (data/template.py) gives the default model's own text."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    from skillfactory.models.shipped import shipped_model_dir

    tokenizer = AutoTokenizer.from_pretrained(str(shipped_model_dir()))
    slots = {
        "system": "<|im_start|>system\n{}<|im_end|>\n",
        "user": "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
        "assistant": "{}<|im_end|>\n",
    }
    for trace in load_from_disk(str(run_dir / "traces")):
        messages = trace["messages"]
        expected = "".join(slots[m["role"]].format(m["content"]) for m in messages)
        assert tokenizer.apply_chat_template(messages, tokenize=False) == expected


def test_bf16_is_an_option_for_the_papers_gpu_setting(run_dir: Path, tmp_path: Path, invoke):
    assert invoke("llamafactory", run_dir, "--output", tmp_path / "cpu").exit_code == 0
    assert sft_config(tmp_path / "cpu")["bf16"] is False

    result = invoke("llamafactory", run_dir, "--output", tmp_path / "gpu", "--option", "bf16=true")
    assert result.exit_code == 0, result.output
    assert sft_config(tmp_path / "gpu")["bf16"] is True

    bad = invoke("llamafactory", run_dir, "--output", tmp_path / "x", "--option", "bf16=yes")
    assert_one_line_error(bad, "bf16 must be true or false")


def test_preprocessing_workers_come_from_this_machine(
    run_dir: Path, tmp_path: Path, invoke, monkeypatch
):
    from skillfactory.plugins import llamafactory_export

    monkeypatch.setattr(llamafactory_export, "usable_cpus", lambda: 2)
    assert invoke("llamafactory", run_dir, "--output", tmp_path / "small").exit_code == 0
    assert sft_config(tmp_path / "small")["preprocessing_num_workers"] == 2

    monkeypatch.setattr(llamafactory_export, "usable_cpus", lambda: 64)
    assert invoke("llamafactory", run_dir, "--output", tmp_path / "big").exit_code == 0
    assert sft_config(tmp_path / "big")["preprocessing_num_workers"] == 3  # one per trace


def test_the_sft_config_has_no_deprecated_keys(run_dir: Path, tmp_path: Path, invoke):
    assert invoke("llamafactory", run_dir, "--output", tmp_path / "lf").exit_code == 0
    config = sft_config(tmp_path / "lf")

    assert not set(config) & set(DEPRECATED_SFT_KEYS)
    assert config["warmup_steps"] == pytest.approx(0.05)


def test_each_export_names_the_engine_version_it_was_checked_against(
    run_dir: Path, tmp_path: Path, invoke
):
    assert invoke("llamafactory", run_dir, "--output", tmp_path / "lf").exit_code == 0
    assert "LLaMA-Factory 0.9.5" in (tmp_path / "lf" / "sft_skillfactory.yaml").read_text()
    assert invoke("verl", run_dir, "--output", tmp_path / "rl", "--questions", 12).exit_code == 0
    assert "verl 0.9.1" in (tmp_path / "rl" / "run_grpo.sh").read_text()

    older = invoke("llamafactory", run_dir, "--output", tmp_path / "x", "--engine-version", "0.9.4")
    assert_one_line_error(older, "0.9.5")
    assert not (tmp_path / "x").exists()


# verl --------------------------------------------------------------------------------------


def test_verl_export_writes_disjoint_parquet_splits_in_verls_schema(
    run_dir: Path, tmp_path: Path, invoke
):
    import pyarrow.parquet as pq
    from datasets import load_dataset

    out = tmp_path / "verl"
    result = invoke("verl", run_dir, "--output", out, "--questions", 40)

    assert result.exit_code == 0, result.output
    assert "Exported 40 questions" in result.stdout
    files = {split: str(out / f"{split}.parquet") for split in ("train", "test")}
    loaded = load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    train, test = loaded["train"], loaded["test"]
    assert (len(train), len(test)) == (36, 4)  # 10% held out for validation
    for split in (train, test):
        assert split.column_names == VERL_COLUMNS
    for name in files.values():
        assert pq.read_schema(name).names == VERL_COLUMNS
        assert pq.read_table(name).column("extra_info").type.names == [
            "split",
            "index",
            "problem_id",
            "difficulty",
        ]

    task = get_registry().get("task", "countdown").create()
    train_ids = {row["extra_info"]["problem_id"] for row in train}
    test_ids = {row["extra_info"]["problem_id"] for row in test}
    assert len(train_ids) == 36 and len(test_ids) == 4
    assert train_ids.isdisjoint(test_ids)
    assert (train_ids | test_ids).isdisjoint(held_out_ids(task, 3))
    for split_name, split in (("train", train), ("test", test)):
        for index, row in enumerate(split):
            problem = Problem.from_json(json.loads(row["reward_model"]["ground_truth"]))
            assert row["data_source"] == "skillfactory/countdown"
            assert row["ability"] == "countdown"
            assert row["reward_model"]["style"] == "rule"
            assert row["prompt"] == task.prompt(problem, "original")
            assert row["extra_info"] == {
                "split": split_name,
                "index": index,
                "problem_id": problem.id,
                "difficulty": 3,
            }
    script = (out / "run_grpo.sh").read_text()
    for setting in (
        "algorithm.adv_estimator=grpo",
        "algorithm.use_kl_in_reward=False",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.actor.optim.lr=1e-6",
        "data.train_batch_size=256",
        "actor_rollout_ref.actor.ppo_mini_batch_size=32",
        "actor_rollout_ref.rollout.n=16",
        "trainer.total_training_steps=150",
        "trainer.n_gpus_per_node=4",
        'reward.custom_reward_function.path="$HERE/skillfactory_reward.py"',
        "reward.custom_reward_function.name=compute_score",
        "DEFAULT_MODEL=default\n",
    ):
        assert setting in script, setting


def test_the_written_reward_scores_completions_with_the_tasks_verifier(
    run_dir: Path, tmp_path: Path, invoke
):
    from datasets import load_dataset

    out = tmp_path / "verl"
    assert invoke("verl", run_dir, "--output", out, "--questions", 12).exit_code == 0
    reward = load_reward(out)
    rows = load_dataset(
        "parquet", data_files=str(out / "train.parquet"), cache_dir=str(tmp_path / "hf")
    )["train"]

    for row in rows:
        truth = row["reward_model"]["ground_truth"]
        problem = Problem.from_json(json.loads(truth))
        numbers, target = problem.data["numbers"], problem.data["target"]
        right = f"<think>search</think>\n<answer>{problem.answer}</answer>"
        assert reward.compute_score(row["data_source"], right, truth, row["extra_info"]) == 1.0
        wrong = next(
            expression
            for expression, value in (
                (" + ".join(map(str, numbers)), sum(numbers)),
                (" * ".join(map(str, numbers)), numbers[0] * numbers[1] * numbers[2]),
            )
            if value != target
        )
        assert reward.compute_score(row["data_source"], f"<answer>{wrong}</answer>", truth) == 0.0
        for garbage in ("", "no tags at all", "<answer></answer>", "<answer>rm -rf /</answer>"):
            assert reward.compute_score(row["data_source"], garbage, truth) == 0.0
    assert reward.compute_score("skillfactory/countdown", None, truth) == 0.0
    for unreadable in ("", "not json", "{}", "[1, 2]", None, json.dumps({"id": "x"})):
        assert reward.compute_score("skillfactory/countdown", right, unreadable) == 0.0
    unknown = json.dumps({**json.loads(truth), "task": "no-such-task"})
    with pytest.warns(RuntimeWarning, match="no-such-task"):
        assert reward.compute_score("skillfactory/x", right, unknown) == 0.0


def test_verl_reward_is_set_where_verl_0_9_reads_it(run_dir: Path, tmp_path: Path, invoke):
    out = tmp_path / "verl"
    assert invoke("verl", run_dir, "--output", out, "--questions", 12).exit_code == 0
    overrides = script_overrides((out / "run_grpo.sh").read_text())

    assert overrides["reward.custom_reward_function.path"] == '"$HERE/skillfactory_reward.py"'
    assert overrides["reward.custom_reward_function.name"] == "compute_score"
    assert not [key for key in overrides if key.startswith("custom_reward_function.")]


def test_the_previous_verl_layout_on_request_and_other_versions_refused(
    run_dir: Path, tmp_path: Path, invoke
):
    out = tmp_path / "verl"
    result = invoke("verl", run_dir, "--output", out, "--questions", 9, "--engine-version", "0.7.0")
    assert result.exit_code == 0, result.output
    script = (out / "run_grpo.sh").read_text()
    overrides = script_overrides(script)
    assert overrides["custom_reward_function.path"] == '"$HERE/skillfactory_reward.py"'
    assert not [key for key in overrides if key.startswith("reward.")]
    assert "verl 0.7.0" in script

    series = invoke("verl", run_dir, "--output", out, "--option", "engine_version=0.7")
    assert series.exit_code == 0, series.output  # --option reads 0.7 as a number
    assert "custom_reward_function.path" in script_overrides((out / "run_grpo.sh").read_text())
    clash = ("--option", "engine_version=0.7", "--engine-version", "0.9.1")
    assert_one_line_error(invoke("verl", run_dir, "--output", out, *clash), "disagree")

    for version in ("0.8.0", "1.0"):
        result = invoke("verl", run_dir, "--output", tmp_path / "x", "--engine-version", version)
        assert_one_line_error(result, "0.9.1")
    assert not (tmp_path / "x").exists()


def test_verl_lengths_fit_the_models_positions(run_dir: Path, tmp_path: Path, invoke):
    small = model_dir(tmp_path / "small", model_type="llama", positions=2048)
    large = model_dir(tmp_path / "large", model_type="qwen2", positions=32768)
    unknown = "someone/unseen-model"
    expected = {"default": shipped_positions(), small: 2048, large: None, unknown: None}
    for number, (model, positions) in enumerate(expected.items()):
        out = tmp_path / f"verl-{number}"
        result = invoke("verl", run_dir, "--output", out, "--questions", 12, "--model", model)
        assert result.exit_code == 0, result.output
        script = (out / "run_grpo.sh").read_text()
        overrides = script_overrides(script)
        prompt = int(overrides["data.max_prompt_length"])
        response = int(overrides["data.max_response_length"])
        if positions is None:  # the paper's lengths, when they fit or cannot be checked
            assert (prompt, response) == (1024, 4096)
        else:
            assert prompt + response <= positions
            assert response >= positions // 2
        assert ("not checked against the model" in script.lower()) == (model == unknown)


def test_the_default_models_prompts_fit_the_prompt_length_so_verl_drops_none(
    run_dir: Path, tmp_path: Path, invoke
):
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    from skillfactory.models.shipped import shipped_model_dir

    out = tmp_path / "verl"
    assert invoke("verl", run_dir, "--output", out, "--questions", 40).exit_code == 0
    limit = int(script_overrides((out / "run_grpo.sh").read_text())["data.max_prompt_length"])
    tokenizer = AutoTokenizer.from_pretrained(str(shipped_model_dir()))

    for name in ("train.parquet", "test.parquet"):
        for row in pq.read_table(out / name).to_pylist():
            ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True)
            ids = ids["input_ids"] if isinstance(ids, Mapping) else ids
            assert len(ids) <= limit


def test_the_launch_script_stops_in_one_line_where_skillfactory_cannot_be_imported(
    run_dir: Path, tmp_path: Path, invoke
):
    out = tmp_path / "verl"
    assert invoke("verl", run_dir, "--output", out, "--questions", 12).exit_code == 0
    script = out / "run_grpo.sh"

    bare = run_script(script, python_shim(tmp_path / "bare", isolated=True))
    assert bare.returncode == 1
    assert bare.stdout == ""
    assert bare.stderr.count("\n") == 1, bare.stderr
    assert "skillfactory" in bare.stderr and "install" in bare.stderr

    shim = python_shim(tmp_path / "ready")
    no_verl = run_script(script, shim)
    assert no_verl.returncode == 1
    assert no_verl.stderr.count("\n") == 1, no_verl.stderr
    assert "verl is not installed" in no_verl.stderr

    ready = run_script(script, shim, PYTHONPATH=str(fake_verl(tmp_path / "site", "0.9.1")))
    assert ready.returncode == 0, ready.stderr
    assert ready.stderr == ""
    assert ready.stdout.splitlines()[:2] == ["-m", "verl.trainer.main_ppo"]


def test_the_launch_script_warns_when_verl_is_another_version(tmp_path: Path):
    exporter = get_registry().get("trainer", "verl").create()
    script = tmp_path / "run_grpo.sh"
    script.write_text(exporter.script_text("m", 900, ["countdown"]))
    site = fake_verl(tmp_path / "site", "0.7.0")

    result = run_script(script, python_shim(tmp_path / "shim"), PYTHONPATH=str(site))

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "0.9.1" in result.stderr and "0.7.0" in result.stderr


def test_the_launch_script_takes_the_model_as_given_or_from_the_environment(tmp_path: Path):
    exporter = get_registry().get("trainer", "verl").create()
    script = tmp_path / "run_grpo.sh"
    script.write_text(exporter.script_text("/models/Qwen 1.5B's copy", 900, ["countdown"]))
    shim = python_shim(tmp_path / "shim")
    site = str(fake_verl(tmp_path / "site", "0.9.1"))

    def model_seen(**env: str) -> str:
        result = run_script(script, shim, PYTHONPATH=site, **env)
        assert result.returncode == 0, result.stderr
        (path,) = [arg for arg in result.stdout.splitlines() if "model.path=" in arg]
        return path.split("=", 1)[1]

    assert model_seen() == "/models/Qwen 1.5B's copy"
    assert model_seen(MODEL="/other") == "/other"


def test_the_test_split_is_chosen_by_id_and_sized_as_asked(tmp_path: Path):
    from datasets import Dataset

    from skillfactory.pipeline.problems import problem_row
    from skillfactory.plugins.verl_export import count_for_test

    assert [count_for_test(n, None) for n in (0, 1, 2, 19, 40, 1000, 5000)] == [
        0,
        0,
        1,
        1,
        4,
        100,
        256,
    ]
    assert count_for_test(40, 0.25) == 10 and count_for_test(40, 7) == 7
    with pytest.raises(UsageError, match="leaves no training problems"):
        count_for_test(5, 5)

    task = get_registry().get("task", "countdown").create()
    rows = [problem_row(problem) for problem in task.generate(30, difficulty=3, seed=5)]
    verl = get_registry().get("trainer", "verl")

    def test_ids(ordered_rows, directory: Path) -> set[str]:
        import pyarrow.parquet as pq

        verl.create(test_size=6).train("m", Dataset.from_list(ordered_rows), directory)
        table = pq.read_table(directory / "test.parquet").to_pylist()
        return {row["extra_info"]["problem_id"] for row in table}

    forwards = test_ids(rows, tmp_path / "a")
    backwards = test_ids(rows[::-1], tmp_path / "b")
    assert len(forwards) == 6 and forwards == backwards


# The command line: bad input ----------------------------------------------------------------


def test_bad_run_directories_are_one_line_usage_errors(tmp_path: Path, invoke):
    out = tmp_path / "out"
    assert_one_line_error(
        invoke("llamafactory", tmp_path / "missing", "--output", out), "does not exist"
    )
    (tmp_path / "stranger").mkdir()
    assert_one_line_error(
        invoke("llamafactory", tmp_path / "stranger", "--output", out), "not a run directory"
    )
    write_config(tmp_path / "early")
    assert_one_line_error(
        invoke("llamafactory", tmp_path / "early", "--output", out), "has no finished traces"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (b'{"task": "countdown", "difficulty": 3, "task_options": [1]}', "'task_options' must be"),
        (b'{"task": 5, "difficulty": 3}', "'task' must be a task name, got 5"),
        (b'{"task": "countdown", "difficulty": "three"}', "'difficulty' must be a whole number"),
        (b'{"task": "countdown", \xff}', "is unreadable"),
        (b"[1, 2]", "does not hold a run's settings"),
    ],
)
def test_a_run_config_of_the_wrong_shape_is_one_line_exit_2(
    tmp_path: Path, invoke, config, message
):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes(config)
    assert_one_line_error(invoke("verl", run, "--output", tmp_path / "out"), message)
    assert not (tmp_path / "out").exists()


def test_stale_traces_unknown_exporters_and_bad_options_are_refused(
    run_dir: Path, tmp_path: Path, invoke
):
    out = tmp_path / "out"
    (run_dir / "stages.json").write_text(json.dumps({"problems": {}, "samples": {}}))
    assert_one_line_error(invoke("llamafactory", run_dir, "--output", out), "no finished traces")
    (run_dir / "stages.json").write_text(json.dumps({"problems": {}, "traces": {}}))
    assert invoke("llamafactory", run_dir, "--output", out).exit_code == 0

    assert_one_line_error(invoke("axolotl", run_dir, "--output", out), "unknown trainer 'axolotl'")
    assert_one_line_error(
        invoke("llamafactory", run_dir, "--output", out, "--option", "template"), "KEY=VALUE"
    )
    assert_one_line_error(
        invoke("llamafactory", run_dir, "--output", out, "--option", "templat=qwen"),
        "cannot take these options",
    )
    assert_one_line_error(
        invoke("verl", run_dir, "--output", out, "--option", "test_size=-1"), "0 or more"
    )
    assert_one_line_error(invoke("verl", run_dir, "--output", run_dir / "config.json"), "is a file")


def test_a_trainer_that_makes_a_model_is_sent_to_skillfactory_train(
    run_dir: Path, tmp_path: Path, invoke, make_distribution
):
    make_distribution(
        "skillfactory-fake-sft",
        plugins={"fake_sft": "sf_test_fake_sft"},
        modules={"sf_test_fake_sft": MODEL_TRAINER},
    )
    result = invoke("fake-sft", run_dir, "--output", tmp_path / "out")

    assert_one_line_error(result, "skillfactory train fake-sft")
    assert not (tmp_path / "out").exists()


def test_option_values_are_json_when_they_read_as_json():
    assert parse_options(["a=1", "b=0.5", "c=true", "d=qwen", 'e={"max_number": 50}', "f="]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "qwen",
        "e": {"max_number": 50},
        "f": "",
    }


@pytest.mark.parametrize(
    ("engine", "module", "constant"),
    [
        ("llamafactory", "llamafactory_export", "LLAMAFACTORY_VERSION"),
        ("verl", "verl_export", "VERL_VERSION"),
    ],
)
def test_the_engine_check_in_ci_installs_the_release_the_exporter_writes_for(
    engine, module, constant
):
    """CI's engine check (docs/exports.md, marked for .ci/run) pins the exporter's release."""
    docs = (Path(__file__).parent.parent / "docs" / "exports.md").read_text(encoding="utf-8")
    block = docs.split(f"<!-- ci: {engine} -->\n```bash\n", 1)[1].split("\n```", 1)[0]
    release = getattr(importlib.import_module(f"skillfactory.plugins.{module}"), constant)
    assert f"{engine}=={release}" in block.split()
    assert f".ci/engines/{engine}_check.py" in block
