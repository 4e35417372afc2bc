"""Composition with the built-in skills: every format keeps the rules the method depends on."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from skillfactory import Attempt, ComposeSettings, InMemoryTexts, Question, UsageError
from skillfactory.composer import ENDING_PHRASES, GENERIC_PHRASES, compose
from skillfactory.plugins.backtrack import Backtrack
from skillfactory.plugins.confirm import Confirm
from skillfactory.plugins.retry import Retry
from skillfactory.plugins.verify import Verify

SAMPLE = re.compile(r"<sample>\nattempt (\d+) of (\w+)")
REFLECT = re.compile(r"<reflect>\ncheck of attempt (\d+) of (\w+)")


def question(qid: str, pattern: str, reflected: str | None = None) -> Question:
    """A question whose attempts are ``pattern`` ("C" correct, "I" incorrect); ``reflected``
    marks with "y" which attempts have an agreeing reflection (all, when omitted)."""
    reflected = reflected or "y" * len(pattern)
    texts = [f"attempt {i} of {qid}: working… <answer>{i}</answer>" for i in range(len(pattern))]
    reflections = [f"check of attempt {i} of {qid}" for i in range(len(pattern))]
    attempts = tuple(
        Attempt(i, kind == "C", str(i), "original", i if reflected[i] == "y" else None)
        for i, kind in enumerate(pattern)
    )
    prompt = [{"role": "user", "content": f"Question {qid}?"}]
    return Question(qid, prompt, attempts, InMemoryTexts(texts, reflections))


QUESTIONS = [
    question("alpha", "CIICICIC"),
    question("beta", "IICCCIII"),
    question("gamma", "CIIIIIII"),
    question("delta", "CCCCIIII", "yyyyyyny"),
]
ALL = {"verify": Verify(), "retry": Retry(), "backtrack": Backtrack(), "confirm": Confirm()}


def skills(*names: str):
    return [ALL[name] for name in names]


def shown(trace) -> tuple[list[int], str]:
    text = trace.messages[-1]["content"]
    thinking, after = text.split("</think>")
    return [int(i) for i, _ in SAMPLE.findall(thinking)], after


def pattern_of(qid: str) -> str:
    return next(
        "".join("C" if a.correct else "I" for a in q.attempts) for q in QUESTIONS if q.id == qid
    )


@pytest.mark.parametrize("seed", range(12))
def test_verify_alone_is_one_correct_attempt_with_its_reflection(seed):
    traces, summary = compose(QUESTIONS, skills("verify"), seed=seed)

    assert summary.traces == 4
    for trace in traces:
        attempts, after = shown(trace)
        assert len(attempts) == 1
        assert pattern_of(trace.question_id)[attempts[0]] == "C"
        assert [int(i) for i, _ in REFLECT.findall(trace.messages[-1]["content"])] == attempts
        assert trace.format == "0C"
        assert trace.reflections == 1
        assert f"<answer>\n{attempts[0]}\n</answer>" in after


@pytest.mark.parametrize("seed", range(20))
def test_verify_retry_ends_correct_never_reuses_and_keeps_the_limit(seed):
    traces, _ = compose(
        QUESTIONS,
        skills("verify", "retry"),
        ComposeSettings(max_attempts=4),
        seed=seed,
        traces_per_question=3,
    )

    for trace in traces:
        attempts, after = shown(trace)
        pattern = pattern_of(trace.question_id)
        assert 1 <= len(attempts) <= 4
        assert len(set(attempts)) == len(attempts)
        assert pattern[attempts[-1]] == "C"
        assert trace.format == f"{len(attempts)}C"
        assert f"<answer>\n{attempts[-1]}\n</answer>" in after
        if trace.question_id == "delta":
            assert 6 not in attempts, "attempt 6 has no agreeing reflection"


JOINED = re.compile(r"<sample>\nattempt (\d+) of \w+.*?</reflect>\n(.*?)\n(?=<sample>)", re.DOTALL)


def test_joining_phrases_follow_the_attempt_they_come_after():
    traces, _ = compose(QUESTIONS, skills("verify", "retry"), seed=3, traces_per_question=3)
    after_correct = set(Verify.phrases["after_correct"]) | set(GENERIC_PHRASES)
    after_incorrect = set(Retry.phrases["after_incorrect"]) | set(GENERIC_PHRASES)

    joins = 0
    for trace in traces:
        pattern = pattern_of(trace.question_id)
        text = trace.messages[-1]["content"]
        for index, phrase in JOINED.findall(text):
            assert phrase in (after_correct if pattern[int(index)] == "C" else after_incorrect)
            joins += 1
        assert any(phrase in text for phrase in ENDING_PHRASES)
    assert joins == sum(trace.attempts - 1 for trace in traces)


@pytest.mark.parametrize("seed", range(12))
def test_backtrack_goes_wrong_last_then_returns_to_the_latest_correct(seed):
    traces, _ = compose(QUESTIONS, skills("verify", "retry", "backtrack"), seed=seed)

    assert traces
    for trace in traces:
        attempts, after = shown(trace)
        pattern = pattern_of(trace.question_id)
        assert pattern[attempts[-1]] == "I"
        latest_correct = [i for i in attempts if pattern[i] == "C"][-1]
        assert [int(i) for i, _ in SAMPLE.findall(after)] == [latest_correct]
        assert any(phrase in after for phrase in Backtrack.phrases["backtrack"])
        assert f"<answer>\n{latest_correct}\n</answer>" in after
        assert trace.format == "*C*IC"
        assert len(set(attempts)) == len(attempts) <= 5


@pytest.mark.parametrize("seed", range(12))
def test_confirm_ends_on_two_correct_attempts(seed):
    traces, summary = compose(QUESTIONS, skills("verify", "retry", "confirm"), seed=seed)

    for trace in traces:
        attempts, after = shown(trace)
        pattern = pattern_of(trace.question_id)
        assert pattern[attempts[-1]] == pattern[attempts[-2]] == "C"
        assert any(phrase in after for phrase in Confirm.phrases["confirm"])
        assert trace.format == "*CC"
    assert "gamma" not in {trace.question_id for trace in traces}, "gamma has one correct attempt"
    assert summary.skipped["confirm: this question's attempts cannot show it"] >= 1


def test_a_question_that_cannot_serve_a_format_is_counted_not_fatal():
    only_correct = question("eps", "CCCC")
    only_wrong = question("zeta", "IIII")
    traces, summary = compose(
        [only_correct, only_wrong, *QUESTIONS], skills("verify", "retry", "backtrack"), seed=0
    )

    assert {trace.question_id for trace in traces} == {"alpha", "beta", "gamma", "delta"}
    assert summary.questions == 6 and summary.usable == 4
    assert summary.skipped == {
        "backtrack: this question's attempts cannot show it": 1,
        "retry: this question's attempts cannot show it": 1,
    }


def test_random_order_ablation_may_end_wrong_and_says_so():
    traces, _ = compose(
        QUESTIONS,
        skills("verify", "retry"),
        ComposeSettings(order="random"),
        seed=1,
        traces_per_question=4,
    )

    assert {trace.format for trace in traces} == {"random"}
    assert any(pattern_of(t.question_id)[shown(t)[0][-1]] == "I" for t in traces)


def test_no_reflection_ablation_drops_reflect_blocks_and_uses_neutral_phrases():
    traces, _ = compose(
        [question("eta", "CIICIC", "nnnnnn")],
        skills("verify", "retry"),
        ComposeSettings(reflections=False),
        seed=2,
        traces_per_question=4,
    )

    assert traces
    for trace in traces:
        text = trace.messages[-1]["content"]
        assert "<reflect>" not in text and trace.reflections == 0
        assert trace.format == "no_reflection"
        for phrase in Retry.phrases["after_incorrect"] + Verify.phrases["after_correct"]:
            assert phrase not in text


def test_all_lengths_gives_one_trace_per_length():
    traces, _ = compose([question("theta", "IICCIC")], skills("verify", "retry"), all_lengths=True)

    assert sorted(trace.attempts for trace in traces) == [1, 2, 3, 4, 5]


def test_the_same_seed_gives_the_same_traces_and_another_seed_others():
    first, _ = compose(QUESTIONS, skills("verify", "retry"), seed=11, traces_per_question=2)
    again, _ = compose(
        list(reversed(QUESTIONS)), skills("verify", "retry"), seed=11, traces_per_question=2
    )
    other, _ = compose(QUESTIONS, skills("verify", "retry"), seed=12, traces_per_question=2)

    by_question = lambda traces: sorted((t.question_id, t.messages[-1]["content"]) for t in traces)  # noqa: E731
    assert by_question(first) == by_question(again), "a question's traces ignore the others"
    assert by_question(first) != by_question(other)


def test_every_trace_row_is_a_chat_for_sft():
    traces, _ = compose(QUESTIONS, skills("verify", "retry"), seed=0)

    row = traces[0].to_json()
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["skills"] == ["retry", "verify"]
    assert row["messages"][-1]["content"].startswith("<think>\n<sample>")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ((), "choose at least one skill"),
        (("retry",), "skill 'retry' builds on 'verify'; select it too, e.g. --skills retry,verify"),
        (("verify", "backtrack"), "skill 'backtrack' builds on 'retry'"),
    ],
)
def test_sets_that_cannot_form_a_trace_are_usage_errors(names, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        compose(QUESTIONS, skills(*names))


class PickFirst(Retry):
    """A third-party skill that also chooses the attempts: the first correct one."""

    name = "pick-first"
    description = "The first correct attempt alone."
    stage = 15

    def apply(self, draft, question, settings, rng):
        first = next((a for a in question.attempts if a.correct), None)
        return None if first is None else replace(draft, attempts=(first,), format="1C")


def test_two_skills_that_both_choose_the_attempts_are_refused():
    message = (
        "skills 'retry' and 'pick-first' both choose the attempts, so 'pick-first' would "
        "replace what 'retry' chose; select one of them"
    )
    with pytest.raises(UsageError, match=re.escape(message)):
        compose(QUESTIONS, [Verify(), Retry(), PickFirst()])


def test_a_chooser_with_skills_that_only_add_is_accepted():
    traces, _ = compose(QUESTIONS, [Verify(), PickFirst()])

    assert {trace.format for trace in traces} == {"1C"}
