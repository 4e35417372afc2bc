"""Evaluating a model on held-out questions: accuracy, answer format, length, skill use.

The questions are the held-out draw (``HELD_OUT_SEED``) that the default model's
corpus, GRPO's questions and the run's own samples never contain (ids given in
``exclude`` are dropped as well). Each question is asked ``samples`` times with
the task's plain prompt, every response is scored by the task's verifier, and
each response's attempts and in-trace verdicts are read as the paper does.

With budget forcing, each response that closes its thinking (``</think>``) has
the closing tag replaced by ``<sample>`` and continues, up to ``rounds`` times;
then it may close and give its answer. As in the paper, the whole response is
held to ``max_new_tokens`` (``budget_cap="total"``): a continuation gets only the
tokens the response has left, and a response with none left is not re-opened.
``budget_cap="each"`` gives every continuation ``max_new_tokens`` of its own.
Accuracy and length are reported with and without forcing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from skillfactory.errors import SkillFactoryError
from skillfactory.evaluation.finished_cells import FinishedCells
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
    budget_cap: str = "total"
    """``total``: a forced response as a whole gets ``max_new_tokens``; ``each``: every
    continuation does."""
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


BUDGET_CAPS = ("total", "each")


def force_budget(
    sampler: Any,
    prompts: Sequence[Conversation],
    texts: list[str],
    settings: EvalSettings,
    tokenizer: Any = None,
) -> tuple[list[str], list[int]]:
    """Continue each response that closed its thinking, re-opened with ``<sample>``.

    ``texts[i]`` answers ``prompts[i]`` and was generated with ``</think>`` as a
    stop string. Returns the final texts and how many times each was re-opened.
    Under the total cap, ``tokenizer`` counts each response's tokens.
    """
    if settings.budget_cap not in BUDGET_CAPS:
        raise ValueError(f"budget_cap must be one of {BUDGET_CAPS}, got {settings.budget_cap!r}")
    total = settings.budget_cap == "total"
    if total and tokenizer is None:
        raise ValueError("the total budget cap needs the tokenizer to count tokens")

    def left(text: str) -> int:
        if not total:
            return settings.max_new_tokens
        return settings.max_new_tokens - len(_token_ids(tokenizer, text))

    texts = list(texts)
    rounds = [0] * len(texts)
    stop_at_think = settings.sampling(stop=(THINK_CLOSE,))
    for round_number in range(settings.budget_forcing):
        closed = [i for i, text in enumerate(texts) if _closes(text) and left(text) > 0]
        if not closed:
            break
        for i in closed:
            texts[i] = texts[i].rstrip()[: -len(THINK_CLOSE)] + SAMPLE_OPEN
            rounds[i] += 1
        seeded = replace(stop_at_think, seed=stop_at_think.seed + round_number + 1)
        _extend(sampler, prompts, texts, closed, seeded, left, tokenizer)
    closed = [i for i, text in enumerate(texts) if _closes(text) and left(text) > 0]
    if closed:  # let them finish: a closing phrase and the answer
        _extend(sampler, prompts, texts, closed, settings.sampling(), left, tokenizer)
    return texts, rounds


def _closes(text: str) -> bool:
    return text.rstrip().endswith(THINK_CLOSE)


def _token_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _extend(
    sampler: Any,
    prompts: Sequence[Conversation],
    texts: list[str],
    chosen: list[int],
    settings: SamplingSettings,
    left: Callable[[str], int],
    tokenizer: Any,
) -> None:
    """Continue ``texts[i]`` for each ``i`` in ``chosen``, each within the tokens it has left.

    One call serves them all, with the largest budget among them; a continuation
    longer than its own response's budget is cut to it, which is what sampling with
    that budget would have given, token for token.
    """
    budgets = [left(texts[i]) for i in chosen]
    more = _continue(
        sampler, prompts, texts, chosen, replace(settings, max_new_tokens=max(budgets))
    )
    for i, budget, continuation in zip(chosen, budgets, more, strict=True):
        if tokenizer is not None and budget < settings.max_new_tokens:
            ids = _token_ids(tokenizer, continuation)
            if len(ids) > budget:
                continuation = tokenizer.decode(ids[:budget])
        texts[i] += continuation


def _continue(
    sampler: Any,
    prompts: Sequence[Conversation],
    texts: list[str],
    chosen: list[int],
    settings: SamplingSettings,
) -> list[str]:
    conversations = [[*prompts[i], {"role": "assistant", "content": texts[i]}] for i in chosen]
    return [completions[0] for completions in _sample(sampler, conversations, 1, settings)]


def _sample(
    sampler: Any, prompts: Sequence[Conversation], n: int, settings: SamplingSettings
) -> list[list[str]]:
    """The sampler's texts, with any lone surrogate kept as its escape's text (model text is
    untrusted; the tokenizer and the files downstream need valid strings)."""
    from skillfactory.jsonl import storable

    return storable(sampler.sample(prompts, n, settings))


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
    finished: FinishedCells | None = None,
    model_key: str = "",
) -> list[dict[str, Any]]:
    """The metrics of every cell (the ``cells`` of one model in ``metrics.json``).

    ``task_options`` gives, by task name, the options a task is made with (a run
    passes its own task's); other tasks take their defaults. With ``finished``,
    each cell is saved there as it finishes (under ``model_key`` and the cell),
    and a cell already saved is taken from there instead of answered again.
    """
    from skillfactory.evaluation.metrics import CellMetrics, skill_usage, wilson_interval
    from skillfactory.registry import get_registry
    from skillfactory.scoring import Verifier

    results = []
    for cell in cells:
        key = json.dumps([model_key, cell.task, cell.difficulty, cell.count])
        saved = finished.get(key) if finished is not None else None
        if saved is not None:
            row, responses = saved
            if responses_file is not None:
                _append_rows(responses_file, responses)
            results.append(row)
            if on_cell is not None:
                on_cell(cell, row)
            continue
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
        drawn = _sample(sampler, prompts, settings.samples, settings.sampling(stop=stop))
        flat_prompts = [prompt for prompt in prompts for _ in range(settings.samples)]
        flat_problems = [problem for problem in problems for _ in range(settings.samples)]
        first = [text for texts in drawn for text in texts]
        plain = first
        forced: list[str] | None = None
        rounds: list[int] = []
        if settings.budget_forcing:
            # The plain responses are the first pass taken to its end without forcing.
            plain, _ = force_budget(
                sampler, flat_prompts, first, replace(settings, budget_forcing=0), tokenizer
            )
            forced, rounds = force_budget(sampler, flat_prompts, first, settings, tokenizer)
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
        responses = _response_rows(cell, flat_problems, plain, judgements, forced)
        if finished is not None:
            finished.put(key, row, responses)
        if responses_file is not None:
            _append_rows(responses_file, responses)
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


def _response_rows(
    cell: Cell,
    problems: Sequence[Problem],
    texts: Sequence[str],
    judgements: Sequence[Any],
    forced: Sequence[str] | None,
) -> list[dict[str, Any]]:
    rows = []
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
        rows.append(row)
    return rows


def _append_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append JSON lines; text a sampler returned with lone surrogates stays escaped."""
    from skillfactory.jsonl import dumps

    with open(path, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(dumps(row) + "\n")


def write_metrics(
    output_dir: Path, settings: EvalSettings, models: Sequence[Mapping[str, Any]]
) -> Path:
    """``metrics.json``: the settings and, per model, its label, name and cells."""
    from skillfactory.atomic import write_atomically

    path = output_dir / METRICS_FILE
    data = {"settings": asdict(settings), "models": [dict(model) for model in models]}
    write_atomically(path, json.dumps(data, indent=2) + "\n")
    return path
