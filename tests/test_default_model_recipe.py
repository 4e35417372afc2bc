"""What the default model's recipe promises: tags as single tokens, a corpus without the trace
format, and a measurement with the arithmetic probe and the self-check."""

from __future__ import annotations

import re

import pytest

from skillfactory.models.build import RECIPE
from skillfactory.models.corpus import FORBIDDEN_MARKERS, build_corpus, default_writers
from skillfactory.models.tokenizer import TAGS, as_transformers_tokenizer, train_tokenizer
from skillfactory.prompts import reflection_prompt

pytest.importorskip("transformers")

COUNTS = {"countdown": 60, "letter_countdown": 20, "acronym": 20, "long_multiplication": 20}
_REFLECTION_OPENING = reflection_prompt("Q", "R")[0]["content"].split("\n\n")[0]


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(default_writers(), COUNTS, seed=3, judge_share=0.6, drills=40)[0]


def test_every_trace_tag_is_one_token_that_decodes_to_itself(corpus):
    texts = [m["content"] for c in corpus[:300] for m in c]
    tokenizer = as_transformers_tokenizer(train_tokenizer(texts, vocab_size=600))
    assert set(TAGS) >= {"<think>", "</think>", "<sample>", "</sample>", "<reflect>"}
    for tag in TAGS:
        ids = tokenizer(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, (tag, ids)
        assert tokenizer.decode(ids, skip_special_tokens=True) == tag
    trace = "<think>\n<sample>3 + 4 = 7</sample>\n<reflect><verdict>Correct</verdict></reflect>"
    ids = tokenizer(trace, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == trace
    pieces = {tokenizer.decode([i]) for i in ids}
    assert {"<think>", "<sample>", "</sample>", "<reflect>", "</reflect>"} <= pieces


def test_the_corpus_never_holds_what_skillfactory_teaches(corpus):
    """No trace tags, no reply with two answers, no check that corrects the attempt."""
    judged = 0
    for conversation in corpus:
        reply = conversation[-1]["content"]
        for message in conversation:
            assert not any(marker in message["content"] for marker in FORBIDDEN_MARKERS)
        assert reply.count("<answer>") <= 1, reply
        if conversation[0]["content"].startswith(_REFLECTION_OPENING):
            judged += 1
            assert "<answer>" not in reply, reply
            assert len(re.findall(r"<verdict>", reply)) == 1, reply
        else:
            assert "<verdict>" not in reply, reply
    assert judged > 20


def test_the_recipe_is_a_whole_number_that_names_the_cache_entry():
    from skillfactory.models.build import default_model_dir

    assert isinstance(RECIPE, int) and RECIPE >= 3
    assert default_model_dir().name == f"default-r{RECIPE}"
