"""Compose throughput at paper scale: SkillFactory's Arrow pipeline against a plain pandas one.

Run ``python benchmarks/compose_bench.py`` (``--questions 400`` for a quick look).
It writes synthetic judged attempts of the paper's size (4,000 questions x 64
attempts x 4 reflections: 256,000 attempts, about a million reflections; attempts
of 300-800 characters, reflections of 200-500 ending in a verdict tag, about 30%
of attempts correct, about 70% of reflections agreeing with the verifier, a few
with no verdict or two conflicting ones) to a saved ``datasets`` directory in a
temporary folder; generating it is not timed. Then, each in a fresh process of its
own so that peak memory is that run's alone, it times:

* **ours**: ``read_questions`` → ``compose`` with ``verify,retry`` → ``write_traces``,
  exactly what ``skillfactory compose --skills verify,retry --all-lengths`` does;
* **pandas**: the straightforward way, like the authors' script: load the dataset
  into pandas, parse every reflection's verdict in a Python loop with ``re``, keep
  the agreeing ones, group by question, compose the same verify+retry traces in
  Python and save them the same two ways.

Both make the same work: by default one trace per number of attempts (1 to 5) for
every question that allows it, as the authors' script does (``--traces one``: one
trace per question, of a random length). The headline is the ratio at equal work,
printed only after checking that both wrote the same number of traces.

It prints attempts per second, wall time, peak RSS and the ratio, as medians over
``--rounds`` alternating rounds (the machine is shared; single runs are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ATTEMPTS_PER_QUESTION = 64
REFLECTIONS_PER_ATTEMPT = 4
VARIANTS = ("original", "plan_and_execute", "alternatively", "rephrase")
WORDS = (
    *("first", "second", "then", "so", "the", "of", "and", "to", "is", "we", "it", "that"),
    *("this", "check", "step", "number", "numbers", "target", "add", "subtract", "multiply"),
    *("divide", "result", "gives", "equals", "close", "too", "large", "small", "try", "again"),
    *("using", "each", "once", "operation", "left", "right", "total", "remaining", "combine"),
    *("product", "sum", "difference", "quotient"),
)


# --- Synthetic input ------------------------------------------------------------------------


def _filler(rng: random.Random, low: int, high: int) -> str:
    length = rng.randint(low, high)
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:length]


def _verdict_tag(rng: random.Random, correct: bool) -> str:
    word = "Correct" if correct else "Incorrect"
    return rng.choice(
        (
            f"<verdict>{word}</verdict>",
            f"<verdict>{word}</verdict>",
            f"<verdict>\n{word}\n</verdict>",
            f"<verdict> {word.lower()} </verdict>",
            f"<VERDICT>{word.upper()}</VERDICT>",
        )
    )


def generate(directory: Path, questions: int, schema: str, seed: int = 0) -> int:
    """Write the synthetic input as a saved ``datasets`` directory; returns its attempt count."""
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    rng = random.Random(seed)
    bodies = [_filler(rng, 280, 760) for _ in range(3000)]
    checks = [_filler(rng, 180, 460) for _ in range(3000)]
    rows = questions * ATTEMPTS_PER_QUESTION
    columns: dict[str, list] = {
        "question": [],
        "variant": [],
        "completion": [],
        "extracted": [],
        "correct": [],
        "reflections": [],
    }
    for q in range(questions):
        numbers = [rng.randint(1, 99) for _ in range(3)]
        target = rng.randint(10, 500)
        question = (
            f"Using the numbers {numbers}, create an equation that equals {target}. You can use "
            "basic arithmetic operations (+, -, *, /) and each number can only be used once. "
            f"Your solution should include a series of steps. (question {q})"
        )
        for a in range(ATTEMPTS_PER_QUESTION):
            correct = rng.random() < 0.3
            answer = f"({numbers[0]} + {numbers[1]}) * {numbers[2]}" if correct else str(a)
            reflections = []
            for _ in range(REFLECTIONS_PER_ATTEMPT):
                kind = rng.random()
                if kind < 0.70:
                    tag = _verdict_tag(rng, correct)
                elif kind < 0.95:
                    tag = _verdict_tag(rng, not correct)
                elif kind < 0.98:
                    tag = "I am not sure about this one."
                else:
                    tag = _verdict_tag(rng, True) + " or rather " + _verdict_tag(rng, False)
                reflections.append(f"Let me verify. {rng.choice(checks)} {tag}")
            columns["question"].append(question)
            columns["variant"].append(VARIANTS[a // (ATTEMPTS_PER_QUESTION // len(VARIANTS))])
            columns["completion"].append(f"{rng.choice(bodies)}\n<answer>\n{answer}\n</answer>")
            columns["extracted"].append(answer)
            columns["correct"].append(correct)
            columns["reflections"].append(reflections)
    if schema == "authors":
        table = pa.table(
            {
                "question": columns["question"],
                "answer": ["(1 + 2) * 3"] * rows,
                "prompt_variant": columns["variant"],
                "model_responses__mutated_prompts": [[c] for c in columns["completion"]],
                "model_responses__mutated_prompts__eval_extracted_answers": [
                    [e] for e in columns["extracted"]
                ],
                "model_responses__mutated_prompts__eval_is_correct": [
                    [c] for c in columns["correct"]
                ],
                "model_responses__mutated_prompts_reflection": columns["reflections"],
            }
        )
    else:
        table = pa.table(
            {
                "question_id": [f"q{i // ATTEMPTS_PER_QUESTION}" for i in range(rows)],
                "prompt": [[{"role": "user", "content": q}] for q in columns["question"]],
                "variant": columns["variant"],
                "completion": columns["completion"],
                "extracted": columns["extracted"],
                "correct": columns["correct"],
                "reflections": columns["reflections"],
            }
        )
    del columns
    datasets.disable_progress_bars()
    datasets.Dataset(InMemoryTable(table)).save_to_disk(str(directory))
    return rows


# --- The two pipelines, each run in a child process ----------------------------------------


def run_ours(data: Path, output: Path, schema: str, all_lengths: bool) -> dict[str, float]:
    """``skillfactory compose --skills verify,retry``, stage by stage."""
    started = time.perf_counter()
    from skillfactory.compose_command import selected_skills
    from skillfactory.composer import compose
    from skillfactory.skill import ComposeSettings
    from skillfactory.trace_inputs import read_questions
    from skillfactory.trace_output import write_traces

    skills = selected_skills("verify,retry")
    imported = time.perf_counter()
    questions, summary = read_questions(data, input_format=schema, seed=0)
    read = time.perf_counter()
    traces, _ = compose(
        questions, skills, ComposeSettings(), seed=0, traces_per_question=1, all_lengths=all_lengths
    )
    composed = time.perf_counter()
    write_traces(traces, output)
    written = time.perf_counter()
    return {
        "imports_s": imported - started,
        "read_s": read - imported,
        "compose_s": composed - read,
        "write_s": written - composed,
        "pipeline_s": written - imported,
        "attempts": summary.attempts,
        "traces": len(traces),
    }


def run_read_only(data: Path, output: Path, schema: str, all_lengths: bool) -> dict[str, float]:
    """Reading alone, so that its peak memory is its own."""
    started = time.perf_counter()
    from skillfactory.trace_inputs import read_questions

    imported = time.perf_counter()
    questions, summary = read_questions(data, input_format=schema, seed=0)
    read = time.perf_counter()
    return {
        "imports_s": imported - started,
        "read_s": read - imported,
        "pipeline_s": read - imported,
        "attempts": summary.attempts,
        "questions": len(questions),
    }


def run_pandas(data: Path, output: Path, schema: str, all_lengths: bool) -> dict[str, float]:
    """The straightforward implementation: pandas rows, a Python loop, Python composition."""
    started = time.perf_counter()
    import re

    import datasets

    from skillfactory.verdicts import VERDICT_PATTERN

    imported = time.perf_counter()
    frame = datasets.load_from_disk(str(data)).to_pandas()
    if schema == "authors":
        frame = frame.rename(
            columns={
                "prompt_variant": "variant",
                "model_responses__mutated_prompts": "completion",
                "model_responses__mutated_prompts__eval_extracted_answers": "extracted",
                "model_responses__mutated_prompts__eval_is_correct": "correct",
                "model_responses__mutated_prompts_reflection": "reflections",
            }
        )
        frame["completion"] = frame["completion"].str[0]
        frame["extracted"] = frame["extracted"].str[0]
        frame["correct"] = frame["correct"].str[0]
        frame["question_id"] = frame["question"]
    else:
        frame["question"] = frame["prompt"].map(lambda messages: messages[0]["content"])
    loaded = time.perf_counter()
    pattern = re.compile(VERDICT_PATTERN, re.IGNORECASE)
    rng = random.Random(0)
    chosen = []
    for correct, reflections in zip(frame["correct"], frame["reflections"], strict=True):
        agreeing = []
        for reflection in reflections:
            found = {verdict.lower() for verdict in pattern.findall(reflection)}
            if len(found) == 1 and (found == {"correct"}) == correct:
                agreeing.append(reflection)
        chosen.append(rng.choice(agreeing) if agreeing else None)
    frame["reflection"] = chosen
    parsed = time.perf_counter()
    glue_right = ("That checks out, but I'd like to confirm it another way.",)
    glue_wrong = ("That doesn't work. Let me start over.",)
    rows = []
    for _, group in frame.groupby("question_id", sort=False):
        usable = group[group["reflection"].notna()]
        pool = list(
            zip(
                usable["completion"],
                usable["extracted"],
                usable["correct"],
                usable["reflection"],
                strict=True,
            )
        )
        right = [attempt for attempt in pool if attempt[2]]
        if not right:
            continue
        limit = min(5, len(pool))
        lengths = range(1, limit + 1) if all_lengths else (rng.randint(1, limit),)
        for length in lengths:
            last = rng.choice(right)
            shown = [*rng.sample([a for a in pool if a is not last], length - 1), last]
            parts = ["<think>"]
            for position, (text, _, correct, reflection) in enumerate(shown):
                parts.append(f"<sample>\n{text.strip()}\n</sample>")
                parts.append(f"<reflect>\n{reflection.strip()}\n</reflect>")
                if position < len(shown) - 1:
                    parts.append(rng.choice(glue_right if correct else glue_wrong))
            parts += ["</think>", "So my final answer is:", f"<answer>\n{last[1]}\n</answer>"]
            rows.append(
                {
                    "question_id": str(group["question_id"].iloc[0]),
                    "messages": [
                        {"role": "user", "content": group["question"].iloc[0]},
                        {"role": "assistant", "content": "\n".join(parts)},
                    ],
                    "format": f"{length}C",
                    "skills": ["retry", "verify"],
                    "attempts": length,
                    "reflections": length,
                }
            )
    composed = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    datasets.disable_progress_bars()
    columns = {name: [row[name] for row in rows] for name in rows[0]} if rows else {}
    datasets.Dataset.from_dict(columns).save_to_disk(str(output / "traces"))
    with (output / "traces.jsonl").open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    written = time.perf_counter()
    return {
        "imports_s": imported - started,
        "read_s": loaded - imported,
        "verdicts_s": parsed - loaded,
        "compose_s": composed - parsed,
        "write_s": written - composed,
        "pipeline_s": written - imported,
        "attempts": len(frame),
        "traces": len(rows),
    }


PIPELINES = {"ours": run_ours, "read": run_read_only, "pandas": run_pandas}


def child(pipeline: str, data: Path, output: Path, schema: str, all_lengths: bool) -> None:
    result = PIPELINES[pipeline](data, output, schema, all_lengths)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident memory.

    ``VmHWM`` belongs to the process image, whereas ``getrusage``'s ``ru_maxrss``
    survives ``exec`` on Linux and would report the (large) parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(pipeline: str, data: Path, output: Path, schema: str, traces: str) -> dict[str, float]:
    """One run in a fresh interpreter; its peak memory is its own."""
    command = [sys.executable, __file__, "--child", pipeline, "--data", str(data)]
    command += ["--output", str(output), "--schema", schema, "--traces", traces]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{pipeline} run failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=4000)
    parser.add_argument("--schema", choices=("authors", "skillfactory"), default="authors")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--traces",
        choices=("all-lengths", "one"),
        default="all-lengths",
        help="one trace per length 1-5 per question (the authors' output), or one per question",
    )
    parser.add_argument("--no-baseline", action="store_true", help="time ours only")
    parser.add_argument("--child", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.output, args.schema, args.traces == "all-lengths")
        return

    with tempfile.TemporaryDirectory(prefix="compose-bench-") as folder:
        data = Path(folder) / "input"
        started = time.perf_counter()
        rows = generate(data, args.questions, args.schema)
        size = sum(f.stat().st_size for f in data.iterdir()) / 1e6
        print(
            f"input: {args.questions} questions, {rows} attempts, "
            f"{rows * REFLECTIONS_PER_ATTEMPT} reflections, {args.schema} schema, "
            f"{size:.0f} MB on disk (generated in {time.perf_counter() - started:.0f} s); "
            f"traces: {args.traces}"
        )
        pipelines = ["read", "ours"] + ([] if args.no_baseline else ["pandas"])
        results: dict[str, list[dict[str, float]]] = {name: [] for name in pipelines}
        for round_number in range(args.rounds):
            for name in pipelines:
                output = Path(folder) / f"{name}-{round_number}"
                results[name].append(measure(name, data, output, args.schema, args.traces))
        _report(results, rows)


def _report(results: dict[str, list[dict[str, float]]], rows: int) -> None:
    labels = {
        "read": "read_questions alone",
        "ours": "ours: read + compose + write",
        "pandas": "pandas baseline",
    }
    medians = {}
    for name, runs in results.items():
        keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
        median = {key: statistics.median(run[key] for run in runs) for key in keys}
        medians[name] = median
        stages = ", ".join(
            f"{key[:-2]} {median[key]:.2f} s"
            for key in ("imports_s", "read_s", "verdicts_s", "compose_s", "write_s")
            if key in median
        )
        spread = ", ".join(f"{run['pipeline_s']:.2f}" for run in runs)
        print(
            f"{labels[name]}: {rows / median['pipeline_s']:,.0f} attempts/s, "
            f"{median['pipeline_s']:.2f} s (runs: {spread}; whole process "
            f"{median['process_s']:.2f} s), peak RSS {median['peak_rss_mb']:.0f} MB\n"
            f"    stages: {stages}"
        )
    if "pandas" in medians:
        ours, theirs = medians["ours"], medians["pandas"]
        if ours["traces"] != theirs["traces"]:
            raise SystemExit(
                f"unequal work: ours wrote {ours['traces']:.0f} traces, "
                f"the baseline {theirs['traces']:.0f}; no ratio"
            )
        ratio = theirs["pipeline_s"] / ours["pipeline_s"]
        memory = theirs["peak_rss_mb"] / ours["peak_rss_mb"]
        print(
            f"equal work ({ours['traces']:.0f} traces each): the pandas baseline takes "
            f"{ratio:.1f}x as long as ours, with {memory:.1f}x our peak memory"
        )
    print(f"machine: {os.cpu_count()} cores; medians of {len(next(iter(results.values())))} runs")


if __name__ == "__main__":
    main()
