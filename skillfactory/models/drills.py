"""Arithmetic drills: the one-step facts that the default model's Countdown work is made of.

A model that cannot redo one step of arithmetic cannot check an attempt: asked to
redo ``12 + 7 = 20``, it copies the 20. With one token per number, each fact
``a op b = c`` is something to memorise, and a model memorises a fact only after
seeing it many times, so the corpus shows every fact the Countdown range needs,
over and over: every first step over two given numbers, and the later steps of
solutions and of random attempts, whose operands are earlier results. The same
prompt measures the skill (:func:`skillfactory.models.abilities.measure`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from skillfactory.records import Conversation

INSTRUCTION = "Work out each line."
OPERATORS = ("+", "-", "*", "/")
"""The four Countdown operations, in the order that random choices draw from."""
_RESULT = re.compile(r"^\s*(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(\d+)\s*$")


@dataclass(frozen=True)
class Fact:
    """``left op right = result``, with whole, positive values (as Countdown steps have)."""

    left: int
    op: str
    right: int
    result: int

    @property
    def question(self) -> str:
        return f"{self.left} {self.op} {self.right}"

    def text(self) -> str:
        return f"{self.question} = {self.result}"


def apply(op: str, left: int, right: int) -> int | None:
    """``left op right`` as a Countdown step allows it (whole and positive), else None."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right if left > right else None
    if op == "*":
        return left * right
    return left // right if right and left % right == 0 else None


def drill_prompt(facts: Sequence[Fact]) -> Conversation:
    """The prompt that asks for ``facts``, one per line."""
    lines = "\n".join(fact.question for fact in facts)
    return [{"role": "user", "content": f"{INSTRUCTION}\n{lines}"}]


def drill_reply(facts: Sequence[Fact]) -> str:
    return "\n".join(fact.text() for fact in facts)


def parse_results(reply: str) -> list[tuple[str, int] | None]:
    """Each line of a drill reply as ``(question, result)``; None for a line that is not one."""
    parsed: list[tuple[str, int] | None] = []
    for line in reply.splitlines():
        match = _RESULT.match(line)
        if match is None:
            parsed.append(None)
            continue
        left, op, right, result = match.groups()
        parsed.append((f"{int(left)} {op} {int(right)}", int(result)))
    return parsed


@dataclass(frozen=True)
class DrillShares:
    """How a drill's facts are drawn: shares of first steps and of second steps.

    ``first``: first steps over two given numbers (a few hundred facts, learned
    early). ``second``: second steps over a first step's result and a given number,
    drawn uniformly (the steps after the first that a Countdown-3 attempt writes).
    The rest are the steps of solutions and of random attempts at random problems,
    whose later steps reach further. Recipe 3 drew a third first steps and no
    uniform second steps; the trials table of docs/default-model.md records what
    other shares did.
    """

    first: float = 1 / 3
    second: float = 0.0


def countdown_facts(
    count: int,
    rng: random.Random,
    *,
    max_number: int,
    max_target: int = 100,
    shares: DrillShares = DrillShares(),
) -> list[Fact]:
    """``count`` facts of the kind Countdown attempts over numbers ``1..max_number`` use.

    First steps over two given numbers and second steps over a first step's result
    and a given number, in the ``shares`` asked for; the rest are the steps of
    solutions and of random attempts at random problems, whose later steps combine
    earlier results with given numbers or with each other.
    """
    from skillfactory.models.worked_countdown import random_moves, steps_of
    from skillfactory.tasks.countdown_solver import find_moves

    facts: list[Fact] = []
    while len(facts) < count:
        kind = rng.random()
        if kind < shares.first + shares.second:
            fact = _first_step(rng, max_number)
            if fact is not None and kind >= shares.first:
                fact = _later_step(rng, fact.result, rng.randint(1, max_number))
            if fact is not None:
                facts.append(fact)
            continue
        numbers = [rng.randint(1, max_number) for _ in range(rng.choice((2, 3, 3, 4)))]
        target = rng.randint(10, max_target)
        moves = find_moves(numbers, target) if rng.random() < 0.6 else None
        if moves is None:
            moves = random_moves(numbers, rng)
        for left, op, right, result in steps_of(numbers, moves):
            facts.append(Fact(left, op, right, result))
    return facts[:count]


def _first_step(rng: random.Random, max_number: int) -> Fact | None:
    return _later_step(rng, rng.randint(1, max_number), rng.randint(1, max_number))


def _later_step(rng: random.Random, a: int, b: int) -> Fact | None:
    """A random operation over ``a`` and ``b``, larger first, as Countdown steps are written."""
    left, right = max(a, b), min(a, b)
    op = rng.choice(OPERATORS)
    result = apply(op, left, right)
    return None if result is None else Fact(left, op, right, result)


def drill_conversations(
    count: int,
    rng: random.Random,
    *,
    options: dict[str, Any],
    lines: tuple[int, int] = (1, 8),
    shares: DrillShares = DrillShares(),
) -> list[Conversation]:
    """``count`` drill conversations of ``lines`` facts each (a range, drawn per conversation)."""
    sizes = [rng.randint(*lines) for _ in range(count)]
    facts = countdown_facts(
        sum(sizes),
        rng,
        max_number=int(options.get("max_number", 100)),
        max_target=int(options.get("max_target", 100)),
        shares=shares,
    )
    conversations = []
    start = 0
    for size in sizes:
        chosen = facts[start : start + size]
        start += size
        reply: Conversation = [{"role": "assistant", "content": drill_reply(chosen)}]
        conversations.append([*drill_prompt(chosen), *reply])
    return conversations
