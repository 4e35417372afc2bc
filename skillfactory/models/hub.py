"""A hub id given as ``--model``: checked in seconds, before a run directory exists.

transformers downloads a model it does not have with several retries per file,
so on a machine that cannot reach the hub a wrong or unreachable id costs close
to a minute of connection errors before it fails. One metadata request with a
short timeout tells the three cases apart up front: the hub cannot be reached
(say how to work offline), the hub has no such model (a usage error), or the
model is there. A model already in the local cache is never questioned, and
``HF_HUB_OFFLINE=1`` turns the check into "is it cached?".
"""

from __future__ import annotations

import os

from skillfactory.errors import SkillFactoryError, UsageError

PROBE_TIMEOUT_S = 5.0
"""How long the one metadata request may take before the hub counts as unreachable."""

_TRUE = {"1", "ON", "YES", "TRUE"}


def check_hub_model(repo_id: str) -> None:
    """Refuse a hub id that cannot load here, with one line that says why.

    Raises :class:`UsageError` (exit 2) for a model the hub does not have, or one
    that ``HF_HUB_OFFLINE`` rules out because it is not cached, and
    :class:`SkillFactoryError` (exit 1) when the hub cannot be reached.
    """
    if _cached(repo_id):
        return
    if _offline():
        raise UsageError(
            f"model {repo_id!r} is not in the local hub cache and HF_HUB_OFFLINE is set; "
            "download it on a machine with access, or pass a model directory"
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    endpoint = os.environ.get("HF_ENDPOINT") or None
    try:
        HfApi(endpoint=endpoint).model_info(repo_id, timeout=PROBE_TIMEOUT_S)
    except GatedRepoError:
        return  # there, behind a licence: from_pretrained says what the token needs
    except RepositoryNotFoundError:
        raise UsageError(
            f"model {repo_id!r} is not on the hub (or is private: log in with `hf auth login`)"
        ) from None
    except Exception as error:  # connection refused, DNS, timeout, proxy: unreachable
        where = endpoint or "https://huggingface.co"
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise SkillFactoryError(
            f"cannot reach the model hub at {where} to fetch {repo_id!r} ({reason:.120}); "
            "on a machine without it, set HF_HUB_OFFLINE=1 and use a cached model "
            "or a model directory"
        ) from None


def _offline() -> bool:
    return any(
        os.environ.get(name, "").strip().upper() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _cached(repo_id: str) -> bool:
    """True when the local hub cache holds this model's config."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)
