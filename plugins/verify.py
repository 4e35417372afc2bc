"""The ``verify`` skill: each attempt is followed by the model's own check and verdict.

Alone it gives the paper's simplest trace, ``0C``: one correct attempt and its
reflection. With ``retry`` it adds the reflections to the attempts retry chose.
Only reflections whose verdict agrees with the verifier are ever shown, so a trace
never teaches a wrong judgement.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from skillfactory import ComposeSettings, Draft, Question, Skill, hookimpl


class Verify(Skill):
    name = "verify"
    description = "Follow each attempt with the model's own check of it and its verdict."
    stage = 20
    needs_reflections = True
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {
        "after_correct": (
            "That checks out, but I'd like to confirm it another way.",
            "The check passes. Still, a second attempt can't hurt.",
            "This looks right; let me make sure by solving it again.",
            "My check agrees with this answer, but I'll verify it once more.",
            "So far so good. I'll redo it independently to be certain.",
            "The check supports this result; one more attempt to be safe.",
        ),
    }

    def apply(
        self, draft: Draft, question: Question, settings: ComposeSettings, rng: random.Random
    ) -> Draft | None:
        if draft.attempts:
            return replace(draft, reflect=True)
        if settings.length not in (None, 1):
            return None
        correct = [attempt for attempt in question.attempts if attempt.correct]
        if not correct:
            return None
        return replace(draft, attempts=(rng.choice(correct),), reflect=True, format="0C")


@hookimpl
def register_skills(register: Callable[[type[Skill]], None]) -> None:
    register(Verify)
