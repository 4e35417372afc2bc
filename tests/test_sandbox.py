"""The scoring pool judges hostile answers in worker processes and always gives a score back.

The task here is a real plugin, installed through a real ``*.dist-info`` entry point
(the workers find it on the ``sys.path`` they inherit), whose scorer misbehaves on
purpose according to the answer it is given.
"""

from __future__ import annotations

import pytest

from skillfactory import Problem, Score, SkillFactoryError, UnknownNameError
from skillfactory.registry import get_registry
from skillfactory.sandbox import ScoringPool
from skillfactory.scoring import Judgement, Verifier

UNRULY_TASK = """
    import ctypes
    import os
    import sys
    import time

    from skillfactory import Problem, Score, Task, hookimpl


    class Unruly(Task):
        name = "unruly"
        description = "Echoes answers, and misbehaves in the scorer when asked to."
        sandboxed_scoring = True

        def __init__(self, marker_dir="."):
            self.marker_dir = marker_dir

        def generate(self, count, *, difficulty, seed):
            return [
                Problem(f"p{i}", self.name, difficulty, f"Say {i}.", str(i)) for i in range(count)
            ]

        def prompt(self, problem, variant):
            return [{"role": "user", "content": problem.question}]

        def extract_answer(self, completion):
            return completion.strip() or None

        def score(self, problem, answer):
            if answer == "spin":
                while True:
                    pass
            if answer == "sleep":
                time.sleep(60)
            if answer == "exit":
                os._exit(3)
            if answer == "sys.exit":
                sys.exit(1)
            if answer == "segfault":
                ctypes.string_at(0)
            if answer == "hoard":
                bytearray(2**30)  # fine without a limit, too much under one of 200 MB
            if answer == "raise":
                raise KeyError(answer)
            if answer == "junk":
                return 0.5
            if answer == "too high":
                score = Score(1.0, "correct")
                object.__setattr__(score, "value", 7.0)
                return score
            if answer == "shout":
                print("noise on stdout " * 1000, flush=True)
            if answer == "touch":
                os.system(f"touch {self.marker_dir}/ran")
            if answer == "pid":
                return Score(0.0, str(os.getpid()))
            if answer == problem.answer:
                return Score(1.0, "correct")
            return Score(0.0, "wrong")


    @hookimpl
    def register_tasks(register):
        register(Unruly)
"""

HOSTILE = {
    "spin": "scorer timed out",
    "sleep": "scorer timed out",
    "exit": "scorer crashed",
    "sys.exit": "scorer crashed",
    "segfault": "scorer crashed",
    "hoard": "scorer ran out of memory",
    "raise": "scorer raised KeyError: 'raise'",  # the error as a traceback's last line
    "junk": "scorer returned float, not a Score",
    "too high": "scorer returned a value outside [0, 1]",
}

FAST = {"time_limit": 1.0, "memory_limit_mb": 200}


@pytest.fixture
def unruly(make_distribution) -> str:
    make_distribution(
        "skillfactory-unruly",
        plugins={"unruly": "sf_test_unruly"},
        modules={"sf_test_unruly": UNRULY_TASK},
    )
    return "unruly"


def problems(count: int) -> list[Problem]:
    return [Problem(f"p{i}", "unruly", 1, f"Say {i}.", str(i)) for i in range(count)]


def expected(problem: Problem, answer: str | None) -> Score:
    if answer in HOSTILE:
        return Score(0.0, HOSTILE[answer])
    return Score(1.0, "correct") if answer == problem.answer else Score(0.0, "wrong")


@pytest.mark.parametrize("workers", [1, 2])
def test_each_hostile_answer_scores_zero_with_its_reason_and_the_rest_score_normally(
    unruly, workers
):
    batch = problems(len(HOSTILE))
    items: list[tuple[Problem, str | None]] = []
    for problem, hostile in zip(batch, HOSTILE, strict=True):
        items += [(problem, problem.answer), (problem, hostile), (problem, "wrong")]
    items.append((batch[0], None))

    with ScoringPool(unruly, workers=workers, **FAST) as pool:
        scores = pool.score_many(items)

    judged = [(answer, score) for (_, answer), score in zip(items, scores, strict=True)]
    assert judged == [(answer, expected(problem, answer)) for problem, answer in items]


def test_workers_are_reused_until_one_is_lost(unruly):
    (problem,) = problems(1)
    with ScoringPool(unruly, **FAST) as pool:
        first = pool.score_many([(problem, "pid"), (problem, "pid")])
        again = pool.score_many([(problem, "pid")])
        crash = pool.score_many([(problem, "exit"), (problem, "pid")])

    assert first[0].reason == first[1].reason == again[0].reason
    assert crash[0] == Score(0.0, "scorer crashed")
    assert crash[1].reason != first[0].reason


def test_a_scorers_prints_do_not_reach_the_callers_stdout(unruly, capfd):
    (problem,) = problems(1)
    with ScoringPool(unruly, **FAST) as pool:
        scores = pool.score_many([(problem, "shout"), (problem, "0")])

    assert scores == [Score(0.0, "wrong"), Score(1.0, "correct")]
    assert "noise" not in capfd.readouterr().out


def test_the_pool_bounds_time_and_memory_but_does_not_stop_code_from_running(unruly, tmp_path):
    (problem,) = problems(1)
    with ScoringPool(unruly, {"marker_dir": str(tmp_path)}, **FAST) as pool:
        pool.score_many([(problem, "touch")])

    assert (tmp_path / "ran").exists()


def test_no_items_start_no_workers(unruly):
    with ScoringPool(unruly, workers=4) as pool:
        assert pool.score_many([]) == []
        assert not pool._live


def test_an_unknown_task_is_refused_before_any_worker_starts(unruly):
    with pytest.raises(UnknownNameError, match="unknown task 'nope'"):
        ScoringPool("nope")


def test_a_task_that_cannot_be_built_in_the_worker_is_an_error_that_names_it(unruly):
    (problem,) = problems(1)
    loading = pytest.raises(SkillFactoryError, match="could not load task 'unruly': TypeError")
    with ScoringPool(unruly, {"colour": "blue"}) as pool, loading:
        pool.score_many([(problem, "0")])


def test_answers_must_be_text_and_a_closed_pool_refuses_work(unruly):
    (problem,) = problems(1)
    pool = ScoringPool(unruly)
    with pytest.raises(TypeError, match="string or None"):
        pool.score_many([(problem, 0)])  # type: ignore[list-item]
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.score_many([(problem, "0")])


def test_the_verifier_follows_the_tasks_declaration_unless_told_otherwise(unruly):
    (problem,) = problems(1)
    task = get_registry().get("task", unruly).create()
    with Verifier(task, **FAST) as verifier:
        assert verifier.sandboxed
        (judgement,) = verifier.judge([(problem, "exit")])
        assert judgement == Judgement("exit", Score(0.0, "scorer crashed"))
    with Verifier(task, sandbox=False) as verifier:
        answers = ["0", "raise", "junk"]
        judgements = verifier.judge([(problem, answer) for answer in answers])
        assert [judgement.score for judgement in judgements] == [
            expected(problem, answer) for answer in answers
        ]
        assert (verifier.judged, verifier.scorer_errors) == (3, 1)
        assert verifier.scorer_warning().startswith(
            "the unruly scorer raised on 1 of 3 answers (first: KeyError: 'raise'); each scored 0"
        )
