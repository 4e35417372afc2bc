"""Batched chat generation with transformers: the loop every sampler and measurement uses.

Prompts are rendered with the model's own chat template, sorted by length so that
a batch wastes little on padding, left-padded (a decoder continues from the
right), and generated until the end-of-turn token, a stop string or the token
budget. A batch that runs out of GPU memory is split in half and retried, so the
batch size a machine can hold is found as the run goes rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from skillfactory.errors import SkillFactoryError
from skillfactory.records import Conversation
from skillfactory.sampler import SamplingSettings


@dataclass(frozen=True)
class GenerationSettings:
    """How a measurement draws completions; temperature 0 means greedy decoding."""

    max_new_tokens: int = 160
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 64
    seed: int = 0

    def describe(self) -> str:
        how = (
            "greedy decoding"
            if self.temperature == 0
            else f"sampling at temperature {self.temperature}, top-p {self.top_p}"
        )
        return f"{how}, at most {self.max_new_tokens} new tokens, seed {self.seed}"

    def sampling(self) -> SamplingSettings:
        """The same settings as the sampler contract states them (no top-k, no penalty)."""
        return SamplingSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=0,
            repetition_penalty=1.0,
            max_new_tokens=self.max_new_tokens,
            seed=self.seed,
        )


def generate(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Conversation],
    settings: GenerationSettings,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """One completion per conversation, in the order given.

    ``on_batch(done)`` is called with the number of prompts finished so far.
    """
    completions = sample_completions(
        model,
        tokenizer,
        conversations,
        settings.sampling(),
        batch_size=settings.batch_size,
        on_batch=on_batch,
    )
    return [texts[0] for texts in completions]


def sample_completions(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Conversation],
    settings: SamplingSettings,
    *,
    n: int = 1,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[str]]:
    """``n`` completions per conversation, in the order given.

    The ``n`` copies of a prompt share a batch, so a prompt is padded once. A
    stop string ends a completion and stays in its text. ``on_batch(done)`` is
    called with the number of completions finished so far. The same model,
    prompts, settings and batch size give the same completions on the same
    machine.
    """
    import torch

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    prompts = [render_prompt(tokenizer, c) for c in conversations]
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
    jobs = [(prompt, copy) for prompt in order for copy in range(n)]
    results: list[list[str]] = [[""] * n for _ in prompts]
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    options = _decoding_options(settings, tokenizer)
    torch.manual_seed(settings.seed)
    done = 0
    size = max(1, batch_size)
    while done < len(jobs):
        chosen = jobs[done : done + size]
        try:
            texts = _generate_batch(model, tokenizer, [prompts[p] for p, _ in chosen], options)
        except torch.OutOfMemoryError:
            if len(chosen) == 1:
                raise SkillFactoryError(
                    "out of memory while generating one completion; lower max_new_tokens "
                    "or use a machine with more memory"
                ) from None
            size = max(1, len(chosen) // 2)
            _release_cached_memory()
            continue
        for (prompt, copy), text in zip(chosen, texts, strict=True):
            results[prompt][copy] = cut_at_stop(text, settings.stop)
        done += len(chosen)
        if on_batch is not None:
            on_batch(done)
    return results


def render_prompt(tokenizer: Any, conversation: Conversation) -> str:
    """The text the model continues: after a new assistant turn's opening, or, when the
    conversation ends with an assistant message, from the end of that message (budget
    forcing continues a reply that way)."""
    messages = list(conversation)
    if messages and messages[-1]["role"] == "assistant":
        return tokenizer.apply_chat_template(messages, continue_final_message=True, tokenize=False)
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to and including the first stop string in it (all of it when none occurs)."""
    ends = [text.find(s) + len(s) for s in stop if s and s in text]
    return text[: min(ends)] if ends else text


def _decoding_options(settings: SamplingSettings, tokenizer: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "repetition_penalty": settings.repetition_penalty,
    }
    if settings.temperature > 0:
        options.update(
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k if settings.top_k > 0 else None,
        )
    else:
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    if settings.stop:
        options.update(stop_strings=list(settings.stop), tokenizer=tokenizer)
    return options


def _generate_batch(
    model: Any, tokenizer: Any, prompts: list[str], options: dict[str, Any]
) -> list[str]:
    import torch

    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
        model.device
    )
    with torch.inference_mode():
        output = model.generate(**batch, **options)
    new_tokens = output[:, batch["input_ids"].shape[1] :]
    return tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


def _release_cached_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
