"""The llamafactory and verl exporters, through the real registry, entry points and CLI."""

from __future__ import annotations

import importlib.util
import json
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
    assert config["cutoff_len"] == 4096
    assert config["per_device_train_batch_size"] == 1
    assert config["bf16"] is True
    assert config["dataset"] == "skillfactory_traces"
    assert Path(config["dataset_dir"]) == out.resolve()
    assert (Path(config["dataset_dir"]) / info[config["dataset"]]["file_name"]).is_file()
    assert config["template"] == "qwen"
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

    exporter = get_registry().get("trainer", "llamafactory").create()
    empty = Dataset.from_dict({name: [] for name in trace_features()}, features=trace_features())
    with pytest.raises(UsageError, match="no traces") as caught:
        exporter.train("m", empty, tmp_path / "a")
    assert "\n" not in str(caught.value)

    user_only = [{"question_id": "q", "messages": [{"role": "user", "content": "hi"}]}]
    with pytest.raises(UsageError, match="'q' must end with an assistant turn"):
        exporter.train("m", user_only, tmp_path / "b")


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
        "data.max_response_length=4096",
        "trainer.total_training_steps=150",
        "trainer.n_gpus_per_node=4",
        'custom_reward_function.path="$HERE/skillfactory_reward.py"',
        "custom_reward_function.name=compute_score",
        "DEFAULT_MODEL=default\n",
    ):
        assert setting in script, setting
    assert "verl v0.7.0" in script


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


def test_the_launch_script_takes_the_model_as_given_or_from_the_environment(tmp_path: Path):
    import subprocess

    exporter = get_registry().get("trainer", "verl").create()
    script = exporter.script_text("/models/Qwen 1.5B's copy", 900)
    head = script.split("python3 -m verl")[0] + 'printf "%s" "$MODEL"\n'
    (tmp_path / "head.sh").write_text(head)

    def model_seen(**env: str) -> str:
        return subprocess.run(
            ["bash", str(tmp_path / "head.sh")],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", **env},
        ).stdout

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
