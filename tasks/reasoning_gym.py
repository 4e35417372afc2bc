"""The reasoning-gym bridge: every reasoning-gym dataset as a task named ``rg:<dataset>``.

Problems come from reasoning-gym's own generators and answers are judged by its
own ``score_answer``. Those scorers were not written for hostile input: its
countdown scorer hands the answer to sympy's parser, which evaluates Python, so
``__import__('os').system(...)`` runs a shell command, ``9**9**9`` computes for
minutes and ``__import__('os')._exit(0)`` ends the process. Every bridged task
therefore sets ``sandboxed_scoring``, and callers judge its answers in
:class:`skillfactory.sandbox.ScoringPool` workers, under a time and memory limit.
Some of its scorers also accept wrong answers (in 0.1.25 countdown takes a right
expression with ``+ x - x`` or ``+ 5e0 - 5e0`` added, and game_of_life_halting any
non-empty answer); prefer SkillFactory's own tasks where one exists.

Options given to a task (``TaskClass(**options)``) override fields of the
dataset's reasoning-gym config, e.g. ``min_numbers=4`` for ``rg:countdown``;
``seed`` and ``size`` come from :meth:`~ReasoningGymTask.generate`.

Datasets whose items carry no reference answer (reasoning-gym accepts any valid
solution: ``boxnet``, ``graph_color``, ``propositional_logic``, ``rubiks_cube``,
``rush_hour`` in 0.1.25) give problems whose ``answer`` is empty; their scorers
still judge model answers. A few generators depend on Python's string hashing
(``isomorphic_strings``, ``polynomial_multiplication``, ``ransom_note`` and
``word_ladder`` in 0.1.25), so their problems repeat across processes only with
``PYTHONHASHSEED`` fixed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from skillfactory import PluginUnavailable, Problem, Score, SkillFactoryError, Task, hookimpl
from skillfactory.answers import extract_answer_block
from skillfactory.errors import UsageError
from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt
from skillfactory.records import Conversation

from .reasoning_gym_catalogue import DatasetInfo, level_config, load_catalogue

if importlib.util.find_spec("reasoning_gym") is None:
    raise PluginUnavailable(
        "reasoning-gym is not installed: pip install 'skillfactory[reasoning-gym]'"
    )

PREFIX = "rg:"
ANSWER_FORMAT = "the final answer only, in the form the question asks for"
EXAMPLE = "your final answer"

TUPLE, SET, ITEMS = "__tuple__", "__set__", "__items__"
"""Markers that keep what JSON cannot say (tuples, sets, non-text keys) in a problem's data."""

_DRAW_ROUNDS = 4
"""How many times generation doubles its draw when reasoning-gym repeats itself."""


class ReasoningGymTask(Task):
    """One reasoning-gym dataset as a task; :func:`task_classes` makes one subclass per dataset."""

    dataset: ClassVar[str]
    """The reasoning-gym dataset name."""
    levels: ClassVar[Mapping[int, int | None]]
    """Our difficulty → reasoning-gym's curriculum level (None: the default config)."""
    variants = PROMPT_VARIANTS
    sandboxed_scoring = True

    def __init__(self, **config: Any) -> None:
        """Import reasoning-gym now (so a scoring worker pays for it before its first answer)."""
        from reasoning_gym.factory import DATASETS

        known = set(DATASETS[self.dataset][1].__dataclass_fields__) - {"seed", "size"}
        unknown = sorted(set(config) - known)
        if unknown:
            options = ", ".join(sorted(known))
            raise UsageError(f"task {self.name!r} has no option {unknown[0]!r}; options: {options}")
        self.config = dict(config)
        self._scorers: dict[int, Any] = {}

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        import reasoning_gym

        difficulty = self.resolve_difficulty(difficulty)
        if count <= 0:
            return []
        config = {**level_config(self.dataset, self.levels[difficulty]), **self.config}
        size = count
        for _ in range(_DRAW_ROUNDS):
            with _quiet():
                dataset = reasoning_gym.create_dataset(self.dataset, **config, seed=seed, size=size)
                problems = self._distinct(dataset, count, difficulty, seed)
            if len(problems) == count:
                return problems
            size *= 2
        raise SkillFactoryError(
            f"{self.name} gave only {len(problems)} distinct problems at difficulty "
            f"{difficulty} with seed {seed}; ask for at most that many"
        )

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        return solve_prompt(variant, problem.question, answer_format=ANSWER_FORMAT, example=EXAMPLE)

    def extract_answer(self, completion: str) -> str | None:
        return extract_answer_block(completion)

    def score(self, problem: Problem, answer: str | None) -> Score:
        """reasoning-gym's own judgement; a scorer that raises gives 0 with a reason."""
        if answer is None:
            return Score(0.0, "no answer")
        if not isinstance(problem.data.get("entry"), dict):
            return Score(0.0, "the problem carries no reasoning-gym entry")
        try:
            entry = {"question": problem.question, **from_json_value(problem.data["entry"])}
            with _quiet():
                value = self._scorer(problem.difficulty).score_answer(answer, entry)
        except MemoryError:
            return Score(0.0, "scorer ran out of memory")
        except (Exception, SystemExit) as error:
            return Score(0.0, f"reasoning-gym's scorer raised {type(error).__name__}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Score(0.0, f"reasoning-gym's scorer returned {type(value).__name__}")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            return Score(0.0, f"reasoning-gym's scorer returned {value!r}")
        if value == 1.0:
            return Score(1.0, "correct")
        return Score(float(value), "partial credit" if value > 0 else "incorrect")

    def _distinct(self, dataset: Any, count: int, difficulty: int, seed: int) -> list[Problem]:
        problems: dict[str, Problem] = {}
        for index in range(len(dataset)):
            problem = self._problem(dataset[index], difficulty, seed, index)
            problems.setdefault(problem.id, problem)
            if len(problems) == count:
                break
        return list(problems.values())

    def _problem(self, entry: Mapping[str, Any], difficulty: int, seed: int, index: int) -> Problem:
        question = str(entry["question"])
        answer = "" if entry.get("answer") is None else str(entry["answer"])
        digest = hashlib.sha256(json.dumps([self.name, question, answer]).encode()).hexdigest()
        rest = {key: value for key, value in entry.items() if key != "question"}  # said once
        data = {"entry": to_json_value(rest), "source": {"seed": seed, "index": index}}
        return Problem(digest[:16], self.name, difficulty, question, answer, data)

    def _scorer(self, difficulty: int) -> Any:
        """A dataset built with the problem's config: some scorers read it (ARC's board format)."""
        if difficulty not in self._scorers:
            import reasoning_gym

            level = self.levels.get(difficulty)
            config = {**level_config(self.dataset, level), **self.config, "size": 1}
            self._scorers[difficulty] = reasoning_gym.create_dataset(self.dataset, **config)
        return self._scorers[difficulty]


def _quiet() -> contextlib.AbstractContextManager[Any]:
    """Send reasoning-gym's prints (its BF generator prints dots) to stderr, so that they
    cannot corrupt JSON lines a command writes to stdout."""
    return contextlib.redirect_stdout(sys.stderr)


def to_json_value(value: Any) -> Any:
    """``value`` as JSON data, with tuples, sets and non-text keys marked so they come back."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    if isinstance(value, tuple):
        return {TUPLE: [to_json_value(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        items = [to_json_value(item) for item in value]
        return {SET: sorted(items, key=lambda item: json.dumps(item, sort_keys=True))}
    if isinstance(value, Mapping):
        if all(isinstance(key, str) for key in value) and not {TUPLE, SET, ITEMS} & set(value):
            return {key: to_json_value(item) for key, item in value.items()}
        return {ITEMS: [[to_json_value(key), to_json_value(item)] for key, item in value.items()]}
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return to_json_value(value.tolist())
    if hasattr(value, "__index__"):
        return int(value)
    if hasattr(value, "__float__"):
        return float(value)
    return str(value)


def from_json_value(value: Any) -> Any:
    """Undo :func:`to_json_value`."""
    if isinstance(value, list):
        return [from_json_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((marker, items),) = value.items()
        if marker == TUPLE:
            return tuple(from_json_value(item) for item in items)
        if marker == SET:
            return {from_json_value(item) for item in items}
        if marker == ITEMS:
            return {from_json_value(key): from_json_value(item) for key, item in items}
    return {key: from_json_value(item) for key, item in value.items()}


def task_class(info: DatasetInfo) -> type[ReasoningGymTask]:
    """The task class for one dataset."""
    levels = {level + 1: level for level in info.levels} if info.levels else {1: None}
    title = "".join(part.capitalize() for part in info.name.split("_"))
    return type(
        f"ReasoningGym{title}",
        (ReasoningGymTask,),
        {
            "__module__": __name__,
            "__doc__": f"The reasoning-gym dataset {info.name!r} as a task.",
            "name": PREFIX + info.name,
            "description": info.description,
            "dataset": info.name,
            "difficulties": info.difficulties,
            "levels": levels,
        },
    )


@functools.cache
def task_classes() -> tuple[type[ReasoningGymTask], ...]:
    """One task class per reasoning-gym dataset, made once per process."""
    return tuple(task_class(info) for info in load_catalogue())


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    for factory in task_classes():
        register(factory)
