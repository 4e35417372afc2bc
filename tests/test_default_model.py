"""The default model's recipe, run for real at micro size: corpus, tokenizer, model, card, CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from skillfactory.cli import cli
from skillfactory.errors import UsageError
from skillfactory.models import build, worked_countdown
from skillfactory.models.abilities import held_out_ids, held_out_problems
from skillfactory.models.chat_template import TURN_END
from skillfactory.models.corpus import FORBIDDEN_MARKERS, build_corpus, default_writers
from skillfactory.models.resolve import check_causal_lm_dir, resolve_model
from skillfactory.models.shipped import SHIPPED_FILES
from skillfactory.models.tokenizer import train_tokenizer
from skillfactory.prompts import reflection_prompt
from skillfactory.registry import get_registry

pytest.importorskip("transformers")

GENERATED_TASKS = {"countdown": 3, "letter_countdown": 4, "acronym": 4, "long_multiplication": 2}
DATA = Path(__file__).parent / "data"
COUNTS = {"countdown": 60, "letter_countdown": 20, "acronym": 20, "long_multiplication": 20}


@pytest.fixture(scope="module")
def micro(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, build.BuildReport]:
    directory = tmp_path_factory.mktemp("models") / "micro"
    report = build.build_model(directory, seed=0, size="micro")
    return directory, report


def _corpus(seed: int):
    return build_corpus(default_writers(), COUNTS, seed=seed)


def test_a_build_is_a_standard_directory_the_auto_classes_load(micro):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, report = micro
    assert sorted(p.name for p in directory.iterdir()) == sorted(SHIPPED_FILES)
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) == report.training["parameters"]
    assert model.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids(TURN_END)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2 multiplied by 3?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    output = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert output.shape[1] > prompt["input_ids"].shape[1]


def test_the_card_states_the_recipe_and_the_measured_abilities(micro):
    directory, report = micro
    card = (directory / "README.md").read_text()
    saved = json.loads((directory / "build.json").read_text())
    assert saved["recipe"] == build.RECIPE and saved["seed"] == 0
    assert f"{report.training['parameters']:,} parameters" in card
    assert "| countdown, numbers 1-20 | 3 |" in card and "| countdown, numbers 1-100 | 3 |" in card
    assert "arithmetic probe" in card and "self-check balanced accuracy" in card
    assert "skillfactory model build --size micro --seed 0" in card
    cells = {
        (c["task"], c["difficulty"], c["options"].get("max_number", 100))
        for c in saved["abilities"]["cells"]
    }
    assert cells == {("countdown", d, 20) for d in (3, 4, 5, 6)} | {
        ("countdown", 3, 100),
        ("countdown", 4, 100),
        ("letter_countdown", 4, 100),
        ("acronym", 4, 100),
        ("long_multiplication", 2, 100),
    }
    check = saved["abilities"]["self_check"]
    assert check["right"] + check["wrong"] == 2 * build.SIZES["micro"].measure_problems
    assert saved["abilities"]["arithmetic"]["accuracy"] >= 0
    assert saved["task_options"] == {"countdown": {"max_number": 20}}
    met = {row["ability"]: row["met"] for row in saved["abilities"]["checks"]}
    assert "Countdown-3 accuracy (the default run's range)" in met


def test_the_tokenizer_round_trips_every_task_prompt(micro, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro[0])
    registry = get_registry()
    problems = []
    for name, difficulty in GENERATED_TASKS.items():
        task = registry.get("task", name).create()
        problems += [(task, p) for p in task.generate(5, difficulty=difficulty, seed=3)]
    for name in ("gsm8k", "csqa"):
        sample = DATA / f"{name}_sample.jsonl"
        task = registry.get("task", name).create(path=str(sample), cache_dir=str(tmp_path))
        problems += [(task, p) for p in task.generate(3, difficulty=1, seed=0)]
    texts = ["Ünïcode — 🧮 stays intact\ttabs  and  spaces\n"]
    for task, problem in problems:
        for variant in task.variants:
            texts += [message["content"] for message in task.prompt(problem, variant)]
        texts.append(reflection_prompt(problem.question, "<answer>42</answer>")[0]["content"])
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_numbers_and_lone_letters_are_never_merged_with_their_neighbours(micro):
    """A number or a single letter is one piece of its own, so the model can copy it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro[0])
    for text in ("Make 47 from 3, 52 and 8.", "Step 1: 10 - 4 = 6\n<answer>(10 - 4) * 3</answer>"):
        pieces = [tokenizer.decode([i]) for i in tokenizer(text)["input_ids"]]
        for piece in pieces:
            assert not (re.search(r"\d", piece) and not piece.isdigit()), pieces
    letters = [tokenizer.decode([i]) for i in tokenizer("a e r p")["input_ids"]]
    assert [piece for piece in letters if piece.strip()] == ["a", "e", "r", "p"]


def test_the_chat_template_marks_exactly_the_assistant_reply(micro):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro[0])
    reply = "3 + 4 = 7\n<answer>3 + 4</answer>"
    encoded = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Make 7 from 3, 4."},
            {"role": "assistant", "content": reply},
        ],
        return_assistant_tokens_mask=True,
        return_dict=True,
    )
    marked = [t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(marked) == reply + TURN_END
    assert "{% generation %}" in tokenizer.chat_template


def test_the_corpus_never_shows_the_multi_attempt_format():
    conversations, stats = _corpus(seed=0)
    assert stats.conversations == len(conversations) > 100
    assert set(stats.solve) == set(GENERATED_TASKS)
    assert sum(stats.judge_correct.values()) > 0 and sum(stats.judge_incorrect.values()) > 0
    for conversation in conversations:
        for message in conversation:
            assert not any(marker in message["content"] for marker in FORBIDDEN_MARKERS)
        assert conversation[-1]["role"] == "assistant"


def test_the_corpus_leaves_out_every_held_out_problem():
    held_out = held_out_ids({"countdown"})
    task = get_registry().get("task", "countdown").create()
    # Draw the measurement's own seed, so that the held-out problems really come up.
    conversations, _ = build_corpus(
        [w for w in default_writers() if w.task == "countdown"],
        {"countdown": 60},
        seed=1_000_003,
        held_out=held_out,
    )
    texts = "\n".join(m["content"] for c in conversations for m in c)
    leaked = [
        p
        for d in (3, 4)
        for options in ({}, worked_countdown.OPTIONS)
        for p in held_out_problems("countdown", d, 400, options)
        if p.question in texts
    ]
    assert not leaked
    assert held_out_problems("countdown", 3, 5) == task.generate(5, difficulty=3, seed=1_000_003)


def test_corpus_and_tokenizer_are_deterministic_for_a_seed():
    first, _ = _corpus(seed=7)
    again, _ = _corpus(seed=7)
    other, _ = _corpus(seed=8)
    assert first == again and first != other
    texts = [m["content"] for c in first[:200] for m in c]
    assert (
        train_tokenizer(texts, vocab_size=500).to_str()
        == train_tokenizer(texts, vocab_size=500).to_str()
    )


def test_a_micro_build_is_reproducible(micro, tmp_path):
    from safetensors.torch import load_file

    again = tmp_path / "again"
    build.build_model(again, seed=0, size="micro", measure=False)
    first = load_file(micro[0] / "model.safetensors")
    second = load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)
    assert (micro[0] / "tokenizer.json").read_text() == (again / "tokenizer.json").read_text()


def test_a_stale_recipe_is_not_a_finished_build(micro, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(micro[0], copy)
    assert build.is_built(copy)
    report = json.loads((copy / "build.json").read_text())
    (copy / "build.json").write_text(json.dumps({**report, "recipe": build.RECIPE - 1}))
    assert not build.is_built(copy)


def test_model_paths_that_are_not_causal_lms_are_usage_errors(tmp_path, fake_hub):
    with pytest.raises(UsageError, match="no such directory"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match=r"no config\.json"):
        check_causal_lm_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(UsageError, match="not a causal language model"):
        check_causal_lm_dir(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(UsageError, match="unreadable"):
        check_causal_lm_dir(tmp_path)
    assert resolve_model("Qwen/Qwen2.5-1.5B-Instruct") == "Qwen/Qwen2.5-1.5B-Instruct"


@pytest.mark.parametrize(
    "arguments",
    [
        ["model", "measure", "--model", "/no/such/model"],
        ["model", "measure", "--model", "./not-here"],
        ["model", "build", "--size", "huge"],
        ["model", "fetch", "llama-70b"],
        ["model", "import-gguf", "/no/such/file.gguf"],
    ],
)
def test_bad_model_arguments_exit_2_with_one_line(arguments):
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_the_cli_builds_and_measures_a_micro_model(tmp_path, micro):
    output = tmp_path / "cli-micro"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["model", "build", "--size", "micro", "--output", str(output), "--no-measure"]
    )
    assert result.exit_code == 0, result.output
    assert build.is_built(output) and "built" in result.output
    assert f"use it with --model {output}" in result.output
    again = runner.invoke(cli, ["model", "build", "--size", "micro", "--output", str(output)])
    assert again.exit_code == 0 and "already holds a finished build" in again.output
    measured = runner.invoke(
        cli, ["model", "measure", "--model", str(micro[0]), "--problems", "2", "--json"]
    )
    assert measured.exit_code == 0, measured.output
    figures = json.loads(measured.output[measured.output.index("{") :])
    assert {c["problems"] for c in figures["cells"]} == {2}
    assert 0.0 <= figures["format_rate"] <= 1.0


def test_a_build_never_replaces_a_directory_it_did_not_make(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(
        cli, ["model", "build", "--size", "micro", "--output", str(precious), "--force"]
    )
    assert result.exit_code == 2 and "holds no earlier build" in result.output
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_drills_first_phase_is_trained_before_the_corpus(tmp_path, monkeypatch):
    from dataclasses import replace

    sizes = dict(build.SIZES)
    sizes["micro"] = replace(build.SIZES["micro"], drills_first=16, drills_first_batch_size=8)
    monkeypatch.setattr(build, "SIZES", sizes)
    report = build.build_model(tmp_path / "m", seed=0, size="micro", measure=False)
    first, corpus = report.training["phases"]
    assert (first["examples"], first["batch_size"], first["steps"]) == (16, 8, 2)
    assert report.training["steps"] == first["steps"] + corpus["steps"]
    assert report.training["examples"] == first["examples"] + corpus["examples"]
    card = (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    assert "first 16 drill conversations alone in batches of 8" in card
