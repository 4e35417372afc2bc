"""``skillfactory new-plugin``: a new skill or task plugin as a package that pip can install.

The package it writes is the shortest path from an idea to a working plugin: a
``pyproject.toml`` that declares the entry point, one module with a small but real
skill or task, a README that says how to install, test and publish it, and a test
that passes as soon as the package is installed. The files come from the string
templates below, so the templates ship inside this module and need no package data.
"""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from skillfactory.errors import UsageError
from skillfactory.registry import NAME_PATTERN

KINDS = ("skill", "task")
"""The plugin kinds the scaffold can write."""

_PLACEHOLDER = re.compile(r"__[A-Z_]+__")


@dataclass(frozen=True)
class PluginNames:
    """Every name a new plugin needs, derived from the one the user typed."""

    name: str
    """What users type (``--skills NAME``) and the entry point's name."""
    kind: str
    module: str
    """The Python module: ``skillfactory_`` and the name with other characters as ``_``."""
    distribution: str
    """The pip name, also the folder the package is written to."""
    class_name: str

    @classmethod
    def parse(cls, name: str, kind: str) -> PluginNames:
        """The names for ``name``; a name the registry would refuse is a usage error."""
        if not NAME_PATTERN.fullmatch(name):
            raise UsageError(
                f"{name!r} cannot name a plugin: use lower case letters, digits, '_', '.', ':' "
                "or '-', starting with a letter or digit (e.g. second-look)"
            )
        module = "skillfactory_" + re.sub(r"[^a-z0-9_]", "_", name)
        # ':' is not allowed in a distribution name, nor is a name ending in '-', '_' or '.'.
        distribution = "skillfactory-" + re.sub(r"[^a-z0-9]+$", "", name.replace(":", "-"))
        words = "".join(word.capitalize() for word in re.split(r"[^a-z0-9]+", name))
        suffix = kind.capitalize()
        class_name = f"{suffix}{words}" if words[:1].isdigit() else f"{words}{suffix}"
        return cls(name, kind, module, distribution, class_name)

    @property
    def entry_point_key(self) -> str:
        """The name as a TOML key: bare when TOML allows it, quoted otherwise."""
        return self.name if re.fullmatch(r"[a-z0-9_-]+", self.name) else f'"{self.name}"'

    @property
    def test_file(self) -> str:
        return f"tests/test_{self.module.removeprefix('skillfactory_')}.py"


def render(template: str, names: PluginNames) -> str:
    """Fill a template's ``__NAME__``-style placeholders; every placeholder must be known."""
    values = {
        "__NAME__": names.name,
        "__KIND__": names.kind,
        "__KINDS__": f"{names.kind}s",
        "__MODULE__": names.module,
        "__DIST__": names.distribution,
        "__CLASS__": names.class_name,
        "__ENTRY_POINT__": names.entry_point_key,
    }
    text = _PLACEHOLDER.sub(lambda found: values.get(found.group(), found.group()), template)
    leftover = sorted(set(_PLACEHOLDER.findall(text)))
    assert not leftover, f"template placeholders without a value: {leftover}"
    return text


def plugin_files(names: PluginNames) -> dict[str, str]:
    """The files of the new package, by path relative to its folder, in the order to list them."""
    module, test, summary, usage = {
        "skill": (SKILL_MODULE, SKILL_TEST, SKILL_SUMMARY, SKILL_USAGE),
        "task": (TASK_MODULE, TASK_TEST, TASK_SUMMARY, TASK_USAGE),
    }[names.kind]
    readme = README.replace("__SUMMARY__", summary).replace("__USAGE__", usage)
    pyproject = PYPROJECT.replace("__SUMMARY__", summary.splitlines()[0].rstrip("."))
    return {
        "pyproject.toml": render(pyproject, names),
        f"{names.module}.py": render(module, names),
        "README.md": render(readme, names),
        names.test_file: render(test, names),
    }


def write_package(target: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` under ``target`` all at once: a failure leaves no half-written package.

    An existing, empty ``target`` is used; anything else already there is refused.
    """
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise UsageError(f"{target} already exists and is not empty; choose another NAME or --dir")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Made beside the target (so that the rename stays on one file system) with the
    # permissions of any new folder, which tempfile.mkdtemp would narrow to the owner.
    staging = target.parent / f".{target.name}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for relative, content in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        if target.is_dir():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _shown(path: Path) -> str:
    """``path`` as the user would type it: relative to the current folder when inside it."""
    absolute = path.absolute()
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    return str(relative)


@click.command(name="new-plugin")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="What the plugin provides: a skill (how traces are arranged) or a task. Required.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="the current folder",
    help="The folder to create skillfactory-NAME in.",
)
def new_plugin(name: str, kind: str | None, directory: Path) -> None:
    """Write a new skill or task plugin as a package: pyproject, module, README and a test.

    NAME is what users will type, e.g. in --skills NAME. The package works as soon as it
    is installed with pip install -e, and its test passes as written.
    """
    # Checked here rather than with required=True, whose message spans several lines.
    if kind is None:
        raise UsageError("say what the plugin provides: --kind skill or --kind task")
    names = PluginNames.parse(name, kind)
    target = directory / names.distribution
    files = plugin_files(names)
    write_package(target, files)
    shown = _shown(target)
    click.echo(f"Wrote the {kind} plugin {name!r} as a package in {shown}:")
    for relative in files:
        click.echo(f"  {relative}")
    quoted = shlex.quote(shown)
    click.echo("Next: install it beside SkillFactory, run its test, see it listed:")
    click.echo(f"  pip install -e {quoted}")
    click.echo(f"  pytest {quoted}")
    click.echo(f"  skillfactory {kind}s {shlex.quote(name)}")


# -- templates ---------------------------------------------------------------------------
# Placeholders: __NAME__ (the registered name), __MODULE__, __CLASS__, __DIST__,
# __ENTRY_POINT__ (the name as a TOML key), __KIND__ and __KINDS__.

SKILL_SUMMARY = (
    "A SkillFactory skill: one wrong attempt, then a right one.\n\n"
    "Each trace it arranges shows two of a question's own sampled attempts: one the\n"
    "task's verifier judged incorrect, then one it judged correct, each followed by the\n"
    "model's own reflection on it. It is the smallest trace that shows a model noticing\n"
    "a mistake and recovering from it."
)

TASK_SUMMARY = (
    "A SkillFactory task: how often does a letter occur in a string?\n\n"
    "Counting letters is easy to verify and surprisingly hard for language models,\n"
    "which read tokens rather than characters. Difficulty is the length of the string."
)

PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "__SUMMARY__"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["skillfactory"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The entry point is what makes SkillFactory find the plugin once it is installed.
[project.entry-points.skillfactory]
__ENTRY_POINT__ = "__MODULE__"

[tool.setuptools]
py-modules = ["__MODULE__"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# __DIST__

__SUMMARY__

It registers the __KIND__ `__NAME__` through the entry point in `pyproject.toml`; the
code is in `__MODULE__.py`.

## Develop

Install it, editable, into the environment that has SkillFactory, then run its test:

```console
$ pip install -e ".[test]"
$ pytest
$ skillfactory __KINDS__ __NAME__
```

`skillfactory plugins` shows the plugin with its distribution, or the one-line error
that stopped it from loading.

__USAGE__

## Publish

Build the wheel and the source archive, then upload them to PyPI:

```console
$ python -m pip install build twine
$ python -m build
$ python -m twine upload dist/*
```

Keep the `skillfactory-` prefix in the distribution name so that people can find
the plugin, and bump `version` in `pyproject.toml` for every release.
"""

SKILL_USAGE = """\
## Use

Select it by name when composing traces, alone or with other skills:

```console
$ skillfactory compose --skills __NAME__ --input samples.jsonl --output traces
```

The class attributes in `__MODULE__.py` say where to change things: `stage` (when
the skill runs among the selected ones), `requires` (skills it builds on),
`needs_reflections` and `phrases` (the joining phrases, several variants each)."""

TASK_USAGE = """\
## Use

Generate problems and score answers with the task's own verifier:

```console
$ skillfactory problems __NAME__ --count 5 --difficulty 8
$ skillfactory score __NAME__ completions.jsonl
```

`difficulties` in `__MODULE__.py` lists the levels; `score` is also the reward
in reinforcement learning, so keep it exact and make sure it never raises."""

SKILL_MODULE = '''\
"""A SkillFactory skill that shows one wrong attempt, then a right one.

A trace arranged by this skill holds two of the question's own attempts: one the
task's verifier judged incorrect, then one it judged correct, each followed by the
model's reflection on it. That is the smallest trace that shows a model noticing
a mistake and recovering, and a starting point for skills of your own: change
which attempts ``apply`` picks, their order, or what it adds to the draft.

Users select it by its name, __NAME__.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from skillfactory import ComposeSettings, Draft, Question, Skill, hookimpl

FORMAT = "IC"
"""The label of this skill's traces: an Incorrect attempt, then a Correct one."""


class __CLASS__(Skill):
    """One incorrect attempt, then a correct one, each with its reflection."""

    name = "__NAME__"
    description = "One wrong attempt, then a right one: recovering from a mistake."
    # Selected skills apply in ascending stage: those that choose attempts first
    # (the built-ins use 10-20), those that add after the thinking later (30-40).
    stage = 15
    # Skills that must be selected with this one, e.g. ("verify",).
    requires: ClassVar[Sequence[str]] = ()
    # This skill sets the attempts itself, so it cannot be selected with another
    # skill that does (retry): one of them would undo the other's choice.
    chooses_attempts = True
    # Show only attempts that come with a reflection whose verdict agrees with the
    # verifier; the composer drops the others before calling apply.
    needs_reflections = True
    # Joining phrases, chosen with the seeded rng: "after_incorrect" follows an
    # attempt judged wrong, "after_correct" one judged right (the composer mixes in
    # neutral phrases of its own).
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {
        "after_incorrect": (
            "That does not add up. Let me start over and go more slowly.",
            "Something in that went wrong, so I will work it out again.",
            "My check says no. Here is a fresh attempt.",
            "I made a mistake above; let me redo it from the beginning.",
        ),
        "after_correct": (
            "That seems to hold, but I will work it out once more to be sure.",
            "Let me test that result with a second, independent attempt.",
        ),
    }

    def apply(
        self,
        draft: Draft,
        question: Question,
        settings: ComposeSettings,
        rng: random.Random,
    ) -> Draft | None:
        """Choose a wrong attempt and then a right one, or None if either is missing.

        Returning None skips the question for this trace rather than forcing a
        trace that does not show the skill.
        """
        if settings.max_attempts < 2 or settings.length not in (None, 2):
            return None
        wrong = [attempt for attempt in question.attempts if not attempt.correct]
        right = [attempt for attempt in question.attempts if attempt.correct]
        if not wrong or not right:
            return None
        shown = [rng.choice(wrong), rng.choice(right)]
        if settings.order == "random":
            rng.shuffle(shown)
        return replace(draft, attempts=tuple(shown), reflect=True, format=FORMAT)


@hookimpl
def register_skills(register: Callable[[type[Skill]], None]) -> None:
    register(__CLASS__)
'''

SKILL_TEST = '''\
"""Tests of the __NAME__ skill, written as examples of its use."""

import random

from skillfactory import ComposeSettings, Draft
from skillfactory.registry import load_registry
from skillfactory.testing import check_skill, make_question

from __MODULE__ import FORMAT, __CLASS__

# (attempt, its answer, the verifier's judgement, a reflection that agrees with it)
SAMPLES = [
    ("6 x 7 = 44", "44", False, "6 x 7 is 42. <verdict>Incorrect</verdict>"),
    ("7, 14, 21, 28, 35, 42", "42", True, "Six sevens. <verdict>Correct</verdict>"),
    ("6 x 7 = 36", "36", False, "That is 6 x 6. <verdict>Incorrect</verdict>"),
    ("7 x 6 = 42", "42", True, "<verdict>Correct</verdict>"),
]


def test_it_keeps_the_skill_contract():
    check_skill(__CLASS__())


def test_a_wrong_attempt_comes_first_then_a_right_one():
    skill, question = __CLASS__(), make_question(SAMPLES)

    draft = skill.apply(Draft(), question, ComposeSettings(), random.Random(0))

    assert draft is not None
    assert [attempt.correct for attempt in draft.attempts] == [False, True]
    assert draft.attempts[0].index != draft.attempts[1].index
    assert draft.reflect
    assert draft.format == FORMAT
    assert draft.final is not None and draft.final.answer == "42"


def test_the_seed_decides_which_attempts():
    skill, question = __CLASS__(), make_question(SAMPLES)

    def draft(seed: int) -> Draft | None:
        return skill.apply(Draft(), question, ComposeSettings(), random.Random(seed))

    assert draft(7) == draft(7)
    assert len({draft(seed) for seed in range(20)}) > 1


def test_a_question_without_a_wrong_attempt_is_skipped():
    skill = __CLASS__()
    only_right = make_question([sample for sample in SAMPLES if sample[2]])

    assert skill.apply(Draft(), only_right, ComposeSettings(), random.Random(0)) is None


def test_skillfactory_finds_the_installed_plugin():
    registry = load_registry(requested=["__NAME__"])
    registration = registry.get("skill", "__NAME__")

    assert registry.failed == []
    assert registration.factory is __CLASS__
'''

TASK_MODULE = '''\
"""A SkillFactory task: how often does a letter occur in a string?

Counting letters is easy to verify and surprisingly hard for language models,
which read tokens rather than characters. Difficulty is the length of the
string. Problems are drawn from the seed, so the same arguments always give the
same problems, and a problem's id is a hash of its content, so the same problem
always has the same id.

Users select it by its name, __NAME__.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Callable

from skillfactory import Conversation, Problem, Score, Task, UsageError, hookimpl
from skillfactory.answers import extract_answer_block
from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt

COUNT = re.compile(r"([0-9]{1,4})(?:\\s+times?)?", re.IGNORECASE)
"""An answer: a whole number, optionally followed by "times"."""

LETTER_SHARE = 0.25
"""How often the letter asked about is drawn, so that counts above one are common."""


class __CLASS__(Task):
    """Count one letter in a random string of lower-case letters."""

    name = "__NAME__"
    description = "Count a letter in a random string; difficulty is its length."
    variants = PROMPT_VARIANTS
    difficulties = tuple(range(4, 41))
    default_difficulty = 12

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        """Distinct problems; asking for more extends the list the same seed gave."""
        length = self.resolve_difficulty(difficulty)
        rng = random.Random(f"{self.name}/{length}/{seed}")
        problems: dict[str, Problem] = {}
        for _ in range(100 * count):
            if len(problems) == count:
                break
            letter = rng.choice(string.ascii_lowercase)
            others = string.ascii_lowercase.replace(letter, "")
            text = "".join(
                letter if rng.random() < LETTER_SHARE else rng.choice(others)
                for _ in range(length)
            )
            key = f"{self.name}/{letter}/{text}"
            problem = Problem(
                id=hashlib.sha256(key.encode()).hexdigest()[:16],
                task=self.name,
                difficulty=length,
                question=f'How many times does "{letter}" occur in "{text}"?',
                answer=str(text.count(letter)),
                data={"letter": letter, "text": text},
            )
            problems.setdefault(problem.id, problem)
        if len(problems) < count:
            raise UsageError(
                f"{self.name}: could not find {count} distinct problems; ask for fewer"
            )
        return list(problems.values())

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        return solve_prompt(
            variant,
            problem.question,
            answer_format="the count as a whole number",
            example="3",
        )

    def extract_answer(self, completion: str) -> str | None:
        return extract_answer_block(completion)

    def score(self, problem: Problem, answer: str | None) -> Score:
        """Count the letter again and compare; the answer is never evaluated."""
        if answer is None:
            return Score(0.0, "no answer")
        found = COUNT.fullmatch(answer.strip())
        if found is None:
            return Score(0.0, "unparseable")
        if int(found.group(1)) != problem.data["text"].count(problem.data["letter"]):
            return Score(0.0, "wrong count")
        return Score(1.0, "correct")


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(__CLASS__)
'''

TASK_TEST = '''\
"""Tests of the __NAME__ task, written as examples of its use."""

import pytest
from skillfactory import Problem
from skillfactory.registry import load_registry
from skillfactory.testing import check_task

from __MODULE__ import __CLASS__

STRAWBERRY = Problem(
    "strawberry",
    "__NAME__",
    10,
    'How many times does "r" occur in "strawberry"?',
    "3",
    {"letter": "r", "text": "strawberry"},
)


@pytest.mark.parametrize("difficulty", __CLASS__.difficulties)
def test_the_task_keeps_its_contract(difficulty):
    check_task(__CLASS__(), difficulty=difficulty)


def test_an_answer_scores_only_when_the_count_is_right():
    task = __CLASS__()

    def reason(completion: str) -> str:
        return task.score(STRAWBERRY, task.extract_answer(completion)).reason

    assert reason("s-t-r-a-w-b-e-r-r-y has three. <answer>3</answer>") == "correct"
    assert reason("<answer>3 times</answer>") == "correct"
    assert reason("<answer>2</answer>") == "wrong count"
    assert reason("<answer>three</answer>") == "unparseable"
    assert reason("I am not sure.") == "no answer"


def test_skillfactory_finds_the_installed_plugin():
    registry = load_registry(requested=["__NAME__"])
    registration = registry.get("task", "__NAME__")

    assert registry.failed == []
    assert registration.factory is __CLASS__
'''
