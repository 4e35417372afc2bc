"""The sampler contract: chat prompts in, ``n`` completions each out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from skillfactory.records import Conversation


@dataclass(frozen=True)
class SamplingSettings:
    """How to sample; the defaults are the paper's (T 0.7, top-p 0.8, top-k 20, penalty 1.1)."""

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    repetition_penalty: float = 1.1
    max_new_tokens: int = 1024
    seed: int = 0
    stop: tuple[str, ...] = ()
    """Strings that end a completion; the stop string itself is kept in the text."""


class Sampler(ABC):
    """Generates completions from a model, e.g. with transformers or vLLM.

    A sampler is constructed as ``SamplerClass(model, **options)``, where ``model``
    is a model name or directory; loading happens there, once, so that
    :meth:`sample` can be called many times. Heavy libraries are imported inside
    the methods, never at module level.
    """

    name: ClassVar[str]
    """What users pass to ``--sampler``."""
    description: ClassVar[str]
    """One line for ``skillfactory samplers``."""

    def __init__(self, model: str) -> None:
        self.model = model

    @abstractmethod
    def sample(
        self, prompts: Sequence[Conversation], n: int, settings: SamplingSettings
    ) -> list[list[str]]:
        """Return ``n`` completions for each prompt, in prompt order."""
