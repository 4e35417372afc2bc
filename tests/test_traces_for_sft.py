"""Composed traces load straight into TRL's SFTTrainer, which trains a tiny model on them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from skillfactory import Attempt, InMemoryTexts, Question
from skillfactory.composer import compose
from skillfactory.plugins.retry import Retry
from skillfactory.plugins.verify import Verify
from skillfactory.trace_output import write_traces

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|im_end|>"
    "{% endgeneration %}{% else %}{{ m['content'] }}<|im_end|>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def arithmetic_question(number: int) -> Question:
    texts = [f"Try {i}: 3 + {i} = {3 + i}. <answer>{3 + i}</answer>" for i in range(4)]
    reflections = [
        f"Checking {3 + i} against the question. <verdict>{'Correct' if i == 2 else 'Incorrect'}"
        "</verdict>"
        for i in range(4)
    ]
    attempts = tuple(Attempt(i, i == 2, str(3 + i), "original", i) for i in range(4))
    prompt = [{"role": "user", "content": f"What is 3 + 2? (version {number})"}]
    return Question(f"q{number}", prompt, attempts, InMemoryTexts(texts, reflections))


def tiny_tokenizer(texts: list[str]):
    """A byte-level BPE tokenizer trained here, with a chat template that marks the reply."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|pad|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<|pad|>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def test_sft_trainer_trains_on_composed_traces_with_loss_on_the_reply_only(tmp_path: Path):
    pytest.importorskip("trl")
    from datasets import load_from_disk
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    traces, _ = compose([arithmetic_question(n) for n in range(6)], [Verify(), Retry()], seed=0)
    dataset_dir, _ = write_traces(traces, tmp_path / "composed")
    dataset = load_from_disk(str(dataset_dir))
    tokenizer = tiny_tokenizer([m["content"] for row in dataset for m in row["messages"]])
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    )
    args = SFTConfig(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=2,
        assistant_only_loss=True,
        max_length=1024,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)

    for labels in trainer.train_dataset["labels"]:
        learned = sum(label != -100 for label in labels)
        assert 0 < learned < len(labels), "the prompt is masked out, the reply is learned"
    result = trainer.train()
    assert math.isfinite(result.training_loss)
