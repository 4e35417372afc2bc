"""The ``transformers`` sampler: batched generation with transformers, on a CPU or a GPU.

It is the sampler that works everywhere: on a laptop CPU with the default model
and on a GPU with a real one. On a GPU it runs in bfloat16 where the card supports
it (float16 otherwise); on a CPU in float32, the only precision CPUs without
bfloat16 units run at full speed. Batches that do not fit in GPU memory are split
as the run goes (see :mod:`skillfactory.models.generation`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from skillfactory import Sampler, SamplingSettings, UsageError, hookimpl
from skillfactory.records import Conversation

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


class TransformersSampler(Sampler):
    name = "transformers"
    description = "Batched generation with transformers on a CPU or a GPU (bf16 where supported)."

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 64,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
    ) -> None:
        super().__init__(model)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise UsageError(
                f"transformers sampler: batch_size must be 1 or more, got {batch_size!r}"
            )
        if device not in DEVICES:
            raise UsageError(
                f"transformers sampler: device must be one of {', '.join(DEVICES)}, got {device!r}"
            )
        if dtype not in DTYPES:
            raise UsageError(
                f"transformers sampler: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
            )
        import torch

        from skillfactory.models.resolve import load_model

        self.device = _pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device)
        self.batch_size = batch_size
        self._model, self._tokenizer = load_model(
            model, trust_remote_code=trust_remote_code, dtype=getattr(torch, self.dtype)
        )
        self._model.to(self.device)

    def sample(
        self,
        prompts: Sequence[Conversation],
        n: int,
        settings: SamplingSettings,
    ) -> list[list[str]]:
        from skillfactory.models.generation import sample_completions

        return sample_completions(
            self._model,
            self._tokenizer,
            prompts,
            settings,
            n=n,
            batch_size=self.batch_size,
        )

    def describe(self) -> dict[str, Any]:
        """Where and how it runs, for the run log."""
        return {"device": self.device, "dtype": self.dtype, "batch_size": self.batch_size}


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "transformers sampler: device 'cuda' asked for, but no CUDA GPU is visible"
        )
    return device


def _pick_dtype(dtype: str, device: str) -> str:
    import torch

    if dtype != "auto":
        return dtype
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


@hookimpl
def register_samplers(register: Callable[[type[Sampler]], None]) -> None:
    register(TransformersSampler)
