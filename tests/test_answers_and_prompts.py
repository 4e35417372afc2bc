"""Answer extraction as models really write it, and the four prompt variants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillfactory import UsageError
from skillfactory.answers import MAX_ANSWER_CHARS, extract_answer_block
from skillfactory.prompts import PROMPT_VARIANTS, VARIANT_DESCRIPTIONS, solve_prompt


@pytest.mark.parametrize(
    ("completion", "answer"),
    [
        ("Steps… <answer>(25 - 5) * 4</answer>", "(25 - 5) * 4"),
        ("<answer>3</answer> wait, no: <answer>4</answer>", "4"),
        ("< Answer >apple</ANSWER >", "apple"),
        ("<answer>\n  42\n</answer>", "42"),
        ("<answer>**42**</answer>", "42"),
        ("<answer>`(1 + 2) * 3`</answer>", "(1 + 2) * 3"),
        ("<answer>```\n(1 + 2) * 3\n```</answer>", "(1 + 2) * 3"),
        ("<answer>```text\n(1 + 2) * 3\n```</answer>", "(1 + 2) * 3"),
        ("<answer>$\\boxed{17}$</answer>", "17"),
        ('<answer>"apple"</answer>', "apple"),
        ("the reply was cut off <answer> 12 + 7", "12 + 7"),
    ],
)
def test_the_last_answer_block_is_extracted_and_cleaned(completion, answer):
    assert extract_answer_block(completion) == answer


@pytest.mark.parametrize("completion", ["", "no tags at all", "<answer></answer>", "<answer> ` ` "])
def test_no_answer_is_none(completion):
    assert extract_answer_block(completion) is None


def test_an_enormous_answer_block_is_cut():
    answer = extract_answer_block("<answer>" + "9" * 1_000_000 + "</answer>")

    assert answer == "9" * MAX_ANSWER_CHARS


def test_pathological_tag_soup_is_handled():
    assert extract_answer_block("<" * 200_000 + "answer" + ">" * 200_000) == ">" * MAX_ANSWER_CHARS
    assert extract_answer_block("< answer " * 50_000) is None


@given(st.text())
def test_extraction_never_raises(text):
    answer = extract_answer_block(text)

    assert answer is None or (answer and answer == answer.strip())


@pytest.mark.parametrize("variant", PROMPT_VARIANTS)
def test_every_variant_asks_for_the_answer_in_tags(variant):
    conversation = solve_prompt(
        variant, "Use 3, 5 and 7 to make 22.", answer_format="one expression", example="3 + 5"
    )

    user = conversation[-1]
    assert user["role"] == "user"
    assert user["content"].endswith("\n\nUse 3, 5 and 7 to make 22.")
    assert "<answer>3 + 5</answer>" in user["content"]
    assert all(message["role"] in ("system", "user") for message in conversation)
    assert variant in VARIANT_DESCRIPTIONS


def test_variants_differ_and_only_the_plain_one_has_no_system_prompt():
    prompts = {
        variant: solve_prompt(variant, "Q?", answer_format="a word", example="cat")
        for variant in PROMPT_VARIANTS
    }

    assert len({str(prompt) for prompt in prompts.values()}) == 4
    assert [len(prompts[variant]) for variant in PROMPT_VARIANTS] == [1, 2, 2, 2]
    assert "Alternatively," in prompts["alternatively"][-1]["content"]
    assert "Restated question:" in prompts["rephrase"][-1]["content"]


def test_an_unknown_variant_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown prompt variant 'socratic'"):
        solve_prompt("socratic", "Q?", answer_format="a word", example="cat")
