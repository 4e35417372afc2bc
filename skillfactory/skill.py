"""The skill contract: how verified attempts and reflections become a trace."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from skillfactory.records import Draft, Question


@dataclass(frozen=True)
class ComposeSettings:
    """What every skill may consult while composing: the user's compose options.

    A skill honours each field or gives up on the question (returns None): the
    composer never bends a draft to fit them after the fact, beyond refusing one
    that breaks a rule every trace keeps (docs/skills.md).
    """

    max_attempts: int = 5
    """The most attempts one trace shows (the paper's L_max is 5)."""
    order: Literal["correct-last", "random"] = "correct-last"
    """``random`` is the paper's "no sample order" ablation: the last attempt may be wrong."""
    reflections: bool = True
    """False is the paper's "no reflections" ablation: no ``<reflect>`` blocks, neutral glue."""
    length: int | None = None
    """When set, the number of attempts the skill that chooses them should pick (the paper's
    ``*C_full`` composes one trace per length); None lets it draw a length. A skill that
    chooses attempts but cannot make this length returns None for it."""


class Skill(ABC):
    """One cognitive behaviour a trace can show, e.g. verifying an answer or retrying.

    Composition starts from an empty :class:`~skillfactory.records.Draft` and hands
    it to each selected skill in ascending ``stage`` order; each returns the draft
    with its contribution (which attempts, in which order, reflections, closing
    segments, the format label), or None when this question's attempts cannot show
    the skill, which skips the question for this trace. Randomness comes only from
    the ``rng`` it is handed, so that a seed reproduces every trace.
    """

    name: ClassVar[str]
    """What users list in ``--skills``: short, lower case, no spaces or commas."""
    description: ClassVar[str]
    """One line for ``skillfactory skills``."""
    stage: ClassVar[int] = 50
    """Skills apply in ascending stage: choosing attempts first (built-ins use 10-20),
    then adding to the end of the trace (30-40)."""
    requires: ClassVar[Sequence[str]] = ()
    """Names of skills that must be selected too, e.g. ``retry`` builds on ``verify``."""
    chooses_attempts: ClassVar[bool] = False
    """True when ``apply`` sets the draft's attempts itself, whatever an earlier skill chose
    (``retry``). Two selected skills that both choose are refused, since the later would
    silently undo the earlier; a skill that only adds to the chosen attempts, or chooses
    only when the draft is still empty (``verify`` alone), leaves this False."""
    needs_reflections: ClassVar[bool] = False
    """True when every attempt in the trace must come with an agreeing reflection."""
    phrases: ClassVar[Mapping[str, Sequence[str]]] = {}
    """Joining phrases by purpose, several variants each. The composer joins an attempt
    to the next with ``after_correct`` or ``after_incorrect`` phrases (plus its own
    neutral ones); a skill's own purposes are its business."""

    @abstractmethod
    def apply(
        self, draft: Draft, question: Question, settings: ComposeSettings, rng: random.Random
    ) -> Draft | None:
        """The draft with this skill's contribution, or None when the question cannot show it."""
