"""Fuzz the Countdown scorer: many hostile inputs, no exception, and the slowest one named.

Run ``python benchmarks/fuzz_countdown.py [--count 100000] [--seed 0]``. Inputs come
in six families: random token soups (numbers, operators, Python and sympy syntax,
unicode look-alikes), deep nesting (up to ten thousand parentheses), huge numbers
(up to a million digits), random unicode, mutations of correct answers, and the
named hostile answers of :mod:`skillfactory.tasks.countdown_corpus`. Every input
must get a :class:`~skillfactory.Score` with a known reason; answers that cannot be
right must score 0; and a mutated answer written in the plain grammar must be judged
exactly as an independent evaluator (Python's parser over fractions, run on text
made only of digits, operators, parentheses and spaces) judges it. Prints the count,
the rate, and the slowest input of each family.
"""

from __future__ import annotations

import argparse
import ast
import heapq
import operator
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction

from skillfactory import Problem
from skillfactory.tasks.countdown import Countdown
from skillfactory.tasks.countdown_corpus import hostile_answers, mutate
from skillfactory.tasks.countdown_solver import as_steps, find_moves
from skillfactory.tasks.countdown_verifier import REASONS

_SOUP = (
    *"0123456789",
    *"+-*/()= ",
    "**",
    "//",
    "%",
    "!",
    "^",
    "e",
    "E",
    "x",
    "X",
    ".",
    "_",
    "0x",
    "0b",
    "j",
    "__import__",
    "os",
    "lambda",
    ":",
    "'",
    '"',
    "f'",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    "\n",
    "Step 1:",
    "\\times",
    "\\frac",
    "\u00d7",
    "\u00f7",
    "\u2212",
    "\u2013",
    "\u0663",
    "\uff13",
    "\u00b2",
    "\x00",
    "\t",
    "\r",
    "\u200b",
    "\u202e",
    "pi",
    "oo",
    "I",
    "nan",
    "inf",
)
_CANNOT_BE_RIGHT = re.compile(
    r"\*\*|//|%|!|\^|[eE][0-9]|0[xXbB]|_|__import__|lambda|[\x00\u0663\uff13\u00b2]"
)
_PLAIN = re.compile(r"[0-9+\-*/() ]*")


def token_soup(problem: Problem, rng: random.Random) -> str:
    """Random tokens, with the problem's own numbers among them."""
    numbers = [str(n) for n in problem.data["numbers"]]
    tokens = [rng.choice(numbers) if rng.random() < 0.3 else rng.choice(_SOUP)]
    tokens += [
        rng.choice(numbers) if rng.random() < 0.3 else rng.choice(_SOUP)
        for _ in range(rng.randrange(60))
    ]
    return rng.choice(("", " ")).join(tokens)


def deep_nesting(problem: Problem, rng: random.Random) -> str:
    """Parentheses nested up to ten thousand deep, balanced or not, around an answer."""
    depth = int(10 ** rng.uniform(1, 4))
    closing = depth if rng.random() < 0.5 else rng.randrange(depth + 1)
    inner = problem.answer if rng.random() < 0.7 else token_soup(problem, rng)
    opener = rng.choice(("(", "((", "( ", "(1+", "(-"))
    return opener * depth + inner + ")" * closing


def huge_number(problem: Problem, rng: random.Random) -> str:
    """A number of up to a million digits, alone or inside an answer."""
    digits = int(10 ** rng.uniform(1.5, 6))
    number = rng.choice("123456789") + "9" * (digits - 1)
    shape = rng.randrange(4)
    if shape == 0:
        return number
    if shape == 1:
        return f"{problem.answer} + {number} - {number}"
    if shape == 2:
        return f"{problem.answer} = {number}"
    return f"{number} ** {number}"


def random_unicode(problem: Problem, rng: random.Random) -> str:
    """Random code points from every plane, surrogates included, mixed into an answer."""
    characters = [chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 40))]
    text = "".join(characters)
    return text if rng.random() < 0.5 else _splice(problem.answer, text, rng)


def mutated_answer(problem: Problem, rng: random.Random) -> str:
    """A correct answer, as one expression or as steps, with one to five random edits."""
    answer = problem.answer
    if rng.random() < 0.3:
        numbers, target = problem.data["numbers"], problem.data["target"]
        answer = "\n".join(as_steps(numbers, find_moves(numbers, target) or []))
    for _ in range(rng.randrange(1, 6)):
        answer = mutate(answer, rng)
    return answer


def _splice(text: str, insert: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + insert + text[at:]


FAMILIES: dict[str, Callable[[Problem, random.Random], str]] = {
    "token soup": token_soup,
    "deep nesting": deep_nesting,
    "huge number": huge_number,
    "random unicode": random_unicode,
    "mutated answer": mutated_answer,
}
WEIGHTS = {
    "token soup": 40,
    "deep nesting": 5,
    "huge number": 2,
    "random unicode": 13,
    "mutated answer": 40,
}


def inputs(problems: list[Problem], count: int, rng: random.Random) -> Iterator[tuple]:
    """``count`` (family, problem, answer) triples: the named hostile answers, then random."""
    made = 0
    for problem in problems[:50]:
        for answer in hostile_answers(problem.data["numbers"], problem.data["target"]).values():
            yield "hostile corpus", problem, answer
            made += 1
    names, weights = list(FAMILIES), list(WEIGHTS.values())
    while made < count:
        family = rng.choices(names, weights)[0]
        problem = rng.choice(problems)
        yield family, problem, FAMILIES[family](problem, rng)
        made += 1


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def independent_verdict(answer: str, numbers: list[int], target: int) -> bool:
    """Whether a plain-grammar answer is right, judged by Python's parser over fractions.

    Only for text made of digits, operators, parentheses and spaces, which Python's
    parser reads without running anything.
    """

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        raise ValueError("outside the grammar")

    try:
        tree = ast.parse(answer.strip(), mode="eval")
        used = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant):
                used.append(node.value)
        value = walk(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError, MemoryError):
        return False
    return sorted(used) == sorted(numbers) and value == target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    task = Countdown()
    problems = [
        problem
        for difficulty in range(2, 9)
        for problem in task.generate(40, difficulty=difficulty, seed=args.seed)
    ]
    rng = random.Random(f"fuzz_countdown/{args.seed}")
    slowest: dict[str, list[tuple[float, int, str, Problem]]] = {}
    counts: dict[str, int] = {}
    total_time = 0.0
    failures = 0
    for index, (family, problem, answer) in enumerate(inputs(problems, args.count, rng)):
        numbers, target = problem.data["numbers"], problem.data["target"]
        start = time.perf_counter()
        try:
            score = task.score(problem, answer)
        except Exception as error:  # the one thing this script exists to catch
            print(f"RAISED {error!r} on {family}: {answer!r:.200}")
            failures += 1
            continue
        elapsed = time.perf_counter() - start
        total_time += elapsed
        counts[family] = counts.get(family, 0) + 1
        heapq.heappush(slowest.setdefault(family, []), (elapsed, index, answer, problem))
        if len(slowest[family]) > _CANDIDATES:
            heapq.heappop(slowest[family])
        for found in _check(family, answer, numbers, target, score):
            print(f"FAIL {found} on {family} {numbers}->{target}: {answer!r:.200}")
            failures += 1

    total = sum(counts.values())
    print(
        f"fuzzed countdown scoring with {total:,} inputs in {total_time:.2f} s of scoring "
        f"({total / total_time:,.0f} inputs/s), {failures} failures"
    )
    print(
        f"slowest input of each family ({_CANDIDATES} slowest re-timed, best of {_REPEATS}, "
        "so that a pause of the machine is not taken for a slow input):"
    )
    overall = (0.0, "", "")
    for family, candidates in slowest.items():
        elapsed, answer = max(
            (_retime(task, problem, answer), answer) for _, _, answer, problem in candidates
        )
        overall = max(overall, (elapsed, answer, family))
        count = f"{counts[family]:>7,} inputs"
        print(f"  {family:<15} {count}, slowest {elapsed * 1e6:>6.1f} µs: {_show(answer)}")
    elapsed, answer, family = overall
    print(f"slowest overall: {elapsed * 1e6:.1f} µs, {family}: {_show(answer)}")
    sys.exit(1 if failures else 0)


_CANDIDATES = 20
_REPEATS = 5


def _check(family: str, answer: str, numbers: list[int], target: int, score) -> list[str]:
    """What is wrong with one judgement, if anything."""
    found = []
    if score.reason not in REASONS or score.value not in (0.0, 1.0):
        found.append(f"unexpected score {score}")
    if score.correct and (family == "hostile corpus" or _CANNOT_BE_RIGHT.search(answer)):
        found.append("scored correct but cannot be right")
    if (
        family == "mutated answer"
        and _PLAIN.fullmatch(answer)
        and score.correct != independent_verdict(answer, numbers, target)
    ):
        found.append(f"disagrees with the independent evaluator ({score.reason})")
    return found


def _retime(task: Countdown, problem: Problem, answer: str) -> float:
    """The best of a few timings of one input."""
    best = float("inf")
    for _ in range(_REPEATS):
        start = time.perf_counter()
        task.score(problem, answer)
        best = min(best, time.perf_counter() - start)
    return best


def _show(answer: str) -> str:
    shown = ascii(answer)
    return shown if len(shown) <= 60 else f"{shown[:50]}... ({len(answer):,} chars)"


if __name__ == "__main__":
    main()
