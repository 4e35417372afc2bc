"""How fast the default model trains, and what its speed choices are worth.

The build must finish in under ten minutes on two CPU cores. Three choices make
that possible, and this times each on real corpus batches of the default model's
shape, in one run, as a ratio against a baseline:

* the tokenizer keeps only numbers and lone letters apart and lets the prompts'
  fixed wording merge into long pieces, so conversations are far shorter than
  with word-level pieces (the baseline): measured in conversations per second;
* the training loop leaves out the attention mask (padding sits after every real
  token, so causal attention never sees it);
* it runs under bfloat16 autocast on CPUs that compute in bfloat16 natively (on
  others autocast is much slower, and the build stays in float32).

    python benchmarks/build_bench.py [--steps 20] [--size small]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any


def word_level_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """The baseline: the same BPE over word-level pieces (GPT-2's pre-tokenizer)."""
    from tokenizers import pre_tokenizers

    from skillfactory.models.tokenizer import train_tokenizer

    word_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return train_tokenizer(texts, vocab_size=vocab_size, pre_tokenizer=word_level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", default="small")
    options = parser.parse_args()

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from skillfactory.models.build import SIZES
    from skillfactory.models.corpus import build_corpus, default_writers
    from skillfactory.models.tokenizer import as_transformers_tokenizer, train_tokenizer
    from skillfactory.models.training import batches, collate, cpu_has_fast_bf16, encode

    spec = SIZES[options.size]
    counts = {task: max(1, count // 20) for task, count in spec.problems_per_task.items()}
    conversations, _ = build_corpus(
        default_writers(),
        counts,
        seed=0,
        judge_share=spec.judge_share,
        judge_right_share=spec.judge_right_share,
    )
    texts = [message["content"] for conversation in conversations for message in conversation]
    print(
        f"{options.size}: hidden {spec.hidden_size}, {spec.layers} layers, batch "
        f"{spec.batch_size}, {options.steps} timed steps; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, CPU bf16: {cpu_has_fast_bf16()}"
    )

    def run(tokenizer: Any, examples: list, *, mask: bool, bf16: bool) -> tuple[float, float]:
        """Tokens and conversations per second over the same conversations."""
        groups = batches(examples, spec.batch_size, random.Random(0))[: options.steps]
        tokens = sum(len(examples[i].input_ids) for group in groups for i in group)
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=spec.hidden_size,
            intermediate_size=spec.intermediate_size,
            num_hidden_layers=spec.layers,
            num_attention_heads=spec.heads,
            num_key_value_heads=spec.heads,
            tie_word_embeddings=True,
        )
        model = LlamaForCausalLM(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate)
        started = None
        for step, group in enumerate([groups[0], *groups]):  # one warm-up step, untimed
            if step == 1:
                started = time.perf_counter()
            batch = collate([examples[i] for i in group], tokenizer.pad_token_id)
            if mask:
                batch["attention_mask"] = (batch["labels"] != -100) | (
                    batch["input_ids"] != tokenizer.pad_token_id
                )
                batch["attention_mask"] = batch["attention_mask"].long()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - started
        return tokens / seconds, len(groups) * spec.batch_size / seconds

    word_level = as_transformers_tokenizer(word_level_tokenizer(texts, spec.vocab_size))
    pieces = as_transformers_tokenizer(train_tokenizer(texts, vocab_size=spec.vocab_size))
    word_level_examples = encode(conversations, word_level, spec.max_length)
    pieces_examples = encode(conversations, pieces, spec.max_length)
    for name, examples in (
        ("word-level pieces", word_level_examples),
        ("the build's pieces", pieces_examples),
    ):
        per_conversation = sum(len(e.input_ids) for e in examples) / len(examples)
        print(f"{name}: {per_conversation:.1f} tokens/conversation")

    _, baseline = run(word_level, word_level_examples, mask=True, bf16=False)
    header = "word-level pieces, float32, attention mask (baseline)"
    print(f"{header:<56} {baseline:>7,.1f} conversations/s  1.00x")
    cases = [
        ("the build's pieces, float32, attention mask", True, False),
        ("the build's pieces, float32, no mask", False, False),
    ]
    if cpu_has_fast_bf16():
        cases.append(("the build's pieces, bf16 autocast, no mask", False, True))
    for label, mask, bf16 in cases:
        rate, per_second = run(pieces, pieces_examples, mask=mask, bf16=bf16)
        print(
            f"{label:<56} {per_second:>7,.1f} conversations/s  {per_second / baseline:.2f}x"
            f"  ({rate:,.0f} tokens/s)"
        )


if __name__ == "__main__":
    main()
