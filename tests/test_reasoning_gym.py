"""The reasoning-gym bridge: every dataset as an ``rg:`` task, its scorer judged in the pool.

``skillfactory.testing.check_task`` is not used as it stands: it feeds hostile
answers to ``score()`` in the test process, and reasoning-gym's countdown scorer
would run the shell command among them right here. The same promises are checked
below in two halves: generation, prompts and reference answers in-process, the
hostile answers through a :class:`~skillfactory.sandbox.ScoringPool`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from skillfactory import PluginUnavailable, Problem, Score, UsageError
from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import get_registry, load_registry
from skillfactory.sandbox import ScoringPool
from skillfactory.testing import HOSTILE_ANSWERS

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("reasoning_gym") is None, reason="reasoning-gym is not installed"
)

HEAVY = ("torch", "transformers", "trl", "datasets", "accelerate", "vllm")
SAMPLE_TASKS = ("rg:countdown", "rg:chain_sum", "rg:arc_agi", "rg:word_sorting", "rg:acre")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def only_the_bridge(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    """Load just this plugin, with its catalogue cached in a directory of the test's own."""
    monkeypatch.setenv(PLUGINS_ENV, "reasoning_gym")
    monkeypatch.setenv("SKILLFACTORY_CACHE_DIR", str(cache_dir))


def task(name: str, **options):
    return get_registry().get("task", name).factory(**options)


def test_every_dataset_is_a_sandboxed_task_named_rg():
    from reasoning_gym.factory import DATASETS

    registry = load_registry()
    names = registry.names("task")

    assert names == sorted(f"rg:{name}" for name in DATASETS if name != "composite")
    for registration in registry.entries("task"):
        factory = registration.factory
        assert factory.sandboxed_scoring
        assert registration.description.startswith("reasoning-gym ")
        assert list(factory.difficulties) == sorted(set(factory.difficulties))
        assert set(factory.levels) == set(factory.difficulties)


@pytest.mark.parametrize("name", SAMPLE_TASKS)
def test_generation_prompts_and_reference_answers_keep_their_promises(name):
    bridged = task(name)
    for difficulty in {bridged.difficulties[0], bridged.difficulties[-1]}:
        problems = bridged.generate(4, difficulty=difficulty, seed=3)

        assert bridged.generate(4, difficulty=difficulty, seed=3) == problems
        assert len({problem.id for problem in problems}) == 4
        for problem in problems:
            assert (problem.task, problem.difficulty) == (name, difficulty)
            text = json.dumps([name, problem.question, problem.answer])
            assert problem.id == hashlib.sha256(text.encode()).hexdigest()[:16]
            for variant in bridged.variants:
                conversation = bridged.prompt(problem, variant)
                assert conversation[-1]["role"] == "user"
                assert problem.question in conversation[-1]["content"]
            as_read_back = Problem.from_json(json.loads(json.dumps(problem.to_json())))
            assert bridged.score(as_read_back, problem.answer) == Score(1.0, "correct")
            assert bridged.score(problem, None) == Score(0.0, "no answer")


def test_hostile_answers_are_judged_in_the_pool_without_harm():
    countdown = task("rg:countdown")
    problems = countdown.generate(2, difficulty=1, seed=0)
    items = [(problem, answer) for problem in problems for answer in HOSTILE_ANSWERS]
    items += [(problem, problem.answer) for problem in problems]

    with ScoringPool("rg:countdown", time_limit=2.0) as pool:
        scores = pool.score_many(items)

    *hostile, right_first, right_second = scores
    assert not any(score.correct for score in hostile)
    assert right_first == right_second == Score(1.0, "correct")


def test_the_issues_hostile_completions_cost_one_answer_each(tmp_path):
    """What the pool is for: reasoning-gym's countdown scorer runs Python from the answer.

    The shell command does run, inside the worker (the pool is no sandbox against
    code); ``9**9**9`` is stopped by the time limit and ``os._exit`` only ends the
    worker. If the marker stops appearing, reasoning-gym fixed its scorer: update
    docs/tasks.md.
    """
    countdown = task("rg:countdown")
    (problem,) = countdown.generate(1, difficulty=1, seed=0)
    marker = tmp_path / "ran"
    completions = [
        f"<answer>__import__('os').system('touch {marker}')</answer>",
        "<answer>9**9**9</answer>",
        "<answer>__import__('os')._exit(0)</answer>",
        f"<answer>{problem.answer}</answer>",
    ]
    items = [(problem, countdown.extract_answer(text)) for text in completions]

    with ScoringPool("rg:countdown", time_limit=1.0) as pool:
        shell, power, exit_, right = pool.score_many(items)

    assert marker.exists()
    assert not shell.correct
    assert power == Score(0.0, "scorer timed out")
    assert exit_ == Score(0.0, "scorer crashed")
    assert right == Score(1.0, "correct")


def test_reasoning_gyms_countdown_scorer_accepts_some_wrong_answers():
    """Why the built-in countdown task is preferred: symbols that cancel, and numbers
    written with an exponent, slip past reasoning-gym's check of the numbers used."""
    countdown = task("rg:countdown")
    (problem,) = countdown.generate(1, difficulty=1, seed=0)

    for wrong in (f"{problem.answer} + x - x", f"{problem.answer} + 5e0 - 5e0"):
        assert countdown.score(problem, wrong).correct


def test_difficulty_follows_reasoning_gyms_curriculum_levels():
    from skillfactory.tasks.reasoning_gym_catalogue import level_config

    countdown = task("rg:countdown")

    assert countdown.difficulties == (1, 2, 3, 4)
    assert countdown.levels == {1: 0, 2: 1, 3: 2, 4: 3}
    first, second = level_config("countdown", 0), level_config("countdown", 1)
    assert (first["min_numbers"], first["max_numbers"]) == (3, 6)
    assert (second["min_numbers"], second["max_numbers"]) == (3, 9)
    for problem in countdown.generate(5, difficulty=1, seed=1):
        assert 3 <= len(problem.data["entry"]["metadata"]["numbers"]) <= 6
    assert task("rg:acre").difficulties == (1,)


def test_options_override_the_datasets_config():
    countdown = task("rg:countdown", min_numbers=4, max_numbers=4)

    for problem in countdown.generate(3, difficulty=1, seed=1):
        assert len(problem.data["entry"]["metadata"]["numbers"]) == 4
    with pytest.raises(UsageError, match=r"no option 'colour'; options: .*max_numbers"):
        task("rg:countdown", colour="blue")


def test_entries_keep_tuples_sets_and_keys_through_json():
    from skillfactory.tasks.reasoning_gym import from_json_value, to_json_value

    entry = {"grid": ((1, 2), (3, 4)), "seen": {"b", "a"}, "edges": {0: [1], 2: []}, "n": None}

    assert from_json_value(json.loads(json.dumps(to_json_value(entry)))) == entry


def test_score_never_raises_on_a_problem_without_an_entry():
    chain_sum = task("rg:chain_sum")
    bare = Problem("0" * 16, "rg:chain_sum", 1, "What is 1 + 1?", "2")

    assert chain_sum.score(bare, "2") == Score(0.0, "the problem carries no reasoning-gym entry")


def test_the_catalogue_is_read_from_the_cache_without_importing_reasoning_gym(cache_dir):
    load_registry()  # builds the cache if this process has not yet
    script = """
import sys
import skillfactory.tasks.reasoning_gym as bridge
print(len(bridge.task_classes()), "reasoning_gym" in sys.modules, sorted(
    {name.split(".")[0] for name in sys.modules} & set(sys.argv[1:])))
"""
    result = subprocess.run(
        [sys.executable, "-c", script, *HEAVY],
        capture_output=True,
        text=True,
        check=True,
        env={**_environ(), "SKILLFACTORY_CACHE_DIR": str(cache_dir)},
    )

    count, imported, heavy = result.stdout.split(" ", 2)
    assert int(count) > 100
    assert imported == "False"
    assert heavy.strip() == "[]"


def test_a_stale_or_broken_cache_is_rebuilt(tmp_path, monkeypatch):
    from skillfactory.tasks import reasoning_gym_catalogue as catalogue

    monkeypatch.setenv("SKILLFACTORY_CACHE_DIR", str(tmp_path))
    built = catalogue.load_catalogue()
    (path,) = tmp_path.glob("reasoning-gym-*.json")

    monkeypatch.setattr(catalogue, "build_catalogue", lambda: pytest.fail("rebuilt"))
    assert catalogue.load_catalogue() == built

    rebuilt: list[bool] = []
    monkeypatch.setattr(catalogue, "build_catalogue", lambda: rebuilt.append(True) or built)
    path.write_text("{not json")
    assert catalogue.load_catalogue() == built
    cached = json.loads(path.read_text())
    cached["key"]["format"] = -1
    path.write_text(json.dumps(cached))
    assert catalogue.load_catalogue() == built
    assert rebuilt == [True, True]


def test_without_reasoning_gym_the_plugin_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)
    monkeypatch.delitem(sys.modules, "skillfactory.tasks.reasoning_gym", raising=False)

    (record,) = load_registry().plugins

    assert record.unavailable == (
        "reasoning-gym is not installed: pip install 'skillfactory[reasoning-gym]'"
    )
    assert not record.errors
    with pytest.raises(PluginUnavailable):
        import skillfactory.tasks.reasoning_gym  # noqa: F401


def _environ() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != PLUGINS_ENV}
