"""How fast the default model trains, and what its two speed choices are worth.

The build must finish in under ten minutes on two CPU cores, so its training loop
leaves out the attention mask (padding sits after every real token, so causal
attention never sees it) and runs under bfloat16 autocast on CPUs that compute in
bfloat16. This times training steps of the default model's shape on real corpus
batches four ways, in one run, and prints tokens per second with each choice as a
ratio against the plain baseline (float32, with the mask).

    python benchmarks/build_bench.py [--steps 20] [--size small]
"""

from __future__ import annotations

import argparse
import random
import time


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
    conversations, _ = build_corpus(default_writers(), counts, seed=0)
    texts = [message["content"] for conversation in conversations for message in conversation]
    tokenizer = as_transformers_tokenizer(train_tokenizer(texts, vocab_size=spec.vocab_size))
    examples = encode(conversations, tokenizer, spec.max_length)
    groups = batches(examples, spec.batch_size, random.Random(0))[: options.steps]
    tokens = sum(len(examples[i].input_ids) for group in groups for i in group)
    print(
        f"{options.size}: hidden {spec.hidden_size}, {spec.layers} layers, batch "
        f"{spec.batch_size}; {len(groups)} steps, {tokens:,} tokens; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, CPU bf16: {cpu_has_fast_bf16()}"
    )

    def run(*, mask: bool, bf16: bool) -> float:
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
        return tokens / (time.perf_counter() - started)

    baseline = run(mask=True, bf16=False)
    print(f"{'float32, attention mask (baseline)':<40} {baseline:>9,.0f} tokens/s  1.00x")
    for label, mask, bf16 in (
        ("float32, no mask", False, False),
        ("bf16 autocast, attention mask", True, True),
        ("bf16 autocast, no mask (the build)", False, True),
    ):
        rate = run(mask=mask, bf16=bf16)
        print(f"{label:<40} {rate:>9,.0f} tokens/s  {rate / baseline:.2f}x")


if __name__ == "__main__":
    main()
