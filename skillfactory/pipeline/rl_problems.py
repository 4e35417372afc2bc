"""Questions for reinforcement learning: the run's task and level, none the model is judged on.

GRPO (and the verl export) prompt with questions of the training task and reward
with its verifier. They come from a seed of their own and leave out every
question of the held-out evaluation draw, so that evaluation never scores a
question the model was trained on.
"""

from __future__ import annotations

from typing import Any

from skillfactory.errors import UsageError
from skillfactory.records import Problem

RL_SEED_OFFSET = 7_919
"""Added to the run's seed, so that RL questions are not the sampled questions again."""
EVALUATION_DRAW = 400
"""How many held-out questions per level evaluation may use (all are left out here)."""


def held_out_ids(task: Any, difficulty: int) -> set[str]:
    """Ids of the evaluation questions of ``task`` at ``difficulty``."""
    from skillfactory.models.abilities import HELD_OUT_SEED

    count = EVALUATION_DRAW
    while True:
        try:
            drawn = task.generate(count, difficulty=difficulty, seed=HELD_OUT_SEED)
        except UsageError:  # a small task that cannot make that many: as many as it can
            if count == 1:
                return set()
            count //= 2
            continue
        return {problem.id for problem in drawn}


def rl_problems(task: Any, *, difficulty: int, count: int, seed: int) -> list[Problem]:
    """``count`` questions for RL, disjoint by id from the evaluation questions."""
    excluded = held_out_ids(task, difficulty)
    wanted = count + len(excluded)
    drawn = task.generate(wanted, difficulty=difficulty, seed=seed + RL_SEED_OFFSET)
    chosen = [problem for problem in drawn if problem.id not in excluded][:count]
    if len(chosen) < count:
        raise UsageError(
            f"task {task.name!r} gave only {len(chosen)} questions at difficulty {difficulty} "
            f"outside the evaluation set; ask for fewer than {count}"
        )
    return chosen
