"""CI: a default run's verl export, read by verl itself, down to the reward it would train on.

Run in a virtual environment that has SkillFactory and the verl release the exporter writes
for (docs/exports.md, "Engine versions"). It makes a small run on the shipped default model,
exports it for verl, and then, with verl's own code:

1. takes the arguments ``run_grpo.sh`` hands to ``verl.trainer.main_ppo`` (the script runs as
   written, with a ``python3`` on the PATH that records them instead of starting verl), and
   composes them with verl's Hydra config (an unknown key fails there) and checks them with
   its ``validate_config``, as ``main_ppo`` does before it trains;
2. loads both parquet files with verl's ``RLHFDataset``, with the composed ``data`` settings
   and the model's tokenizer, and checks that no question is filtered out;
3. builds the reward manager the trainer's reward loop builds (``load_reward_manager``) and
   scores responses through it: a right answer to each of a few training questions must get
   1.0 and a wrong one 0.0. A reward setting that verl does not read (the top-level
   ``custom_reward_function`` of 0.7.0, which 0.9.1 keeps as a legacy key and ignores) fails
   here, because verl then falls back to its own scorers, which know no SkillFactory task;
4. runs the script with a Python that cannot import SkillFactory and checks that its
   preflight stops it with exit code 1 and one line that says so, before verl starts.

Any failure ends the script with a message and a non-zero exit. Nothing here needs a GPU:
no rollout or training step runs (verl's trainer needs Ray workers on GPUs).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from engine_run import default_run, run

SCRIPT = "run_grpo.sh"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="verl-check-"))
    run_dir, export = work / "run", work / "rl"
    model = default_run(run_dir, questions=4, until="problems")
    run(["skillfactory", "export", "verl", str(run_dir), "--output", str(export)])
    config = _compose(_launch_arguments(export / SCRIPT, work / "shim"))
    print(f"verl: {SCRIPT}'s settings compose with verl's config and pass validate_config")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    splits = _load_datasets(config, tokenizer)
    loaded = sum(map(len, splits.values()))
    print(f"verl: RLHFDataset loads {loaded} questions of both parquet files, none filtered out")
    scored = _score_through_reward_manager(config, tokenizer, splits["train"])
    print(f"verl: its reward manager scores {scored} right answers 1.0 and wrong ones 0.0")
    _preflight_refuses_a_python_without_skillfactory(export / SCRIPT, work / "bare")
    print("verl: the script's preflight stops a Python without skillfactory, exit 1")


def _launch_arguments(script: Path, shim: Path) -> list[str]:
    """What ``script`` passes to ``python3 -m verl.trainer.main_ppo``, its shell quoting undone."""
    shim.mkdir()
    recorded = shim / "arguments.json"
    python3 = shim / "python3"
    python, recorded_arg = shlex.quote(sys.executable), shlex.quote(str(recorded))
    python3.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "${1:-}" = -m ] && [ "${2:-}" = verl.trainer.main_ppo ]; then\n'
        f"    shift 2; exec {python} -c "
        "'import json, sys; json.dump(sys.argv[2:], open(sys.argv[1], \"w\"))' "
        f'{recorded_arg} "$@"\n'
        "fi\n"
        f'exec {python} "$@"\n',
        encoding="utf-8",
    )
    python3.chmod(python3.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    run(["bash", str(script)], env=env)
    return json.loads(recorded.read_text(encoding="utf-8"))


def _compose(arguments: list[str]):
    import verl
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=arguments)
    validate_config(
        config=config,
        use_reference_policy=need_reference_policy(config),
        use_critic=need_critic(config),
    )
    return config


def _load_datasets(config, tokenizer) -> dict[str, list[dict]]:
    """Both splits as exported (by the script's own paths), after RLHFDataset kept every row."""
    import pyarrow.parquet as pq
    from verl.utils.dataset.rl_dataset import RLHFDataset

    splits = {}
    for name, files in (("train", config.data.train_files), ("val", config.data.val_files)):
        rows = pq.read_table(str(files)).to_pylist()
        dataset = RLHFDataset(data_files=str(files), tokenizer=tokenizer, config=config.data)
        if len(dataset) != len(rows) or not rows:
            sys.exit(f"verl's RLHFDataset kept {len(dataset)} of {len(rows)} {name} questions")
        if dataset[0]["raw_prompt"] != list(rows[0]["prompt"]):
            sys.exit(f"{name}: verl's prompt is not the exported one: {dataset[0]['raw_prompt']!r}")
        splits[name] = rows
    return splits


def _score_through_reward_manager(config, tokenizer, rows: list[dict], count: int = 4) -> int:
    import numpy as np
    import torch
    from verl import DataProto
    from verl.trainer.ppo.reward import load_reward_manager

    from skillfactory.models.worked_countdown import solution_chain
    from skillfactory.records import Problem

    manager = load_reward_manager(config, tokenizer)
    scored = 0
    for row in rows[:count]:
        problem = Problem.from_json(json.loads(row["reward_model"]["ground_truth"]))
        right = f"<answer>{solution_chain(problem).expression}</answer>"
        for response, wanted in ((right, 1.0), ("<answer>1 + 1</answer>", 0.0)):
            ids = torch.tensor(tokenizer.encode(response, add_special_tokens=False))
            data = DataProto.from_dict(
                tensors={"responses": ids[None], "attention_mask": torch.ones_like(ids)[None]},
                non_tensors={
                    key: np.array([row[key]], dtype=object)
                    for key in ("data_source", "reward_model", "extra_info")
                },
            )
            try:
                result = manager.loop.run_until_complete(manager.run_single(data))
            except Exception as error:
                sys.exit(
                    f"verl's reward manager failed on a {row['data_source']} response: "
                    f"{type(error).__name__}: {error} (is the reward set where this verl "
                    "release reads it?)"
                )
            if result["reward_score"] != wanted:
                sys.exit(
                    f"verl's reward manager scored {response!r} for {row['data_source']} "
                    f"{result['reward_score']}, not {wanted}: is the reward setting one that "
                    "this verl release reads?"
                )
        scored += 1
    return scored


def _preflight_refuses_a_python_without_skillfactory(script: Path, bare: Path) -> None:
    """The script's first check, run by a Python that has neither skillfactory nor verl."""
    base = getattr(sys, "_base_executable", None) or shutil.which("python3")
    subprocess.run([base, "-m", "venv", "--without-pip", str(bare)], check=True)
    env = {**os.environ, "PATH": f"{bare / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    lines = done.stderr.strip().splitlines()
    if done.returncode != 1 or len(lines) != 1 or "skillfactory" not in lines[0]:
        sys.exit(
            f"{SCRIPT} with a Python without skillfactory: exit {done.returncode}, "
            f"wanted 1 and one line naming skillfactory:\n{done.stdout}\n{done.stderr}"
        )


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    main()
