"""The ``samples`` stage: every question x every prompt variant x n attempts, judged.

Each attempt is scored by the task's verifier on the answer extracted from it,
so an empty or garbled completion is simply a 0 with its reason ("no answer",
"unparseable", …), counted in the summary like any other wrong attempt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from skillfactory.pipeline.problems import row_problem
from skillfactory.pipeline.sharded import sample_in_shards
from skillfactory.pipeline.stage import Stage, StageContext
from skillfactory.sampler import SamplingSettings
from skillfactory.sandbox import SCORER_RAISED
from skillfactory.scoring import Verifier

ANSWER_STOP = "</answer>"


def sample_features():  # -> datasets.Features, imported lazily
    from datasets import Features, Value

    message = {"role": Value("string"), "content": Value("string")}
    return Features(
        {
            "question_id": Value("string"),
            "task": Value("string"),
            "difficulty": Value("int32"),
            "question": Value("string"),
            "prompt": [message],
            "variant": Value("string"),
            "sample": Value("int32"),
            "completion": Value("string"),
            "extracted": Value("string"),
            "correct": Value("bool"),
            "score": Value("float64"),
            "reason": Value("string"),
        }
    )


def sampling_settings(
    config: Mapping[str, Any], *, max_new_tokens: int, stop: str
) -> SamplingSettings:
    return SamplingSettings(
        temperature=config["temperature"],
        top_p=config["top_p"],
        top_k=config["top_k"],
        repetition_penalty=config["repetition_penalty"],
        max_new_tokens=max_new_tokens,
        seed=config["seed"],
        stop=(stop,),
    )


class SamplesStage(Stage):
    name = "samples"
    title = "sampling attempts"
    outputs = ("samples",)
    uses_model = True

    def run(self, context: StageContext) -> dict[str, Any]:
        from datasets import Dataset

        config = context.config
        task = context.task()
        problems = [row_problem(row) for row in context.store.load_dataset("problems")]
        jobs = [(problem, variant) for problem in problems for variant in config["variants"]]
        prompts = [task.prompt(problem, variant) for problem, variant in jobs]
        trace_prompts = {problem.id: task.prompt(problem, task.variants[0]) for problem in problems}
        n = config["samples_per_variant"]
        settings = sampling_settings(
            config, max_new_tokens=config["max_new_tokens"], stop=ANSWER_STOP
        )

        with Verifier(task, config["task_options"]) as verifier:

            def rows_of(first: int, completions: list[list[str]]) -> list[dict[str, Any]]:
                owners = jobs[first : first + len(completions)]
                pairs = [
                    (problem, text)
                    for (problem, _), texts in zip(owners, completions, strict=True)
                    for text in texts
                ]
                judgements = iter(verifier.judge(pairs))
                rows = []
                for (problem, variant), texts in zip(owners, completions, strict=True):
                    for index, text in enumerate(texts):
                        judgement = next(judgements)
                        rows.append(
                            {
                                "question_id": problem.id,
                                "task": problem.task,
                                "difficulty": problem.difficulty,
                                "question": problem.question,
                                "prompt": trace_prompts[problem.id],
                                "variant": variant,
                                "sample": index,
                                "completion": text,
                                "extracted": judgement.extracted,
                                "correct": judgement.score.correct,
                                "score": judgement.score.value,
                                "reason": judgement.score.reason,
                            }
                        )
                return rows

            rows = sample_in_shards(
                context, self.name, prompts, n, settings, rows_of, what="sampling attempts"
            )
        features = sample_features()
        columns = {name: [row[name] for row in rows] for name in features}
        context.store.save_dataset(Dataset.from_dict(columns, features=features), self.name)
        return summarise_samples(rows)

    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        table = Table(title="Samples", title_justify="left")
        for column in ("variant", "samples", "answered", "correct"):
            table.add_column(column, justify="left" if column == "variant" else "right")
        for variant, counts in summary["by_variant"].items():
            table.add_row(variant, *_counts(counts))
        for difficulty, counts in summary["by_difficulty"].items():
            table.add_row(f"difficulty {difficulty}", *_counts(counts))
        table.add_row("all", *_counts(summary["all"]), style="bold")
        console.print(table)
        reasons = ", ".join(
            f"{reason} {count}" for reason, count in summary["wrong_reasons"].items()
        )
        console.print(
            f"  questions with a correct attempt: {summary['questions_solved']} of "
            f"{summary['questions']}; empty completions: {summary['empty']}",
            highlight=False,
        )
        if reasons:
            console.print(f"  why attempts were wrong: {reasons}", highlight=False)
        if summary.get("scorer_errors"):
            console.print(
                f"  [yellow]warning:[/] the task's scorer raised on {summary['scorer_errors']} "
                f"attempts ({summary['first_scorer_error']}); each scored 0, which looks like a "
                "wrong answer but is a bug in the task plugin",
                highlight=False,
            )


def _counts(counts: Mapping[str, int]) -> tuple[str, str, str]:
    total = counts["samples"] or 1
    return (
        str(counts["samples"]),
        f"{counts['answered'] / total:.0%}",
        f"{counts['correct'] / total:.1%}",
    )


def summarise_samples(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy and answer rate by variant and difficulty, and why wrong attempts were wrong."""

    def empty() -> dict[str, int]:
        return {"samples": 0, "answered": 0, "correct": 0}

    by_variant: dict[str, dict[str, int]] = {}
    by_difficulty: dict[str, dict[str, int]] = {}
    overall = empty()
    solved: set[str] = set()
    reasons: Counter[str] = Counter()
    for row in rows:
        for counts in (
            by_variant.setdefault(row["variant"], empty()),
            by_difficulty.setdefault(str(row["difficulty"]), empty()),
            overall,
        ):
            counts["samples"] += 1
            counts["answered"] += row["extracted"] is not None
            counts["correct"] += row["correct"]
        if row["correct"]:
            solved.add(row["question_id"])
        else:
            reasons[row["reason"]] += 1
    raised = [row["reason"] for row in rows if row["reason"].startswith(SCORER_RAISED)]
    return {
        "all": overall,
        "accuracy": overall["correct"] / overall["samples"] if overall["samples"] else 0.0,
        "by_variant": by_variant,
        "by_difficulty": by_difficulty,
        "questions": len({row["question_id"] for row in rows}),
        "questions_solved": len(solved),
        "scorer_errors": len(raised),
        "first_scorer_error": raised[0] if raised else None,
        "empty": sum(not row["completion"].strip() for row in rows),
        "wrong_reasons": dict(reasons.most_common(6)),
    }
