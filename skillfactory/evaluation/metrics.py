"""Figures for one evaluation cell: accuracy with its interval, and how the model used its skills.

Accuracy alone cannot tell a model that learned to check its work from one that
got lucky, so next to it we count, per response, the attempts it made (the
paper's #Ans), the reflections it wrote (#Ref), and how well the verdicts inside
those reflections agree with the task's verifier (F1 with "correct" and then
"incorrect" as the positive class). Everything here is plain Python on strings
and counts, so it runs the same on a laptop as after a GPU run, and tests need
no model.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from skillfactory.answers import answer_blocks
from skillfactory.verdicts import parse_verdict

__all__ = [
    "CellMetrics",
    "ResponseParts",
    "ResponseSkills",
    "mean_interval",
    "read_response",
    "skill_usage",
    "verdict_f1",
    "verdict_f1_interval",
    "wilson_interval",
]

Judge = Callable[[str], bool | None]
"""Says whether the answer in a text is right (None when the text has no answer)."""


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a success rate; ``(0.0, 0.0)`` when nothing was counted.

    We use Wilson rather than the normal approximation because evaluation cells
    are small and accuracies sit near 0 or 1, where the normal interval leaves
    [0, 1] or collapses to a point. The bounds are clamped to [0, 1] so rounding
    never reports an impossible rate.
    """
    if total < 0 or successes < 0 or successes > total:
        raise ValueError(f"need 0 <= successes <= total, got {successes} of {total}")
    if total == 0:
        return (0.0, 0.0)
    rate = successes / total
    z2 = z * z
    scale = 1.0 + z2 / total
    centre = (rate + z2 / (2 * total)) / scale
    half = z * math.sqrt(rate * (1.0 - rate) / total + z2 / (4 * total * total)) / scale
    # At 0 or all successes the bound is exactly 0 or 1; say so instead of 0.9999999999999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return (low, high)


# Tags are matched with the same forgiveness as answers and verdicts: models
# write ``< Sample >`` or ``</ REFLECT>`` often enough that a strict match would
# undercount their skills.
_TAGS = re.compile(r"<\s*(/?)\s*(sample|reflect)\s*>", re.IGNORECASE)


def mean_interval(total: float, squares: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """The normal-approximation interval of a mean from its sum and sum of squares.

    Attempts and reflections per response are small whole counts over hundreds of
    responses, where the normal interval is fine; ``(0.0, 0.0)`` when nothing was
    counted, and a point when only one response was.
    """
    if count <= 0:
        return (0.0, 0.0)
    mean = total / count
    if count == 1:
        return (mean, mean)
    variance = max(0.0, (squares - count * mean * mean) / (count - 1))
    half = z * math.sqrt(variance / count)
    return (max(0.0, mean - half), mean + half)


def verdict_f1_interval(
    pairs: Sequence[tuple[bool, bool]],
    positive: bool,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """A 95% percentile-bootstrap interval for the verdict F1 of one class, or None.

    F1 has no closed-form interval, so the verdicts are resampled with replacement
    (seeded, so a metrics file is reproducible). None where the F1 itself is
    undefined. Verdicts from one response are resampled as if independent, which
    makes the interval somewhat narrow when a response holds many of them.
    """
    if _f1(pairs, positive) is None:
        return None
    rng = random.Random(seed)
    scores = []
    for _ in range(resamples):
        drawn = rng.choices(pairs, k=len(pairs))
        score = _f1(drawn, positive)
        scores.append(0.0 if score is None else score)
    scores.sort()
    return (scores[int(0.025 * resamples)], scores[min(resamples - 1, int(0.975 * resamples))])


@dataclass(frozen=True)
class ResponseParts:
    """A response cut into the blocks the skill metrics count.

    ``attempts`` holds the text of each ``<sample>`` block in order;
    ``reflections`` holds each ``<reflect>`` block with the index of the attempt
    it follows (-1 when no attempt came before it); ``tagged`` says whether the
    response opened any ``<sample>`` block at all, which decides how attempts
    are counted.
    """

    attempts: list[str]
    reflections: list[tuple[int, str]]
    tagged: bool


def read_response(response: str) -> ResponseParts:
    """Split a response into its ``<sample>`` and ``<reflect>`` blocks.

    Generation is cut at a token budget, so the last block is often left open;
    it still counts, running to the end of the text. A block whose closing tag
    is missing before the next ``<sample>`` or ``<reflect>`` ends there, because
    blocks of this trace shape never nest. Closing tags that close nothing are
    ignored. A reflection belongs to the most recent attempt opened before it.
    """
    attempts: list[str] = []
    reflections: list[tuple[int, str]] = []
    kind: str | None = None
    start = 0

    def finish(end: int) -> None:
        text = response[start:end].strip()
        if kind == "sample":
            attempts.append(text)
        else:
            reflections.append((len(attempts) - 1, text))

    for tag in _TAGS.finditer(response):
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if closing:
            if kind == name:
                finish(tag.start())
                kind = None
            continue
        if kind is not None:
            finish(tag.start())
        kind, start = name, tag.end()
    if kind is not None:
        finish(len(response))
    return ResponseParts(attempts=attempts, reflections=reflections, tagged=bool(attempts))


@dataclass(frozen=True)
class ResponseSkills:
    """The skill figures of one response.

    ``verdicts`` pairs, for each reflection that follows an attempt and reaches
    exactly one verdict, what the verdict claimed (True = "Correct") with what
    the verifier says of that attempt's answer.
    """

    attempts: int
    reflections: int
    verdicts: list[tuple[bool, bool]]
    traced: bool = False
    """Whether the response is in the trace format: at least one ``<sample>`` and one
    ``<reflect>`` block."""


def _same_answer_key(answer: str) -> str:
    return " ".join(answer.split())


def skill_usage(response: str, judge: Judge) -> ResponseSkills:
    """Count attempts and reflections in a response and score its verdicts against ``judge``.

    A response in the trained trace shape is counted by its ``<sample>`` blocks.
    A response without them (a base model, an RL-only model) can still retry, by
    answering more than once; there we count distinct answers (ignoring spacing),
    so that repeating an answer is not mistaken for trying again. An attempt that
    reaches no answer is wrong for the verdict comparison: a reflection calling
    it correct is a mistake.
    """
    parts = read_response(response)
    if parts.tagged:
        attempts = len(parts.attempts)
    else:
        attempts = len({_same_answer_key(answer) for answer in answer_blocks(response)})
    verdicts: list[tuple[bool, bool]] = []
    for index, text in parts.reflections:
        if index < 0:
            continue
        claimed = parse_verdict(text)
        if claimed is None:
            continue
        verdicts.append((claimed, judge(parts.attempts[index]) is True))
    return ResponseSkills(
        attempts=attempts,
        reflections=len(parts.reflections),
        verdicts=verdicts,
        traced=parts.tagged and bool(parts.reflections),
    )


def _f1(pairs: Sequence[tuple[bool, bool]], positive: bool) -> float | None:
    hits = sum(1 for predicted, truth in pairs if predicted == positive and truth == positive)
    false_alarms = sum(
        1 for predicted, truth in pairs if predicted == positive and truth != positive
    )
    misses = sum(1 for predicted, truth in pairs if predicted != positive and truth == positive)
    if hits + false_alarms + misses == 0:
        return None
    return 2 * hits / (2 * hits + false_alarms + misses)


def verdict_f1(pairs: Sequence[tuple[bool, bool]]) -> dict[str, float | None]:
    """F1 of the verdicts (predicted, true) with each class in turn as the positive one.

    Two scores, because one hides the failure that matters: a model that calls
    everything correct scores well on "correct" and 0 on "incorrect". A class
    that was neither predicted nor true gives None rather than a made-up 0 or 1;
    predicting a class that never occurs gives 0.
    """
    return {"correct": _f1(pairs, True), "incorrect": _f1(pairs, False)}


class CellMetrics:
    """Accumulates the responses of one (task, difficulty) cell into its metrics.json entry."""

    def __init__(self) -> None:
        self.responses = 0
        self.correct = 0
        self.answered = 0
        self.total_length = 0
        self.total_attempts = 0
        self.total_reflections = 0
        self.squared_attempts = 0
        self.squared_reflections = 0
        self.traced = 0
        self.verdicts: list[tuple[bool, bool]] = []

    def add(self, correct: bool, answered: bool, length: int, skills: ResponseSkills) -> None:
        """Count one response: was it right, did it give an answer, its length in tokens."""
        self.responses += 1
        self.correct += bool(correct)
        self.answered += bool(answered)
        self.total_length += length
        self.total_attempts += skills.attempts
        self.total_reflections += skills.reflections
        self.squared_attempts += skills.attempts**2
        self.squared_reflections += skills.reflections**2
        self.traced += skills.traced
        self.verdicts.extend(skills.verdicts)

    def _mean(self, total: int) -> float:
        return total / self.responses if self.responses else 0.0

    def to_json(self, task: str, difficulty: Any, problems: int) -> dict[str, Any]:
        """The cell's entry in metrics.json; ``budget_forcing`` is left None for the caller to fill.

        Rates and means are over responses (problems x samples), matching the
        Wilson interval; an empty cell reports zeros rather than failing.
        """
        low, high = wilson_interval(self.correct, self.responses)
        f1 = verdict_f1(self.verdicts)
        return {
            "task": task,
            "difficulty": difficulty,
            "problems": problems,
            "responses": self.responses,
            "correct": self.correct,
            "accuracy": self._mean(self.correct),
            "ci_low": low,
            "ci_high": high,
            "format_rate": self._mean(self.answered),
            "mean_length": self._mean(self.total_length),
            "attempts": self._mean(self.total_attempts),
            "reflections": self._mean(self.total_reflections),
            "trace_rate": self._mean(self.traced),
            "verdicts": len(self.verdicts),
            "verdict_f1_correct": f1["correct"],
            "verdict_f1_incorrect": f1["incorrect"],
            "intervals": self._intervals(),
            "budget_forcing": None,
        }

    def _intervals(self) -> dict[str, list[float] | None]:
        """95% intervals of the skill figures (accuracy's are ``ci_low`` and ``ci_high``)."""

        def listed(bounds: tuple[float, float] | None) -> list[float] | None:
            return None if bounds is None else list(bounds)

        return {
            "trace_rate": listed(wilson_interval(self.traced, self.responses)),
            "format_rate": listed(wilson_interval(self.answered, self.responses)),
            "attempts": listed(
                mean_interval(self.total_attempts, self.squared_attempts, self.responses)
            ),
            "reflections": listed(
                mean_interval(self.total_reflections, self.squared_reflections, self.responses)
            ),
            "verdict_f1_correct": listed(verdict_f1_interval(self.verdicts, True)),
            "verdict_f1_incorrect": listed(verdict_f1_interval(self.verdicts, False)),
        }
