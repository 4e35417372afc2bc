"""The ``sft`` and ``grpo`` stages: prime the model on its traces, then train against the verifier.

Both hand the work to trainer plugins (``sft`` and ``grpo``), so a run trains
with exactly what ``skillfactory train`` does. Each trains into its directory
in the run; an interrupted stage resumes from the trainer's last checkpoint when
it is run again with the same settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from skillfactory.pipeline.stage import Stage, StageContext
from skillfactory.training import CURVE_FILE, SETTINGS_FILE

RL_PROBLEMS = "rl_problems"
"""The questions GRPO prompted with, saved as a dataset beside the stage's model."""


def _trainer(name: str, options: Mapping[str, Any]) -> Any:
    from skillfactory.registry import get_registry

    return get_registry().get("trainer", name).create(**options)


def _record(directory: Path) -> dict[str, Any]:
    record = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
    record.pop("settings", None)
    return record


def _curve(directory: Path) -> list[dict[str, Any]]:
    return json.loads((directory / CURVE_FILE).read_text(encoding="utf-8"))


class SFTStage(Stage):
    name = "sft"
    title = "fine-tuning on the traces"
    outputs = ("sft",)
    uses_model = True

    def run(self, context: StageContext) -> dict[str, Any]:
        config = context.config
        context.release_sampler()
        trainer = _trainer(
            "sft",
            {
                "learning_rate": config["sft_learning_rate"],
                "num_train_epochs": config["sft_epochs"],
                "per_device_train_batch_size": config["sft_batch_size"],
                "max_length": config["sft_max_length"],
                "seed": config["seed"],
                "trust_remote_code": config["trust_remote_code"],
                **config["sft_options"],
            },
        )
        from skillfactory.models.resolve import resolve_model

        output = context.store.path(self.name)
        trainer.train(resolve_model(config["model"]), context.store.load_dataset("traces"), output)
        losses = [entry["loss"] for entry in _curve(output) if "loss" in entry]
        return {**_record(output), "first_loss": losses[0] if losses else None,
                "last_loss": losses[-1] if losses else None}  # fmt: skip

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        first, last = summary.get("first_loss"), summary.get("last_loss")
        console.print(
            f"  {summary['traces_used']} traces ({summary['traces_dropped_too_long']} too long, "
            f"dropped), {summary['steps']} steps, loss {_number(first)} → {_number(last)}, "
            f"{summary['seconds']:.0f} s on {summary['device']} ({summary['dtype']}); "
            f"loss on {summary['loss_on']}",
            highlight=False,
        )


class GRPOStage(Stage):
    name = "grpo"
    title = "reinforcement learning against the verifier"
    outputs = ("grpo", RL_PROBLEMS)

    def run(self, context: StageContext) -> dict[str, Any]:
        from datasets import Dataset

        from skillfactory.pipeline.problems import problem_features, problem_row
        from skillfactory.pipeline.rl_problems import rl_problems

        config = context.config
        context.release_sampler()
        problems = rl_problems(
            context.task(),
            difficulty=config["difficulty"],
            count=config["grpo_questions"],
            seed=config["seed"],
        )
        rows = [problem_row(problem) for problem in problems]
        features = problem_features()
        dataset = Dataset.from_dict({n: [r[n] for r in rows] for n in features}, features=features)
        context.store.save_dataset(dataset, RL_PROBLEMS)
        trainer = _trainer(
            "grpo",
            {
                "learning_rate": config["grpo_learning_rate"],
                "max_steps": config["grpo_steps"],
                "num_generations": config["grpo_generations"],
                "per_device_train_batch_size": config["grpo_batch_size"],
                "max_completion_length": config["grpo_max_completion_length"],
                "temperature": config["grpo_temperature"],
                # Sample as the run samples: at full vocabulary a small model's long tail
                # of rare tokens turns many completions into noise before they start.
                "top_p": config["top_p"],
                "top_k": config["top_k"],
                "beta": config["grpo_beta"],
                "seed": config["seed"],
                "task_options": dict(config["task_options"]),
                "trust_remote_code": config["trust_remote_code"],
                **config["grpo_options"],
            },
        )
        output = context.store.path(self.name)
        trainer.train(str(context.store.path("sft")), dataset, output)
        steps = [
            {
                "step": entry["step"],
                "reward": entry.get("reward"),
                "accuracy": entry.get("rewards/accuracy/mean"),
                "length": entry.get("completions/mean_length"),
            }
            for entry in _curve(output)
            if "reward" in entry
        ]
        return {**_record(output), "log": steps}

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        table = Table(title="GRPO (reward from the verifier)", title_justify="left")
        for column in ("step", "reward", "accuracy", "completion length"):
            table.add_column(column, justify="right")
        log = summary["log"]
        shown = (
            log if len(log) <= 8 else [*log[:3], *log[len(log) // 2 : len(log) // 2 + 1], *log[-3:]]
        )
        for entry in shown:
            table.add_row(
                str(entry["step"]),
                _number(entry["reward"]),
                _number(entry["accuracy"]),
                _number(entry["length"], digits=0),
            )
        console.print(table)
        console.print(
            f"  {summary['steps']} steps on {summary['problems']} questions, "
            f"{summary['seconds']:.0f} s on {summary['device']} ({summary['dtype']}); sample "
            "completions are in grpo/completions.jsonl",
            highlight=False,
        )


def _number(value: Any, *, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
