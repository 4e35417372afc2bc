"""The distribution as pip builds it, and the plugin example of docs/plugins.md, installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import skillfactory

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {
    "skillfactory": "skillfactory",
    "plugins": "skillfactory/plugins",
    "tasks": "skillfactory/tasks",
}


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
    )


def copy_source_tree(destination: Path) -> Path:
    """Build from a copy, so that the build leaves nothing behind in the checkout."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"
    )
    return Path(shutil.copytree(ROOT, destination, ignore=ignore))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    tmp = tmp_path_factory.mktemp("wheel")
    source = copy_source_tree(tmp / "source")
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp / "out"), str(source))
    (path,) = (tmp / "out").glob("skillfactory-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.fixture(scope="module")
def wheel_names(wheel: zipfile.ZipFile) -> list[str]:
    return wheel.namelist()


def test_only_the_skillfactory_package_reaches_site_packages(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names}

    assert top_level == {"skillfactory", f"skillfactory-{skillfactory.__version__}.dist-info"}


def test_every_source_module_is_in_the_wheel(wheel_names):
    """Guards the explicit package list in pyproject.toml: a new subpackage must be added there."""
    expected = {
        f"{installed}/{path.relative_to(ROOT / folder).as_posix()}"
        for folder, installed in PACKAGE_DIRS.items()
        for path in (ROOT / folder).rglob("*.py")
    }

    assert expected <= set(wheel_names), sorted(expected - set(wheel_names))


def test_the_wheel_declares_the_console_script(wheel):
    dist_info = f"skillfactory-{skillfactory.__version__}.dist-info"
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()

    assert "skillfactory = skillfactory.cli:cli" in entry_points


def docs_examples() -> dict[str, str]:
    """The example files in docs/plugins.md, by the name in their ``<!-- example: -->`` mark."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    pattern = re.compile(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
    return dict(pattern.findall(text))


def test_the_plugin_example_in_the_docs_installs_and_works(tmp_path):
    files = docs_examples()
    assert set(files) == {"pyproject.toml", "skillfactory_addition.py"}
    package = tmp_path / "skillfactory-addition"
    package.mkdir()
    for name, content in files.items():
        (package / name).write_text(content)
    target = tmp_path / "site-packages"
    pip("install", "--no-deps", "--no-build-isolation", "--target", str(target), str(package))
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SKILLFACTORY_PLUGINS", None)

    listing = subprocess.run(
        [sys.executable, "-m", "skillfactory", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    record = next(r for r in json.loads(listing.stdout) if r["name"] == "addition")
    assert record["distribution"] == "skillfactory-addition"
    assert record["registered"]["tasks"] == ["addition"]
    assert record["errors"] == []

    use = """
import json
from skillfactory.registry import get_registry
from skillfactory.testing import check_task
task = get_registry().get("task", "addition").factory()
check_task(task, difficulty=3)
problems = task.generate(20, difficulty=2, seed=7)
again = task.generate(20, difficulty=2, seed=7)
completion = "12 + 30 is 42 <answer>" + problems[0].answer + "</answer>"
print(json.dumps({
    "ids_repeat": [p.id for p in problems] == [p.id for p in again],
    "distinct": len({p.id for p in problems}),
    "reference": [task.score(p, p.answer).correct for p in problems],
    "extracted": task.score(problems[0], task.extract_answer(completion)).reason,
    "wrong": task.score(problems[0], "-1").reason,
    "junk": task.score(problems[0], "__import__('os')").reason,
}))
"""
    checked = subprocess.run(
        [sys.executable, "-c", use], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(checked.stdout) == {
        "ids_repeat": True,
        "distinct": 20,
        "reference": [True] * 20,
        "extracted": "correct",
        "wrong": "wrong sum",
        "junk": "unparseable",
    }
