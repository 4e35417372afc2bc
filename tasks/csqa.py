"""CommonsenseQA: five-way multiple choice on everyday knowledge.

The paper evaluates on it to catch regressions outside the training task. The
problems are the real dataset's (``tau/commonsense_qa``, ``validation`` split by
default, because the test split has no answers), loaded with ``datasets``; on a
machine without Hub access, pass a local copy as ``path=``.

The answer is a choice's letter. Models write it many ways, so the scorer accepts
"B", "b", "(B)", "B.", "B) the text", "Answer: B" and the text of a choice on its
own. A letter followed by anything but its own choice's text ("B or C", "B) some
other choice") is unreadable and scores 0, so that hedging never pays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from skillfactory import Conversation, Problem, Score, SkillFactoryError, Task, hookimpl
from skillfactory.prompts import solve_prompt
from skillfactory.tasks.dataset_rows import DatasetTask, question_id

MAX_ANSWER_CHARS = 500

_PREFIX = re.compile(r"^(?:(?:the\s+)?(?:final\s+)?(?:answer|option|choice)\s*(?:is|:)?\s*)+", re.I)
_LETTER = re.compile(r"^[(\[]?([A-Za-z])[)\].:]?(?:\s+|$)(.*)$", re.DOTALL)
_ARTICLE = re.compile(r"^(?:a|an|the)\s+")
_NOT_TEXT = re.compile(r"[^a-z0-9 ]+")


class Csqa(DatasetTask):
    name = "csqa"
    description = "CommonsenseQA multiple choice; answer with the letter of the best choice."
    hub_name = "tau/commonsense_qa"
    default_split = "validation"

    def no_problems_message(self) -> str:
        return (
            f"csqa: the {self.split!r} data has no answer keys (CommonsenseQA's test split is "
            f"unlabelled); use split=validation"
        )

    def problem_from_row(self, row: Mapping[str, Any], number: int) -> Problem | None:
        """The row as a problem; None when it has no answer key."""
        question, choices, key = row.get("question"), row.get("choices"), row.get("answerKey")
        labels = choices.get("label") if isinstance(choices, Mapping) else None
        texts = choices.get("text") if isinstance(choices, Mapping) else None
        if not (
            isinstance(question, str)
            and _strings(labels)
            and _strings(texts)
            and len(labels) == len(texts)
            and isinstance(key, str)
        ):
            raise SkillFactoryError(
                f"csqa: row {number} is not in CommonsenseQA's shape: it needs 'question', "
                f"'choices' with 'label' and 'text' lists, and 'answerKey'"
            )
        if not key:
            return None
        if key not in labels:
            raise SkillFactoryError(f"csqa: row {number}'s answerKey {key!r} is not a label")
        listing = "\n".join(f"{label}. {text}" for label, text in zip(labels, texts, strict=True))
        statement = f"{question}\n\n{listing}"
        data = {"labels": list(labels), "texts": list(texts), "source_id": row.get("id")}
        return Problem(question_id(self.name, statement), self.name, 1, statement, key, data)

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        return solve_prompt(
            variant,
            problem.question,
            answer_format="the letter of the single best choice",
            example="B",
        )

    def score(self, problem: Problem, answer: str | None) -> Score:
        if answer is None:
            return Score(0.0, "no answer")
        labels, texts = problem.data.get("labels"), problem.data.get("texts")
        if not _strings(labels) or not _strings(texts) or len(labels) != len(texts):
            return Score(0.0, "unparseable")
        chosen = choice_label(answer, labels, texts)
        if chosen is None:
            return Score(0.0, "unparseable")
        if chosen != problem.answer:
            return Score(0.0, "wrong answer")
        return Score(1.0, "correct")


def choice_label(answer: str, labels: Sequence[str], texts: Sequence[str]) -> str | None:
    """The label an answer picks: by a choice's text, or by a letter alone or with its own text.

    Anything else beside the letter ("B or C", "B) another choice") makes the answer
    unreadable, so that hedging never pays.
    """
    if len(answer) > MAX_ANSWER_CHARS:
        return None
    by_text = {_plain(text): label for label, text in zip(labels, texts, strict=True)}
    by_text.pop("", None)
    by_letter = {label.lower(): label for label in labels}
    answer = _PREFIX.sub("", answer.strip()).strip()
    if _plain(answer) in by_text:
        return by_text[_plain(answer)]
    letter = _LETTER.match(answer)
    if letter is None or letter.group(1).lower() not in by_letter:
        return None
    label = by_letter[letter.group(1).lower()]
    rest = _plain(letter.group(2))
    if rest and by_text.get(rest) != label:
        return None
    return label


def _plain(text: str) -> str:
    """Text reduced for comparison: lower case, no punctuation or leading article."""
    text = _NOT_TEXT.sub(" ", text.lower())
    return _ARTICLE.sub("", " ".join(text.split()))


def _strings(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(Csqa)
