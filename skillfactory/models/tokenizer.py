"""The default model's tokenizer: byte-level BPE trained on its own corpus.

Byte-level, so that any text (a user's task, a stray emoji) round-trips. Before
BPE, the text is cut only around numbers and single letters: each of those stays a
piece of its own, and BPE makes the common numbers (every Countdown number up to
100) single tokens, because a small model learns to copy a number or a letter from
the prompt far sooner when it is one token (builds with one token per digit did
not learn to copy in the time allowed, and at recipe 3's size and steps they got
27% of their own arithmetic steps right against 59% with whole numbers; see
docs/default-model.md). Everything else may merge across spaces and
lines, so the prompts' fixed wording shrinks to a few long tokens: conversations
are about a third as long as with word-level pieces, which makes training and
generation that much cheaper.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skillfactory.models.chat_template import CHATML_TEMPLATE, TURN_END, TURN_START

PAD = "<|endoftext|>"
KEPT_APART = r"\d+|(?<![A-Za-z])[A-Za-z](?![A-Za-z])"
"""Pieces BPE never merges with their neighbours: numbers and letters standing alone."""
SPECIAL_TOKENS = (PAD, TURN_START, TURN_END)
"""Padding, then the two ChatML turn markers."""
TAGS = tuple(
    f"<{close}{name}>"
    for name in ("think", "sample", "reflect", "answer", "verdict")
    for close in ("", "/")
)
"""The trace and answer tags, each one token that decodes back to its text.

``<answer>`` and ``<verdict>`` are in the corpus; ``<think>``, ``<sample>`` and
``<reflect>`` never are (that format is what SkillFactory teaches), so their
embeddings start untrained, but as single tokens SFT has only to learn when to
write them, not how to spell them out of byte pieces.
"""


def train_tokenizer(texts: Iterable[str], *, vocab_size: int, pre_tokenizer: Any = None) -> Any:
    """A ``tokenizers.Tokenizer`` trained on ``texts`` (in order, so the result is reproducible).

    ``pre_tokenizer`` replaces the build's way of cutting text before BPE (the
    build benchmark compares it with word-level pieces).
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizer or pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(KEPT_APART), "isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    # Added (not special) tokens: matched before BPE and kept when decoding skips specials.
    tokenizer.add_tokens([AddedToken(tag, normalized=False, special=False) for tag in TAGS])
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
