"""Reading judged attempts for composition: both layouts, both file kinds, and bad input."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from skillfactory import UsageError
from skillfactory.arrow_texts import ArrowStrings, FileStrings, map_saved_dataset
from skillfactory.arrow_verdicts import PYTHON_CASE_EXTRAS, PYTHON_SPACES, re2_pattern, verdicts
from skillfactory.trace_inputs import InputSummary, read_questions
from skillfactory.verdicts import VERDICT_PATTERN, parse_verdict

DATA = Path(__file__).parent / "data" / "compose"
AUTHORS = DATA / "authors_sample.jsonl"
OURS = DATA / "skillfactory_sample.jsonl"


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def save_dataset(directory: Path, rows: list[dict], shards: int = 1) -> Path:
    import datasets

    datasets.disable_progress_bars()
    datasets.Dataset.from_list(rows).save_to_disk(str(directory), num_shards=shards)
    return directory


def ours(qid="q1", correct=True, reflections=("<verdict>Correct</verdict>",), **fields) -> dict:
    """One row of the project's own layout, valid unless ``fields`` say otherwise."""
    row = {
        "question_id": qid,
        "prompt": [{"role": "user", "content": f"Question {qid}?"}],
        "variant": "original",
        "completion": f"an attempt at {qid}",
        "extracted": "42",
        "correct": correct,
        "reflections": list(reflections) if isinstance(reflections, tuple) else reflections,
    }
    row.update(fields)
    return row


def shown(questions) -> list[tuple]:
    """Everything a trace could show, texts included, in reading order."""
    return [
        (
            q.id,
            q.prompt,
            a.index,
            a.correct,
            a.answer,
            a.variant,
            q.texts.attempt_text(a.index),
            None if a.reflection is None else q.texts.reflection_text(a.reflection),
        )
        for q in questions
        for a in q.attempts
    ]


# --- Both layouts, both kinds of file -----------------------------------------------------


def test_the_sample_reads_into_questions_with_one_agreeing_reflection_each():
    questions, summary = read_questions(OURS)

    assert [q.id for q in questions] == list(dict.fromkeys(r["question_id"] for r in rows_of(OURS)))
    first = questions[0]
    assert first.prompt == [{"role": "user", "content": rows_of(OURS)[0]["prompt"][0]["content"]}]
    assert [a.index for a in first.attempts] == [0, 1, 2, 3]
    assert [a.correct for a in first.attempts] == [True, False, False, False]
    assert [a.answer for a in first.attempts] == ["3 * 5 + 7", "7 * 3 + 5", "(5 + 7) * 3", None]
    assert first.texts.attempt_text(2).startswith("Plan: add, then multiply.")
    assert first.attempts[2].reflection is None  # it has no reflections at all
    # Its other two reflections give both verdicts, or none: only this one agrees.
    assert first.texts.reflection_text(first.attempts[1].reflection) == (
        "7 * 3 + 5 gives 26, not 22. <verdict>incorrect</verdict>"
    )
    assert summary == InputSummary(
        rows=9,
        malformed_rows=0,
        questions=3,
        attempts=9,
        reflections=12,
        reflections_without_verdict=2,
        reflections_disagreeing=2,
        attempts_with_reflection=7,
    )


def test_the_authors_layout_gives_the_same_questions_as_ours():
    authors, authors_summary = read_questions(AUTHORS, seed=3)
    mine, my_summary = read_questions(OURS, seed=3)

    assert shown(authors) == shown(mine)
    assert authors_summary == my_summary
    assert (
        authors[0].id == hashlib.sha256(rows_of(AUTHORS)[0]["question"].encode()).hexdigest()[:16]
    )


@pytest.mark.parametrize("sample", [OURS, AUTHORS], ids=["skillfactory", "authors"])
@pytest.mark.parametrize("shards", [1, 3])
def test_a_saved_dataset_reads_exactly_like_the_jsonl_it_came_from(sample, shards, tmp_path):
    directory = save_dataset(tmp_path / "saved", rows_of(sample), shards)
    assert len(list(directory.glob("*.arrow"))) == shards

    from_jsonl, jsonl_summary = read_questions(sample, seed=7)
    from_disk, disk_summary = read_questions(directory, seed=7)

    assert shown(from_disk) == shown(from_jsonl)
    assert disk_summary == jsonl_summary


def test_auto_detection_and_explicit_formats(tmp_path):
    assert read_questions(AUTHORS, input_format="authors")[1].attempts == 9
    assert read_questions(OURS, input_format="skillfactory")[1].attempts == 9
    with pytest.raises(UsageError, match="lacks the authors format's columns question, "):
        read_questions(OURS, input_format="authors")
    with pytest.raises(UsageError, match="unknown input format 'csv'"):
        read_questions(OURS, input_format="csv")


def test_extra_columns_and_the_authors_answer_column_are_optional(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "answer"} for row in rows_of(AUTHORS)]
    for row in rows:
        row["judge_model"] = "made-up"

    _, summary = read_questions(write_jsonl(tmp_path / "a.jsonl", rows))

    assert summary.attempts == 9 and summary.malformed_rows == 0


def test_questions_keep_first_appearance_order_and_attempts_keep_row_order(tmp_path):
    rows = [
        ours("b", completion="b0"),
        ours("a", completion="a0"),
        ours("b", completion="b1", correct=False, reflections=[]),
        ours("c", completion="c0"),
        ours("a", completion="a1", correct=False, reflections=[]),
    ]
    questions, _ = read_questions(write_jsonl(tmp_path / "mixed.jsonl", rows))

    assert [q.id for q in questions] == ["b", "a", "c"]
    texts = [[q.texts.attempt_text(a.index) for a in q.attempts] for q in questions]
    assert texts == [["b0", "b1"], ["a0", "a1"], ["c0"]]


def test_a_prompt_keeps_all_its_messages_and_only_role_and_content(tmp_path):
    prompt = [
        {"role": "system", "content": "Answer in <answer> tags.", "name": "setup"},
        {"role": "user", "content": "What is 6 * 7?"},
    ]
    path = write_jsonl(tmp_path / "p.jsonl", [ours(prompt=prompt)])

    [question], _ = read_questions(path)

    assert question.prompt == [{k: m[k] for k in ("role", "content")} for m in prompt]


# --- Verdicts -----------------------------------------------------------------------------

TRICKY = [
    "<verdict>Correct</verdict>",
    "<verdict>Incorrect</verdict>",
    "<VERDICT>correct</VERDICT>",
    "< verdict >  InCorrect \n</ verdict>",
    "<verdict>\tcorrect\u2003</verdict>",  # an em space: Python's \s matches it, RE2's does not
    "<verdict>\vcorrect</verdict>",  # a vertical tab: likewise
    "<verd\u0131ct>correct</verdict>",  # dotless i: Python's case folding matches it
    "<verdict>\u0130ncorrect</verdict>",  # dotted capital I
    "no verdict at all",
    "<verdict>maybe</verdict>",
    "<verdict>Correct</verdict> then <verdict>Incorrect</verdict>",
    "<verdict>correct</verdict><verdict>CORRECT</verdict>",
    "<verdict>Correct</verdict",
    "<verdict>Correctly</verdict>",
    "verdict: correct",
    "",
]


def test_column_wise_verdicts_agree_with_parse_verdict():
    expected = [{True: 1, False: 0, None: -1}[parse_verdict(text)] for text in TRICKY]

    assert verdicts(pa.chunked_array([TRICKY[:5], TRICKY[5:]])).tolist() == expected
    assert verdicts(pa.array([None, "<verdict>correct</verdict>"])).tolist() == [-1, 1]


def test_the_re2_translation_covers_every_character_python_matches():
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert "".join(re.findall(r"\s", everything)) == PYTHON_SPACES
    for letter in sorted({c for c in VERDICT_PATTERN.lower() if c.isalpha()}):
        python = set(re.findall(letter, everything, re.IGNORECASE))
        assert python == set(letter + letter.upper() + PYTHON_CASE_EXTRAS.get(letter, ""))
    with pytest.raises(ValueError, match="cannot translate"):
        re2_pattern(r"[a-z]\d")


# --- Choosing a reflection ----------------------------------------------------------------


def many_questions(count: int = 30) -> list[dict]:
    """Questions of six attempts, each with three agreeing reflections and a disagreeing one."""
    rows = []
    for q in range(count):
        for a in range(6):
            correct = a % 2 == 0
            right, wrong = ("Correct", "Incorrect") if correct else ("Incorrect", "Correct")
            notes = [f"note {n} on {q}/{a} <verdict>{right}</verdict>" for n in range(3)]
            notes.insert(a % 4, f"wrong note on {q}/{a} <verdict>{wrong}</verdict>")
            rows.append(ours(f"q{q}", correct, notes, completion=f"attempt {q}/{a}"))
    return rows


def chosen_texts(questions) -> list[str | None]:
    return [
        None if a.reflection is None else q.texts.reflection_text(a.reflection)
        for q in questions
        for a in q.attempts
    ]


def test_only_agreeing_reflections_are_ever_chosen(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", many_questions())
    for seed in range(5):
        questions, _ = read_questions(path, seed=seed)
        for question in questions:
            for attempt in question.attempts:
                text = question.texts.reflection_text(attempt.reflection)
                assert parse_verdict(text) is attempt.correct


def test_the_same_seed_chooses_the_same_reflections_in_any_process(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", many_questions())
    here = chosen_texts(read_questions(path, seed=11)[0])
    script = (
        "import json, sys\n"
        "from skillfactory.trace_inputs import read_questions\n"
        "qs, _ = read_questions(sys.argv[1], seed=11)\n"
        "print(json.dumps([q.texts.reflection_text(a.reflection) for q in qs for a in q.attempts]))"
    )
    elsewhere = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )

    assert json.loads(elsewhere.stdout) == here
    assert chosen_texts(read_questions(path, seed=11)[0]) == here
    assert chosen_texts(read_questions(path, seed=12)[0]) != here


def test_every_agreeing_reflection_gets_its_turn(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", many_questions(2))
    picks = {chosen_texts(read_questions(path, seed=seed)[0])[0] for seed in range(40)}

    assert picks == {f"note {n} on 0/0 <verdict>Correct</verdict>" for n in range(3)}


def test_a_questions_choice_does_not_depend_on_the_rest_of_the_file(tmp_path):
    rows = many_questions(4)
    alone = write_jsonl(tmp_path / "alone.jsonl", [r for r in rows if r["question_id"] == "q3"])
    everything = write_jsonl(tmp_path / "all.jsonl", rows)

    assert chosen_texts(read_questions(alone)[0]) == chosen_texts(read_questions(everything)[0][3:])


# --- Malformed and adversarial input ------------------------------------------------------


def test_missing_columns_are_a_one_line_usage_error(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"question_id": "q", "completion": "c"}])

    with pytest.raises(UsageError) as caught:
        read_questions(path)

    message = str(caught.value)
    assert "\n" not in message
    assert "the skillfactory format lacks prompt, variant, extracted, correct, reflections" in (
        message
    )
    assert "the authors format lacks question, prompt_variant" in message


BAD_ROWS = {
    "null question id": ours(qid=None),
    "no prompt": ours(prompt=None),
    "empty prompt": ours(prompt=[]),
    "unknown role": ours(prompt=[{"role": "narrator", "content": "hi"}]),
    "message without content": ours(prompt=[{"role": "user"}]),
    "correctness as text": ours(correct="yes"),
    "correctness as a number": ours(correct=1),
    "null correctness": ours(correct=None),
    "completion as a list": ours(completion=["a"]),
    "null completion": ours(completion=None),
    "answer as a number": ours(extracted=42),
    "reflections as text": ours(reflections="<verdict>Correct</verdict>"),
    "null reflections": ours(reflections=None),
    "a reflection that is a number": ours(reflections=[7]),
    "missing variant": {k: v for k, v in ours().items() if k != "variant"},
}


def test_malformed_rows_are_counted_and_skipped(tmp_path):
    good = [ours("q1"), ours("q2", correct=False, reflections=[None, "<verdict>no</verdict>"])]
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [good[0], *BAD_ROWS.values(), good[1]])
    with path.open("a") as handle:
        handle.write('not json at all\n["a", "list"]\n{"question_id": "q3", "trun\n\n')

    questions, summary = read_questions(path)

    assert [q.id for q in questions] == ["q1", "q2"]
    assert summary.rows == 2 + len(BAD_ROWS) + 3
    assert summary.malformed_rows == len(BAD_ROWS) + 3
    assert (summary.attempts, summary.reflections, summary.reflections_without_verdict) == (2, 3, 2)


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_each_kind_of_malformed_row_is_skipped_on_its_own(name, tmp_path):
    path = write_jsonl(tmp_path / "one.jsonl", [ours("good"), BAD_ROWS[name]])

    questions, summary = read_questions(path)

    assert [q.id for q in questions] == ["good"]
    assert (summary.rows, summary.malformed_rows, summary.attempts) == (2, 1, 1)


STORABLE = ["null question id", "empty prompt", "unknown role", "null correctness"]
STORABLE += ["null completion", "null reflections", "no prompt"]


@pytest.mark.parametrize("name", STORABLE)
def test_a_saved_dataset_skips_the_same_rows(name, tmp_path):
    path = save_dataset(tmp_path / "saved", [ours("good"), BAD_ROWS[name]])

    questions, summary = read_questions(path)

    assert [q.id for q in questions] == ["good"]
    assert (summary.rows, summary.malformed_rows, summary.attempts) == (2, 1, 1)


def test_a_null_answer_and_no_reflections_are_fine(tmp_path):
    path = write_jsonl(tmp_path / "ok.jsonl", [ours(extracted=None, reflections=[])])

    [question], summary = read_questions(path)

    assert question.attempts[0].answer is None and question.attempts[0].reflection is None
    assert summary.malformed_rows == 0


AUTHORS_BAD = {
    "no attempt": {"model_responses__mutated_prompts": []},
    "null attempt": {"model_responses__mutated_prompts": [None]},
    "no correctness": {"model_responses__mutated_prompts__eval_is_correct": []},
    "correctness as text": {"model_responses__mutated_prompts__eval_is_correct": ["True"]},
    "no extracted answers": {"model_responses__mutated_prompts__eval_extracted_answers": None},
    "null question": {"question": None},
}


def test_authors_rows_with_empty_or_mistyped_lists_are_skipped(tmp_path):
    good = rows_of(AUTHORS)
    bad = [{**good[0], **change} for change in AUTHORS_BAD.values()]
    path = write_jsonl(tmp_path / "authors.jsonl", bad + good)

    questions, summary = read_questions(path)

    assert summary.malformed_rows == len(AUTHORS_BAD)
    assert shown(questions) == shown(read_questions(AUTHORS)[0])


@pytest.mark.parametrize("kind", ["jsonl", "saved"])
def test_nulls_and_empty_lists_are_counted_in_either_kind_of_file(kind, tmp_path):
    rows = rows_of(AUTHORS)
    rows[0] = {**rows[0], "model_responses__mutated_prompts": []}
    rows[1] = {**rows[1], "model_responses__mutated_prompts__eval_is_correct": [None]}
    rows[2] = {**rows[2], "prompt_variant": None}
    if kind == "saved":
        path = save_dataset(tmp_path / "saved", rows)
    else:
        path = write_jsonl(tmp_path / "a.jsonl", rows)

    _, summary = read_questions(path)

    assert (summary.rows, summary.malformed_rows, summary.attempts) == (9, 3, 6)


def test_a_saved_dataset_with_a_mistyped_column_skips_every_row(tmp_path):
    rows = [ours("q1", correct="true"), ours("q2", correct="false")]

    questions, summary = read_questions(save_dataset(tmp_path / "saved", rows))

    assert questions == [] and (summary.rows, summary.malformed_rows) == (2, 2)


def test_directories_that_are_not_one_saved_dataset_are_usage_errors(tmp_path):

    with pytest.raises(UsageError, match="not a saved datasets directory"):
        read_questions(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        read_questions(tmp_path / "nowhere")


def test_a_dataset_saved_with_one_split_is_read_as_it_is(tmp_path):
    """What a hub dataset saved with save_to_disk looks like: a DatasetDict of one split."""
    import datasets

    rows = rows_of(OURS)
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(
        str(tmp_path / "dict")
    )
    plain = save_dataset(tmp_path / "plain", rows)

    assert read_questions(tmp_path / "dict") == read_questions(plain)
    assert read_questions(tmp_path / "dict", split="train") == read_questions(plain)
    with pytest.raises(UsageError, match=r"has no split 'test'; its splits: train"):
        read_questions(tmp_path / "dict", split="test")
    with pytest.raises(UsageError, match=r"is a single dataset, not one saved with splits"):
        read_questions(plain, split="train")


def test_a_dataset_saved_with_several_splits_needs_split(tmp_path):
    import datasets

    rows = rows_of(OURS)
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows), "test": datasets.Dataset.from_list(rows[:1])}
    ).save_to_disk(str(tmp_path / "dict"))

    with pytest.raises(UsageError, match=r"holds the splits train, test; choose one with --split"):
        read_questions(tmp_path / "dict")
    whole, _ = read_questions(tmp_path / "dict", split="train")
    first, _ = read_questions(tmp_path / "dict", split="test")
    assert len(first) == 1 and len(whole) > len(first)


def test_an_empty_file_is_a_usage_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")

    with pytest.raises(UsageError, match="holds no rows to read"):
        read_questions(tmp_path / "empty.jsonl")


@pytest.mark.parametrize("kind", ["jsonl", "saved"])
def test_enormous_strings_are_read_and_judged(kind, tmp_path):
    size = 20_000_000
    rows = [
        ours("big", completion="x" * size, reflections=["y" * size + "<verdict>Correct</verdict>"]),
        ours("small"),
    ]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    if kind == "saved":
        path = save_dataset(tmp_path / "saved", rows)
    before = pa.total_allocated_bytes()

    questions, summary = read_questions(path)

    assert pa.total_allocated_bytes() - before < 4 * size
    big = questions[0]
    assert len(big.texts.attempt_text(0)) == size
    assert big.texts.reflection_text(big.attempts[0].reflection).endswith("</verdict>")
    assert summary.attempts_with_reflection == 2


# --- Text access --------------------------------------------------------------------------


def test_arrow_strings_reach_across_chunks_one_string_at_a_time():
    strings = ArrowStrings(pa.chunked_array([["a", "b"], [], ["c", None]], type=pa.string()))

    assert [strings[i] for i in range(len(strings))] == ["a", "b", "c", ""]
    with pytest.raises(IndexError):
        strings[4]


def test_the_example_rows_in_the_docs_read_as_documented(tmp_path):
    docs = (Path(__file__).parents[1] / "docs" / "compose-inputs.md").read_text()
    examples = re.findall(r"```json\n(.*?)\n```", docs, re.DOTALL)
    assert len(examples) == 2

    for number, example in enumerate(examples):
        path = tmp_path / f"example{number}.jsonl"
        path.write_text(example + "\n")
        [question], summary = read_questions(path)
        assert summary.malformed_rows == 0 and summary.attempts_with_reflection == 1
        assert question.texts.attempt_text(0).endswith("</answer>")


def test_a_saved_datasets_texts_are_read_from_the_file_by_byte_range(tmp_path):
    texts = ["plain", None, "ünïcödé ✓", "", "last"]
    saved = map_saved_dataset(save_dataset(tmp_path / "saved", [{"t": t} for t in texts]))

    strings = saved.strings(saved.table.column("t"))

    assert isinstance(strings, FileStrings)
    assert [strings[i] for i in range(len(strings))] == ["plain", "", "ünïcödé ✓", "", "last"]
    in_memory = pa.chunked_array([["not", "mapped"]])
    assert isinstance(saved.strings(in_memory), ArrowStrings)
