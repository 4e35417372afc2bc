"""The distribution as pip builds it, and the plugin examples of the docs, installed."""

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


def test_the_wheel_holds_the_shipped_default_model(wheel_names):
    """Guards [tool.setuptools.package-data]: `--model default` loads from the installed package."""
    from skillfactory.models.shipped import SHIPPED_FILES

    expected = {f"skillfactory/models/default/{name}" for name in SHIPPED_FILES}

    assert expected <= set(wheel_names), sorted(expected - set(wheel_names))
    assert not [name for name in wheel_names if "/models/.default" in name]


def test_the_wheel_declares_the_console_script(wheel):
    dist_info = f"skillfactory-{skillfactory.__version__}.dist-info"
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()

    assert "skillfactory = skillfactory.cli:cli" in entry_points


def docs_examples(page: str, folder: str = "") -> dict[str, str]:
    """The example files of one package in a docs page, by the name in their
    ``<!-- example: -->`` mark; ``folder`` picks the package marked ``folder/NAME``."""
    text = (ROOT / "docs" / page).read_text()
    pattern = re.compile(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
    prefix = f"{folder}/" if folder else ""
    return {
        name.removeprefix(prefix): content
        for name, content in pattern.findall(text)
        if (name.startswith(prefix) if prefix else "/" not in name)
    }


CHECK_TASK = """
import sys
from skillfactory.registry import get_registry
from skillfactory.testing import check_task

task_class = get_registry().get("task", sys.argv[1]).factory
for difficulty in task_class.difficulties:
    check_task(task_class(), difficulty=difficulty)
print("conforms")
"""


@pytest.mark.parametrize(
    ("page", "distribution", "task"),
    [
        ("plugins.md", "skillfactory-addition", "addition"),
        ("tasks.md", "skillfactory-sorting", "sorting"),
    ],
)
def test_a_plugin_example_in_the_docs_installs_and_works(tmp_path, page, distribution, task):
    files = docs_examples(page)
    assert set(files) == {"pyproject.toml", f"skillfactory_{task}.py"}
    package = tmp_path / distribution
    package.mkdir()
    for name, content in files.items():
        (package / name).write_text(content)
    target = tmp_path / "site-packages"
    pip("install", "--no-deps", "--no-build-isolation", "--target", str(target), str(package))
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SKILLFACTORY_PLUGINS", None)

    def skillfactory(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [sys.executable, "-m", "skillfactory", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout

    record = next(r for r in json.loads(skillfactory("plugins", "--json")) if r["name"] == task)
    assert record["distribution"] == distribution
    assert record["registered"]["tasks"] == [task]
    assert record["errors"] == []

    conformance = subprocess.run(
        [sys.executable, "-c", CHECK_TASK, task], capture_output=True, text=True, env=env
    )
    assert conformance.stdout.strip() == "conforms", conformance.stderr

    problems = skillfactory("problems", task, "--count", "25", "--seed", "4")
    answered = "".join(
        json.dumps({**row, "completion": f"so <answer>{row['answer']}</answer>"}) + "\n"
        for row in map(json.loads, problems.splitlines())
    )
    scored = [json.loads(line) for line in skillfactory("score", task, stdin=answered).splitlines()]
    assert [row["reason"] for row in scored] == ["correct"] * 25


def judged_attempts(question_id: str, kinds: str) -> str:
    """Compose input in SkillFactory's layout: one row per attempt, "C" right, "I" wrong."""
    prompt = [{"role": "user", "content": f"Question {question_id}?"}]
    rows = []
    for index, kind in enumerate(kinds):
        verdict = "Correct" if kind == "C" else "Incorrect"
        answer = "42" if kind == "C" else str(40 + index)
        rows.append(
            {
                "question_id": question_id,
                "prompt": prompt,
                "variant": "original",
                "completion": f"attempt {index} <answer>{answer}</answer>",
                "extracted": answer,
                "correct": kind == "C",
                "reflections": [f"Checked it. <verdict>{verdict}</verdict>"],
            }
        )
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_the_skill_example_in_the_docs_installs_passes_its_test_and_composes(tmp_path):
    files = docs_examples("plugins.md", "skill")
    assert set(files) == {"pyproject.toml", "skillfactory_recap.py", "test_recap.py"}
    package = tmp_path / "skillfactory-recap"
    package.mkdir()
    for name, content in files.items():
        (package / name).write_text(content)
    target = tmp_path / "site-packages"
    pip("install", "--no-deps", "--no-build-isolation", "--target", str(target), str(package))
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SKILLFACTORY_PLUGINS", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, env=env, cwd=package
        )

    tested = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "test_recap.py")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    listed = json.loads(run("-m", "skillfactory", "skills", "recap", "--json").stdout)
    assert [(row["name"], row["distribution"]) for row in listed] == [
        ("recap", "skillfactory-recap")
    ]

    samples = tmp_path / "samples.jsonl"
    samples.write_text(judged_attempts("q1", "ICIC") + judged_attempts("q2", "CICI"))
    for skills, label in [("recap", r"IC\+recap"), ("verify,retry,recap", r"[1-5]C\+recap")]:
        output = tmp_path / skills.replace(",", "-")
        composed = run(
            "-m", "skillfactory", "compose", "--skills", skills,
            "--input", str(samples), "--output", str(output),
        )  # fmt: skip
        assert composed.returncode == 0, composed.stderr
        rows = [json.loads(line) for line in (output / "traces.jsonl").read_text().splitlines()]
        assert rows
        for row in rows:
            assert re.fullmatch(label, row["format"]), row["format"]
            after_thinking = row["messages"][-1]["content"].split("</think>")[1]
            assert re.search(r"\b[1-5] (attempts|times)\b", after_thinking), after_thinking
