"""The ``traces`` stage: the chosen skills arrange attempts and reflections into silver traces.

It is ``skillfactory compose`` run on the reflections dataset: reflections count
only where their verdict agrees with the verifier, and the traces are saved as a
chat dataset that TRL's SFT trainer takes as it is, plus JSON Lines to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from skillfactory.compose_command import compose_report, selected_skills, show_compose_summary
from skillfactory.pipeline.stage import Stage, StageContext
from skillfactory.skill import ComposeSettings
from skillfactory.trace_output import DATASET_DIR, JSONL_FILE


class TracesStage(Stage):
    name = "traces"
    title = "composing traces"
    outputs = (DATASET_DIR, JSONL_FILE)

    def run(self, context: StageContext) -> dict[str, Any]:
        from skillfactory.composer import compose
        from skillfactory.trace_inputs import read_questions
        from skillfactory.trace_output import write_traces

        config = context.config
        skills = selected_skills(",".join(config["skills"]))
        settings = ComposeSettings(max_attempts=config["max_attempts"], order=config["order"])
        questions, inputs = read_questions(
            context.store.path("reflections"), input_format="skillfactory", seed=config["seed"]
        )
        traces, summary = compose(
            questions,
            skills,
            settings,
            seed=config["seed"],
            traces_per_question=config["traces_per_question"],
        )
        write_traces(traces, context.store.root)
        return compose_report(
            inputs,
            summary,
            skills,
            {
                "max_attempts": config["max_attempts"],
                "traces_per_question": config["traces_per_question"],
                "seed": config["seed"],
                "order": config["order"],
            },
        )

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        show_compose_summary(dict(summary))
