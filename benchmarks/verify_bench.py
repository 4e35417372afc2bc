"""Countdown scoring throughput: SkillFactory's verifier against reasoning-gym's, same answers.

Run ``python benchmarks/verify_bench.py``. It generates problems of three to six
numbers, builds a realistic mix of answers for them (35% correct, 35% wrong, 20%
malformed, 10% adversarial; see ``build_mix``), and times ``Countdown.score`` on one
core. It then times reasoning-gym's countdown scorer on the same answers, less the
adversarial ones, in a separate process pinned to the same core: that scorer hands
model text to sympy's parser, which evaluates Python, so hostile answers can hang it
or run commands, and it must not share a process with anything. The ratio compares
both on exactly the answers both saw. Takes well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter

from skillfactory import Problem
from skillfactory.tasks.countdown import Countdown
from skillfactory.tasks.countdown_corpus import MUTATIONS, hostile_answers, mutate
from skillfactory.tasks.countdown_solver import as_steps, find_moves

TARGET_RATE = 100_000
"""Answers per second on one core that the project promises."""

Answer = tuple[str, Problem, str]
"""The kind of answer ("correct/reference", …), its problem, and its text."""


def build_mix(problems: list[Problem], rng: random.Random) -> list[Answer]:
    """Twenty answers per problem: 7 correct, 7 wrong, 4 malformed, 2 adversarial."""
    mix: list[Answer] = []
    for problem in problems:
        numbers, target = problem.data["numbers"], problem.data["target"]
        reference = problem.answer
        moves = find_moves(numbers, target)
        assert moves is not None
        steps = as_steps(numbers, moves)
        step_text = "\n".join(f"Step {i}: {step}" for i, step in enumerate(steps, 1))
        correct = {
            "reference": reference,
            "reference = target": f"{reference} = {target}",
            "steps": step_text,
            "bare steps": "\n".join(steps),
            "unicode operators": reference.replace("*", "\u00d7").replace("/", "\u00f7"),
            "parenthesised": f"({reference})",
            "no spaces": reference.replace(" ", ""),
        }
        wrong = {
            "number swapped": _mutated(reference, rng, "number"),
            "operator changed": _mutated(reference, rng, "operator"),
            "number swapped again": _mutated(reference, rng, "number"),
            "all added": " + ".join(map(str, numbers)),
            "claims another target": f"{reference} = {target + 1}",
            "a step miscounted": step_text.replace(" = ", " = 1", 1),
            "a number left out": " + ".join(map(str, numbers[1:])) or "0",
        }
        malformed = {
            "prose": f"I think the answer is {reference}",
            "unbalanced": f"({reference}",
            "typo": _mutated(reference, rng, rng.choice(MUTATIONS[2:])),
            "cut off": reference[: max(1, len(reference) // 2)],
        }
        hostile = hostile_answers(numbers, target)
        adversarial = {name: hostile[name] for name in rng.sample(sorted(hostile), 2)}
        for group, answers in (
            ("correct", correct),
            ("wrong", wrong),
            ("malformed", malformed),
            ("adversarial", adversarial),
        ):
            mix.extend((f"{group}/{name}", problem, text) for name, text in answers.items())
    return mix


def _mutated(answer: str, rng: random.Random, kind: str) -> str:
    """A mutation of ``answer`` of the given kind that differs from it."""
    for _ in range(20):
        candidate = mutate(answer, rng, kind)
        if candidate != answer:
            return candidate
    return answer + " + 1"


def time_ours(task: Countdown, answers: list[Answer], rounds: int) -> list[float]:
    """Answers per second of ``task.score`` in each of ``rounds`` passes."""
    score = task.score
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _, problem, text in answers:
            score(problem, text)
        rates.append(len(answers) / (time.perf_counter() - start))
    return rates


_REASONING_GYM = """
import json, sys, time
import reasoning_gym
rows = json.load(sys.stdin)
dataset = reasoning_gym.create_dataset("countdown", size=1, seed=0)
entries = [{"metadata": {"numbers": n, "target": t}} for n, t, _ in rows]
dataset.score_answer(rows[0][2], entries[0])  # warm sympy up outside the timing
start = time.perf_counter()
scores = [dataset.score_answer(text, entry) for (_, _, text), entry in zip(rows, entries)]
elapsed = time.perf_counter() - start
json.dump({"rate": len(rows) / elapsed, "scores": scores}, sys.stdout)
"""


def time_reasoning_gym(answers: list[Answer], cpu: int | None) -> dict | None:
    """reasoning-gym's answers per second and its scores, from a separate process."""
    rows = [(p.data["numbers"], p.data["target"], text) for _, p, text in answers]
    command = [sys.executable, "-c", _REASONING_GYM]
    if cpu is not None and _has_taskset():
        command = ["taskset", "-c", str(cpu), *command]
    try:
        result = subprocess.run(
            command, input=json.dumps(rows), capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        print("reasoning-gym: timed out after 300 s", file=sys.stderr)
        return None
    if result.returncode != 0:
        print(f"reasoning-gym unavailable: {result.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout)


def _has_taskset() -> bool:
    return any(
        os.access(os.path.join(folder, "taskset"), os.X_OK)
        for folder in os.environ.get("PATH", "").split(os.pathsep)
    )


def _pin_to_one_core() -> int | None:
    """Pin this process to one core, so that the figures are single-core ones."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=400, help="problems (default 400)")
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds (default 7)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip-reasoning-gym", action="store_true", help="time only SkillFactory's scorer"
    )
    args = parser.parse_args()

    cpu = _pin_to_one_core()
    task = Countdown()
    problems = [
        problem
        for difficulty in (3, 4, 5, 6)
        for problem in task.generate(args.problems // 4, difficulty=difficulty, seed=args.seed)
    ]
    mix = build_mix(problems, random.Random(f"verify_bench/{args.seed}"))
    benign = [answer for answer in mix if not answer[0].startswith("adversarial/")]
    adversarial = [answer for answer in mix if answer[0].startswith("adversarial/")]
    groups = Counter(kind.split("/")[0] for kind, _, _ in mix)

    print(
        f"countdown scoring, one core{f' (CPU {cpu})' if cpu is not None else ''}: "
        f"{len(problems)} problems of 3-6 numbers, {len(mix):,} answers "
        f"({', '.join(f'{count * 100 // len(mix)}% {group}' for group, count in groups.items())})"
    )
    ours = statistics.median(time_ours(task, mix, args.rounds))
    benign_rates = time_ours(task, benign, args.rounds)
    ours_benign = statistics.median(benign_rates)
    ours_adversarial = statistics.median(time_ours(task, adversarial, args.rounds))
    print(f"  skillfactory   full mix          {ours:>10,.0f} answers/s")
    print(f"  skillfactory   adversarial only  {ours_adversarial:>10,.0f} answers/s")
    print(f"  skillfactory   non-adversarial   {ours_benign:>10,.0f} answers/s")
    verdict = "met" if ours >= TARGET_RATE else "NOT met"
    print(f"  target {TARGET_RATE:,} answers/s on the full mix: {verdict}")
    if args.skip_reasoning_gym:
        return

    theirs = time_reasoning_gym(benign, cpu)
    if theirs is None:
        return
    # Timed again after reasoning-gym, so that a busy spell of the machine weighs on both.
    ours_benign = statistics.median(benign_rates + time_ours(task, benign, args.rounds))
    print(
        f"  reasoning-gym  non-adversarial   {theirs['rate']:>10,.0f} answers/s "
        f"(own process; the {len(adversarial)} adversarial answers left out: they can hang "
        f"it or run code)"
    )
    print(
        f"  ratio on the same answers: {ours_benign / theirs['rate']:.0f}x "
        f"(ours {ours_benign:,.0f} answers/s, timed before and after)"
    )
    differ = Counter(
        kind
        for (kind, problem, text), their_score in zip(benign, theirs["scores"], strict=True)
        if (their_score == 1.0) != task.score(problem, text).correct
    )
    if differ:
        listed = ", ".join(f"{kind} ({count})" for kind, count in differ.most_common())
        print(f"  verdicts differ on: {listed}")


if __name__ == "__main__":
    main()
