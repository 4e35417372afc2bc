"""Batched chat generation with transformers: the one loop every model measurement uses.

Prompts are rendered with the model's own chat template, sorted by length so that
a batch wastes little on padding, left-padded (a decoder continues from the
right), and generated until the end-of-turn token or the token budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from skillfactory.records import Conversation


@dataclass(frozen=True)
class GenerationSettings:
    """How completions are drawn; temperature 0 means greedy decoding."""

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
    import torch

    prompts = [
        tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False)
        for c in conversations
    ]
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
    completions: list[str] = [""] * len(prompts)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(settings.seed)
    sampling = settings.temperature > 0
    options = (
        {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
        if sampling
        else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    )
    done = 0
    for start in range(0, len(order), settings.batch_size):
        chosen = order[start : start + settings.batch_size]
        batch = tokenizer(
            [prompts[i] for i in chosen],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(model.device)
        with torch.inference_mode():
            output = model.generate(
                **batch,
                max_new_tokens=settings.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **options,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for i, text in zip(chosen, texts, strict=True):
            completions[i] = text
        done += len(chosen)
        if on_batch is not None:
            on_batch(done)
    return completions
