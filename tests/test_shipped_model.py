"""``--model default`` is the model shipped in the package; ``--model rebuilt`` the cache's build.

The first three tests read the real shipped directory, so they fail until a build of
the code's recipe is committed there; the others point the shipped location at a
micro build (``micro_model``) or at nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillfactory.cli import cli
from skillfactory.errors import SkillFactoryError
from skillfactory.models import build, shipped
from skillfactory.models.resolve import check_model_spec, model_identity, resolve_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_BUILD = ROOT / "skillfactory" / "models" / "default" / build.BUILD_FILE

OFFLINE_GENERATION = """
from skillfactory.models.resolve import load_model

model, tokenizer = load_model("default")
prompt = tokenizer.apply_chat_template(
    [{"role": "user", "content": "Make 7 from 3 and 4."}],
    add_generation_prompt=True,
    return_tensors="pt",
    return_dict=True,
)
output = model.generate(**prompt, max_new_tokens=4, do_sample=False)
print(model.name_or_path)
print(output.shape[1] - prompt["input_ids"].shape[1])
"""


def test_the_shipped_model_is_of_the_codes_recipe():
    """Bumping build.RECIPE means shipping a new build (skillfactory model build --output ...)."""
    assert SHIPPED_BUILD.is_file(), f"no shipped default model: {SHIPPED_BUILD} is missing"
    recipe = json.loads(SHIPPED_BUILD.read_text(encoding="utf-8"))["recipe"]
    assert recipe == build.RECIPE, f"shipped model is recipe {recipe}, code is {build.RECIPE}"


def test_the_shipped_model_is_the_full_default_build_within_its_limits():
    """The default size and seed (never a trial or a micro build), at most 30M parameters and
    25 MB of weights, with its measured abilities in build.json."""
    report = json.loads(SHIPPED_BUILD.read_text(encoding="utf-8"))
    assert report["size"]["name"] == build.DEFAULT_SIZE and report["seed"] == 0
    assert report["training"]["parameters"] <= 30_000_000
    assert (SHIPPED_BUILD.parent / "model.safetensors").stat().st_size <= 25 * 1024 * 1024
    assert report["abilities"] is not None and report["abilities"]["checks"]


def test_the_shipped_model_loads_offline_and_generates(tmp_path):
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "SKILLFACTORY_CACHE_DIR": str(cache),
    }
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_GENERATION], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    location, generated = result.stdout.split()
    assert Path(location) == shipped.SHIPPED_DIR
    assert int(generated) > 0
    assert not cache.exists(), "loading the shipped model must build or fetch nothing"


@pytest.fixture
def shipped_copy(micro_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A micro build in a place of its own, standing in for the shipped model."""
    directory = tmp_path / "shipped"
    shutil.copytree(micro_model, directory)
    monkeypatch.setattr(shipped, "SHIPPED_DIR", directory)
    return directory


def test_default_is_the_shipped_directory_and_its_identity_follows_the_build(shipped_copy):
    assert resolve_model("default") == str(shipped_copy)
    check_model_spec("default")
    result = CliRunner().invoke(cli, ["model", "path", "default"])
    assert result.exit_code == 0 and result.output.strip() == str(shipped_copy)
    identity = model_identity("default")
    assert identity.startswith(f"default:r{build.RECIPE}:")
    report = json.loads((shipped_copy / build.BUILD_FILE).read_text())
    (shipped_copy / build.BUILD_FILE).write_text(json.dumps({**report, "seed": 1}))
    assert model_identity("default") != identity


def _stale(directory: Path) -> None:
    report = json.loads((directory / build.BUILD_FILE).read_text())
    (directory / build.BUILD_FILE).write_text(json.dumps({**report, "recipe": build.RECIPE - 1}))


@pytest.mark.parametrize("state", ["missing", "incomplete", "stale"])
@pytest.mark.parametrize(
    "arguments",
    [
        ["model", "path", "default"],
        ["model", "measure", "--model", "default", "--problems", "1"],
        ["run", "--skills", "verify,retry", "--run-dir", "{tmp}/run"],
    ],
)
def test_a_missing_or_stale_shipped_model_is_one_line_that_names_the_build(
    shipped_copy, tmp_path, monkeypatch, state, arguments
):
    monkeypatch.setenv("SKILLFACTORY_CACHE_DIR", str(tmp_path / "cache"))
    if state == "missing":
        monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path / "absent")
    elif state == "incomplete":
        (shipped_copy / "model.safetensors").unlink()
    else:
        _stale(shipped_copy)
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in arguments])
    assert result.exit_code == SkillFactoryError.exit_code, result.output
    (line,) = result.output.strip().splitlines()
    assert "shipped default model" in line and "`skillfactory model build`" in line
    assert "--model rebuilt" in line
    if state == "stale":
        assert f"recipe {build.RECIPE - 1}, but this code is recipe {build.RECIPE}" in line
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_rebuilt_is_the_cached_build_once_there_is_one(micro_model, tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLFACTORY_CACHE_DIR", str(tmp_path))
    with pytest.raises(SkillFactoryError, match="make one with `skillfactory model build`"):
        resolve_model("rebuilt")
    shutil.copytree(micro_model, build.default_model_dir())
    assert resolve_model("rebuilt") == str(build.default_model_dir())
    assert str(build.default_model_dir()) in model_identity("rebuilt")
    result = CliRunner().invoke(cli, ["model", "path", "rebuilt"])
    assert result.exit_code == 0 and result.output.strip() == str(build.default_model_dir())
    again = CliRunner().invoke(cli, ["model", "build"])
    assert again.exit_code == 0 and "already holds a finished build" in again.output
    assert f"use it with --model {build.default_model_dir()} (or --model rebuilt)" in again.output
