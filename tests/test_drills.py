"""Arithmetic drills: true facts, of the kinds Countdown steps use, read back from a reply."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from skillfactory.models.drills import (
    INSTRUCTION,
    DrillShares,
    Fact,
    apply,
    countdown_facts,
    drill_conversations,
    drill_prompt,
    drill_reply,
    parse_results,
)


def test_every_drilled_fact_is_true_whole_and_positive():
    facts = countdown_facts(3000, random.Random(0), max_number=20)
    assert len(facts) == 3000
    for fact in facts:
        assert apply(fact.op, fact.left, fact.right) == fact.result > 0
    assert {fact.op for fact in facts} == {"+", "-", "*", "/"}


def test_drills_cover_first_steps_and_later_steps_over_earlier_results():
    facts = countdown_facts(3000, random.Random(1), max_number=20)
    assert any(fact.left > 20 for fact in facts), "later steps combine earlier results"
    first_steps = {(f.left, f.op, f.right) for f in facts if f.left <= 20}
    assert len(first_steps) > 400


def test_shares_move_drilling_from_the_few_first_steps_to_second_steps():
    """First steps are a few hundred facts, learned early; the later ones are the wall."""
    shares = DrillShares(first=0.15, second=0.55)
    facts = countdown_facts(20000, random.Random(3), max_number=20, shares=shares)
    over_a_result = [f for f in facts if f.left > 20 and f.right <= 20]
    first = [f for f in facts if f.left <= 20]
    assert len(over_a_result) > 0.22 * len(facts)
    assert len({(f.left, f.op, f.right) for f in over_a_result}) > 3000
    assert len(first) < 0.78 * len(facts)


def test_a_drill_conversation_asks_each_line_and_answers_it():
    for conversation in drill_conversations(50, random.Random(2), options={"max_number": 20}):
        prompt, reply = conversation[0]["content"], conversation[1]["content"]
        questions = prompt.splitlines()
        assert questions[0] == INSTRUCTION
        parsed = parse_results(reply)
        assert [q for q, _ in parsed] == questions[1:]
        for question, result in parsed:
            left, op, right = question.split()
            assert apply(op, int(left), int(right)) == result


@given(st.lists(st.tuples(st.integers(1, 400), st.sampled_from("+-*/"), st.integers(1, 20))))
def test_a_reply_reads_back_as_its_facts(triples):
    facts = [
        Fact(left, op, right, value)
        for left, op, right in triples
        if (value := apply(op, left, right)) is not None
    ]
    assert drill_prompt(facts)[0]["content"].startswith(INSTRUCTION)
    assert parse_results(drill_reply(facts)) == [(f.question, f.result) for f in facts]


@given(st.text())
def test_any_reply_parses_without_error(text):
    for parsed in parse_results(text):
        assert parsed is None or isinstance(parsed[1], int)
