"""Traces written with pyarrow alone read back through ``datasets`` as if it had saved them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset, load_from_disk
from test_traces_for_sft import arithmetic_question

from skillfactory.composer import compose
from skillfactory.plugins.retry import Retry
from skillfactory.plugins.verify import Verify
from skillfactory.saved_dataset import BATCH_ROWS
from skillfactory.trace_output import save_quietly, trace_features, write_traces


@pytest.mark.parametrize("questions", [0, 6, 700])
def test_written_traces_load_exactly_as_datasets_would_save_them(tmp_path: Path, questions: int):
    traces, _ = compose(
        [arithmetic_question(n) for n in range(questions)],
        [Verify(), Retry()],
        seed=0,
        all_lengths=True,
    )
    if questions == 700:
        assert len(traces) > BATCH_ROWS, "the rows span several record batches"
    ours, _ = write_traces(traces, tmp_path / "ours")
    rows = [trace.to_json() for trace in traces]
    columns = {name: [row[name] for row in rows] for name in trace_features()}
    save_quietly(Dataset.from_dict(columns, features=trace_features()), tmp_path / "theirs")

    loaded, expected = load_from_disk(str(ours)), load_from_disk(str(tmp_path / "theirs"))
    assert loaded.features == expected.features == trace_features()
    assert loaded.to_list() == expected.to_list() == rows
    for name in ("dataset_info.json", "state.json"):
        mine = json.loads((ours / name).read_text())
        saved = json.loads((tmp_path / "theirs" / name).read_text())
        mine.pop("_fingerprint", None), saved.pop("_fingerprint", None)
        assert mine == saved, name


def test_equal_traces_give_an_equal_directory(tmp_path: Path):
    traces, _ = compose([arithmetic_question(n) for n in range(4)], [Verify(), Retry()], seed=0)
    first, _ = write_traces(traces, tmp_path / "first")
    second, _ = write_traces(traces, tmp_path / "second")
    for name in ("data-00000-of-00001.arrow", "dataset_info.json", "state.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
