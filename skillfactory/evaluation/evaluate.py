"""Evaluating a model on held-out questions: accuracy, answer format, length, skill use.

The questions are the held-out draw (``HELD_OUT_SEED``) that the default model's
corpus, GRPO's questions and the run's own samples never contain (ids given in
``exclude`` are dropped as well). Each question is asked ``samples`` times with
the task's plain prompt, every response is scored by the task's verifier, and
each response's attempts and in-trace verdicts are read as the paper does.

With budget forcing, each response that closes its thinking (``</think>``) has
the closing tag replaced by ``<sample>`` and continues, up to ``rounds`` times;
then it may close and give its answer. Accuracy and length are reported with
and without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from skillfactory.errors import SkillFactoryError
from skillfactory.evaluation.suites import OPTIONAL_DATA, Cell
from skillfactory.records import Conversation, Problem
from skillfactory.sampler import SamplingSettings

THINK_CLOSE = "</think>"
SAMPLE_OPEN = "<sample>"
METRICS_FILE = "metrics.json"
RESPONSES_FILE = "responses.jsonl"


@dataclass(frozen=True)
class EvalSettings:
    """How responses are drawn; the defaults follow the run's sampling settings."""

    samples: int = 4
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    max_new_tokens: int = 512
    budget_forcing: int = 0
    seed: int = 0
    suite: str = "quick"

    def sampling(self, *, stop: tuple[str, ...] = ()) -> SamplingSettings:
        return SamplingSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repetition_penalty=1.0,
            max_new_tokens=self.max_new_tokens,
            seed=self.seed,
            stop=stop,
        )


def held_out(task: Any, cell: Cell, exclude: set[str]) -> list[Problem]:
    """``cell.count`` evaluation questions of ``task``, none of them in ``exclude``."""
    from skillfactory.models.abilities import HELD_OUT_SEED

    drawn = task.generate(cell.count + len(exclude), difficulty=cell.difficulty, seed=HELD_OUT_SEED)
    return [problem for problem in drawn if problem.id not in exclude][: cell.count]


def force_budget(
    sampler: Any,
    prompts: Sequence[Conversation],
    texts: list[str],
    settings: EvalSettings,
) -> tuple[list[str], list[int]]:
    """Continue each response that closed its thinking, re-opened with ``<sample>``.

    ``texts[i]`` answers ``prompts[i]`` and was generated with ``</think>`` as a
    stop string. Returns the final texts and how many times each was re-opened.
    """
    texts = list(texts)
    rounds = [0] * len(texts)
    stop_at_think = settings.sampling(stop=(THINK_CLOSE,))
    for round_number in range(settings.budget_forcing):
        closed = [i for i, text in enumerate(texts) if text.rstrip().endswith(THINK_CLOSE)]
        if not closed:
            break
        for i in closed:
            texts[i] = texts[i].rstrip()[: -len(THINK_CLOSE)] + SAMPLE_OPEN
            rounds[i] += 1
        more = _continue(
            sampler,
            prompts,
            texts,
            closed,
            replace(stop_at_think, seed=stop_at_think.seed + round_number + 1),
        )
        for i, continuation in zip(closed, more, strict=True):
            texts[i] += continuation
    closed = [i for i, text in enumerate(texts) if text.rstrip().endswith(THINK_CLOSE)]
    if closed:  # let them finish: a closing phrase and the answer
        more = _continue(sampler, prompts, texts, closed, settings.sampling())
        for i, continuation in zip(closed, more, strict=True):
            texts[i] += continuation
    return texts, rounds


def _continue(
    sampler: Any,
    prompts: Sequence[Conversation],
    texts: list[str],
    chosen: list[int],
    settings: SamplingSettings,
) -> list[str]:
    conversations = [[*prompts[i], {"role": "assistant", "content": texts[i]}] for i in chosen]
    return [completions[0] for completions in sampler.sample(conversations, 1, settings)]


def evaluate_model(
    sampler: Any,
    tokenizer: Any,
    cells: Sequence[Cell],
    settings: EvalSettings,
    *,
    exclude: set[str] = frozenset(),
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
    responses_file: Path | None = None,
    on_cell: Callable[[Cell, dict[str, Any] | None], None] | None = None,
) -> list[dict[str, Any]]:
    """The metrics of every cell (the ``cells`` of one model in ``metrics.json``).

    ``task_options`` gives, by task name, the options a task is made with (a run
    passes its own task's); other tasks take their defaults.
    """
    from skillfactory.evaluation.metrics import CellMetrics, skill_usage, wilson_interval
    from skillfactory.registry import get_registry
    from skillfactory.scoring import Verifier

    results = []
    for cell in cells:
        options = dict((task_options or {}).get(cell.task, {}))
        task = get_registry().get("task", cell.task).create(**options)
        try:
            problems = held_out(task, cell, exclude)
        except SkillFactoryError:
            if cell.task in OPTIONAL_DATA:  # its dataset is not on this machine
                if on_cell is not None:
                    on_cell(cell, None)
                continue
            raise
        prompts = [task.prompt(problem, task.variants[0]) for problem in problems]
        stop = (THINK_CLOSE,) if settings.budget_forcing else ()
        drawn = sampler.sample(prompts, settings.samples, settings.sampling(stop=stop))
        flat_prompts = [prompt for prompt in prompts for _ in range(settings.samples)]
        flat_problems = [problem for problem in problems for _ in range(settings.samples)]
        first = [text for texts in drawn for text in texts]
        plain = first
        forced: list[str] | None = None
        rounds: list[int] = []
        if settings.budget_forcing:
            # The plain responses are the first pass taken to its end without forcing.
            plain, _ = force_budget(
                sampler, flat_prompts, first, replace(settings, budget_forcing=0)
            )
            forced, rounds = force_budget(sampler, flat_prompts, first, settings)
        with Verifier(task, options) as verifier:
            metrics = CellMetrics()
            judgements = verifier.judge(list(zip(flat_problems, plain, strict=True)))
            for problem, text, judgement in zip(flat_problems, plain, judgements, strict=True):
                skills = skill_usage(text, _judge(verifier, problem))
                length = len(tokenizer(text, add_special_tokens=False)["input_ids"])
                metrics.add(
                    judgement.score.correct, judgement.extracted is not None, length, skills
                )
            row = metrics.to_json(cell.task, cell.difficulty, len(problems))
            if forced is not None:
                forced_judgements = verifier.judge(list(zip(flat_problems, forced, strict=True)))
                right = sum(j.score.correct for j in forced_judgements)
                low, high = wilson_interval(right, len(forced))
                lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in forced]
                row["budget_forcing"] = {
                    "rounds": settings.budget_forcing,
                    "reopened": sum(rounds),
                    "accuracy": right / len(forced) if forced else 0.0,
                    "ci_low": low,
                    "ci_high": high,
                    "mean_length": sum(lengths) / len(lengths) if lengths else 0.0,
                }
        if responses_file is not None:
            _append_responses(responses_file, cell, flat_problems, plain, judgements, forced)
        results.append(row)
        if on_cell is not None:
            on_cell(cell, row)
    return results


def _judge(verifier: Any, problem: Problem) -> Callable[[str], bool | None]:
    """Whether an attempt inside a response is right, scored exactly as whole responses are
    (in the verifier's worker pool for a task that asks for a sandbox); None without an answer."""

    def right(text: str) -> bool | None:
        (judgement,) = verifier.judge([(problem, text)])
        return None if judgement.extracted is None else judgement.score.correct

    return right


def _append_responses(
    path: Path,
    cell: Cell,
    problems: Sequence[Problem],
    texts: Sequence[str],
    judgements: Sequence[Any],
    forced: Sequence[str] | None,
) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for index, (problem, text, judgement) in enumerate(
            zip(problems, texts, judgements, strict=True)
        ):
            row = {
                "task": cell.task,
                "difficulty": cell.difficulty,
                "problem_id": problem.id,
                "response": text,
                "extracted": judgement.extracted,
                "correct": judgement.score.correct,
                "reason": judgement.score.reason,
            }
            if forced is not None:
                row["budget_forced"] = forced[index]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_metrics(
    output_dir: Path, settings: EvalSettings, models: Sequence[Mapping[str, Any]]
) -> Path:
    """``metrics.json``: the settings and, per model, its label, name and cells."""
    from skillfactory.run_store import write_atomically

    path = output_dir / METRICS_FILE
    data = {"settings": asdict(settings), "models": [dict(model) for model in models]}
    write_atomically(path, json.dumps(data, indent=2) + "\n")
    return path
