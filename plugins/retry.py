"""The ``retry`` skill: after an attempt, a fresh one, until a correct attempt ends the trace.

It chooses the attempts: a length drawn from 1 to ``max_attempts`` (or the one the
composer asks for), a correct attempt last, and the earlier ones drawn from the
question's other attempts, right or wrong, as in the paper's ``*C`` format (label
``{N}C``). Whenever an attempt was judged incorrect, what follows is a retry. With
the "random order" ablation the last attempt may be wrong too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from skillfactory import ComposeSettings, Draft, Question, Skill, hookimpl


class Retry(Skill):
    name = "retry"
    description = "After an attempt judged wrong, start again; end on a correct attempt."
    stage = 10
    requires = ("verify",)
    chooses_attempts = True
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {
        "after_incorrect": (
            "That doesn't work. Let me start over.",
            "My check shows this is wrong, so I'll try a different approach.",
            "This answer fails the check. Time for a fresh attempt.",
            "That was a mistake; let me try again.",
            "The result is off. I'll rethink it from the beginning.",
            "Wrong answer. Let me take another route.",
            "That didn't hold up, so I'll attempt it again.",
        ),
    }

    def apply(
        self, draft: Draft, question: Question, settings: ComposeSettings, rng: random.Random
    ) -> Draft | None:
        pool = list(question.attempts)
        limit = min(settings.max_attempts, len(pool))
        if limit == 0:
            return None
        length = settings.length or rng.randint(1, limit)
        if length > limit:
            return None
        if settings.order == "random":
            chosen = tuple(rng.sample(pool, length))
            return replace(draft, attempts=chosen, format=f"{length}C")
        correct = [attempt for attempt in pool if attempt.correct]
        if not correct:
            return None
        last = rng.choice(correct)
        earlier = rng.sample([attempt for attempt in pool if attempt is not last], length - 1)
        return replace(draft, attempts=(*earlier, last), format=f"{length}C")


@hookimpl
def register_skills(register: Callable[[type[Skill]], None]) -> None:
    register(Retry)
