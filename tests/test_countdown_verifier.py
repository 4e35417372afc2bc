"""The Countdown verifier: what it accepts, what it refuses, and that it is exact and safe."""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillfactory import Score
from skillfactory.tasks.countdown import Countdown
from skillfactory.tasks.countdown_corpus import hostile_answers
from skillfactory.tasks.countdown_verifier import MAX_DEPTH, REASONS, evaluate, verify

NUMBERS = [44, 19, 35]
TARGET = 98  # 44 + 19 + 35


@pytest.mark.parametrize(
    "answer",
    [
        "44 + 19 + 35",
        "(44 + 19) + 35",
        "35 + 19 + 44 = 98",
        "98 = 44 + 19 + 35",
        "44 + 19 + 35.",
        "((44)) + (19 + 35)",
        "  44+19+35  ",
        "\\(44 + 19 + 35\\)",
    ],
)
def test_one_expression_that_uses_each_number_once_and_hits_the_target_is_correct(answer):
    assert verify(answer, NUMBERS, TARGET) == "correct"


@pytest.mark.parametrize(
    ("answer", "numbers", "target"),
    [
        ("25 × 4 − 2", [25, 4, 2], 98),  # noqa: RUF001
        ("25 x 4 - 2", [25, 4, 2], 98),
        ("25x4-2", [25, 4, 2], 98),
        ("(25 X 4) - 2", [25, 4, 2], 98),
        ("25 * 4 – 2", [25, 4, 2], 98),  # noqa: RUF001
        ("25 · 4 - 2", [25, 4, 2], 98),
        ("100 ÷ 4 + 2", [100, 4, 2], 27),
        ("100 \\div 4 + 2 \\times 1", [100, 4, 2, 1], 27),
    ],
)
def test_operators_are_read_the_way_models_write_them(answer, numbers, target):
    assert verify(answer, numbers, target) == "correct"


def test_arithmetic_is_exact_over_the_rationals():
    assert verify("8 / (3 - 8 / 3)", [8, 3, 8, 3], 24) == "correct"
    assert verify("(1 / 3) * 3 * 7", [1, 3, 3, 7], 7) == "correct"
    assert verify("1 / 3 + 1 / 3 + 1 / 3", [1, 3, 1, 3, 1, 3], 1) == "correct"
    assert verify("10 / 4", [10, 4], 2) == "wrong result"
    assert verify("10 / 4 * 4", [10, 4, 4], 10) == "correct"


def test_precedence_and_left_association_are_the_usual_ones():
    assert verify("2 + 3 * 4", [2, 3, 4], 14) == "correct"
    assert verify("2 + 3 * 4", [2, 3, 4], 20) == "wrong result"
    assert verify("20 - 5 - 3", [20, 5, 3], 12) == "correct"
    assert verify("48 / 4 / 2", [48, 4, 2], 6) == "correct"
    assert verify("48 / (4 / 2)", [48, 4, 2], 24) == "correct"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("44 + 19 + 36", "wrong numbers"),
        ("44 + 19", "wrong numbers"),
        ("44 + 19 + 35 + 35", "wrong numbers"),
        ("44 + 44 + 35", "wrong numbers"),
        ("44 + 19 - 35", "wrong result"),
        ("44 + 19 + 35 = 99", "wrong result"),
        ("44 + 19 * 35", "wrong result"),
        ("44 + 19 + 035", "unparseable"),
        ("44 + (19 + 35", "unparseable"),
        ("44 + 19) + 35", "unparseable"),
        ("44 19 35", "unparseable"),
        ("44 + 19 + 35 = 98 = 98", "unparseable"),
        ("the answer is 44 + 19 + 35", "unparseable"),
        ("", "no answer"),
        ("   \n ", "no answer"),
    ],
)
def test_wrong_and_malformed_answers_score_zero_with_a_reason(answer, reason):
    assert verify(answer, NUMBERS, TARGET) == reason


def test_division_by_zero_is_a_reason_not_an_error():
    assert verify("44 / (19 - 19)", [44, 19, 19], 44) == "division by zero"
    assert verify("(7 - 7) / (3 - 3)", [7, 7, 3, 3], 0) == "division by zero"


def test_nesting_is_limited_without_recursion():
    numbers = [1, 2]
    nested = "(" * MAX_DEPTH + "1 + 2" + ")" * MAX_DEPTH
    too_nested = "(" * (MAX_DEPTH + 1) + "1 + 2" + ")" * (MAX_DEPTH + 1)

    assert verify(nested, numbers, 3) == "correct"
    assert verify(too_nested, numbers, 3) == "too deep"
    assert verify("(" * 10_000 + "1 + 2" + ")" * 10_000, numbers, 3) == "too long"


# Step-by-step answers: each line ``expression = result``.


@pytest.mark.parametrize(
    "answer",
    [
        "44 + 19 = 63\n63 + 35 = 98",
        "Step 1: 44 + 19 = 63\nStep 2: 63 + 35 = 98",
        "step 1. 44 + 19 = 63\nstep 2. 63 + 35 = 98.",
        "1. 44 + 19 = 63\n2. 35 + 63 = 98",
        "- 44 + 19 = 63\n- 63 + 35 = 98",
        "44 + 19 = 63; 63 + 35 = 98",
        "44 + 19 = 63, 63 + 35 = 98",
        "Step 1: 19 + 35 = 54\r\nStep 2: 54 + 44 = 98\r\n",
    ],
)
def test_steps_that_use_each_number_once_and_end_at_the_target_are_correct(answer):
    assert verify(answer, NUMBERS, TARGET) == "correct"


def test_steps_read_operators_the_way_models_write_them():
    steps = "Step 1: 44 × 35 = 1540\nStep 2: 1540 ÷ 35 = 44\nStep 3: 44 − 19 = 25"  # noqa: RUF001
    assert verify(steps, [44, 19, 35, 35], 25) == "correct"


def test_a_step_may_use_a_given_number_and_an_equal_result_side_by_side():
    assert verify("6 / 2 = 3\n3 * 3 = 9", [6, 2, 3], 9) == "correct"


def test_a_step_may_combine_more_than_two_values():
    assert verify("44 + 19 - 35 = 28\n28 * 2 = 56", [44, 19, 35, 2], 56) == "correct"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("44 + 19 = 64\n64 + 35 = 99", "bad step"),
        ("44 + 19 = 63\n63 + 35 = 97", "bad step"),
        ("44 + 19 = 63\n63 + 34 = 97", "wrong numbers"),
        ("44 + 19 = 63\n44 + 35 = 79", "wrong numbers"),
        ("44 + 19 = 63\n35 = 35", "wrong numbers"),
        ("44 + 19 = 63\n63 - 35 = 28", "wrong result"),
        ("44 + 19 = 63\n63 + 35", "bad step"),
        ("44 + 19 = 63\n63 + 35 = 98 = 98", "bad step"),
        ("44 + 19 = 63.5\n63.5 + 35 = 98.5", "bad step"),
        ("19 - 44 = -25\n35 - -25 = 60", "bad step"),
    ],
)
def test_steps_with_false_arithmetic_reused_or_missing_numbers_score_zero(answer, reason):
    assert verify(answer, NUMBERS, TARGET) == reason


def test_every_result_but_the_last_must_be_used():
    # 10 + 3 = 13 is left over: 7 alone does not use every number in one solution.
    assert verify("10 + 3 = 13\n7 = 7", [10, 3, 7], 7) == "wrong numbers"


# Hostile answers: the inputs that fooled, hung or compromised another scorer.


@pytest.mark.parametrize("name", sorted(hostile_answers(NUMBERS, TARGET)))
def test_hostile_answers_score_zero_with_a_reason(name):
    answer = hostile_answers(NUMBERS, TARGET)[name]

    reason = verify(answer, NUMBERS, TARGET)

    assert reason in REASONS
    assert reason != "correct"


@pytest.mark.parametrize(
    ("answer", "numbers", "target"),
    [
        ("17e0", [17], 17),
        ("0x11", [0, 11], 17),
        ("1_7", [1, 7], 17),
        ("100.3", [100, 3], 100),
        ("17 + x - x", [17], 17),
        ("+ 17 - 0", [17, 0], 17),
        ("3!", [3], 6),
        ("9 // 2 + 13", [9, 2, 13], 17),
        ("35 % 18", [35, 18], 17),
        ("f'{17}'", [17], 17),
        ("(lambda: 17)()", [17], 17),
        ("16.9999999999 + 0", [16, 0], 17),
        ("3 / 7 + 16.571428571428573", [3, 7, 16], 17),
        ("4 ** 2 + 1", [4, 2, 1], 17),
        ("１７", [17], 17),  # noqa: RUF001
        ("١٧", [17], 17),  # noqa: RUF001
        ("17\x00", [17], 17),
    ],
)
def test_answers_that_fooled_another_scorer_score_zero(answer, numbers, target):
    assert verify(answer, numbers, target) != "correct"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_scoring_never_raises_on_any_text(answer):
    assert verify(answer, NUMBERS, TARGET) in REASONS


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/()= \n.xX:Step"))
def test_scoring_never_raises_on_text_close_to_the_grammar(answer):
    assert verify(answer, NUMBERS, TARGET) in REASONS


# Exactness, checked against an independent evaluator: Python's own parser, with
# every number read as a Fraction (safe here: the test writes the expressions).

_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def exact_value(expression: str) -> Fraction:
    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.BinOp):
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        assert isinstance(node, ast.Constant) and type(node.value) is int
        return Fraction(node.value)

    return walk(ast.parse(expression, mode="eval").body)


def expressions(numbers: list[int]) -> st.SearchStrategy[str]:
    """Random expressions that use each of ``numbers`` once, with random parentheses."""

    def build(draw, values: list[int]) -> str:
        if len(values) == 1:
            text = str(values[0])
        else:
            cut = draw(st.integers(1, len(values) - 1))
            op = draw(st.sampled_from("+-*/"))
            text = f"{build(draw, values[:cut])} {op} {build(draw, values[cut:])}"
        return f"({text})" if draw(st.booleans()) else text

    @st.composite
    def strategy(draw) -> str:
        return build(draw, draw(st.permutations(numbers)))

    return strategy()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_value_is_exactly_the_rational_value(data):
    numbers = data.draw(st.lists(st.integers(1, 100), min_size=1, max_size=8))
    expression = data.draw(expressions(numbers))
    pool = list(numbers)

    value = evaluate(expression, pool)

    try:
        expected = exact_value(expression)
    except ZeroDivisionError:
        assert value == "division by zero"
    else:
        assert value == expected
        assert pool == []
        assert verify(expression, numbers, int(expected)) == (
            "correct" if expected.denominator == 1 else "wrong result"
        )


# Near misses of real solutions: one number or one operator changed.

TASK = Countdown()
NUMBER = re.compile(r"[0-9]+")
OPERATOR = re.compile(r"[-+*/]")


def expected_correct(expression: str, numbers: list[int], target: int) -> bool:
    used = sorted(int(token) for token in NUMBER.findall(expression))
    try:
        return used == sorted(numbers) and exact_value(expression) == target
    except ZeroDivisionError:
        return False


@settings(max_examples=150, deadline=None)
@given(difficulty=st.integers(2, 8), seed=st.integers(0, 10**6), data=st.data())
def test_a_solution_with_one_number_swapped_scores_zero(difficulty, seed, data):
    problem = TASK.generate(1, difficulty=difficulty, seed=seed)[0]
    numbers, target = problem.data["numbers"], problem.data["target"]
    spot = data.draw(st.sampled_from(list(NUMBER.finditer(problem.answer))))
    old = int(spot.group())
    new = data.draw(st.sampled_from(numbers) | st.integers(0, 1000))
    mutated = problem.answer[: spot.start()] + str(new) + problem.answer[spot.end() :]

    score = TASK.score(problem, mutated)

    assert score.correct == expected_correct(mutated, numbers, target)
    if new != old:
        assert score == Score(0.0, "wrong numbers")


@settings(max_examples=150, deadline=None)
@given(difficulty=st.integers(2, 8), seed=st.integers(0, 10**6), data=st.data())
def test_a_solution_with_one_operator_changed_scores_zero_unless_still_right(
    difficulty, seed, data
):
    problem = TASK.generate(1, difficulty=difficulty, seed=seed)[0]
    numbers, target = problem.data["numbers"], problem.data["target"]
    spot = data.draw(st.sampled_from(list(OPERATOR.finditer(problem.answer))))
    new = data.draw(st.sampled_from([op for op in "+-*/" if op != spot.group()]))
    mutated = problem.answer[: spot.start()] + new + problem.answer[spot.end() :]

    score = TASK.score(problem, mutated)

    assert score.correct == expected_correct(mutated, numbers, target)
    assert score.reason in REASONS
