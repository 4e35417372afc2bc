"""How fast the trainer plugins train, against plain PyTorch loops doing the same work.

The ``sft`` and ``grpo`` trainers hand training to TRL. This measures what that
costs, in one run, as a ratio against a plain loop written here with PyTorch and
transformers directly, on the same model, device and precision:

* SFT, in tokens per second: the ``sft`` trainer plugin trains for a fixed number
  of steps on traces (one epoch over steps x batch size traces). Every batch TRL
  trains on is recorded (the padded ``input_ids``, ``attention_mask`` and
  ``labels``, loss on the assistant reply only), and the baseline trains a fresh
  copy of the model on exactly those tensors, in the same order: AdamW, forward,
  backward, step. Tokens are those of the chat-templated traces.
* GRPO, in steps per second: the ``grpo`` trainer plugin for a few steps on
  Countdown-3 questions (``rl_problems``, difficulty 3, 32 questions, seed 0),
  4 generations per prompt, batches of 8, at most 128 completion tokens. The
  prompts TRL drew at each step are recorded, and the baseline does, per step,
  for the same prompts: ``model.generate`` with TRL's own generation config
  (same number of completions, same token budget, sampling), then one forward,
  backward and AdamW step of a REINFORCE loss (verifier score minus the mean of
  the prompt's group, times the completion's log-probability).

TRL's trainers do more per step than the baselines (reward scoring through the
Verifier, advantage normalisation, gradient clipping, a learning-rate schedule,
metrics and logging), so the ratio is the framework's overhead, not a like-for-like
kernel race. The trainers write to a temporary directory, removed at the end.

Where a CUDA GPU is visible, both trainers and baselines run on it in bfloat16 (as
the plugins choose), and the same measurements are repeated on ``--model`` (a
Qwen-class model directory or hub id); otherwise the script says why not.

    python benchmarks/train_bench.py [--sft-steps 16] [--sft-batch-size 4] [--grpo-steps 4]
        [--traces /tmp/runs/b/traces] [--model /path/to/Qwen2.5-1.5B-Instruct]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import cpu_name  # benchmarks/machine.py, beside this script


@dataclass
class Row:
    """One line of the results table."""

    label: str
    steps: int
    work: float
    """Tokens (SFT) or completions (GRPO) the row trained on."""
    seconds: float
    rate: float
    """Tokens/s (SFT) or steps/s (GRPO)."""
    ratio: float
    note: str = ""


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Swallow the trainers' progress bars and log lines; show them if something fails."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    except BaseException:
        sys.stdout.write(out.getvalue())
        sys.stderr.write(err.getvalue()[-4000:])
        raise


@contextlib.contextmanager
def recording(name: str, method: str, record: Callable[[Any, tuple], None]) -> Iterator[None]:
    """Replace ``trl.<name>`` by a subclass whose ``method`` first calls ``record(self, args)``.

    The plugins import TRL's trainer classes inside ``train``, so they pick the
    subclass up; the recording costs a dictionary copy per call.
    """
    import trl

    original = getattr(trl, name)
    parent = getattr(original, method)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        record(self, args)
        return parent(self, *args, **kwargs)

    setattr(trl, name, type(f"Recording{name}", (original,), {method: wrapper}))
    try:
        yield
    finally:
        setattr(trl, name, original)


def torch_device(device: Any) -> Any:
    import torch

    return torch.device("cuda" if device.cuda else "cpu")


def synchronize(device: Any) -> None:
    import torch

    if device.cuda:
        torch.cuda.synchronize()


def release() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def curve_runtime(output_dir: Path) -> tuple[float, list[dict[str, Any]]]:
    """``train_runtime`` (seconds inside ``trainer.train()``) and the curve the plugin saved."""
    from skillfactory.training import CURVE_FILE

    curve = json.loads((output_dir / CURVE_FILE).read_text(encoding="utf-8"))
    runtime = [entry["train_runtime"] for entry in curve if "train_runtime" in entry]
    return float(runtime[-1]), curve


def warm_up(model: str, device: Any) -> None:
    """One untimed forward, backward and short generation, so no timed row pays first-call costs."""
    import torch

    from skillfactory import training

    network, tokenizer = training.load_for_training(model, device)
    network.to(torch_device(device))
    batch = tokenizer(["warm up the kernels"], return_tensors="pt").to(network.device)
    network(**batch, labels=batch["input_ids"]).loss.backward()
    with torch.no_grad():
        network.generate(
            **batch, max_new_tokens=4, do_sample=True, pad_token_id=tokenizer.pad_token_id
        )
    synchronize(device)
    del network
    release()


# --------------------------------------------------------------------------- traces


def synthetic_traces(count: int, seed: int) -> list[list[dict[str, str]]]:
    """``count`` composed Countdown-3 traces (``verify`` + ``retry``) from made-up attempts.

    Each question gets three wrong attempts (an operator of the reference answer
    changed) and the right one, each with a reflection whose verdict agrees with
    the task's verifier, as tests/test_traces_for_sft.py composes its traces.
    """
    from skillfactory import Attempt, InMemoryTexts, Question
    from skillfactory.composer import compose
    from skillfactory.plugins.retry import Retry
    from skillfactory.plugins.verify import Verify
    from skillfactory.registry import get_registry

    task = get_registry().get("task", "countdown").create()
    problems = task.generate(count * 2, difficulty=3, seed=seed)
    swaps = {"+": "-", "-": "+", "*": "+", "/": "*"}
    questions = []
    for problem in problems:
        numbers = ", ".join(str(n) for n in problem.data["numbers"])
        target = problem.data["target"]
        right = problem.answer
        answers = []
        for k in range(3):
            operators = [i for i, c in enumerate(right) if c in swaps]
            at = operators[k % len(operators)]
            answers.append(right[:at] + swaps[right[at]] + right[at + 1 :])
        answers.append(right)
        texts, reflections, attempts = [], [], []
        for index, answer in enumerate(answers):
            correct = task.score(problem, answer).correct
            texts.append(
                f"Numbers: {numbers}. Target: {target}.\nI try {answer}.\n"
                f"Working it through step by step gives a value to compare with {target}.\n"
                f"<answer>{answer}</answer>"
            )
            verdict = "Correct" if correct else "Incorrect"
            reflections.append(
                f"Answer: {answer}.\nEach of {numbers} is used once.\n"
                f"The result {'matches' if correct else 'does not match'} the target {target}."
                f"\n<verdict>{verdict}</verdict>"
            )
            attempts.append(Attempt(index, correct, answer, task.variants[index % 4], index))
        prompt = task.prompt(problem, task.variants[0])
        questions.append(
            Question(problem.id, prompt, tuple(attempts), InMemoryTexts(texts, reflections))
        )
    traces, _ = compose(questions, [Verify(), Retry()], seed=seed)
    return [trace.messages for trace in traces]


def pick_traces(
    options: argparse.Namespace, tokenizer: Any, wanted: int, max_length: int
) -> tuple[list[list[dict[str, str]]], str]:
    """``wanted`` traces that fit in ``max_length`` tokens, and where they came from."""
    if options.traces:
        from datasets import load_from_disk

        pool = list(load_from_disk(options.traces)["messages"])
        source = f"traces of {options.traces}"
    else:
        pool = synthetic_traces(max(wanted, 8), options.seed)
        source = "synthetic composed Countdown-3 traces (verify, retry)"
    fitting = [m for m in pool if len(template_ids(tokenizer, m)) <= max_length]
    return fitting[:wanted], source


def template_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The trace as the ``sft`` trainer measures it: chat template, then the tokenizer."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# --------------------------------------------------------------------------- SFT


def bench_sft(options: argparse.Namespace, model: str, device: Any, work: Path) -> list[Row]:
    import torch
    from datasets import Dataset
    from transformers import AutoConfig, AutoTokenizer

    from skillfactory import training
    from skillfactory.registry import get_registry

    tokenizer = AutoTokenizer.from_pretrained(model)
    positions = getattr(AutoConfig.from_pretrained(model), "max_position_embeddings", None)
    max_length = min(options.max_length, positions or options.max_length)
    batch_size = options.sft_batch_size
    traces, source = pick_traces(options, tokenizer, options.sft_steps * batch_size, max_length)
    steps = len(traces) // batch_size
    traces = traces[: steps * batch_size]
    if steps < 1:
        raise SystemExit(f"too few traces of at most {max_length} tokens for one batch")
    if steps != options.sft_steps:
        print(
            f"  (only {len(traces)} traces of at most {max_length} tokens make full batches of "
            f"{batch_size}: {steps} SFT steps instead of {options.sft_steps})"
        )
    tokens = sum(len(template_ids(tokenizer, m)) for m in traces)
    reply_tokens = None  # known only where the template marks the reply ({% generation %})
    if "{% generation %}" in (tokenizer.chat_template or ""):
        reply_tokens = 0
        for messages in traces:
            marked = tokenizer.apply_chat_template(
                messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
            )
            reply_tokens += sum(marked["assistant_masks"])
    replies = (
        "the template does not mark the replies"
        if reply_tokens is None
        else f"{reply_tokens:,} in the replies"
    )
    print(
        f"  SFT: {len(traces)} {source}, {steps} steps of {batch_size}, max_length "
        f"{max_length}, {tokens:,} tokens ({replies}), learning rate "
        f"{options.learning_rate:g}"
    )

    batches: list[dict[str, Any]] = []

    def record(_trainer: Any, args: tuple) -> None:
        inputs = args[1]
        batches.append({k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)})

    trainer = (
        get_registry()
        .get("trainer", "sft")
        .create(
            learning_rate=options.learning_rate,
            num_train_epochs=1.0,
            per_device_train_batch_size=batch_size,
            max_length=max_length,
            seed=options.seed,
            save_steps=steps + 1,
        )
    )
    output = work / "sft"
    started = time.perf_counter()
    with recording("SFTTrainer", "training_step", record), quietly():
        trainer.train(model, Dataset.from_dict({"messages": traces}), output)
    whole = time.perf_counter() - started
    runtime, _curve = curve_runtime(output)
    facts = json.loads((output / "training.json").read_text(encoding="utf-8"))
    release()

    # The same tensors, in the same order, through a plain loop.
    network, _ = training.load_for_training(model, device)
    place = torch_device(device)
    network.to(place)
    torch.manual_seed(options.seed)
    optimizer = torch.optim.AdamW(network.parameters(), lr=options.learning_rate, weight_decay=0.0)
    keys = ("input_ids", "attention_mask", "labels")
    synchronize(device)
    started = time.perf_counter()
    for batch in batches:
        inputs = {k: batch[k].to(place) for k in keys if k in batch}
        loss = network(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    plain = time.perf_counter() - started
    del network, optimizer
    release()

    real = sum(int(b["attention_mask"].sum()) for b in batches if "attention_mask" in b)
    padded = sum(int(b["input_ids"].numel()) for b in batches)
    learned = sum(int((b["labels"] != -100).sum()) for b in batches if "labels" in b)
    print(
        f"  TRL's batches: {len(batches)} (the trainer ran {facts['steps']} steps, loss on "
        f"{facts['loss_on']}); {real:,} real tokens, {padded:,} with padding; {learned:,} "
        f"tokens carry loss (chat template: {replies})"
    )
    baseline = tokens / plain
    return [
        Row("SFT plain loop (baseline)", len(batches), tokens, plain, baseline, 1.0),
        Row(
            "SFT sft plugin, trainer.train()",
            facts["steps"],
            tokens,
            runtime,
            tokens / runtime,
            tokens / runtime / baseline,
        ),
        Row(
            "SFT sft plugin, whole train() call",
            facts["steps"],
            tokens,
            whole,
            tokens / whole,
            tokens / whole / baseline,
            "load, tokenise, train, save",
        ),
    ]


# --------------------------------------------------------------------------- GRPO


def bench_grpo(options: argparse.Namespace, model: str, device: Any, work: Path) -> list[Row]:
    import torch
    from datasets import Dataset

    from skillfactory import training
    from skillfactory.pipeline.problems import problem_features, problem_row
    from skillfactory.pipeline.rl_problems import rl_problems
    from skillfactory.registry import get_registry

    task = get_registry().get("task", "countdown").create()
    problems = rl_problems(task, difficulty=3, count=options.grpo_questions, seed=options.seed)
    rows = [problem_row(problem) for problem in problems]
    features = problem_features()
    dataset = Dataset.from_dict({n: [r[n] for r in rows] for n in features}, features=features)
    by_id = {problem.id: problem for problem in problems}
    generations, batch_size = options.num_generations, options.grpo_batch_size
    print(
        f"  GRPO: {len(problems)} Countdown-3 questions (rl_problems, seed {options.seed}), "
        f"{options.grpo_steps} steps, {generations} generations per prompt, batches of "
        f"{batch_size}, at most {options.max_completion_length} completion tokens, learning "
        f"rate {options.learning_rate:g}"
    )

    steps_seen: list[list[tuple[Any, str]]] = []
    configs: list[Any] = []

    def record(trainer: Any, args: tuple) -> None:
        steps_seen.append([(row["prompt"], row["problem_id"]) for row in args[0]])
        configs.append(trainer.generation_config)

    trainer = (
        get_registry()
        .get("trainer", "grpo")
        .create(
            learning_rate=options.learning_rate,
            max_steps=options.grpo_steps,
            num_generations=generations,
            per_device_train_batch_size=batch_size,
            max_completion_length=options.max_completion_length,
            seed=options.seed,
            save_steps=options.grpo_steps + 1,
        )
    )
    output = work / "grpo"
    started = time.perf_counter()
    with recording("GRPOTrainer", "_generate_and_score_completions", record), quietly():
        trainer.train(model, dataset, output)
    whole = time.perf_counter() - started
    runtime, curve = curve_runtime(output)
    facts = json.loads((output / "training.json").read_text(encoding="utf-8"))
    trl_lengths = [e["completions/mean_length"] for e in curve if "completions/mean_length" in e]
    release()

    network, tokenizer = training.load_for_training(model, device)
    place = torch_device(device)
    network.to(place)
    tokenizer.padding_side = "left"
    config = configs[0]
    eos = config.eos_token_id
    eos_ids = torch.tensor(eos if isinstance(eos, list) else [eos], device=place)
    torch.manual_seed(options.seed)
    optimizer = torch.optim.AdamW(network.parameters(), lr=options.learning_rate, weight_decay=0.0)
    lengths: list[int] = []
    synchronize(device)
    started = time.perf_counter()
    for step in steps_seen:
        texts = [
            tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
            for prompt, _ in step
        ]
        prompt_batch = tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=False
        ).to(place)
        with torch.no_grad():
            sequences = network.generate(**prompt_batch, generation_config=config)
        width = prompt_batch["input_ids"].shape[1]
        completion = sequences[:, width:]
        is_eos = torch.isin(completion, eos_ids).int()
        mask = ((is_eos.cumsum(1) - is_eos) == 0).long()  # up to and including the first EOS
        rewards = []
        for row, (_, problem_id) in enumerate(step):
            text = tokenizer.decode(completion[row][mask[row].bool()], skip_special_tokens=True)
            answer = task.extract_answer(text)
            rewards.append(task.score(by_id[problem_id], answer).value)
        reward = torch.tensor(rewards, device=place)
        ids = [problem_id for _, problem_id in step]
        group_mean = torch.stack(
            [reward[[j for j, o in enumerate(ids) if o == i]].mean() for i in ids]
        )
        advantage = reward - group_mean
        attention = torch.cat([prompt_batch["attention_mask"], mask], dim=1)
        logits = network(input_ids=sequences, attention_mask=attention).logits[:, width - 1 : -1]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        taken = log_probs.gather(-1, completion.unsqueeze(-1)).squeeze(-1)
        loss = -(advantage[:, None] * taken * mask).sum() / mask.sum().clamp(min=1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        lengths.extend(mask.sum(dim=1).tolist())
    synchronize(device)
    plain = time.perf_counter() - started
    del network, optimizer
    release()

    completions = sum(len(step) for step in steps_seen)
    trl_mean = sum(trl_lengths) / len(trl_lengths) if trl_lengths else float("nan")
    print(
        f"  completions: {completions} in {len(steps_seen)} generation calls; mean length "
        f"{sum(lengths) / len(lengths):.1f} tokens in the baseline, {trl_mean:.1f} in TRL "
        f"(different random draws); use_vllm resolved to {facts['use_vllm']}"
    )
    baseline = len(steps_seen) / plain
    return [
        Row("GRPO plain loop (baseline)", len(steps_seen), completions, plain, baseline, 1.0),
        Row(
            "GRPO grpo plugin, trainer.train()",
            facts["steps"],
            completions,
            runtime,
            facts["steps"] / runtime,
            facts["steps"] / runtime / baseline,
        ),
        Row(
            "GRPO grpo plugin, whole train() call",
            facts["steps"],
            completions,
            whole,
            facts["steps"] / whole,
            facts["steps"] / whole / baseline,
            "load, train, save",
        ),
    ]


# --------------------------------------------------------------------------- main


def print_table(rows: list[Row]) -> None:
    print(
        f"\n{'row':<38} {'steps':>5} {'tokens/completions':>18} {'seconds':>8} "
        f"{'rate':>14} {'vs baseline':>11}"
    )
    for row in rows:
        unit = "tokens/s" if row.label.startswith("SFT") else "steps/s"
        rate = f"{row.rate:,.0f} {unit}" if unit == "tokens/s" else f"{row.rate:.3f} {unit}"
        print(
            f"{row.label:<38} {row.steps:>5} {row.work:>18,.0f} {row.seconds:>8.2f} "
            f"{rate:>14} {row.ratio:>10.2f}x" + (f"  ({row.note})" if row.note else "")
        )


def bench(options: argparse.Namespace, spec: str) -> None:
    from skillfactory import training
    from skillfactory.models.resolve import resolve_model

    model = resolve_model(spec)
    device = training.pick_device()
    print(f"\nmodel: {spec} ({model}); device: {'cuda' if device.cuda else 'cpu'}, "
          f"{device.dtype_name}")  # fmt: skip
    warm_up(model, device)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="train_bench-") as work:
        print(f"  the trainers write to a temporary directory ({work}), removed at the end")
        if options.sft_steps > 0:
            rows += bench_sft(options, model, device, Path(work))
        if options.grpo_steps > 0:
            rows += bench_grpo(options, model, device, Path(work))
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sft-steps", type=int, default=16, help="SFT steps (0 skips SFT)")
    parser.add_argument("--sft-batch-size", type=int, default=4, help="traces per SFT step")
    parser.add_argument(
        "--max-length", type=int, default=1024, help="longest trace in tokens (capped by the model)"
    )
    parser.add_argument(
        "--traces",
        default=None,
        help="a saved traces dataset (e.g. /tmp/runs/b/traces); default: synthetic traces",
    )
    parser.add_argument("--grpo-steps", type=int, default=4, help="GRPO steps (0 skips GRPO)")
    parser.add_argument("--grpo-questions", type=int, default=32, help="Countdown-3 questions")
    parser.add_argument("--num-generations", type=int, default=4, help="completions per prompt")
    parser.add_argument("--grpo-batch-size", type=int, default=8, help="completions per step")
    parser.add_argument(
        "--max-completion-length", type=int, default=128, help="GRPO completion budget"
    )
    parser.add_argument("--learning-rate", type=float, default=1e-5, help="both trainers")
    parser.add_argument("--seed", type=int, default=0, help="traces, problems and training seed")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; more threads than idle cores make them wait on each other "
        "(2 threads on a 2-core VM with one core busy ran a step 7x slower than 1 thread)",
    )
    parser.add_argument(
        "--model",
        default="Qwen/Qwen2.5-1.5B-Instruct",
        help="Qwen-class model (directory or hub id) for the GPU run; used only with CUDA",
    )
    options = parser.parse_args()

    import accelerate
    import datasets
    import torch
    import transformers
    import trl

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity_error()
    torch.set_num_threads(options.threads)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {cpu_name()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} "
        f"usable), load average {load}; Python {platform.python_version()}, torch "
        f"{torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}, "
        f"accelerate {accelerate.__version__}, datasets {datasets.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(f"GPU: {gpu or 'none visible'}")
    print(
        "TRL's trainers do more per step than the plain loops (reward scoring through the "
        "Verifier, advantage normalisation, gradient clipping, the schedule, metrics and "
        "logging), so each ratio is the framework's overhead."
    )

    bench(options, "default")
    if gpu is None:
        print(
            f"\n{options.model} on the GPU (bf16): skipped (no CUDA GPU is visible; torch "
            f"{torch.__version__} sees none)."
        )
    else:
        bench(options, options.model)


if __name__ == "__main__":
    main()
