"""Worked attempts for the default model's corpus: right ones pass, wrong ones fail, checks agree.

The corpus keeps an attempt only where the task's scorer agrees with the verdict
its check reached, so every writer is held to that here on many problems, in
every prompt variant, with fixed seeds: anything it drops is wasted work, and a
check whose verdict the scorer contradicts would teach the wrong judgement.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from skillfactory import Task
from skillfactory.models import worked_countdown, worked_multiplication, worked_words
from skillfactory.models.worked import Attempt, TaskWriter, verdict_tag
from skillfactory.prompts import PROMPT_VARIANTS
from skillfactory.records import Problem
from skillfactory.tasks.acronym import Acronym
from skillfactory.tasks.countdown import Countdown
from skillfactory.tasks.letter_countdown import LetterCountdown
from skillfactory.tasks.long_multiplication import LongMultiplication
from skillfactory.verdicts import VERDICT_PATTERN, parse_verdict

WRITERS: dict[str, TaskWriter] = {
    writer.task: writer
    for writer in (
        worked_countdown.WRITER,
        worked_words.LETTER_COUNTDOWN_WRITER,
        worked_words.ACRONYM_WRITER,
        worked_multiplication.WRITER,
    )
}
TASKS: dict[str, type[Task]] = {
    task.name: task for task in (Countdown, LetterCountdown, Acronym, LongMultiplication)
}
"""The tasks by the names the registry knows them by (imported directly: loading every
plugin, reasoning-gym's included, would cost this file more than its own tests)."""
PER_DIFFICULTY = 8
SEED = 7
MAX_REPLY_WORDS = 70
"""A little above the 60 words aimed at, for the longest lists and numbers."""


@dataclass(frozen=True)
class Case:
    problem: Problem
    variant: str
    right: bool
    attempt: Attempt
    score: float


def _rng(problem: Problem, variant: str, right: bool) -> random.Random:
    return random.Random(f"{problem.id}/{variant}/{right}")


@functools.cache
def _task(name: str) -> Task:
    return TASKS[name](**WRITERS[name].options)


@functools.cache
def _cases(name: str) -> tuple[Case, ...]:
    """Right and wrong attempts at every drawn difficulty and in every variant, scored."""
    writer, task = WRITERS[name], _task(name)
    cases = []
    for difficulty in writer.difficulties:
        for problem in task.generate(PER_DIFFICULTY, difficulty=difficulty, seed=SEED):
            for variant in PROMPT_VARIANTS:
                for right in (True, False):
                    write = writer.right if right else writer.wrong
                    attempt = write(problem, variant, _rng(problem, variant, right))
                    score = task.score(problem, task.extract_answer(attempt.reply)).value
                    cases.append(Case(problem, variant, right, attempt, score))
    return tuple(cases)


def _fingerprint(name: str, count: int) -> str:
    """A digest of the first ``count`` problems' attempts, written afresh."""
    writer, task = WRITERS[name], _task(name)
    texts = []
    for problem in task.generate(count, difficulty=max(writer.difficulties), seed=SEED):
        for variant in PROMPT_VARIANTS:
            for right in (True, False):
                write = writer.right if right else writer.wrong
                attempt = write(problem, variant, _rng(problem, variant, right))
                texts += [attempt.reply, attempt.check]
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


parametrise = pytest.mark.parametrize("name", list(WRITERS))


def test_every_writer_names_a_task_and_draws_its_difficulties():
    assert WRITERS.keys() == TASKS.keys()
    for name, writer in WRITERS.items():
        assert set(writer.difficulties) <= set(TASKS[name].difficulties), name
        assert abs(sum(writer.difficulties.values()) - 1) < 1e-9, name


@parametrise
def test_right_attempts_pass_the_scorer(name):
    failed = [case for case in _cases(name) if case.right and case.score != 1.0]

    assert not failed, failed[0]


@pytest.mark.parametrize(
    "name",
    [name for name in WRITERS],
)
def test_wrong_attempts_fail_the_scorer(name):
    passed = [case for case in _cases(name) if not case.right and case.score != 0.0]

    assert not passed, passed[0]


@parametrise
def test_the_check_reaches_the_scorers_verdict(name):
    for case in _cases(name):
        assert case.attempt.correct == (case.score == 1.0), case
        assert parse_verdict(case.attempt.check) is case.attempt.correct, case


@parametrise
def test_a_reply_ends_in_its_only_answer_block(name):
    for case in _cases(name):
        reply = case.attempt.reply
        assert reply.count("<answer>") == 1 and reply.count("</answer>") == 1, reply
        assert reply.endswith("</answer>"), reply


@parametrise
def test_a_check_ends_in_its_only_verdict(name):
    for case in _cases(name):
        check = case.attempt.check
        assert len(re.findall(VERDICT_PATTERN, check, re.IGNORECASE)) == 1, check
        assert check.endswith(verdict_tag(case.attempt.correct)), check


@parametrise
def test_no_text_holds_a_skill_tag(name):
    for case in _cases(name):
        for text in (case.attempt.reply, case.attempt.check):
            assert "<sample" not in text and "<reflect" not in text, text


@parametrise
def test_each_variant_has_its_own_style(name):
    for case in _cases(name):
        lines = case.attempt.reply.splitlines()
        if case.variant == "plan_and_execute":
            assert lines[0].startswith("Plan: "), lines
        elif case.variant == "rephrase":
            assert lines[0].startswith("Restated question: "), lines
        elif case.variant == "alternatively":
            assert any(line.startswith("Alternatively, ") for line in lines), lines
        else:
            assert not any(
                line.startswith(("Plan:", "Restated", "Alternatively")) for line in lines
            )


@parametrise
def test_replies_are_short(name):
    longest = max(_cases(name), key=lambda case: len(case.attempt.reply.split()))

    assert len(longest.attempt.reply.split()) <= MAX_REPLY_WORDS, longest.attempt.reply


@parametrise
def test_a_wrong_check_never_gives_the_reference_answer(name):
    """A check may repeat what the question or reply say, but must not bring in the answer."""
    for case in _cases(name):
        reference = re.compile(rf"(?<!\w){re.escape(case.problem.answer)}(?!\w)")
        seen = f"{case.problem.question}\n{case.attempt.reply}"
        if not case.right and not reference.search(seen):
            assert not reference.search(case.attempt.check), case


@parametrise
def test_the_same_seed_writes_the_same_text(name):
    first = _fingerprint(name, 3)

    assert _fingerprint(name, 3) == first


def test_text_does_not_depend_on_string_hashing():
    """Set order changes with PYTHONHASHSEED; no writer may let it reach the text."""
    names = list(WRITERS)
    script = (
        "import json, sys; sys.path[:0] = [sys.argv[1]]; import test_worked_writers as t; "
        "print(json.dumps([t._fingerprint(n, 2) for n in json.loads(sys.argv[2])]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), json.dumps(names)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )

    assert json.loads(result.stdout) == [_fingerprint(name, 2) for name in names]


@pytest.mark.parametrize("name", ["letter_countdown", "acronym"])
def test_wrong_word_attempts_make_several_kinds_of_mistake(name):
    task = _task(name)
    reasons = {
        task.score(case.problem, task.extract_answer(case.attempt.reply)).reason
        for case in _cases(name)
        if not case.right
    }

    assert len(reasons) >= 3, reasons


def test_a_wrong_multiplication_slips_once_and_its_check_finds_that_line():
    for case in _cases("long_multiplication"):
        wrong_lines = case.attempt.check.count(": wrong.")
        assert wrong_lines == (0 if case.right else 1), case.attempt.check


def test_a_countdown_check_looks_up_every_number_of_the_answer():
    """One lookup per number written, in order; a misused or unused number is named."""
    for case in _cases("countdown"):
        check = case.attempt.check
        expression = re.search(r"^Answer: (.*)\.$", check, re.MULTILINE)[1]
        lookups = re.findall(r"(\d+) is (given, but already used|given|not given)\.", check)
        assert [int(n) for n, _ in lookups] == [int(n) for n in re.findall(r"\d+", expression)]
        misused = any(how != "given" for _, how in lookups)
        unused = "Not used: " in check
        assert unused != ("Every given number is used." in check), check
        if misused or unused:
            assert check.endswith(verdict_tag(False)), check


def test_wrong_countdown_attempts_misuse_numbers_or_miss_the_target():
    """Both kinds of mistake the model will make show up among the wrong attempts."""
    wrong = [case.attempt.check for case in _cases("countdown") if not case.right]
    misused = [c for c in wrong if "given, but" in c or "not given" in c or "Not used" in c]
    missed = [c for c in wrong if re.search(r"The result is \d+, but the target is \d+\.", c)]

    assert len(misused) >= len(wrong) // 5, len(misused)
    assert len(missed) >= len(wrong) // 5, len(missed)


_STEP_LINE = re.compile(r"^(\d+) ([-+*/]) (\d+) = (\d+)$", re.MULTILINE)


def _true(left: str, op: str, right: str) -> int | None:
    from skillfactory.models.drills import apply

    return apply(op, int(left), int(right))


def test_a_countdown_check_redoes_every_step_from_its_operands():
    """A check never copies a stated result: each of its steps is true arithmetic."""
    for case in _cases("countdown"):
        steps = _STEP_LINE.findall(case.attempt.check)
        assert steps, case.attempt.check
        for left, op, right, result in steps:
            assert _true(left, op, right) == int(result), case.attempt.check


def test_wrong_countdown_attempts_often_claim_the_target_so_copying_never_pays():
    """Most wrong attempts say they reach the target; only redoing a step finds them out."""
    wrong = [case for case in _cases("countdown") if not case.right]
    claiming = [
        case
        for case in wrong
        if f"That gives {case.problem.data['target']}." in case.attempt.reply
        or f"= {case.problem.data['target']}." in case.attempt.reply
    ]
    assert len(claiming) >= len(wrong) * 0.35, (len(claiming), len(wrong))


def test_some_countdown_slips_come_early_and_are_carried_on():
    """A slipped value is used by the next step, as a model that slipped would go on."""
    carried = 0
    for case in _cases("countdown"):
        steps = _STEP_LINE.findall(case.attempt.reply)
        for (left, op, right, result), after in itertools.pairwise(steps):
            if _true(left, op, right) != int(result) and result in (after[0], after[2]):
                carried += 1
    assert carried >= 5, carried


def test_some_countdown_answers_are_not_the_steps_above_them():
    """Right steps, then an answer with another operator: a check must redo the answer."""
    rng = random.Random(0)
    task = _task("countdown")
    miscopied = 0
    for problem in task.generate(40, difficulty=3, seed=SEED):
        chain = worked_countdown._miscopied(
            list(problem.data["numbers"]), problem.data["target"], rng
        )
        if chain.shown is not None:
            assert chain.value != problem.data["target"]
            assert chain.shown[-1].written == problem.data["target"]
            miscopied += 1
    assert miscopied >= 30, miscopied


def test_countdown_problems_come_from_the_default_models_range():
    for case in _cases("countdown"):
        assert max(case.problem.data["numbers"]) <= worked_countdown.OPTIONS["max_number"]
