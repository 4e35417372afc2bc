"""The default model's tokenizer: byte-level BPE trained on its own corpus.

Byte-level, so that any text (a user's task, a stray emoji) round-trips. Numbers
are left to BPE, which makes the common ones (every Countdown number up to 100)
single tokens: a small model learns to copy a number from the prompt far sooner
when it is one token than when it is a run of digits that also occur elsewhere
(builds with one token per digit did not learn to copy in the time allowed).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skillfactory.models.chat_template import CHATML_TEMPLATE, TURN_END, TURN_START

PAD = "<|endoftext|>"
SPECIAL_TOKENS = (PAD, TURN_START, TURN_END)
"""Padding, then the two ChatML turn markers; the only tokens BPE never splits."""


def train_tokenizer(texts: Iterable[str], *, vocab_size: int) -> Any:
    """A ``tokenizers.Tokenizer`` trained on ``texts`` (in order, so the result is reproducible)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def as_transformers_tokenizer(tokenizer: Any) -> Any:
    """Wrap a trained tokenizer as a fast transformers tokenizer with the chat template."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=TURN_END,
        pad_token=PAD,
        chat_template=CHATML_TEMPLATE,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=1024,
    )


def save_tokenizer(tokenizer: Any, directory: Path) -> None:
    """Write ``tokenizer.json`` and the tokenizer config (with its chat template)."""
    as_transformers_tokenizer(tokenizer).save_pretrained(str(directory))
