"""The ``reflections`` stage: the model checks each of its own attempts, k times.

Each reflection is asked for with the project's reflection prompt (check the
answer, do not fix it, end with a verdict tag); its verdict is parsed and
compared with the verifier's judgement of the attempt. The output is the
samples dataset with three list columns added, one entry per reflection, which
is exactly what ``skillfactory compose`` and the ``traces`` stage read. An empty
attempt is not reflected on (its lists are empty), so no trace shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from skillfactory.pipeline.samples import sample_features, sampling_settings
from skillfactory.pipeline.sharded import sample_in_shards
from skillfactory.pipeline.stage import Stage, StageContext
from skillfactory.prompts import reflection_prompt
from skillfactory.verdicts import parse_verdict

VERDICT_STOP = "</verdict>"


def reflection_features():  # -> datasets.Features, imported lazily
    from datasets import Value

    features = sample_features()
    features["reflections"] = [Value("string")]
    features["verdicts"] = [Value("string")]
    features["agrees"] = [Value("bool")]
    return features


class ReflectionsStage(Stage):
    name = "reflections"
    title = "reflecting on attempts"
    outputs = ("reflections",)
    uses_model = True

    def run(self, context: StageContext) -> dict[str, Any]:
        from datasets import Dataset

        config = context.config
        samples = context.store.load_dataset("samples").to_list()
        # An empty attempt has nothing to check: it gets no reflections, so no trace shows it.
        asked = [index for index, row in enumerate(samples) if row["completion"].strip()]
        prompts = [
            reflection_prompt(samples[index]["question"], samples[index]["completion"])
            for index in asked
        ]
        settings = sampling_settings(
            config, max_new_tokens=config["reflection_max_new_tokens"], stop=VERDICT_STOP
        )

        def rows_of(first: int, completions: list[list[str]]) -> list[dict[str, Any]]:
            owners = asked[first : first + len(completions)]
            return [
                _with_reflections(samples[index], texts)
                for index, texts in zip(owners, completions, strict=True)
            ]

        reflected = sample_in_shards(
            context,
            self.name,
            prompts,
            config["reflections"],
            settings,
            rows_of,
            what="reflecting",
        )
        by_index = dict(zip(asked, reflected, strict=True))
        rows = [
            by_index.get(index) or _with_reflections(row, []) for index, row in enumerate(samples)
        ]
        features = reflection_features()
        columns = {name: [row[name] for row in rows] for name in features}
        context.store.save_dataset(Dataset.from_dict(columns, features=features), self.name)
        summary = summarise_reflections(rows)
        _stop_without_verdicts(summary, config, context.console)
        return summary

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        table = Table(title="Reflections", title_justify="left")
        for column in ("attempts", "reflections", "with a verdict", "agree", "attempts kept"):
            table.add_column(column, justify="left" if column == "attempts" else "right")
        for label, key in (("right", "right"), ("wrong", "wrong"), ("all", "all")):
            counts = summary[key]
            total = counts["reflections"] or 1
            table.add_row(
                f"{label} ({counts['attempts']})",
                str(counts["reflections"]),
                f"{counts['with_verdict'] / total:.0%}",
                f"{counts['agree'] / total:.1%}",
                f"{counts['attempts_with_agreeing']} of {counts['attempts']}",
                style="bold" if key == "all" else None,
            )
        console.print(table)
        console.print(
            "  agree: the verdict matches the verifier (right attempts called Correct, wrong "
            "ones Incorrect); attempts kept: those with an agreeing reflection",
            highlight=False,
        )


TRAINING_STAGES = ("sft", "grpo", "eval")
"""Stages a run without any verdict would reach only to fail: it stops before them."""


def _stop_without_verdicts(
    summary: Mapping[str, Any], config: Mapping[str, Any], console: Console
) -> None:
    """Stop the run here, not at SFT, when no reflection reached a verdict that skills need.

    Without a single verdict there is no agreeing reflection, so a skill that shows
    reflections has nothing to show and the traces stage would make no traces. A run
    that stops before training (``--until reflections`` or ``traces``) is only warned.
    """
    from skillfactory.errors import SkillFactoryError
    from skillfactory.registry import get_registry

    counts = summary["all"]
    if not counts["reflections"] or counts["with_verdict"]:
        return
    registry = get_registry()
    needing = [
        name for name in config["skills"] if registry.get("skill", name).factory.needs_reflections
    ]
    if not needing:
        return
    verb = "needs" if len(needing) == 1 else "need"
    problem = (
        f"none of the {counts['reflections']} reflections reached a single verdict "
        f"(<verdict>Correct</verdict> or <verdict>Incorrect</verdict>), and "
        f"{' and '.join(needing)} {verb} them; the model does not answer the reflection prompt "
        "in that form. Read what it wrote in the reflections/ dataset of the run; a larger "
        "--reflection-max-new-tokens or a model that follows tagged instructions may help"
    )
    if config.get("until") in (None, *TRAINING_STAGES):
        raise SkillFactoryError(problem)
    console.print(f"  [yellow]warning:[/] {problem}", highlight=False)


def _with_reflections(row: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    verdicts = [parse_verdict(text) for text in texts]
    return {
        **row,
        "reflections": texts,
        "verdicts": [_verdict_name(v) for v in verdicts],
        "agrees": [v is not None and v == row["correct"] for v in verdicts],
    }


def _verdict_name(verdict: bool | None) -> str | None:
    if verdict is None:
        return None
    return "correct" if verdict else "incorrect"


def summarise_reflections(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdict agreement overall and for right and wrong attempts apart."""

    def empty() -> dict[str, int]:
        return {
            "attempts": 0,
            "reflections": 0,
            "with_verdict": 0,
            "agree": 0,
            "attempts_with_agreeing": 0,
        }

    groups = {"right": empty(), "wrong": empty(), "all": empty()}
    for row in rows:
        for key in ("right" if row["correct"] else "wrong", "all"):
            counts = groups[key]
            counts["attempts"] += 1
            counts["reflections"] += len(row["reflections"])
            counts["with_verdict"] += sum(v is not None for v in row["verdicts"])
            counts["agree"] += sum(row["agrees"])
            counts["attempts_with_agreeing"] += any(row["agrees"])
    total = groups["all"]["reflections"]
    return {**groups, "agreement": groups["all"]["agree"] / total if total else 0.0}
