"""Answers that put the Countdown verifier to the test: hostile inputs and near misses.

The tests, the throughput benchmark and the fuzz script draw on the same lists, so
that what is benchmarked is what is tested. Every hostile answer here must score 0
and finish quickly. Several of them fooled or hung a scorer that parsed model text
with sympy (an ``eval`` in disguise): code that ran, towers of powers that never
finished, and numerals such as ``17e0`` or ``100.3`` that its number check misread.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + digit) for digit in range(10)))
_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))
_NUMBER = re.compile(r"[0-9]+")
_OPERATOR = re.compile(r"[-+*/]")


def hostile_answers(numbers: Sequence[int], target: int) -> dict[str, str]:
    """Hostile answers for one problem, by name; each one must score 0.

    Many are built from the problem's own numbers, so that only the trick, and not
    a wrong number, stands between them and full marks.
    """
    first, second = numbers[0], numbers[1]
    total = " + ".join(map(str, numbers))
    digits = str(target)
    return {
        "power tower": "9**9**9",
        "power of the given numbers": f"{first} ** {second}",
        "power in parentheses": f"(({first})**({second}))**({first})",
        "caret power": f"{first} ^ {second}",
        "ten thousand open parentheses": "(" * 10_000 + total + ")" * 10_000,
        "nesting under the length limit": "(" * 400 + total + ")" * 400,
        "unclosed parentheses": "(" * 900,
        "million-digit number": "9" * 1_000_000,
        "long number under the length limit": "9" * 900,
        "import and run": "__import__('os').system('echo owned')",
        "import and exit": "__import__('os')._exit(0)",
        "builtins": "().__class__.__bases__[0].__subclasses__()",
        "f-string": f"f'{{{total}}}'",
        "lambda call": f"(lambda: {target})()",
        "name that cancels": f"{total} + x - x",
        "unary signs that cancel": f"+ {total} - 0",
        "leading minus": f"-{first} + {second}",
        "arabic-indic digits": total.translate(_ARABIC_INDIC),
        "fullwidth digits": total.translate(_FULLWIDTH),
        "superscript": f"{first}\u00b2",
        "nul byte": f"{total}\x00",
        "nul inside": total.replace(" ", "\x00", 1),
        "exponent notation": f"{target}e0",
        "exponent inside": f"{total} * 1e0",
        "hex literal": hex(target),
        "octal literal": oct(target),
        "underscore separator": f"{digits[:1]}_{digits[1:] or '0'}",
        "leading zero": f"0{first}",
        "floor division": total.replace("+", "//", 1),
        "modulo": total.replace("+", "%", 1),
        "factorial": f"{total}!",
        "factorial inside": f"{first}! + {second}",
        "decimal read as two numbers": f"{first}.{second}",
        "float near miss": f"{total} + 0.0000001",
        "float result": f"{target}.0",
        "float claim": f"{total} = {target}.0",
        "comparison": f"{total} == {target}",
        "bit shift": f"{first} << {second}",
        "bitwise or": f"{first} | {second}",
        "sympy constant": f"{total} + pi - pi",
        "infinity": "oo",
        "semicolon code": "import os; os.system('id')",
        "comma tuple": f"({first}, {second})",
        "brackets": f"[{total}]",
        "many operators": "1" + " * 1" * 200,
        "only operators": "+-*/" * 200,
        "only equals": "=" * 500,
        "steps that reuse a number": f"{first} + {second} = {first + second}\n"
        f"{first} + {second} = {first + second}",
        "steps with a false claim": f"{first} + {second} = {target + 1}",
        "many step lines": "\n".join(["1 = 1"] * 150),
        "surrogate": "\ud800",
        "replacement characters": "\ufffd" * 50,
        "right-to-left override": f"\u202e{total}",
        "zero-width space": total.replace(" ", "\u200b", 1),
    }


MUTATIONS = ("number", "operator", "delete", "insert", "duplicate", "swap")
"""The kinds of edit :func:`mutate` makes."""


def mutate(answer: str, rng: random.Random, kind: str | None = None) -> str:
    """A small random edit of an answer, the way a model's near miss looks.

    ``kind`` is one of :data:`MUTATIONS` (random when None): a number swapped for
    another, an operator changed, or a character deleted, inserted or duplicated, or
    two neighbours swapped. The result may equal the answer (no number to swap, say).
    """
    kind = kind or rng.choice(MUTATIONS)
    if kind == "number":
        numbers = list(_NUMBER.finditer(answer))
        if not numbers:
            return answer
        match = rng.choice(numbers)
        replacement = str(max(0, int(match.group()) + rng.choice((-2, -1, 1, 2, 10))))
        return answer[: match.start()] + replacement + answer[match.end() :]
    if kind == "operator":
        operators = list(_OPERATOR.finditer(answer))
        if not operators:
            return answer
        match = rng.choice(operators)
        replacement = rng.choice([op for op in "+-*/" if op != match.group()])
        return answer[: match.start()] + replacement + answer[match.end() :]
    if not answer:
        return rng.choice("0123456789+-*/()")
    at = rng.randrange(len(answer))
    if kind == "delete":
        return answer[:at] + answer[at + 1 :]
    if kind == "insert":
        return answer[:at] + rng.choice("0123456789+-*/() =.xe_!%^") + answer[at:]
    if kind == "duplicate":
        return answer[:at] + answer[at] + answer[at:]
    if kind == "swap" and at + 1 < len(answer):
        return answer[:at] + answer[at + 1] + answer[at] + answer[at + 2 :]
    return answer + answer[-1]
