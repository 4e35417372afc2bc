"""The ``eval`` stage: the base, SFT and GRPO models on held-out questions, then the report.

Each model answers the chosen suite's held-out questions (none of which the run
sampled or trained on) with the run's sampler; ``eval/metrics.json`` holds every
figure and ``report.md`` with its plots lands in the run directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from skillfactory.pipeline.stage import Stage, StageContext

LABELS = ("base", "sft", "grpo")


def suite_with_run_task(config: Mapping[str, Any]) -> list[Any]:
    """The suite's cells whose task is installed, plus the run's own task and level."""
    from skillfactory.evaluation.suites import Cell, chosen_cells
    from skillfactory.registry import get_registry

    installed = set(get_registry().names("task"))
    cells = [
        cell
        for cell in chosen_cells(config["eval_suite"], None, (), config["eval_questions"])
        if cell.task in installed
    ]
    own = (config["task"], config["difficulty"])
    if own not in {(cell.task, cell.difficulty) for cell in cells}:
        cells.insert(0, Cell(own[0], own[1], config["eval_questions"] or 24))
    return cells


class EvalStage(Stage):
    name = "eval"
    title = "evaluating the base, SFT and GRPO models"
    outputs = ("eval", "report.md")

    def run(self, context: StageContext) -> dict[str, Any]:
        from skillfactory.evaluate_command import load_sampler, prepare_output
        from skillfactory.evaluation.evaluate import (
            RESPONSES_FILE,
            EvalSettings,
            evaluate_model,
            write_metrics,
        )
        from skillfactory.evaluation.finished_cells import PARTIAL_DIR, FinishedCells
        from skillfactory.evaluation.report import write_report
        from skillfactory.progress import ProgressReport

        config = context.config
        store = context.store
        context.release_sampler()
        cells = suite_with_run_task(config)
        exclude = {
            problem_id
            for name in ("problems", "rl_problems")
            if store.path(name).is_dir()
            for problem_id in store.load_dataset(name)["id"]
        }
        settings = EvalSettings(
            samples=config["eval_samples"],
            temperature=config["temperature"],
            top_p=config["top_p"],
            top_k=config["top_k"],
            max_new_tokens=config["eval_max_new_tokens"],
            budget_forcing=config["eval_budget_forcing"],
            budget_cap=config["eval_budget_cap"],
            seed=config["seed"],
            suite=config["eval_suite"],
        )
        output = store.path(self.name)
        if output.is_dir() and not any(
            (output / name).exists() for name in ("metrics.json", PARTIAL_DIR)
        ):
            import shutil

            shutil.rmtree(output)  # interrupted before it saved a cell: nothing to keep
        prepare_output(output)
        # An interrupted evaluation of the same stage goes on from its finished cells.
        finished = FinishedCells(output, {"stage": self.name, "fingerprint": context.fingerprint})
        if finished.count():
            context.console.print(
                f"  resuming eval: {finished.count()} of {len(cells) * len(LABELS)} cells "
                "were already finished"
            )
        models = []
        for label, spec in (
            ("base", config["model"]),
            ("sft", str(store.path("sft"))),
            ("grpo", str(store.path("grpo"))),
        ):
            sampler, tokenizer, location = load_sampler(
                spec, config["sampler"], dict(config["sampler_options"]),
                trust_remote_code=config["trust_remote_code"],
            )  # fmt: skip
            with ProgressReport(context.console, indent="  ") as progress:
                results = evaluate_model(
                    sampler,
                    tokenizer,
                    cells,
                    settings,
                    exclude=exclude,
                    task_options={config["task"]: config["task_options"]},
                    responses_file=output / RESPONSES_FILE,
                    on_cell=progress.counter(f"evaluating the {label} model (cells)", len(cells)),
                    finished=finished,
                    model_key=label,
                )
            close = getattr(sampler, "close", None)
            if callable(close):
                close()
            models.append({"label": label, "model": location, "cells": results})
        write_metrics(output, settings, models)
        finished.remove()
        report = write_report([store.root], store.root)
        return {
            "report": str(report),
            "accuracy": {
                model["label"]: {
                    f"{c['task']} {c['difficulty']}": c["accuracy"] for c in model["cells"]
                }
                for model in models
            },
            "responses": {
                model["label"]: sum(c["responses"] for c in model["cells"]) for model in models
            },
        }

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        table = Table(title="Accuracy on held-out questions", title_justify="left")
        table.add_column("task and level")
        labels = list(summary["accuracy"])
        for label in labels:
            table.add_column(label, justify="right")
        cells = list(summary["accuracy"][labels[0]]) if labels else []
        for cell in cells:
            table.add_row(
                cell, *(f"{summary['accuracy'][label].get(cell, 0):.1%}" for label in labels)
            )
        console.print(table)
        console.print(f"  report: {summary['report']}", highlight=False)
