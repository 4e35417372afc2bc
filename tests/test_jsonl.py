"""JSON Lines reading and writing hold up under any text, as model output may contain."""

from __future__ import annotations

import json
import re

from hypothesis import assume, given
from hypothesis import strategies as st

from skillfactory.jsonl import dumps, read_rows

ANY_TEXT = st.lists(
    st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=40
).map("".join)
"""Any code points, lone surrogates included (hypothesis leaves those out by default)."""

PAIRED = re.compile("[\ud800-\udbff][\udc00-\udfff]")


@given(ANY_TEXT, ANY_TEXT)
def test_any_text_is_written_as_one_utf8_line_that_reads_back_the_same(key, text):
    # A high surrogate right before a low one reads back as the one character the pair
    # encodes: JSON's escapes cannot tell them apart.
    assume(not PAIRED.search(key + text))
    row = {key: text, "n": 1}

    line = dumps(row)

    assert "\n" not in line and "\r" not in line
    encoded = line.encode("utf-8")  # never raises: lone surrogates are escaped
    assert json.loads(line) == row
    assert list(read_rows([encoded])) == [(1, row, None)]
    assert list(read_rows([line])) == [(1, row, None)]


@given(st.lists(st.binary(max_size=60).filter(lambda b: b"\n" not in b), max_size=6))
def test_any_bytes_give_a_row_or_a_reason_for_each_line_never_an_error(raw_lines):
    results = list(read_rows(raw_lines))

    assert all((row is None) != (why is None) for _, row, why in results)
    assert [number for number, _, _ in results] == sorted({n for n, _, _ in results})


def test_a_byte_order_mark_and_crlf_line_ends_are_ignored():
    rows = list(read_rows(['\ufeff{"a": 1}\r\n', '{"b": 2}\r\n']))

    assert rows == [(1, {"a": 1}, None), (2, {"b": 2}, None)]
