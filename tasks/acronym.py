"""Acronym: pick words from a list so that their first letters spell an English word.

One of the paper's out-of-domain tasks; difficulty is the length N of the word to
spell. The chosen words keep their order in the list (the initials are read in
list order), and each is used at most once, so an answer is a subsequence of the
list. A problem is built around a common target word (see ``words``): one word per
letter of the target, in order, mixed with distractor words, so one answer always
exists. Any answer whose initials spell an accepted English word of N letters
scores 1.0, not only the target.

The answer is the chosen words in list order, separated by commas ("sun, arm,
tree"). A bare word ("sat") is accepted too when it can be read off the list's
initials in order, because naming the word proves as much as naming the words.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from skillfactory import Conversation, Problem, Score, Task, UsageError, hookimpl
from skillfactory.answers import extract_answer_block
from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt
from skillfactory.tasks.words import LETTERS, common_words, is_word, normalise_word

LIST_WORD_LENGTHS = range(3, 9)
"""Lengths of the common words the list is drawn from."""

MAX_DISTRACTORS = 30
MAX_ANSWER_WORDS = 100

_SEPARATOR = re.compile(r"[\s,;/|+]+")
_CLAIM = re.compile(r"\s*(?:->|→|=>|=|:)\s*")


class Acronym(Task):
    name = "acronym"
    description = "Pick words whose first letters spell an English word; difficulty is its length."
    variants = PROMPT_VARIANTS
    difficulties = (3, 4, 5, 6, 7)
    default_difficulty = 4

    def __init__(self, *, distractors: int | None = None) -> None:
        if distractors is not None and (
            not isinstance(distractors, int) or not 0 <= distractors <= MAX_DISTRACTORS
        ):
            raise UsageError(
                f"acronym: distractors must be a whole number from 0 to {MAX_DISTRACTORS}, "
                f"got {distractors!r}"
            )
        self.distractors = distractors
        """Words added beside the needed ones; None means as many as the difficulty."""

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        difficulty = self.resolve_difficulty(difficulty)
        rng = random.Random(f"{self.name}/{difficulty}/{seed}")
        by_initial = _list_words_by_initial()
        targets = [w for w in common_words(difficulty) if set(w) <= by_initial.keys()]
        extra = difficulty if self.distractors is None else self.distractors
        problems: dict[str, Problem] = {}
        for _ in range(20 * count + 100):
            if len(problems) == count:
                break
            problem = self._problem(rng.choice(targets), extra, by_initial, rng)
            if problem is not None:
                problems.setdefault(problem.id, problem)
        if len(problems) < count:
            raise UsageError(f"acronym: could not make {count} distinct problems; ask for fewer")
        return list(problems.values())

    def _problem(
        self,
        target: str,
        extra: int,
        by_initial: Mapping[str, Sequence[str]],
        rng: random.Random,
    ) -> Problem | None:
        chosen = [rng.choice(by_initial[letter]) for letter in target]
        if len(set(chosen)) < len(chosen):
            return None
        everything = [word for letter in sorted(by_initial) for word in by_initial[letter]]
        others = [w for w in rng.sample(everything, extra + len(chosen)) if w not in chosen]
        others = others[:extra]
        size = len(target) + extra
        slots = sorted(rng.sample(range(size), len(target)))
        listing: list[str] = [""] * size
        for slot, word in zip(slots, chosen, strict=True):
            listing[slot] = word
        rest = iter(others)
        listing = [word or next(rest) for word in listing]
        difficulty = len(target)
        key = f"{self.name}/{difficulty}/{' '.join(listing)}"
        problem_id = hashlib.sha256(key.encode()).hexdigest()[:16]
        question = (
            f"Words: {', '.join(listing)}\n"
            f"Choose {difficulty} of these words, keeping them in the order they are listed, "
            f"so that their first letters, read in that order, spell an English word of "
            f"{difficulty} letters. Use each word at most once."
        )
        data = {"words": listing, "length": difficulty}
        return Problem(problem_id, self.name, difficulty, question, ", ".join(chosen), data)

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        return solve_prompt(
            variant,
            problem.question,
            answer_format="the chosen words in list order, separated by commas",
            example="tiger, olive, pencil",
        )

    def extract_answer(self, completion: str) -> str | None:
        block = extract_answer_block(completion)
        if block is None:
            return None
        return normalise_word(block) or None

    def score(self, problem: Problem, answer: str | None) -> Score:
        if answer is None:
            return Score(0.0, "no answer")
        words, length = _inputs(problem.data)
        tokens = _tokens(answer, words)
        if tokens is None:
            return Score(0.0, "unparseable")
        if len(tokens) == 1:
            spelled = tokens[0]
            if len(spelled) != length:
                return Score(0.0, "wrong length")
            if not _is_subsequence(spelled, [word[0] for word in words]):
                return Score(0.0, "initials not available")
        else:
            why = _check_choice(tokens, words)
            if why:
                return Score(0.0, why)
            spelled = "".join(token[0] for token in tokens)
            if len(spelled) != length:
                return Score(0.0, "wrong length")
        if not is_word(spelled):
            return Score(0.0, "not a word")
        return Score(1.0, "correct")


def _tokens(answer: str, words: Sequence[str]) -> list[str] | None:
    """The answer's lower-case words, or None when it is not a list of words.

    A claim beside the list ("sun, arm, tree = sat") is ignored in favour of the
    list, and an "and" before the last word is dropped unless it is a listed word.
    """
    text = normalise_word(answer)
    if len(text) > 40 * MAX_ANSWER_WORDS:
        return None
    parts = [normalise_word(part) for part in _CLAIM.split(text)]
    text = max(parts, key=lambda part: len(_SEPARATOR.split(part)))
    tokens = [normalise_word(token) for token in _SEPARATOR.split(text)]
    tokens = [token for token in tokens if token and (token != "and" or "and" in words)]
    if not tokens or len(tokens) > MAX_ANSWER_WORDS:
        return None
    if not all(token.isascii() and token.isalpha() for token in tokens):
        return None
    return tokens


def _check_choice(tokens: Sequence[str], words: Sequence[str]) -> str | None:
    """Why the chosen words are not a subsequence of the list, or None when they are."""
    if len(set(tokens)) < len(tokens):
        return "word used twice"
    position = {word: index for index, word in enumerate(words)}
    if any(token not in position for token in tokens):
        return "word not in list"
    places = [position[token] for token in tokens]
    if places != sorted(places):
        return "not in list order"
    return None


def _is_subsequence(letters: str, initials: Sequence[str]) -> bool:
    remaining = iter(initials)
    return all(letter in remaining for letter in letters)


def _inputs(data: Mapping[str, Any]) -> tuple[list[str], int]:
    """The listed words and target length a problem's data holds; ([], -1) when it holds none."""
    words, length = data.get("words"), data.get("length")
    if not isinstance(words, list) or not isinstance(length, int):
        return [], -1
    return [w.lower() for w in words if isinstance(w, str) and w], length


@functools.cache
def _list_words_by_initial() -> dict[str, tuple[str, ...]]:
    """Common words of every list length, grouped by first letter, each group sorted."""
    groups: dict[str, list[str]] = {}
    for length in LIST_WORD_LENGTHS:
        for word in common_words(length):
            groups.setdefault(word[0], []).append(word)
    return {letter: tuple(sorted(words)) for letter, words in groups.items() if letter in LETTERS}


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(Acronym)
