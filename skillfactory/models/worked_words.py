"""Worked Letter Countdown and Acronym attempts and checks, written for the default model.

Both tasks ask for an English word built under a rule, so an attempt names a
candidate word and shows, in one mechanical line, how it is built: a Letter
Countdown attempt spells the word letter by letter, crossing each off the given
letters; an Acronym attempt writes the list's initials with their places and picks
one listed word per letter of the candidate. Wrong attempts make the mistakes a
small model makes: a scramble that is no word, a word of the wrong length, a
letter that is not given or is used twice, words out of list order, a word that
is not listed, too few or too many words. A check redoes the crossing off (or the
places and initials) for the reply's final answer, says whether it is an English
word, and ends in a verdict; it never names a better answer.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from skillfactory.models.worked import Attempt, TaskWriter, verdict_tag
from skillfactory.records import Problem
from skillfactory.tasks.words import common_words, is_word

_TRIES = 30
"""Random draws a kind of mistake tries before it gives way to the next kind."""

_LIST_WORD_LENGTHS = range(3, 9)
"""Lengths of the common words an Acronym list is drawn from, as in the task."""

T = TypeVar("T")


def _ordered_kinds(kinds: list[T], weights: Sequence[float], rng: random.Random) -> list[T]:
    """Every kind of mistake, starting from one drawn by ``weights`` (the rest are fallbacks)."""
    first = rng.choices(range(len(kinds)), weights=weights)[0]
    return kinds[first:] + kinds[:first]


def _rejections(draw: Callable[[], str], keep: str, rng: random.Random) -> list[str]:
    """None, one or two non-words an "alternatively" reply tries and drops before ``keep``."""
    wanted = rng.choice((0, 1, 1, 2))
    found: list[str] = []
    for _ in range(_TRIES):
        if len(found) == wanted:
            break
        candidate = draw()
        if candidate != keep and candidate not in found and not is_word(candidate):
            found.append(candidate)
    return found


# Letter Countdown ---------------------------------------------------------------------------


def _letters_and_length(problem: Problem) -> tuple[str, int]:
    return str(problem.data["letters"]).lower(), int(problem.data["length"])


def _fits(word: str, letters: str) -> bool:
    """True when ``word`` needs no letter more often than ``letters`` give it."""
    return not Counter(word) - Counter(letters)


def crossings(word: str, letters: str, *, careless: bool) -> str:
    """Spell ``word`` one letter at a time, showing the given letters left after each.

    A careless speller (the reply of a wrong attempt) crosses off some other
    letter when the one it needs is gone; a careful one (a check) says so instead.
    """
    pool = list(letters)
    parts = []
    for letter in word:
        if letter in pool:
            pool.remove(letter)
        elif careless:
            if pool:
                pool.pop()
        else:
            parts.append(f"{letter} ({'none left' if letter in letters else 'not given'})")
            continue
        parts.append(f"{letter} (left {' '.join(pool) or 'none'})")
    return ", ".join(parts)


def _scramble(answer: str, rng: random.Random) -> str | None:
    """The answer's letters in an order that spells no word."""
    for _ in range(_TRIES):
        letters = list(answer)
        rng.shuffle(letters)
        candidate = "".join(letters)
        if not is_word(candidate):
            return candidate
    return None


def _word_of_length(letters: str, length: int, rng: random.Random) -> str | None:
    """A real word of the wrong ``length`` that the letters make ("won" from w r o n)."""
    found = [word for word in common_words(length) if _fits(word, letters)] if length > 1 else []
    return rng.choice(found) if found else None


def _drop_letter(answer: str, rng: random.Random) -> str:
    position = rng.randrange(len(answer))
    return answer[:position] + answer[position + 1 :]


def _word_needing_a_letter(letters: str, length: int, rng: random.Random) -> str | None:
    """A real word of the right length that needs one letter more than the letters give."""
    given = Counter(letters)
    found = [word for word in common_words(length) if (Counter(word) - given).total() == 1]
    return rng.choice(found) if found else None


def _doubled_letter(answer: str, rng: random.Random) -> str | None:
    """The answer with one letter written in place of another, so that one is used twice."""
    size = len(answer)
    pairs = [(i, j) for i in range(size) for j in range(size) if answer[i] != answer[j]]
    if not pairs:
        return None
    i, j = rng.choice(pairs)
    return answer[:i] + answer[j] + answer[i + 1 :]


def wrong_word(problem: Problem, rng: random.Random) -> str:
    """A plausible wrong answer: a non-word scramble, wrong length, a letter missing or doubled."""
    letters, length = _letters_and_length(problem)
    answer = problem.answer.lower()
    kinds: list[Callable[[], str | None]] = [
        lambda: _scramble(answer, rng),
        lambda: _word_of_length(letters, length - 1, rng) or _drop_letter(answer, rng),
        lambda: _word_needing_a_letter(letters, length, rng),
        lambda: _doubled_letter(answer, rng),
    ]
    for kind in _ordered_kinds(kinds, (0.3, 0.25, 0.25, 0.2), rng):
        candidate = kind()
        if candidate and not letter_check(problem, candidate)[1]:
            return candidate
    return answer[:-1]


def letter_reply(problem: Problem, word: str, variant: str, rng: random.Random) -> str:
    """A linear attempt in ``variant``'s style: spell ``word`` from the letters, then answer."""
    letters, length = _letters_and_length(problem)
    spaced = " ".join(letters)
    spelling = f"{word}: {crossings(word, letters, careless=True)}"
    listing = f"Letters: {spaced}; the word needs {length} letters."
    if variant == "plan_and_execute":
        plan = f"Plan: pick a {length}-letter word, cross off its letters one by one, then answer."
        lines = [plan, listing, f"Try {spelling}"]
    elif variant == "rephrase":
        some = "some of " if len(letters) > length else ""
        restated = f"Restated question: make a {length}-letter English word from {some}{spaced}."
        lines = [restated, f"Try {spelling}"]
    elif variant == "alternatively":
        dropped = _rejections(lambda: "".join(rng.sample(letters, length)), word, rng)
        lines = [listing, *(f"Alternatively, {other} is not a word." for other in dropped)]
        lines.append(f"Alternatively, {spelling}")
    else:
        lines = [listing, f"Try {spelling}"]
    return "\n".join(lines) + f"\n<answer>{word}</answer>"


def letter_check(problem: Problem, word: str) -> tuple[str, bool]:
    """Redo the crossing off for the answer ``word``, test its length and that it is a word."""
    letters, length = _letters_and_length(problem)
    lines = [
        f"The letters are {' '.join(letters)} and the answer is {word}.",
        crossings(word, letters, careless=False),
    ]
    missing = Counter(word) - Counter(letters)
    if missing:
        letter = next(iter(missing))
        if letter in letters:
            lines.append(f"It uses {letter} more often than it is given.")
        else:
            lines.append(f"It needs {letter}, which is not given.")
    else:
        lines.append("It uses only the given letters.")
    if len(word) == length:
        lines.append(f"{word} has {length} letters, as asked.")
    else:
        lines.append(f"{word} has {len(word)} letters, not {length}.")
    english = is_word(word)
    lines.append(f"{word} is {'an' if english else 'not an'} English word.")
    correct = not missing and len(word) == length and english
    return "\n".join([*lines, verdict_tag(correct)]), correct


def right_letter_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """The word the problem was built from, spelled in ``variant``'s style."""
    return _letter_attempt(problem, problem.answer.lower(), variant, rng)


def wrong_letter_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """A plausible mistake (see :func:`wrong_word`), spelled in ``variant``'s style."""
    return _letter_attempt(problem, wrong_word(problem, rng), variant, rng)


def _letter_attempt(problem: Problem, word: str, variant: str, rng: random.Random) -> Attempt:
    check, correct = letter_check(problem, word)
    return Attempt(letter_reply(problem, word, variant, rng), check, correct)


# Acronym --------------------------------------------------------------------------------------

Picks = list[tuple[str, int]]
"""Chosen words with the place in the list (from 1) the attempt says each has."""


def _words_and_length(problem: Problem) -> tuple[list[str], int]:
    return [str(word).lower() for word in problem.data["words"]], int(problem.data["length"])


@functools.cache
def _common_by_initial() -> dict[str, tuple[str, ...]]:
    """Common words an Acronym list could hold, by first letter (a reply may name one wrongly)."""
    groups: dict[str, list[str]] = {}
    for length in _LIST_WORD_LENGTHS:
        for word in common_words(length):
            if word != "and":
                groups.setdefault(word[0], []).append(word)
    return {letter: tuple(sorted(words)) for letter, words in groups.items()}


def _in_order(spelled: str, words: Sequence[str]) -> Picks | None:
    """The earliest listed words whose initials spell ``spelled`` in list order, or None."""
    picks: Picks = []
    start = 0
    for letter in spelled:
        place = next((i for i in range(start, len(words)) if words[i][0] == letter), None)
        if place is None:
            return None
        picks.append((words[place], place + 1))
        start = place + 1
    return picks


def _any_order(spelled: str, words: Sequence[str]) -> Picks | None:
    """Distinct listed words whose initials spell ``spelled``, taken in the word's order."""
    unused = list(range(len(words)))
    picks: Picks = []
    for letter in spelled:
        place = next((i for i in unused if words[i][0] == letter), None)
        if place is None:
            return None
        unused.remove(place)
        picks.append((words[place], place + 1))
    return picks


def _reference_picks(problem: Problem) -> Picks:
    words, _ = _words_and_length(problem)
    return [(word, words.index(word) + 1) for word in problem.answer.lower().split(", ")]


def _non_word_picks(words: list[str], length: int, rng: random.Random) -> Picks | None:
    """Words kept in list order whose initials spell no word."""
    for _ in range(_TRIES):
        places = sorted(rng.sample(range(len(words)), length))
        if not is_word("".join(words[i][0] for i in places)):
            return [(words[i], i + 1) for i in places]
    return None


def _unordered_picks(words: list[str], length: int, rng: random.Random) -> Picks | None:
    """Words for a real word whose letters are among the initials, but not in list order."""
    found = [
        picks
        for word in common_words(length)
        if _in_order(word, words) is None and (picks := _any_order(word, words)) is not None
    ]
    return rng.choice(found) if found else None


def _swapped_picks(reference: Picks, rng: random.Random) -> Picks:
    """The right words with two neighbours swapped, out of list order."""
    i = rng.randrange(len(reference) - 1)
    return [*reference[:i], reference[i + 1], reference[i], *reference[i + 2 :]]


def _unlisted_picks(words: list[str], reference: Picks, rng: random.Random) -> Picks | None:
    """The right words with one swapped for an unlisted word of the same initial."""
    i = rng.randrange(len(reference))
    word, place = reference[i]
    others = [other for other in _common_by_initial().get(word[0], ()) if other not in words]
    if not others:
        return None
    return [*reference[:i], (rng.choice(others), place), *reference[i + 1 :]]


def _miscounted_picks(words: list[str], length: int, rng: random.Random) -> Picks | None:
    """Words in list order spelling a real word one letter too short or too long."""
    lengths = [n for n in (length - 1, length + 1) if 2 <= n <= len(words)]
    found = [
        picks
        for n in lengths
        for word in common_words(n)
        if (picks := _in_order(word, words)) is not None
    ]
    return rng.choice(found) if found else None


def _dropped_pick(reference: Picks, rng: random.Random) -> Picks:
    i = rng.randrange(len(reference))
    return reference[:i] + reference[i + 1 :]


def wrong_picks(problem: Problem, rng: random.Random) -> Picks:
    """A plausible wrong choice: initials that spell no word, out of order, unlisted, miscounted."""
    words, length = _words_and_length(problem)
    reference = _reference_picks(problem)
    kinds: list[Callable[[], Picks | None]] = [
        lambda: _non_word_picks(words, length, rng),
        lambda: _unordered_picks(words, length, rng) or _swapped_picks(reference, rng),
        lambda: _unlisted_picks(words, reference, rng),
        lambda: _miscounted_picks(words, length, rng) or _dropped_pick(reference, rng),
    ]
    for kind in _ordered_kinds(kinds, (0.3, 0.25, 0.2, 0.25), rng):
        picks = kind()
        if picks and not acronym_check(problem, [word for word, _ in picks])[1]:
            return picks
    return _dropped_pick(reference, rng)


def acronym_reply(problem: Problem, picks: Picks, variant: str, rng: random.Random) -> str:
    """A linear attempt in ``variant``'s style: initials with places, the picks, the answer."""
    words, length = _words_and_length(problem)
    initials = "Initials: " + ", ".join(f"{place} {word[0]}" for place, word in enumerate(words, 1))
    spelled = "".join(word[0] for word, _ in picks)
    choice = f"{spelled}: " + ", ".join(f"{word[0]} {place} {word}" for word, place in picks)
    if variant == "plan_and_execute":
        plan = (
            f"Plan: note each initial and its place, find a {length}-letter word in the "
            "initials in order, then give its words."
        )
        lines = [plan, initials, f"Try {choice}"]
    elif variant == "rephrase":
        restated = (
            f"Restated question: pick {length} of the {len(words)} words, in list order, "
            "whose initials spell a word."
        )
        lines = [restated, initials, f"Try {choice}"]
    elif variant == "alternatively":

        def draw() -> str:
            places = sorted(rng.sample(range(len(words)), length))
            return "".join(words[i][0] for i in places)

        dropped = _rejections(draw, spelled, rng)
        lines = [initials, *(f"Alternatively, {other} is not a word." for other in dropped)]
        lines.append(f"Alternatively, {choice}")
    else:
        lines = [initials, f"Try {choice}"]
    answer = ", ".join(word for word, _ in picks)
    return "\n".join(lines) + f"\n<answer>{answer}</answer>"


def acronym_check(problem: Problem, chosen: list[str]) -> tuple[str, bool]:
    """Redo the places, order, count and initials of the chosen words; judge them."""
    words, length = _words_and_length(problem)
    place = {word: i for i, word in enumerate(words, 1)}
    located = ", ".join(f"{word} {place.get(word, 'none')}" for word in chosen)
    lines = [f"The answer picks {', '.join(chosen)}.", f"Places in the list: {located}."]
    unlisted = [word for word in chosen if word not in place]
    repeated = [word for word, count in Counter(chosen).items() if count > 1]
    if unlisted:
        lines.append(f"{unlisted[0]} is not one of the listed words.")
    elif repeated:
        lines.append(f"{repeated[0]} is used twice.")
    places = [place.get(word, 0) for word in chosen]
    in_order = not unlisted and places == sorted(set(places))
    if not unlisted and not repeated:
        kept = "rise, so the list order is kept" if in_order else "do not rise: out of list order"
        lines.append(f"The places {kept}.")
    if len(chosen) == length:
        lines.append(f"That is {length} words, as asked.")
    else:
        lines.append(f"That is {len(chosen)} words, not {length}.")
    spelled = "".join(word[0] for word in chosen)
    english = is_word(spelled)
    lines.append(f"The initials spell {spelled}, {'an' if english else 'not an'} English word.")
    correct = in_order and len(chosen) == length and english
    return "\n".join([*lines, verdict_tag(correct)]), correct


def right_acronym_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """The words the problem was built from, picked in ``variant``'s style."""
    return _acronym_attempt(problem, _reference_picks(problem), variant, rng)


def wrong_acronym_attempt(problem: Problem, variant: str, rng: random.Random) -> Attempt:
    """A plausible mistake (see :func:`wrong_picks`), picked in ``variant``'s style."""
    return _acronym_attempt(problem, wrong_picks(problem, rng), variant, rng)


def _acronym_attempt(problem: Problem, picks: Picks, variant: str, rng: random.Random) -> Attempt:
    check, correct = acronym_check(problem, [word for word, _ in picks])
    return Attempt(acronym_reply(problem, picks, variant, rng), check, correct)


LETTER_COUNTDOWN_WRITER = TaskWriter(
    task="letter_countdown",
    difficulties={3: 0.3, 4: 0.3, 5: 0.25, 6: 0.15},
    right=right_letter_attempt,
    wrong=wrong_letter_attempt,
)

ACRONYM_WRITER = TaskWriter(
    task="acronym",
    difficulties={3: 0.35, 4: 0.4, 5: 0.25},
    right=right_acronym_attempt,
    wrong=wrong_acronym_attempt,
)
