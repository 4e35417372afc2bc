"""Conformance checks that every task plugin, built-in or third-party, should pass.

Call them from a plugin's own test suite::

    from skillfactory.testing import check_task

    def test_addition_conforms():
        check_task(Addition(), difficulty=2)

Each check raises ``AssertionError`` with a message that names the broken promise.
"""

from __future__ import annotations

from skillfactory.records import Problem, Score
from skillfactory.task import Task

HOSTILE_ANSWERS = (
    "",
    " ",
    "__import__('os').system('echo owned')",
    "9" * 5000,
    "(" * 500 + "1" + ")" * 500,
    "2 ** 2 ** 2 ** 2 ** 2",
    "<answer>",
    "\x00\ufffd",
)
"""Answers a scorer must judge without raising, hanging or executing anything."""


def check_task(task: Task, *, difficulty: int, seed: int = 0, count: int = 8) -> list[Problem]:
    """Check the promises of the :class:`~skillfactory.Task` contract at one difficulty.

    Generation is deterministic and gives distinct problems of the right task and
    difficulty; every prompt variant builds a chat prompt; every reference answer
    scores 1.0; and the scorer judges missing and hostile answers without raising.
    Returns the generated problems for further, task-specific checks.
    """
    problems = task.generate(count, difficulty=difficulty, seed=seed)
    label = f"task {task.name!r}"
    assert len(problems) == count, f"{label}: asked for {count} problems, got {len(problems)}"
    again = task.generate(count, difficulty=difficulty, seed=seed)
    assert again == problems, f"{label}: the same seed gave different problems"
    ids = [problem.id for problem in problems]
    assert len(set(ids)) == count, f"{label}: problem ids repeat: {ids}"
    assert task.variants, f"{label}: no prompt variants"
    for problem in problems:
        assert problem.task == task.name, (
            f"{label}: problem {problem.id} says task {problem.task!r}"
        )
        assert problem.difficulty == difficulty, (
            f"{label}: problem {problem.id} has a wrong difficulty"
        )
        for variant in task.variants:
            conversation = task.prompt(problem, variant)
            assert conversation and conversation[-1]["role"] == "user", (
                f"{label}: variant {variant!r} must end with a user message"
            )
        reference = task.score(problem, problem.answer)
        assert reference.correct, (
            f"{label}: the reference answer {problem.answer!r} of {problem.id} scored {reference}"
        )
        for answer in (None, *HOSTILE_ANSWERS):
            try:
                score = task.score(problem, answer)
            except Exception as error:
                raise AssertionError(
                    f"{label}: score() raised on {answer!r:.60}: {error!r}"
                ) from error
            assert isinstance(score, Score), f"{label}: score() returned {score!r}"
            assert not score.correct, f"{label}: {answer!r} was scored correct for {problem.id}"
    return problems
