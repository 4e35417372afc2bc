"""Evaluation figures on hand-made responses whose attempts, reflections and verdicts we know."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory.answers import answer_blocks, extract_answer_block
from skillfactory.evaluation.metrics import (
    CellMetrics,
    ResponseSkills,
    mean_interval,
    read_response,
    skill_usage,
    verdict_f1,
    verdict_f1_interval,
    wilson_interval,
)

RIGHT = "(25 - 5) * 4"
WRONG = "25 * 4 - 5"
OTHER_WRONG = "25 + 5 * 4"


def judge_from(right_answers: Iterable[str]) -> Callable[[str], bool | None]:
    """A verifier that knows the right answers: None without an answer, else membership."""
    right = {" ".join(answer.split()) for answer in right_answers}

    def judge(text: str) -> bool | None:
        answer = extract_answer_block(text)
        if answer is None:
            return None
        return " ".join(answer.split()) in right

    return judge


JUDGE = judge_from([RIGHT])


def trace(*steps: tuple[str, str | None], final: str | None = None) -> str:
    """A trace in the trained shape; each step is (attempt's answer, verdict or None for none)."""
    parts = ["<think>"]
    for number, (answer, verdict) in enumerate(steps):
        if number:
            parts.append("Let me try again.")
        parts.append(
            f"<sample>\nAttempt {number}: working it out.\n<answer>{answer}</answer>\n</sample>"
        )
        if verdict is not None:
            parts.append(
                f"<reflect>\nChecking the arithmetic. <verdict>{verdict}</verdict>\n</reflect>"
            )
    parts.append("</think>\nSo the answer is:")
    if final is not None:
        parts.append(f"<answer>{final}</answer>")
    return "\n".join(parts)


# -- Wilson interval ------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "total", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (31, 200, 0.1114, 0.2116),
    ],
)
def test_wilson_interval_matches_known_values(successes, total, low, high):
    got_low, got_high = wilson_interval(successes, total)
    assert got_low == pytest.approx(low, abs=1e-4)
    assert got_high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_is_zero_for_no_responses_and_stays_in_bounds():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    for total in (1, 2, 7, 100):
        for successes in range(total + 1):
            low, high = wilson_interval(successes, total)
            assert 0.0 <= low <= successes / total <= high <= 1.0


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(-1, 2)


# -- reading responses -----------------------------------------------------------


def test_a_plain_response_is_one_attempt_without_reflections():
    response = f"Let me compute. 25 - 5 = 20, 20 * 4 = 80.\n<answer>{RIGHT}</answer>"
    parts = read_response(response)
    assert parts == read_response(response)  # pure
    assert (parts.attempts, parts.reflections, parts.tagged) == ([], [], False)
    assert skill_usage(response, JUDGE) == ResponseSkills(attempts=1, reflections=0, verdicts=[])


def test_untagged_responses_count_distinct_answers():
    two = f"<answer>{WRONG}</answer> hmm, no. <answer>{RIGHT}</answer>"
    same = f"<answer>{RIGHT}</answer> checking again <answer> (25 -  5) *\n4 </answer>"
    none = "I am not sure how to do this."
    assert answer_blocks(two) == [WRONG, RIGHT]
    assert skill_usage(two, JUDGE).attempts == 2
    assert skill_usage(same, JUDGE).attempts == 1
    assert skill_usage(none, JUDGE) == ResponseSkills(attempts=0, reflections=0, verdicts=[])
    assert skill_usage("<answer>  </answer>", JUDGE).attempts == 0


def test_a_full_trace_with_honest_verdicts_scores_perfectly():
    response = trace((WRONG, "Incorrect"), (RIGHT, "Correct"), final=RIGHT)
    parts = read_response(response)
    assert parts.tagged
    assert len(parts.attempts) == 2
    assert WRONG in parts.attempts[0] and RIGHT in parts.attempts[1]
    assert [index for index, _ in parts.reflections] == [0, 1]
    skills = skill_usage(response, JUDGE)
    # The final <answer> outside the samples is not an extra attempt.
    assert skills.attempts == 2
    assert skills.reflections == 2
    assert skills.verdicts == [(False, False), (True, True)]
    assert verdict_f1(skills.verdicts) == {"correct": 1.0, "incorrect": 1.0}


def test_a_reflection_that_calls_a_wrong_attempt_correct_lowers_both_f1s():
    response = trace(
        (WRONG, "Correct"), (OTHER_WRONG, "Incorrect"), (RIGHT, "Correct"), final=RIGHT
    )
    skills = skill_usage(response, JUDGE)
    assert skills.verdicts == [(True, False), (False, False), (True, True)]
    # "correct" positive: 1 hit, 1 false alarm, 0 misses -> 2*1 / (2*1 + 1 + 0) = 2/3.
    # "incorrect" positive: 1 hit, 0 false alarms, 1 miss -> 2*1 / (2*1 + 0 + 1) = 2/3.
    f1 = verdict_f1(skills.verdicts)
    assert f1["correct"] == pytest.approx(2 / 3)
    assert f1["incorrect"] == pytest.approx(2 / 3)


def test_verdict_f1_is_zero_for_a_missed_class_and_none_for_an_absent_one():
    # Always saying "correct": the one wrong attempt is missed.
    # correct: 1 hit, 1 false alarm -> 2/3; incorrect: 0 hits, 1 miss -> 0.
    assert verdict_f1([(True, False), (True, True)]) == {
        "correct": pytest.approx(2 / 3),
        "incorrect": 0.0,
    }
    # Only right attempts, all called right: "incorrect" never occurs either way.
    assert verdict_f1([(True, True), (True, True)]) == {"correct": 1.0, "incorrect": None}
    assert verdict_f1([]) == {"correct": None, "incorrect": None}


def test_a_truncated_trace_keeps_its_unclosed_last_attempt():
    response = (
        f"<think>\n<sample>\n<answer>{WRONG}</answer>\n</sample>\n"
        "<reflect>\nNo: 25 * 4 - 5 = 95. <verdict>Incorrect</verdict>\n</reflect>\n"
        "Trying again.\n<sample>\n25 - 5 = 20, and 20 * 4 = 8"
    )
    parts = read_response(response)
    assert len(parts.attempts) == 2
    assert parts.attempts[1] == "25 - 5 = 20, and 20 * 4 = 8"
    skills = skill_usage(response, JUDGE)
    assert skills == ResponseSkills(
        attempts=2, reflections=1, verdicts=[(False, False)], traced=True
    )


def test_an_attempt_without_an_answer_counts_as_wrong():
    response = (
        "<sample>I give up.</sample>"
        "<reflect>Looks fine. <verdict>Correct</verdict></reflect>"
        "<sample>still nothing</sample>"
        "<reflect>No answer here. <verdict>Incorrect</verdict></reflect>"
    )
    assert skill_usage(response, JUDGE).verdicts == [(True, False), (False, False)]


def test_tags_in_odd_case_and_spacing_are_read():
    response = (
        f"< THINK >\n< Sample >\n<answer>{WRONG}</answer>\n</ SAMPLE >\n"
        "<REFLECT >\nwrong <verdict> incorrect </verdict>\n< / reflect>\n"
        f"<sample\n>\n<Answer>{RIGHT}</ANSWER>\n<  /sample  >\n"
        "< reflect>ok <VERDICT>Correct</Verdict></reflect >"
    )
    parts = read_response(response)
    assert len(parts.attempts) == 2
    assert [index for index, _ in parts.reflections] == [0, 1]
    assert skill_usage(response, JUDGE).verdicts == [(False, False), (True, True)]


def test_reflections_without_a_single_verdict_or_an_attempt_are_not_compared():
    response = (
        "<reflect>Before anything. <verdict>Correct</verdict></reflect>"
        f"<sample><answer>{RIGHT}</answer></sample>"
        "<reflect>I am not sure.</reflect>"
        "<reflect><verdict>Correct</verdict> or <verdict>Incorrect</verdict></reflect>"
        "<reflect>Yes. <verdict>Correct</verdict></reflect>"
    )
    parts = read_response(response)
    assert [index for index, _ in parts.reflections] == [-1, 0, 0, 0]
    skills = skill_usage(response, JUDGE)
    assert skills.reflections == 4
    assert skills.verdicts == [(True, True)]


def test_a_missing_closing_tag_ends_the_block_at_the_next_one():
    response = (
        f"<sample><answer>{WRONG}</answer>"
        "<reflect>wrong <verdict>Incorrect</verdict>"
        f"<sample><answer>{RIGHT}</answer></sample></reflect>"
    )
    parts = read_response(response)
    assert parts.attempts == [f"<answer>{WRONG}</answer>", f"<answer>{RIGHT}</answer>"]
    assert parts.reflections == [(0, "wrong <verdict>Incorrect</verdict>")]
    assert skill_usage(response, JUDGE).verdicts == [(False, False)]


# -- verdict F1 properties ---------------------------------------------------------

pairs_strategy = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=40)


@given(pairs_strategy)
def test_verdict_f1_is_none_or_a_rate(pairs):
    f1 = verdict_f1(pairs)
    assert set(f1) == {"correct", "incorrect"}
    for value in f1.values():
        assert value is None or 0.0 <= value <= 1.0


@given(st.lists(st.booleans(), max_size=40))
def test_a_perfect_judge_scores_one_on_every_defined_class(truths):
    f1 = verdict_f1([(truth, truth) for truth in truths])
    assert f1["correct"] == (1.0 if any(truths) else None)
    assert f1["incorrect"] == (1.0 if not all(truths) else None)


# -- a cell --------------------------------------------------------------------------


def test_cell_metrics_to_json():
    responses = [
        (trace((WRONG, "Incorrect"), (RIGHT, "Correct"), final=RIGHT), 120),
        (trace((WRONG, "Correct"), final=WRONG), 60),
        (f"<answer>{RIGHT}</answer>", 10),
        ("no answer at all", 30),
    ]
    cell = CellMetrics()
    for response, length in responses:
        final = extract_answer_block(response)
        cell.add(
            correct=final is not None and JUDGE(response) is True,
            answered=final is not None,
            length=length,
            skills=skill_usage(response, JUDGE),
        )
    got = cell.to_json("countdown", 3, problems=2)
    assert list(got) == [
        "task",
        "difficulty",
        "problems",
        "responses",
        "correct",
        "accuracy",
        "ci_low",
        "ci_high",
        "format_rate",
        "mean_length",
        "attempts",
        "reflections",
        "trace_rate",
        "verdicts",
        "verdict_f1_correct",
        "verdict_f1_incorrect",
        "intervals",
        "budget_forcing",
    ]
    low, high = wilson_interval(2, 4)
    assert got["task"] == "countdown" and got["difficulty"] == 3 and got["problems"] == 2
    assert got["responses"] == 4 and got["correct"] == 2
    assert got["accuracy"] == 0.5
    assert (got["ci_low"], got["ci_high"]) == (low, high)
    assert got["format_rate"] == 0.75
    assert got["mean_length"] == pytest.approx(55.0)
    assert got["attempts"] == pytest.approx((2 + 1 + 1 + 0) / 4)
    assert got["reflections"] == pytest.approx((2 + 1 + 0 + 0) / 4)
    assert got["trace_rate"] == pytest.approx(2 / 4)  # the two traces, not the plain answers
    # Pairs: (False, False), (True, True), (True, False).
    # correct: 1 hit, 1 false alarm -> 2/3; incorrect: 1 hit, 1 miss -> 2/3.
    assert got["verdicts"] == 3
    assert got["verdict_f1_correct"] == pytest.approx(2 / 3)
    assert got["verdict_f1_incorrect"] == pytest.approx(2 / 3)
    assert got["budget_forcing"] is None
    intervals = got["intervals"]
    assert intervals["trace_rate"] == list(wilson_interval(2, 4))
    assert intervals["format_rate"] == list(wilson_interval(3, 4))
    assert intervals["attempts"] == list(mean_interval(4, 4 + 1 + 1, 4))
    assert intervals["reflections"] == list(mean_interval(3, 4 + 1, 4))
    for key in ("verdict_f1_correct", "verdict_f1_incorrect"):
        low_f1, high_f1 = intervals[key]
        assert 0 <= low_f1 <= got[key] <= high_f1 <= 1


def test_mean_interval_matches_the_normal_approximation():
    # Values 0, 1, 2, 3: mean 1.5, sample variance 5/3.
    low, high = mean_interval(6, 14, 4)
    half = 1.96 * (5 / 3 / 4) ** 0.5
    assert (low, high) == (pytest.approx(max(0.0, 1.5 - half)), pytest.approx(1.5 + half))
    assert mean_interval(0, 0, 0) == (0.0, 0.0)
    assert mean_interval(2, 4, 1) == (2.0, 2.0)
    assert mean_interval(10, 10, 10) == (pytest.approx(1.0), pytest.approx(1.0))


def test_verdict_f1_interval_is_seeded_narrows_with_more_verdicts_and_none_when_undefined():
    pairs = [(True, True)] * 6 + [(True, False)] * 2 + [(False, False)] * 4 + [(False, True)]
    small = verdict_f1_interval(pairs, True)
    assert small == verdict_f1_interval(pairs, True)
    large = verdict_f1_interval(pairs * 20, True)
    assert small is not None and large is not None
    assert large[1] - large[0] < small[1] - small[0]
    assert large[0] <= verdict_f1(pairs)["correct"] <= large[1]
    assert verdict_f1_interval([(True, True)] * 5, False) is None
    assert verdict_f1_interval([(True, True)] * 5, True) == (1.0, 1.0)


def test_an_empty_cell_reports_zeros():
    got = CellMetrics().to_json("acronym", 4, problems=0)
    assert got["responses"] == 0 and got["accuracy"] == 0.0
    assert (got["ci_low"], got["ci_high"]) == (0.0, 0.0)
    assert got["verdicts"] == 0
    assert got["verdict_f1_correct"] is None and got["verdict_f1_incorrect"] is None
    assert got["intervals"]["verdict_f1_correct"] is None
    assert got["intervals"]["attempts"] == [0.0, 0.0]
