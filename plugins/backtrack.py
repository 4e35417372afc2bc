"""The ``backtrack`` skill: a later attempt goes wrong, so the trace returns to an earlier one.

After the attempts ``retry`` chose (which end on a correct one), it adds a wrong
attempt; after the thinking, a phrase says the last try failed and shows the
latest correct attempt again, whose answer becomes the final answer. This is the
paper's ``*C*IC`` format. A question with no wrong attempt left cannot show it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from skillfactory import ComposeSettings, Draft, Question, Segment, Skill, hookimpl


class Backtrack(Skill):
    name = "backtrack"
    description = "When a later attempt goes wrong, return to an earlier correct answer."
    stage = 35
    requires = ("verify", "retry")
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {
        "backtrack": (
            "This latest attempt is wrong, but an earlier one checked out. I'll go back to it.",
            "That last try failed; my earlier answer was the right one, so I return to it.",
            "The final attempt went astray. Going back to the attempt that passed its check:",
            "I slipped at the end, but an earlier attempt was verified. Returning to it:",
            "This one is incorrect, so I'll fall back on the earlier attempt that was correct:",
        ),
    }

    def apply(
        self, draft: Draft, question: Question, settings: ComposeSettings, rng: random.Random
    ) -> Draft | None:
        if settings.max_attempts < 2:
            return None
        used = {attempt.index for attempt in draft.attempts}
        wrong = [a for a in question.attempts if not a.correct and a.index not in used]
        if not wrong:
            return None
        attempts = (*draft.attempts, rng.choice(wrong))[-settings.max_attempts :]
        earlier_correct = [attempt for attempt in attempts[:-1] if attempt.correct]
        if not earlier_correct:
            return None
        latest = earlier_correct[-1]
        phrase = Segment(text=rng.choice(self.phrases["backtrack"]))
        return replace(
            draft,
            attempts=attempts,
            closing=(*draft.closing, phrase, Segment(attempt=latest)),
            answer_from=latest,
            format="*C*IC",
        )


@hookimpl
def register_skills(register: Callable[[type[Skill]], None]) -> None:
    register(Backtrack)
