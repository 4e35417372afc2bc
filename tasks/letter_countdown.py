"""Letter Countdown: unscramble letters into an English word of a stated length.

One of the paper's out-of-domain tasks ("ppale" -> "apple"); difficulty is the
word's length. Each problem is built from a common word (see ``words``), so one
answer always exists, but any accepted English word of the right length that
fits the letters scores 1.0, not only the word the problem was built from.

By default the letters are exactly the word's, scrambled, as in the paper. The
``extra_letters`` option adds that many random distractor letters, which makes the
search harder: the answer then uses some of the letters, not all.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from skillfactory import Conversation, Problem, Score, Task, UsageError, hookimpl
from skillfactory.answers import extract_answer_block
from skillfactory.prompts import PROMPT_VARIANTS, solve_prompt
from skillfactory.tasks.words import common_words, is_word, normalise_word

SHUFFLE_TRIES = 20
"""Scrambles tried per word before giving up on one that keeps spelling a word."""

MAX_EXTRA_LETTERS = 10
_EXAMPLES = ("stone", "cat")


class LetterCountdown(Task):
    name = "letter_countdown"
    description = "Unscramble letters into an English word; difficulty is the word's length."
    variants = PROMPT_VARIANTS
    difficulties = (3, 4, 5, 6, 7, 8)
    default_difficulty = 4

    def __init__(self, *, extra_letters: int = 0) -> None:
        if not isinstance(extra_letters, int) or not 0 <= extra_letters <= MAX_EXTRA_LETTERS:
            raise UsageError(
                f"letter_countdown: extra_letters must be a whole number from 0 to "
                f"{MAX_EXTRA_LETTERS}, got {extra_letters!r}"
            )
        self.extra_letters = extra_letters

    def generate(self, count: int, *, difficulty: int, seed: int) -> list[Problem]:
        difficulty = self.resolve_difficulty(difficulty)
        rng = random.Random(f"{self.name}/{difficulty}/{seed}")
        candidates = list(common_words(difficulty))
        rng.shuffle(candidates)
        problems: dict[str, Problem] = {}
        for word in candidates:
            if len(problems) == count:
                break
            letters = self._scramble(word, rng)
            if letters is None:
                continue
            problem = self._problem(word, letters, difficulty)
            problems.setdefault(problem.id, problem)
        if len(problems) < count:
            raise UsageError(
                f"letter_countdown: only {len(problems)} distinct problems of length "
                f"{difficulty} can be made; ask for at most that many"
            )
        return list(problems.values())

    def _scramble(self, word: str, rng: random.Random) -> str | None:
        """The word's letters plus any distractors, in an order that does not spell a word."""
        pool = list(word) + [rng.choice(string.ascii_lowercase) for _ in range(self.extra_letters)]
        for _ in range(SHUFFLE_TRIES):
            rng.shuffle(pool)
            letters = "".join(pool)
            if not is_word(letters):
                return letters
        return None

    def _problem(self, word: str, letters: str, difficulty: int) -> Problem:
        # The id depends on the letters, not their order, so one anagram is one problem.
        key = f"{self.name}/{difficulty}/{''.join(sorted(letters))}"
        problem_id = hashlib.sha256(key.encode()).hexdigest()[:16]
        spaced = " ".join(letters)
        if len(letters) == difficulty:
            question = (
                f"Unscramble these letters into an English word of {difficulty} letters, "
                f"using each letter as often as it appears: {spaced}"
            )
        else:
            question = (
                f"Make an English word of {difficulty} letters from these letters: {spaced}\n"
                f"Use each letter at most as often as it appears; some will be left over."
            )
        data = {"letters": letters, "length": difficulty}
        return Problem(problem_id, self.name, difficulty, question, word, data)

    def prompt(self, problem: Problem, variant: str) -> Conversation:
        letters = sorted(str(problem.data.get("letters", "")))
        example = next(w for w in _EXAMPLES if sorted(w) != letters)
        return solve_prompt(
            variant,
            problem.question,
            answer_format="the word alone, in lower case",
            example=example,
        )

    def extract_answer(self, completion: str) -> str | None:
        block = extract_answer_block(completion)
        if block is None:
            return None
        return normalise_word(block) or None

    def score(self, problem: Problem, answer: str | None) -> Score:
        if answer is None:
            return Score(0.0, "no answer")
        letters, length = _inputs(problem.data)
        word = normalise_word(answer)
        if not word or not word.isascii() or not word.isalpha():
            return Score(0.0, "unparseable")
        if len(word) != length:
            return Score(0.0, "wrong length")
        if Counter(word) - Counter(letters):
            return Score(0.0, "letters not available")
        if not is_word(word):
            return Score(0.0, "not a word")
        return Score(1.0, "correct")


def _inputs(data: Mapping[str, Any]) -> tuple[str, int]:
    """The letters and length a problem's data holds; ("", -1) when it holds none."""
    letters, length = data.get("letters"), data.get("length")
    if not isinstance(letters, str) or not isinstance(length, int):
        return "", -1
    return letters.lower(), length


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    register(LetterCountdown)
