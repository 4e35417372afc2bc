"""A hub id given as ``--model`` is checked in seconds, before a run directory exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
from conftest import CLOSED_HUB

from skillfactory.errors import SkillFactoryError, UsageError
from skillfactory.models.hub import check_hub_model
from skillfactory.models.resolve import check_model_spec


def test_a_model_the_hub_has_passes(fake_hub):
    check_hub_model("someorg/some-model")
    check_model_spec("Qwen/Qwen2.5-1.5B-Instruct")


def test_a_model_the_hub_does_not_have_is_a_usage_error(fake_hub):
    with pytest.raises(UsageError, match="'someorg/nope-model' is not on the hub"):
        check_model_spec("someorg/nope-model")


def test_an_unreachable_hub_says_so_and_how_to_go_offline():
    with pytest.raises(SkillFactoryError, match="cannot reach the model hub") as raised:
        check_hub_model("someorg/some-model")
    assert not isinstance(raised.value, UsageError)
    assert CLOSED_HUB in str(raised.value) and "HF_HUB_OFFLINE=1" in str(raised.value)


def test_offline_a_model_that_is_not_cached_is_refused_without_a_request(monkeypatch, fake_hub):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError, match="not in the local hub cache and HF_HUB_OFFLINE is set"):
        check_hub_model("someorg/some-model")


def test_a_cached_model_is_never_questioned(monkeypatch, tmp_path):
    """Cached: neither the closed hub nor offline mode stop it."""
    snapshot = tmp_path / "models--someorg--cached" / "snapshots" / ("1" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--someorg--cached" / "refs").mkdir()
    (tmp_path / "models--someorg--cached" / "refs" / "main").write_text("1" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    check_hub_model("someorg/cached")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_hub_model("someorg/cached")


def _run(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "skillfactory",
            "run",
            "--skills",
            "verify,retry",
            "--model",
            "someorg/nope-model",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **environment},
    )


def test_a_run_on_an_unreachable_hub_fails_in_one_line_and_leaves_no_run_directory(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "cannot reach the model hub" in done.stderr and "HF_HUB_OFFLINE=1" in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_run_offline_on_a_model_that_is_not_cached_is_a_usage_error(tmp_path):
    done = _run(tmp_path, HF_HUB_OFFLINE="1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "HF_HUB_OFFLINE is set" in done.stderr
    assert not (tmp_path / "run").exists()
