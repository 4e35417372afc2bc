"""The ``vllm`` sampler: listed as unavailable without vLLM, settings mapped faithfully with it.

vLLM is not installed where these tests usually run, and there is no GPU: the
registry and CLI tests hide vLLM (so they hold on a GPU machine too), the mapping
tests put a recording stand-in module in its place, and one test samples for real
only where vLLM, CUDA and a small model (``SKILLFACTORY_TEST_MODEL``) are present.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from skillfactory import SamplingSettings
from skillfactory.cli import cli
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.errors import UnknownNameError, UsageError
from skillfactory.plugins import vllm_sampler
from skillfactory.plugins.vllm_sampler import INSTALL_NOTE, VLLMSampler
from skillfactory.registry import get_registry

EXTRA = "skillfactory[vllm]"
MODEL = "example-org/tiny-chat-model"
"""A hub id: resolve_model passes it through without touching the disk or the network."""

PROMPTS = [
    [{"role": "user", "content": "first"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "second"},
    ],
    [{"role": "user", "content": "third"}],
]


# -- a stand-in for the vllm module ------------------------------------------------


class FakeSamplingParams:
    """Records its arguments and refuses what vLLM refuses, the way vLLM does."""

    def __init__(self, **kwargs: Any) -> None:
        if not 0 < kwargs.get("top_p", 1.0) <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {kwargs['top_p']}.")
        if kwargs.get("temperature", 1.0) == 0 and kwargs.get("n", 1) > 1:
            raise ValueError(f"n must be 1 when using greedy sampling, got {kwargs['n']}.")
        self.kwargs = kwargs


class FakeCompletion:
    def __init__(self, text: str) -> None:
        self.text = text


class FakeRequestOutput:
    def __init__(self, texts: list[str]) -> None:
        self.outputs = [FakeCompletion(text) for text in texts]


class FakeEngineCore:
    def __init__(self) -> None:
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


class FakeLLM:
    """Answers each conversation with ``n`` texts naming its last message and the copy."""

    instances: ClassVar[list[FakeLLM]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        self.llm_engine = types.SimpleNamespace(engine_core=FakeEngineCore())
        FakeLLM.instances.append(self)

    def chat(self, messages: Any, sampling_params: Any = None, **kwargs: Any) -> list[Any]:
        self.calls.append({"messages": messages, "sampling_params": sampling_params, **kwargs})
        n = sampling_params.kwargs["n"]
        return [
            FakeRequestOutput([f"{conversation[-1]['content']}-{i}" for i in range(n)])
            for conversation in messages
        ]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch, fake_hub: str) -> Iterator[types.ModuleType]:
    """``import vllm`` gives a recording stand-in for this test (and the hub knows MODEL)."""
    fake = types.ModuleType("vllm")
    fake.LLM = FakeLLM  # type: ignore[attr-defined]
    fake.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    fake.__version__ = "0.0-fake"  # type: ignore[attr-defined]
    FakeLLM.instances = []
    monkeypatch.setitem(sys.modules, "vllm", fake)
    yield fake
    FakeLLM.instances = []


@pytest.fixture
def no_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import vllm`` fails, even on a machine where vLLM is installed."""
    monkeypatch.setitem(sys.modules, "vllm", None)


@pytest.fixture
def only_vllm_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load just this entry point: the test stays fast and about this plugin."""
    monkeypatch.setenv(PLUGINS_ENV, "vllm")


# -- without vLLM: listed as unavailable, with the install note --------------------


@pytest.mark.usefixtures("no_vllm", "only_vllm_plugin")
def test_without_vllm_the_plugin_is_unavailable_with_the_install_note():
    registry = get_registry()
    (record,) = [record for record in registry.plugins if record.name == "vllm"]

    assert record.unavailable == INSTALL_NOTE
    assert EXTRA in record.unavailable
    assert record.errors == []
    assert record.registered["samplers"] == []
    assert "vllm" not in registry.names("sampler")
    with pytest.raises(UnknownNameError) as caught:
        registry.get("sampler", "vllm")
    assert EXTRA in str(caught.value)


@pytest.mark.usefixtures("no_vllm", "only_vllm_plugin")
def test_without_vllm_the_cli_shows_the_note_and_refuses_the_name():
    runner = CliRunner(env={"COLUMNS": "200"})

    listed = runner.invoke(cli, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    (record,) = [record for record in json.loads(listed.output) if record["name"] == "vllm"]
    assert EXTRA in record["unavailable"]

    table = runner.invoke(cli, ["plugins"])
    assert table.exit_code == 0, table.output
    assert EXTRA in table.output

    samplers = runner.invoke(cli, ["samplers"])
    assert samplers.exit_code == 0, samplers.output

    asked = runner.invoke(cli, ["samplers", "vllm"])
    assert asked.exit_code == 2
    assert EXTRA in asked.output


def test_the_module_imports_neither_vllm_nor_torch():
    script = (
        "import sys, skillfactory.plugins.vllm_sampler\n"
        "print(sorted({'vllm', 'torch'} & {name.split('.')[0] for name in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- with a stand-in vLLM: registered, options and settings mapped -----------------


@pytest.mark.usefixtures("fake_vllm", "only_vllm_plugin")
def test_with_vllm_importable_the_sampler_is_registered():
    registration = get_registry().get("sampler", "vllm")

    assert registration.factory is VLLMSampler
    assert registration.description == "vLLM offline generation on GPUs (extra: vllm)"
    with pytest.raises(UsageError, match="tensor_parallel_size"):
        registration.create(MODEL, tensor_paralel_size=2)  # a typo names the real options


def test_options_reach_the_engine_once(fake_vllm: types.ModuleType):
    sampler = VLLMSampler(
        MODEL,
        tensor_parallel_size=2,
        gpu_memory_utilization=0.5,
        dtype="bfloat16",
        max_model_len=4096,
        enforce_eager=True,
    )
    sampler.sample(PROMPTS[:1], 1, SamplingSettings())
    sampler.sample(PROMPTS[:1], 1, SamplingSettings())

    (llm,) = FakeLLM.instances
    assert llm.kwargs == {
        "model": MODEL,
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.5,
        "dtype": "bfloat16",
        "max_model_len": 4096,
        "enforce_eager": True,
        "trust_remote_code": False,
    }
    assert sampler.describe()["vllm"] == "0.0-fake"


def test_max_model_len_is_left_to_vllm_unless_given(fake_vllm: types.ModuleType):
    VLLMSampler(MODEL)

    (llm,) = FakeLLM.instances
    assert "max_model_len" not in llm.kwargs
    assert llm.kwargs["gpu_memory_utilization"] == 0.9
    assert llm.kwargs["dtype"] == "auto"


def test_settings_map_onto_sampling_params(fake_vllm: types.ModuleType):
    settings = SamplingSettings(
        temperature=0.6,
        top_p=0.9,
        top_k=40,
        repetition_penalty=1.2,
        max_new_tokens=77,
        seed=123,
        stop=("</answer>", "\n\n"),
    )
    sampler = VLLMSampler(MODEL)

    results = sampler.sample(PROMPTS, 4, settings)

    (call,) = FakeLLM.instances[0].calls
    assert call["sampling_params"].kwargs == {
        "n": 4,
        "temperature": 0.6,
        "top_p": 0.9,
        "top_k": 40,
        "repetition_penalty": 1.2,
        "max_tokens": 77,
        "seed": 123,
        "stop": ["</answer>", "\n\n"],
        "include_stop_str_in_output": True,
    }
    assert call["messages"] == PROMPTS
    assert call["use_tqdm"] is False
    assert results == [
        ["first-0", "first-1", "first-2", "first-3"],
        ["second-0", "second-1", "second-2", "second-3"],
        ["third-0", "third-1", "third-2", "third-3"],
    ]


@pytest.mark.parametrize("top_k", [0, -1])
def test_top_k_off_and_no_stop_strings(fake_vllm: types.ModuleType, top_k: int):
    sampler = VLLMSampler(MODEL)

    sampler.sample(PROMPTS[:1], 2, SamplingSettings(top_k=top_k, stop=()))

    params = FakeLLM.instances[0].calls[0]["sampling_params"].kwargs
    assert params["top_k"] == -1
    assert params["stop"] is None


def test_greedy_samples_once_and_repeats(fake_vllm: types.ModuleType):
    sampler = VLLMSampler(MODEL)

    results = sampler.sample(PROMPTS[:2], 3, SamplingSettings(temperature=0.0))

    params = FakeLLM.instances[0].calls[0]["sampling_params"].kwargs
    assert params["n"] == 1
    assert params["temperature"] == 0.0
    assert results == [["first-0"] * 3, ["second-0"] * 3]


def test_no_prompts_means_no_engine_call(fake_vllm: types.ModuleType):
    sampler = VLLMSampler(MODEL)

    assert sampler.sample([], 4, SamplingSettings()) == []
    assert FakeLLM.instances[0].calls == []


def test_settings_vllm_refuses_are_a_usage_error(fake_vllm: types.ModuleType):
    sampler = VLLMSampler(MODEL)

    with pytest.raises(UsageError, match="top_p must be in"):
        sampler.sample(PROMPTS, 2, SamplingSettings(top_p=1.5))
    with pytest.raises(UsageError, match="n must be 1 or more"):
        sampler.sample(PROMPTS, 0, SamplingSettings())


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"tensor_parallel_size": 0}, "tensor_parallel_size"),
        ({"tensor_parallel_size": "2"}, "tensor_parallel_size"),
        ({"tensor_parallel_size": True}, "tensor_parallel_size"),
        ({"gpu_memory_utilization": 0}, "gpu_memory_utilization"),
        ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization"),
        ({"gpu_memory_utilization": "high"}, "gpu_memory_utilization"),
        ({"dtype": "int4"}, "dtype"),
        ({"max_model_len": 0}, "max_model_len"),
        ({"max_model_len": 2.5}, "max_model_len"),
        ({"enforce_eager": "yes"}, "enforce_eager"),
        ({"trust_remote_code": 1}, "trust_remote_code"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    fake_vllm: types.ModuleType, options: dict[str, Any], named: str
):
    with pytest.raises(UsageError, match=named) as caught:
        VLLMSampler(MODEL, **options)

    assert "\n" not in str(caught.value)
    assert FakeLLM.instances == []


def test_a_missing_model_directory_is_a_usage_error(fake_vllm: types.ModuleType, tmp_path):
    with pytest.raises(UsageError, match="no such directory"):
        VLLMSampler(str(tmp_path / "missing"))
    assert FakeLLM.instances == []


@pytest.mark.usefixtures("no_vllm")
def test_constructing_without_vllm_says_how_to_install_it():
    with pytest.raises(UsageError, match=r"skillfactory\[vllm\]"):
        VLLMSampler(MODEL)


def test_close_shuts_the_engine_down_once(fake_vllm: types.ModuleType):
    sampler = VLLMSampler(MODEL)
    core = FakeLLM.instances[0].llm_engine.engine_core

    sampler.close()
    sampler.close()

    assert core.shutdowns == 1
    with pytest.raises(RuntimeError, match="after close"):
        sampler.sample(PROMPTS, 1, SamplingSettings())


def test_the_sampler_closes_as_a_context_manager(fake_vllm: types.ModuleType):
    with VLLMSampler(MODEL) as sampler:
        assert sampler.sample(PROMPTS[:1], 1, SamplingSettings()) == [["first-0"]]

    assert FakeLLM.instances[0].llm_engine.engine_core.shutdowns == 1


# -- for real, where vLLM, a CUDA GPU and a small model are at hand ----------------


def _vllm_and_cuda() -> bool:
    if not vllm_sampler.vllm_importable() or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _vllm_and_cuda(), reason="needs vLLM and a CUDA GPU")
def test_real_sampling_with_vllm():
    model = os.environ.get("SKILLFACTORY_TEST_MODEL")
    if not model:
        pytest.skip(
            "needs vLLM and a CUDA GPU, and a small model directory in $SKILLFACTORY_TEST_MODEL"
        )
    stops = (" ", "e")
    prompts = [
        [{"role": "user", "content": "Say something about the weather."}],
        [{"role": "user", "content": "Name three fruits."}],
    ]
    with VLLMSampler(model, gpu_memory_utilization=0.3, enforce_eager=True) as sampler:
        sampled = sampler.sample(prompts, 2, SamplingSettings(max_new_tokens=48, stop=stops))
        greedy = sampler.sample(prompts, 2, SamplingSettings(temperature=0, max_new_tokens=16))

    assert [len(texts) for texts in sampled] == [2, 2]
    assert [len(texts) for texts in greedy] == [2, 2]
    assert all(isinstance(text, str) for texts in sampled for text in texts)
    assert all(texts[0] == texts[1] for texts in greedy)
    stopped = 0
    for text in (text for texts in sampled for text in texts):
        ends = [text.find(stop) + len(stop) for stop in stops if stop in text]
        if ends:
            assert min(ends) == len(text), repr(text)  # cut at the first stop string, kept
            stopped += 1
    assert stopped > 0
