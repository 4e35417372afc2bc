"""The ``problems`` stage: the task's seeded questions, saved as a dataset."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console

from skillfactory.pipeline.stage import Stage, StageContext
from skillfactory.records import Problem


def problem_features():  # -> datasets.Features, imported lazily
    from datasets import Features, Value

    return Features(
        {
            "id": Value("string"),
            "task": Value("string"),
            "difficulty": Value("int32"),
            "question": Value("string"),
            "answer": Value("string"),
            "data": Value("string"),
        }
    )


def problem_row(problem: Problem) -> dict[str, Any]:
    """A problem as a dataset row; ``data`` is JSON text, since its keys differ by task."""
    row = problem.to_json()
    row["data"] = json.dumps(row["data"], ensure_ascii=False, sort_keys=True)
    return row


def row_problem(row: Mapping[str, Any]) -> Problem:
    return Problem.from_json({**row, "data": json.loads(row["data"])})


class ProblemsStage(Stage):
    name = "problems"
    title = "generating questions"
    outputs = ("problems",)

    def run(self, context: StageContext) -> dict[str, Any]:
        from datasets import Dataset

        config = context.config
        problems = context.task().generate(
            config["questions"], difficulty=config["difficulty"], seed=config["seed"]
        )
        rows = [problem_row(problem) for problem in problems]
        features = problem_features()
        columns = {name: [row[name] for row in rows] for name in features}
        context.store.save_dataset(Dataset.from_dict(columns, features=features), self.name)
        return {
            "questions": len(problems),
            "task": config["task"],
            "difficulty": config["difficulty"],
            "example": problems[0].question if problems else "",
        }

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        console.print(
            f"  {summary['questions']} {summary['task']} questions at difficulty "
            f"{summary['difficulty']}, e.g. {summary['example']!r}",
            highlight=False,
        )
