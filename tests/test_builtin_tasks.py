"""Every built-in task, loaded through the package's own entry points like any plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skillfactory.registry import load_registry
from skillfactory.testing import check_task

DATA = Path(__file__).parent / "data"
BUILTIN_TASKS = {
    "countdown": {},
    "letter_countdown": {},
    "acronym": {},
    "long_multiplication": {},
    "gsm8k": {"path": str(DATA / "gsm8k_sample.jsonl")},
    "csqa": {"path": str(DATA / "csqa_sample.jsonl")},
}


@pytest.fixture(scope="module")
def registry():
    return load_registry(requested=[*BUILTIN_TASKS, "reasoning_gym"])


def test_the_built_in_task_plugins_load_from_this_distribution(registry):
    records = {record.name: record for record in registry.plugins}

    for name in BUILTIN_TASKS:
        assert records[name].distribution == "skillfactory"
        assert records[name].errors == []
        assert records[name].registered["tasks"] == [name]
    assert records["reasoning_gym"].errors == []


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_each_built_in_task_conforms_at_its_default_difficulty(registry, name):
    registration = registry.get("task", name)
    task = registration.create(**BUILTIN_TASKS[name])

    assert not task.sandboxed_scoring
    check_task(task, difficulty=task.resolve_difficulty(None))


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_problems_are_byte_identical_across_processes(name, tmp_path):
    options = [f"-O{key}={value}" for key, value in BUILTIN_TASKS[name].items()]
    outputs = []
    for hash_seed in ("1", "2"):
        env = {
            **os.environ,
            "PYTHONHASHSEED": hash_seed,
            "HF_DATASETS_CACHE": str(tmp_path / f"datasets-{hash_seed}"),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "skillfactory",
                "problems",
                name,
                "-n",
                "6",
                "--seed",
                "5",
                *options,
            ],
            capture_output=True,
            env=env,
            check=True,
        )
        outputs.append(result.stdout)

    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == 6
