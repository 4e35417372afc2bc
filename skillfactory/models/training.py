"""Training the default model from scratch: tokenised conversations, a plain PyTorch loop.

The loss is on the assistant's tokens only (its reply and the end-of-turn token),
as TRL's assistant-only loss would do: the prompts are boilerplate the model only
has to read. Batches hold conversations of similar length, so little compute goes
on padding; the order of batches comes from the seed, so a build is reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from skillfactory.models.chat_template import TURN_END
from skillfactory.records import Conversation

IGNORE = -100
"""Label of a token that carries no loss (transformers' convention)."""


@dataclass(frozen=True)
class Example:
    """One conversation as token ids, with the labels that carry loss."""

    input_ids: list[int]
    labels: list[int]


@dataclass(frozen=True)
class Phase:
    """Examples trained together, in batches of ``batch_size``, before the next phase's.

    A build can teach facts before it teaches their use: a phase of arithmetic
    drills alone, then the mixed corpus. The learning-rate schedule runs over all
    phases as one.
    """

    examples: Sequence[Example]
    batch_size: int
    epochs: int = 1


@dataclass(frozen=True)
class TrainingSettings:
    learning_rate: float
    warmup_share: float = 0.03
    weight_decay: float = 0.01
    max_length: int = 512
    seed: int = 0
    bf16: bool = False
    """Run forward passes under bfloat16 autocast (faster on CPUs with AVX512-BF16)."""


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (else autocast would be slower)."""
    import torch

    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def encode(conversations: Sequence[Conversation], tokenizer: Any, max_length: int) -> list[Example]:
    """Tokenise prompt and reply apart, exactly as generation will see the prompt.

    Conversations longer than ``max_length`` tokens are left out.
    """
    prompts = [
        tokenizer.apply_chat_template(list(c[:-1]), add_generation_prompt=True, tokenize=False)
        for c in conversations
    ]
    replies = [c[-1]["content"] for c in conversations]
    backend = tokenizer.backend_tokenizer
    end = tokenizer.convert_tokens_to_ids(TURN_END)
    prompt_ids = backend.encode_batch(prompts, add_special_tokens=False)
    reply_ids = backend.encode_batch(replies, add_special_tokens=False)
    examples = []
    for prompt, reply in zip(prompt_ids, reply_ids, strict=True):
        answer = [*reply.ids, end]
        ids = [*prompt.ids, *answer]
        if len(ids) <= max_length:
            examples.append(Example(ids, [IGNORE] * len(prompt.ids) + answer))
    return examples


def batches(examples: Sequence[Example], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Indices of examples, grouped by similar length, in a shuffled order of groups."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].input_ids), i))
    groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return groups


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors for a training step.

    No attention mask: padding sits after every real token, so under causal
    attention no real token sees it, and it carries no loss. Leaving the mask out
    keeps attention on its fast path (benchmarks/build_bench.py measures it).
    """
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        size = len(example.input_ids)
        ids[row, :size] = torch.tensor(example.input_ids)
        labels[row, :size] = torch.tensor(example.labels)
    return {"input_ids": ids, "labels": labels}


def train(
    model: Any,
    phases: Sequence[Phase],
    settings: TrainingSettings,
    *,
    pad_id: int,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place on ``phases`` in order; returns the loss of every step.

    ``on_step(step, total_steps, loss)`` is called after each step (progress bars).
    """
    import torch

    rng = random.Random(f"batches/{settings.seed}")
    plan = [
        [phase.examples[i] for i in group]
        for phase in phases
        for _ in range(phase.epochs)
        for group in batches(phase.examples, phase.batch_size, rng)
    ]
    total = len(plan)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=settings.learning_rate,
        betas=(0.9, 0.95),
        weight_decay=settings.weight_decay,
    )
    warmup = max(1, int(total * settings.warmup_share))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model.train()
    losses = []
    for step, group in enumerate(plan):
        batch = collate(group, pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if on_step is not None:
            on_step(step + 1, total, losses[-1])
    model.eval()
    return losses
