"""``skillfactory new-plugin``: the package it writes installs with pip, is found, and passes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from skillfactory.cli import cli
from skillfactory.scaffold import PluginNames

NEW_PLUGINS = [
    # (NAME as typed, kind, the package's folder, its module)
    ("second-look", "skill", "skillfactory-second-look", "skillfactory_second_look"),
    ("acme:letters", "task", "skillfactory-acme-letters", "skillfactory_acme_letters"),
]


def new_plugin(*args: str) -> Result:
    return CliRunner().invoke(cli, ["new-plugin", *args])


def run(*command: str, cwd: Path | None = None, site: Path) -> subprocess.CompletedProcess[str]:
    """Run a command in a fresh process that sees the packages installed under ``site``."""
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("SKILLFACTORY_PLUGINS", None)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def assert_one_line_error(result: Result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert text in result.stderr


@pytest.mark.parametrize(("name", "kind", "folder", "module"), NEW_PLUGINS)
def test_a_new_plugin_installs_is_listed_and_passes_its_own_tests(
    tmp_path, name, kind, folder, module
):
    result = new_plugin(name, "--kind", kind, "--dir", str(tmp_path / "work"))
    assert result.exit_code == 0, result.output
    package = tmp_path / "work" / folder
    test_file = f"tests/test_{module.removeprefix('skillfactory_')}.py"
    for written in ("pyproject.toml", f"{module}.py", "README.md", test_file):
        assert (package / written).is_file()
        assert f"  {written}\n" in result.stdout
    assert "pip install -e" in result.stdout
    assert f"skillfactory {kind}s {name}\n" in result.stdout

    site = tmp_path / "site-packages"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    target = ["--no-deps", "--no-build-isolation", "--target", str(site)]
    subprocess.run([*pip, *target, str(package)], check=True, capture_output=True)

    listing = run(sys.executable, "-m", "skillfactory", f"{kind}s", "--json", site=site)
    assert listing.returncode == 0, listing.stderr
    (entry,) = [entry for entry in json.loads(listing.stdout) if entry["name"] == name]
    assert entry["plugin"] == name
    assert entry["distribution"] == folder

    tests = run(
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"),
        cwd=package,
        site=site,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="needs ruff (the dev extra)")
@pytest.mark.parametrize(("name", "kind", "folder", "module"), NEW_PLUGINS)
def test_the_generated_code_is_lint_clean_and_formatted(tmp_path, name, kind, folder, module):
    assert new_plugin(name, "--kind", kind, "--dir", str(tmp_path)).exit_code == 0
    package = tmp_path / folder
    ruff = [sys.executable, "-m", "ruff"]
    checks = [
        [*ruff, "check", "--isolated", "--no-cache", "."],
        # The stricter rules this project holds itself to.
        [*ruff, "check", "--isolated", "--no-cache", "--select", "E,F,W,I,B,UP,SIM,RUF", "."],
        [*ruff, "format", "--isolated", "--no-cache", "--check", "."],
    ]
    for check in checks:
        result = subprocess.run(check, cwd=package, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_names_are_derived_from_the_one_the_user_types():
    names = PluginNames.parse("acme:letters", "task")

    assert names.module == "skillfactory_acme_letters"
    assert names.distribution == "skillfactory-acme-letters"
    assert names.class_name == "AcmeLettersTask"
    assert names.entry_point_key == '"acme:letters"'
    assert PluginNames.parse("second-look", "skill").entry_point_key == "second-look"
    assert PluginNames.parse("2step", "skill").class_name == "Skill2step"
    assert PluginNames.parse("v2.", "skill").distribution == "skillfactory-v2"


@pytest.mark.parametrize("name", ["Second-Look", "second look", "_under", "ünïcode", "a,b", ""])
def test_a_name_the_registry_would_refuse_is_a_usage_error(tmp_path, name):
    result = new_plugin(name, "--kind", "skill", "--dir", str(tmp_path))

    assert_one_line_error(result, "cannot name a plugin")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_package_is_never_overwritten(tmp_path):
    existing = tmp_path / "skillfactory-second-look"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")

    result = new_plugin("second-look", "--kind", "skill", "--dir", str(tmp_path))

    assert_one_line_error(result, "already exists and is not empty")
    assert [path.name for path in existing.iterdir()] == ["notes.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["skillfactory-second-look"]


def test_an_empty_folder_of_that_name_is_used(tmp_path):
    (tmp_path / "skillfactory-second-look").mkdir()

    result = new_plugin("second-look", "--kind", "skill", "--dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "skillfactory-second-look" / "pyproject.toml").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["skillfactory-second-look"]


def test_the_default_folder_is_the_current_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = new_plugin("second-look", "--kind", "skill")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "skillfactory-second-look" / "skillfactory_second_look.py").is_file()
    assert "  pip install -e skillfactory-second-look\n" in result.stdout


@pytest.mark.parametrize("kind_args", [["--kind", "sampler"], ["--kind", "bogus"], []])
def test_the_kind_must_be_skill_or_task(tmp_path, kind_args):
    result = new_plugin("second-look", *kind_args, "--dir", str(tmp_path))

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--kind" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    write_text = Path.write_text

    def disk_full_at_the_module(path: Path, *args, **kwargs):
        if path.suffix == ".py":
            raise OSError(28, "No space left on device")
        return write_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_at_the_module)

    result = new_plugin("second-look", "--kind", "skill", "--dir", str(tmp_path))

    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []
