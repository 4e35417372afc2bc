"""The ``confirm`` skill: a second correct attempt agrees with the first before the answer.

After the attempts ``retry`` chose (ending on a correct one), it adds another
correct attempt, and after the thinking a phrase notes that two attempts agree.
This is the paper's ``*CC`` format. A question with only one correct attempt
cannot show it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from skillfactory import ComposeSettings, Draft, Question, Segment, Skill, hookimpl


class Confirm(Skill):
    name = "confirm"
    description = "Answer only after a second correct attempt agrees with the first."
    stage = 30
    requires = ("verify", "retry")
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {
        "confirm": (
            "Two separate attempts reached a correct answer, so I can commit to it.",
            "Both attempts agree and both checks passed; I'm ready to answer.",
            "I've verified this twice now, so it's safe to finalize.",
            "Independent attempts confirm the same conclusion.",
            "The second attempt confirms the first, so I'll finalize.",
        ),
    }

    def apply(
        self, draft: Draft, question: Question, settings: ComposeSettings, rng: random.Random
    ) -> Draft | None:
        if settings.max_attempts < 2 or not draft.attempts or not draft.attempts[-1].correct:
            return None
        used = {attempt.index for attempt in draft.attempts}
        others = [a for a in question.attempts if a.correct and a.index not in used]
        if not others:
            return None
        attempts = (*draft.attempts, rng.choice(others))[-settings.max_attempts :]
        phrase = Segment(text=rng.choice(self.phrases["confirm"]))
        return replace(draft, attempts=attempts, closing=(*draft.closing, phrase), format="*CC")


@hookimpl
def register_skills(register: Callable[[type[Skill]], None]) -> None:
    register(Confirm)
