"""``skillfactory model build``: the default base model, from corpus to a standard directory.

The steps: write the corpus (:mod:`~skillfactory.models.corpus`), train a
byte-level BPE tokenizer on it, train a small Llama from scratch on it, save a
directory that ``AutoModelForCausalLM``/``AutoTokenizer.from_pretrained`` load
with no network, measure its abilities on held-out problems, and write a model
card. Everything is drawn from the seed, so a build is reproducible on a machine.
The directory appears only when it is complete: it is written beside its final
place and renamed into it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skillfactory.cache import models_dir
from skillfactory.errors import UsageError
from skillfactory.models.drills import DrillShares
from skillfactory.models.worked_countdown import OPTIONS as COUNTDOWN_OPTIONS

RECIPE = 4
"""Bump when the corpus, tokenizer or training changes: the cached default model is rebuilt."""

BUILD_FILE = "build.json"
"""Written last into a finished build: what was built, how, and what it can do."""


@dataclass(frozen=True)
class ModelSize:
    """A model's shape and how much it is trained."""

    name: str
    hidden_size: int
    layers: int
    heads: int
    vocab_size: int
    problems_per_task: dict[str, int]
    judge_share: float = 0.35
    judge_right_share: float = 0.12
    """Share of judge conversations over right attempts (a base model's are mostly wrong)."""
    epochs: int = 1
    batch_size: int = 8
    learning_rate: float = 3e-3
    max_length: int = 512
    measure_problems: int = 200
    tokenizer_conversations: int = 8000
    """How many conversations the tokenizer learns its merges from."""
    drills: int = 0
    """Arithmetic drill conversations (several facts each) mixed into the corpus."""
    drill_shares: DrillShares = field(default_factory=DrillShares)
    """Which kinds of step the drills draw (recipe 4: mostly the second steps a judge redoes)."""
    drills_first: int = 0
    """Drill conversations trained alone, before the mixed corpus (recipe 4: 100,000).

    Facts are learned before they are used: a judge whose arithmetic is learned
    beside the tasks' text learns it too slowly to redo a step (recipe 3's
    probe: 59%; recipe 4's, with the drills first: 87%).
    """
    drills_first_batch_size: int = 64
    drills_first_shares: DrillShares = field(default_factory=lambda: DrillShares(0.15, 0.55))

    @property
    def intermediate_size(self) -> int:
        return self.hidden_size * 8 // 3 // 16 * 16


SIZES: dict[str, ModelSize] = {
    "small": ModelSize(
        name="small",
        hidden_size=256,
        layers=6,
        heads=4,
        vocab_size=3072,
        problems_per_task={
            "countdown": 13000,
            "letter_countdown": 4000,
            "acronym": 4000,
            "long_multiplication": 4000,
        },
        judge_share=0.6,
        judge_right_share=0.35,
        drills=40000,
        drill_shares=DrillShares(0.15, 0.55),
        drills_first=100_000,
        batch_size=32,
        learning_rate=2e-3,
    ),
    "micro": ModelSize(
        name="micro",
        hidden_size=32,
        layers=2,
        heads=2,
        vocab_size=400,
        problems_per_task={
            "countdown": 40,
            "letter_countdown": 10,
            "acronym": 10,
            "long_multiplication": 10,
        },
        drills=20,
        measure_problems=4,
        tokenizer_conversations=200,
    ),
}
"""``small`` is the default model; ``micro`` is the same recipe in seconds, for tests."""
DEFAULT_SIZE = "small"


@dataclass
class BuildReport:
    """What a build did, saved as ``build.json`` and summarised in the model card."""

    recipe: int
    seed: int
    size: dict[str, Any]
    corpus: dict[str, Any] = field(default_factory=dict)
    tokenizer: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options of the tasks as the corpus drew them: the range the model knows."""
    abilities: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: how a build reports progress (the CLI draws bars)."""


def default_model_dir() -> Path:
    """Where ``skillfactory model build`` puts the default model (``--model rebuilt``).

    The recipe number is in the name, so a build of an older recipe is never
    taken for the current one. The shipped model is elsewhere:
    :mod:`skillfactory.models.shipped`.
    """
    return models_dir() / f"default-r{RECIPE}"


def is_built(directory: Path) -> bool:
    """Whether ``directory`` holds a finished build of the current recipe."""
    try:
        report = json.loads((directory / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and report.get("recipe") == RECIPE


def build_model(
    output_dir: Path,
    *,
    seed: int = 0,
    size: str = DEFAULT_SIZE,
    measure: bool = True,
    progress: Progress | None = None,
) -> BuildReport:
    """Build a model into ``output_dir`` (replacing what is there) and return its report."""
    if size not in SIZES:
        raise UsageError(f"unknown model size {size!r}; sizes: {', '.join(SIZES)}")
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"output {str(output_dir)!r} is a file, not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / BUILD_FILE).exists():
        # A rebuild replaces an earlier build; anything else there is the user's to keep.
        raise UsageError(
            f"output {str(output_dir)!r} is not empty and holds no earlier build; "
            "choose a new or empty directory"
        )
    spec = SIZES[size]
    report = BuildReport(recipe=RECIPE, seed=seed, size=asdict(spec))
    report.machine = _machine()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        model, tokenizer = _train(spec, seed, report, progress)
        _save(model, tokenizer, staging)
        if measure:
            _measure(staging, spec, report, progress)
        _write_card(staging, report)
        (staging / BUILD_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
        _publish(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _train(spec: ModelSize, seed: int, report: BuildReport, progress: Progress | None):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from skillfactory.models.abilities import held_out_ids
    from skillfactory.models.corpus import build_corpus, default_writers
    from skillfactory.models.drills import drill_conversations
    from skillfactory.models.tokenizer import as_transformers_tokenizer, train_tokenizer
    from skillfactory.models.training import (
        Phase,
        TrainingSettings,
        cpu_has_fast_bf16,
        encode,
        train,
    )

    started = time.perf_counter()
    _report(progress, "corpus", 0, 1)
    conversations, stats = build_corpus(
        default_writers(),
        spec.problems_per_task,
        seed=seed,
        judge_share=spec.judge_share,
        judge_right_share=spec.judge_right_share,
        held_out=held_out_ids(),
        drills=spec.drills,
        drill_options=COUNTDOWN_OPTIONS,
        drill_shares=spec.drill_shares,
    )
    report.task_options = {"countdown": dict(COUNTDOWN_OPTIONS)}
    report.corpus = {
        "conversations": stats.conversations,
        "solve": dict(stats.solve),
        "judge_correct": dict(stats.judge_correct),
        "judge_incorrect": dict(stats.judge_incorrect),
        "dropped": stats.dropped,
        "drills": stats.drills,
        "drills_first": spec.drills_first,
    }
    first = drill_conversations(
        spec.drills_first,
        random.Random(f"drills-first/{seed}"),
        options=COUNTDOWN_OPTIONS,
        shares=spec.drills_first_shares,
    )
    _report(progress, "corpus", 1, 1)
    report.seconds["corpus"] = time.perf_counter() - started

    started = time.perf_counter()
    _report(progress, "tokenizer", 0, 1)
    sample = conversations[: spec.tokenizer_conversations]
    backend = train_tokenizer(
        (message["content"] for conversation in sample for message in conversation),
        vocab_size=spec.vocab_size,
    )
    tokenizer = as_transformers_tokenizer(backend)
    examples = encode(conversations, tokenizer, spec.max_length)
    first_examples = encode(first, tokenizer, spec.max_length)
    report.tokenizer = {"vocab_size": len(tokenizer), "trained_on": len(sample)}
    _report(progress, "tokenizer", 1, 1)
    report.seconds["tokenizer"] = time.perf_counter() - started

    started = time.perf_counter()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_length * 2,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    phases = [
        Phase(first_examples, spec.drills_first_batch_size),
        Phase(examples, spec.batch_size, spec.epochs),
    ]
    settings = TrainingSettings(
        learning_rate=spec.learning_rate,
        max_length=spec.max_length,
        seed=seed,
        bf16=cpu_has_fast_bf16(),
    )
    losses = train(
        model,
        [phase for phase in phases if phase.examples],
        settings,
        pad_id=tokenizer.pad_token_id,
        on_step=lambda step, total, loss: _report(progress, "training", step, total),
    )
    report.training = {
        "settings": asdict(settings),
        "parameters": sum(p.numel() for p in model.parameters()),
        "examples": len(examples) + len(first_examples),
        "left_out_too_long": len(conversations) + len(first) - len(examples) - len(first_examples),
        "tokens": sum(len(e.input_ids) for phase in phases for e in phase.examples),
        "steps": len(losses),
        "phases": [
            {
                "examples": len(phase.examples),
                "batch_size": phase.batch_size,
                "epochs": phase.epochs,
                "steps": phase.epochs * -(-len(phase.examples) // phase.batch_size),
            }
            for phase in phases
        ],
        "loss_first": losses[0] if losses else None,
        "loss_last_50": sum(losses[-50:]) / len(losses[-50:]) if losses else None,
        "loss_curve": losses[:: max(1, len(losses) // 100)],
    }
    report.seconds["training"] = time.perf_counter() - started
    return model, tokenizer


def _save(model: Any, tokenizer: Any, directory: Path) -> None:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=256,
    )
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))


def _measure(directory: Path, spec: ModelSize, report: BuildReport, progress: Progress | None):
    """Measure the saved model, loaded back the way every user will load it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from skillfactory.models.abilities import measure

    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(directory))
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    abilities = measure(
        model,
        tokenizer,
        problems=spec.measure_problems,
        on_progress=lambda stage, done, total: _report(progress, stage, done, total),
    )
    report.abilities = abilities.to_json()
    report.abilities["table"] = abilities.markdown()
    report.seconds["measuring"] = time.perf_counter() - started


def _write_card(directory: Path, report: BuildReport) -> None:
    from skillfactory.models.card import model_card

    (directory / "README.md").write_text(model_card(report), encoding="utf-8")


def _publish(staging: Path, output_dir: Path) -> None:
    """Swap the finished build into place; an old build there is removed only then."""
    if output_dir.exists():
        retired = output_dir.with_name(f".{output_dir.name}.old.{os.getpid()}")
        output_dir.rename(retired)
        staging.rename(output_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(output_dir)


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _machine() -> dict[str, Any]:
    import platform

    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
