"""The composition engine: a question's judged attempts and agreeing reflections become traces.

For each question the selected skills, in stage order, turn an empty
:class:`~skillfactory.records.Draft` into a plan (which attempts, in which order,
with reflections or not, what comes after the thinking); the engine checks the
plan against the rules every trace keeps and renders it::

    <think>
    <sample> attempt </sample>
    <reflect> its reflection </reflect>
    a joining phrase
    <sample> attempt </sample>
    <reflect> its reflection </reflect>
    </think>
    closing segments (a skill's), an ending phrase
    <answer> the final answer </answer>

Every question gets its own random generator seeded from the run's seed and its
id, so a question's traces do not depend on which other questions are composed,
and the same seed gives the same bytes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from skillfactory.errors import UsageError
from skillfactory.records import Attempt, Draft, Message, Question
from skillfactory.skill import ComposeSettings, Skill

GENERIC_PHRASES = (
    "Let me look at this once more from the start.",
    "Before I settle on anything, I want to work through it again.",
    "I'll take another pass at the problem.",
    "Let me try the problem again and compare.",
    "One more attempt, done carefully from the beginning.",
    "I should double-check by solving it a second way.",
)
"""Neutral joining phrases, used after any attempt (and alone when reflections are off)."""

ENDING_PHRASES = (
    "So my final answer is:",
    "That settles it. The answer:",
    "Putting it together, the answer is:",
    "I'm confident in this result, so the answer is:",
    "Here is the final answer:",
    "Therefore, the answer is:",
)
"""Lead-ins between the end of the thinking and the final answer."""

DRAFT_TRIES_PER_TRACE = 3
"""How many times a question is re-drawn looking for a trace it has not produced yet."""


@dataclass(frozen=True)
class Trace:
    """One composed trace, ready to be a row of an SFT dataset."""

    question_id: str
    messages: list[Message]
    """The question's prompt followed by the assistant turn that holds the trace."""
    format: str
    skills: tuple[str, ...]
    attempts: int
    reflections: int

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "messages": self.messages,
            "format": self.format,
            "skills": list(self.skills),
            "attempts": self.attempts,
            "reflections": self.reflections,
        }


@dataclass
class ComposeSummary:
    """What composition made of its input, for the summary table and the run log."""

    questions: int = 0
    usable: int = 0
    """Questions that gave at least one trace."""
    traces: int = 0
    by_format: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    """Why traces could not be made, e.g. ``"verify: no correct attempt"``, counted per try."""


def check_skill_set(skills: Sequence[Skill]) -> list[Skill]:
    """The skills in the order they apply; a set that cannot form a trace is a usage error."""
    if not skills:
        raise UsageError("choose at least one skill, e.g. --skills verify,retry")
    names = {skill.name for skill in skills}
    for skill in skills:
        missing = [name for name in skill.requires if name not in names]
        if missing:
            wanted = ",".join(sorted(names | set(missing)))
            raise UsageError(
                f"skill {skill.name!r} builds on {', '.join(map(repr, missing))}; "
                f"select it too, e.g. --skills {wanted}"
            )
    choosers = [skill for skill in skills if skill.chooses_attempts]
    if len(choosers) > 1:
        first, second = sorted(choosers, key=lambda skill: (skill.stage, skill.name))[:2]
        raise UsageError(
            f"skills {first.name!r} and {second.name!r} both choose the attempts, so "
            f"{second.name!r} would replace what {first.name!r} chose; select one of them"
        )
    return sorted(skills, key=lambda skill: (skill.stage, skill.name))


def compose(
    questions: Iterable[Question],
    skills: Sequence[Skill],
    settings: ComposeSettings | None = None,
    *,
    seed: int = 0,
    traces_per_question: int = 1,
    all_lengths: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Trace], ComposeSummary]:
    """Compose traces for every question; ``all_lengths`` makes one per length 1..max_attempts.

    ``traces_per_question`` bounds the traces per question (per length with
    ``all_lengths``); a question gives fewer when its attempts allow no more
    distinct traces. ``progress`` is called with the number of questions done.
    """
    settings = settings or ComposeSettings()
    if settings.max_attempts < 1:
        raise UsageError(f"--max-attempts must be at least 1, got {settings.max_attempts}")
    if traces_per_question < 1:
        raise UsageError(f"--traces-per-question must be at least 1, got {traces_per_question}")
    ordered = check_skill_set(skills)
    names = tuple(skill.name for skill in ordered)
    needs_reflections = settings.reflections and any(s.needs_reflections for s in ordered)
    phrases = _merge_phrases(ordered)
    per_length = (
        [replace(settings, length=length) for length in range(1, settings.max_attempts + 1)]
        if all_lengths
        else [settings]
    )
    summary = ComposeSummary()
    traces: list[Trace] = []
    for done, question in enumerate(questions, start=1):
        summary.questions += 1
        rng = random.Random(f"compose/{seed}/{question.id}")
        pool = question.attempts
        if needs_reflections:
            pool = tuple(attempt for attempt in pool if attempt.reflection is not None)
        view = replace(question, attempts=pool)
        made = 0
        for run_settings in per_length:
            made += _compose_question(
                view,
                ordered,
                names,
                run_settings,
                rng,
                phrases,
                traces_per_question,
                traces,
                summary,
            )
        if made:
            summary.usable += 1
        if progress is not None:
            progress(done)
    summary.traces = len(traces)
    return traces, summary


def _compose_question(
    question: Question,
    skills: Sequence[Skill],
    names: tuple[str, ...],
    settings: ComposeSettings,
    rng: random.Random,
    phrases: Mapping[str, tuple[str, ...]],
    wanted: int,
    traces: list[Trace],
    summary: ComposeSummary,
) -> int:
    seen: set[tuple[tuple[int, ...], str]] = set()
    made = 0
    for _ in range(wanted * DRAFT_TRIES_PER_TRACE):
        if made == wanted:
            break
        draft, problem = _draft(question, skills, settings, rng)
        if draft is None:
            summary.skipped[problem] += 1
            break
        key = (tuple(attempt.index for attempt in draft.attempts), draft.format)
        if key in seen:
            continue
        seen.add(key)
        label = _label(draft, settings)
        trace = render(question, draft, settings, phrases, rng)
        traces.append(
            Trace(
                question.id,
                [*question.prompt, {"role": "assistant", "content": trace}],
                label,
                names,
                len(draft.attempts),
                _shown_reflections(draft, settings),
            )
        )
        summary.by_format[label] += 1
        made += 1
    return made


def _draft(
    question: Question, skills: Sequence[Skill], settings: ComposeSettings, rng: random.Random
) -> tuple[Draft | None, str]:
    """Run the skills over an empty draft; say which one gave up, or which rule the plan broke."""
    draft = Draft()
    for skill in skills:
        result = skill.apply(draft, question, settings, rng)
        if result is None:
            return None, f"{skill.name}: this question's attempts cannot show it"
        draft = result
    problem = broken_rule(draft, settings)
    return (None, problem) if problem else (draft, "")


def broken_rule(draft: Draft, settings: ComposeSettings) -> str:
    """The first rule every trace keeps that ``draft`` breaks, or "" when it keeps them all."""
    if not draft.attempts:
        return "no attempt was chosen"
    indexes = [attempt.index for attempt in draft.attempts]
    if len(set(indexes)) != len(indexes):
        return "an attempt appears twice"
    if len(indexes) > settings.max_attempts:
        return f"more than {settings.max_attempts} attempts"
    final = draft.final
    if final is None or final.answer is None:
        return "the final attempt has no answer"
    if settings.order == "correct-last" and not final.correct:
        return "the trace does not end on a correct attempt"
    return ""


def render(
    question: Question,
    draft: Draft,
    settings: ComposeSettings,
    phrases: Mapping[str, tuple[str, ...]],
    rng: random.Random,
) -> str:
    """The assistant's text for a checked draft."""
    texts = question.texts
    reflect = draft.reflect and settings.reflections
    parts = ["<think>"]
    last = len(draft.attempts) - 1
    for position, attempt in enumerate(draft.attempts):
        parts.append(_sample(texts.attempt_text(attempt.index)))
        if reflect and attempt.reflection is not None:
            parts.append(
                f"<reflect>\n{texts.reflection_text(attempt.reflection).strip()}\n</reflect>"
            )
        if position < last:
            parts.append(rng.choice(_joining_bank(attempt, settings, phrases)))
    parts.append("</think>")
    for segment in draft.closing:
        if segment.attempt is not None:
            parts.append(_sample(texts.attempt_text(segment.attempt.index)))
        if segment.text:
            parts.append(segment.text)
    parts.append(rng.choice(ENDING_PHRASES))
    final = draft.final
    assert final is not None and final.answer is not None
    parts.append(f"<answer>\n{final.answer}\n</answer>")
    return "\n".join(parts)


def _sample(text: str) -> str:
    return f"<sample>\n{text.strip()}\n</sample>"


def _joining_bank(
    attempt: Attempt, settings: ComposeSettings, phrases: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    if not settings.reflections:
        return GENERIC_PHRASES
    purpose = "after_correct" if attempt.correct else "after_incorrect"
    return phrases.get(purpose, ()) + GENERIC_PHRASES


def _merge_phrases(skills: Sequence[Skill]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for skill in skills:
        for purpose, bank in skill.phrases.items():
            merged[purpose] = merged.get(purpose, ()) + tuple(bank)
    return merged


def _shown_reflections(draft: Draft, settings: ComposeSettings) -> int:
    """How many ``<reflect>`` blocks the rendered trace holds."""
    if not (draft.reflect and settings.reflections):
        return 0
    return sum(attempt.reflection is not None for attempt in draft.attempts)


def _label(draft: Draft, settings: ComposeSettings) -> str:
    ablations = []
    if settings.order == "random":
        ablations.append("random")
    if not settings.reflections:
        ablations.append("no_reflection")
    return "+".join(ablations) if ablations else draft.format or "custom"
