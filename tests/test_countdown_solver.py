"""The Countdown solver: it proves problems solvable with a readable solution."""

from __future__ import annotations

import pytest

from skillfactory.tasks.countdown_solver import as_expression, as_steps, find_moves, solve
from skillfactory.tasks.countdown_verifier import verify


@pytest.mark.parametrize(
    ("numbers", "target"),
    [
        ([44, 19, 35], 98),
        ([3, 4], 12),
        ([1, 1, 1, 1, 1, 1, 1, 1], 8),
        ([100, 87, 44, 42, 77, 21, 43, 27], 12),
    ],
)
def test_a_solution_uses_every_number_once_and_hits_the_target(numbers, target):
    moves = find_moves(numbers, target)

    assert moves is not None
    assert verify(as_expression(numbers, moves), numbers, target) == "correct"
    assert verify("\n".join(as_steps(numbers, moves)), numbers, target) == "correct"


def test_steps_spell_out_each_move():
    moves = find_moves([44, 19, 35], 98)

    assert moves is not None
    assert len(as_steps([44, 19, 35], moves)) == 2
    assert all(" = " in step for step in as_steps([44, 19, 35], moves))


def test_solutions_are_written_with_the_larger_operand_first():
    assert solve([3, 4], 12) == "4 * 3"
    assert solve([10, 6, 2], 2) == "(10 - 6) / 2"
    assert solve([6, 4, 20], 200) == "20 * (6 + 4)"


@pytest.mark.parametrize(
    ("numbers", "moves", "expression"),
    [
        ([20, 6, 4], [(1, 2, "+"), (0, 1, "-")], "20 - (6 + 4)"),
        ([20, 6, 4], [(1, 2, "-"), (0, 1, "+")], "20 + 6 - 4"),
        ([30, 6, 4], [(1, 2, "*"), (0, 1, "-")], "30 - 6 * 4"),
        ([20, 6, 4], [(1, 2, "+"), (0, 1, "*")], "20 * (6 + 4)"),
        ([20, 6, 4], [(0, 1, "-"), (0, 1, "*")], "(20 - 6) * 4"),
        ([48, 6, 4], [(1, 2, "*"), (0, 1, "/")], "48 / (6 * 4)"),
        ([24, 6, 2], [(0, 1, "/"), (0, 1, "*")], "24 / 6 * 2"),
        ([24, 6, 2], [(0, 1, "/"), (0, 1, "/")], "24 / 6 / 2"),
    ],
)
def test_parentheses_appear_only_where_they_are_needed(numbers, moves, expression):
    assert as_expression(numbers, moves) == expression


def test_unsolvable_problems_have_no_solution():
    assert solve([1, 1], 5) is None
    assert solve([2, 3, 5], 1000) is None


def test_the_budget_bounds_the_search_and_a_miss_is_not_a_proof():
    famous = [25, 50, 75, 100, 3, 6]  # 952, from a televised game

    assert solve(famous, 952, budget=100) is None
    assert solve(famous, 952, budget=10_000) == "(75 * 3 * (100 + 6) - 50) / 25"


def test_intermediate_results_are_positive_whole_numbers():
    moves = find_moves([8, 3, 8, 3], 24)

    # 8 / (3 - 8 / 3) = 24 needs a fraction, and the solver does not use fractions.
    assert moves is None or all(
        int(step.rsplit("= ", 1)[1]) > 0 for step in as_steps([8, 3, 8, 3], moves)
    )


def test_numbers_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        find_moves([0, 3], 3)
