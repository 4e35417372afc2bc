"""The English words that ``letter_countdown`` and ``acronym`` ask for and accept.

Both lists come from the ``english-words`` package, which ships two dictionaries
offline: ``web2`` (Webster's Second, 1934) and ``gcide`` (the GNU Collaborative
International Dictionary). Neither carries word frequencies, and both are full of
rare entries ("sudd", "gie", "nais"), so two sets are kept apart:

- **Accepted words** (:func:`is_word`) are generous, because a scorer that rejects a
  real word punishes a right answer: every lower-case ``web2`` entry (web2
  capitalises proper nouns, so these are not names), every ``gcide`` entry
  written in lower case (its modern additions, such as "email"), and the other
  ``gcide`` entries unless ``web2`` knows them only as a proper noun ("paris").
  Neither dictionary lists regular inflections ("cats", "walked", "hoping"), so a
  dictionary word plus a regular ending counts too.
- **Common words** (:func:`common_words`), which generated problems are built from,
  so that the intended answer is a word a model can know: entries of both
  dictionaries (web2 in lower case) that ``gcide`` uses in at least
  :data:`MIN_PHRASES` of its multi-word or hyphenated headwords. Being part of set
  phrases ("apple tree", "apple-faced") is the best sign of an everyday word these
  lists offer: it keeps "apple", "river" and "window" and drops "sudd" and "mesne".
  A short list of slurs and vulgar words is kept out of generated problems.

Everything is loaded on first use and cached, so importing a task stays cheap.
"""

from __future__ import annotations

import functools
import re
import string
from collections import Counter

MIN_PHRASES = 2
"""How many gcide phrases a word must appear in to count as common."""

LETTERS = frozenset(string.ascii_lowercase)

_UNWELCOME_WORDS = """
    ass bitch butt cock crap cunt damn dick dyke fag fuck gook homo hell jap kike nigger piss
    rape shit slut spic squaw tit twat wank whore wop
"""
_UNWELCOME = frozenset(_UNWELCOME_WORDS.split())
"""Slurs and vulgar words that generated problems never use (answers may still be them)."""

_SPLIT_PHRASE = re.compile(r"[ \-]+")
_EDGE_PUNCTUATION = " \t\r\n.,;:!?\"'()[]{}*_`"
_VOWELS = frozenset("aeiou")


def _alphabetic(word: str) -> bool:
    return word.isascii() and word.isalpha()


@functools.cache
def _sources() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """web2 lower-case, web2 proper nouns, gcide lower-case, gcide capitalised (lowered)."""
    from english_words import get_english_words_set

    web2 = get_english_words_set(["web2"])
    gcide = get_english_words_set(["gcide"])
    web2_lower = frozenset(w for w in web2 if _alphabetic(w) and w.islower())
    web2_names = frozenset(w.lower() for w in web2 if _alphabetic(w) and not w.islower())
    gcide_lower = frozenset(w for w in gcide if _alphabetic(w) and w.islower())
    gcide_capital = frozenset(w.lower() for w in gcide if _alphabetic(w) and not w.islower())
    return web2_lower, web2_names, gcide_lower, gcide_capital


@functools.cache
def dictionary() -> frozenset[str]:
    """Every word an answer may be, before inflections: lower-case ASCII letters only."""
    web2_lower, web2_names, gcide_lower, gcide_capital = _sources()
    return web2_lower | gcide_lower | (gcide_capital - web2_names)


@functools.cache
def _phrase_counts() -> Counter[str]:
    from english_words import get_english_words_set

    counts: Counter[str] = Counter()
    for entry in get_english_words_set(["gcide"], lower=True):
        parts = _SPLIT_PHRASE.split(entry)
        if len(parts) > 1:
            counts.update(set(parts))
    return counts


@functools.cache
def common_words(length: int) -> tuple[str, ...]:
    """Common words of ``length`` letters, sorted so that seeded choices are reproducible."""
    web2_lower, _, gcide_lower, gcide_capital = _sources()
    counts = _phrase_counts()
    return tuple(
        sorted(
            word
            for word in web2_lower & (gcide_lower | gcide_capital)
            if len(word) == length and counts[word] >= MIN_PHRASES and word not in _UNWELCOME
        )
    )


def _bases(word: str) -> list[str]:
    """The dictionary forms ``word`` could be a regular inflection of."""
    bases = []
    if word.endswith("ies") or word.endswith("ied"):
        bases.append(word[:-3] + "y")
    if word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh", "o")):
        bases.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        bases.append(word[:-1])
    for ending in ("ed", "ing"):
        if word.endswith(ending):
            stem = word[: -len(ending)]
            bases += [stem, stem + "e"]
            if len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
                bases.append(stem[:-1])
    return [base for base in bases if len(base) >= 3]


def is_word(word: str) -> bool:
    """True for a dictionary word, or a regular plural, -ed or -ing form of one."""
    if not word or not _alphabetic(word) or not word.islower():
        return False
    words = dictionary()
    return word in words or any(base in words for base in _bases(word))


def normalise_word(text: str) -> str:
    """Lower case, without the punctuation and quotes models put around a word."""
    return text.strip(_EDGE_PUNCTUATION).lower()
