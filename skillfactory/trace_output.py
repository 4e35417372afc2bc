"""Writing composed traces: a saved ``datasets`` directory for training, and JSON Lines to read.

The dataset has one row per trace with chat ``messages`` (the question's prompt,
then the assistant's trace), which is the conversational format TRL's
``SFTTrainer`` takes as it is. Both outputs are written beside their final names
and moved into place at the end, so a failed run never leaves half a dataset.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillfactory.composer import Trace
from skillfactory.jsonl import dumps, output_stream
from skillfactory.saved_dataset import (
    BATCH_CHARACTERS,
    BATCH_ROWS,
    int32_array,
    list_array,
    save_table,
    string_array,
)

if TYPE_CHECKING:
    import pyarrow as pa

DATASET_DIR = "traces"
JSONL_FILE = "traces.jsonl"


def _value(dtype: str) -> dict[str, str]:
    return {"dtype": dtype, "_type": "Value"}


TRACE_FEATURES: dict[str, Any] = {
    "question_id": _value("string"),
    "messages": {
        "feature": {"role": _value("string"), "content": _value("string")},
        "_type": "List",
    },
    "format": _value("string"),
    "skills": {"feature": _value("string"), "_type": "List"},
    "attempts": _value("int32"),
    "reflections": _value("int32"),
}
"""The dataset's columns in ``datasets``' dictionary form; stated, so an empty result has them."""


def trace_schema() -> pa.Schema:
    """The Arrow schema of :data:`TRACE_FEATURES`."""
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema(
        [
            ("question_id", pa.string()),
            ("messages", pa.list_(message)),
            ("format", pa.string()),
            ("skills", pa.list_(pa.string())),
            ("attempts", pa.int32()),
            ("reflections", pa.int32()),
        ]
    )


def trace_table(traces: Sequence[Trace]) -> pa.Table:
    """The traces as an Arrow table of :func:`trace_schema`, in record batches."""
    import pyarrow as pa

    schema = trace_schema()
    return pa.Table.from_batches([_batch(part, schema) for part in _parts(traces)], schema=schema)


def _parts(traces: Sequence[Trace]) -> Iterator[Sequence[Trace]]:
    """Runs of at most ``BATCH_ROWS`` traces and about ``BATCH_CHARACTERS`` of text."""
    start, held = 0, 0
    for end, trace in enumerate(traces):
        size = sum(len(message["content"]) for message in trace.messages)
        if end > start and (end - start == BATCH_ROWS or held + size > BATCH_CHARACTERS):
            yield traces[start:end]
            start, held = end, 0
        held += size
    if start < len(traces):
        yield traces[start:]


def _batch(traces: Sequence[Trace], schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    messages = [message for trace in traces for message in trace.messages]
    message_array = pa.StructArray.from_arrays(
        [
            string_array([message["role"] for message in messages]),
            string_array([message["content"] for message in messages]),
        ],
        names=["role", "content"],
    )
    columns = [
        string_array([trace.question_id for trace in traces]),
        list_array([len(trace.messages) for trace in traces], message_array),
        string_array([trace.format for trace in traces]),
        list_array(
            [len(trace.skills) for trace in traces],
            string_array([skill for trace in traces for skill in trace.skills]),
        ),
        int32_array([trace.attempts for trace in traces]),
        int32_array([trace.reflections for trace in traces]),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def trace_features():  # -> datasets.Features, imported lazily
    """:data:`TRACE_FEATURES` as ``datasets.Features``, for code that builds a ``Dataset``."""
    from datasets import Features

    return Features.from_dict(TRACE_FEATURES)


def write_traces(traces: Sequence[Trace], output_dir: Path) -> tuple[Path, Path]:
    """Save ``traces`` under ``output_dir``; returns the dataset directory and the JSONL file.

    The dataset is written with pyarrow (:mod:`skillfactory.saved_dataset`), without
    importing ``datasets``; its fingerprint is the JSONL's digest, so equal traces
    give an equal directory.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = [dumps(trace.to_json()) + "\n" for trace in traces]
    table = trace_table(traces)
    digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()[:16]
    final = output_dir / DATASET_DIR
    staging = output_dir / f".{DATASET_DIR}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    save_table(table, TRACE_FEATURES, staging, fingerprint=digest)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    jsonl = output_dir / JSONL_FILE
    with output_stream(jsonl) as stream:
        stream.writelines(lines)
    return final, jsonl


def save_quietly(dataset, path: Path) -> None:  # dataset: datasets.Dataset
    """Save without the library's progress bar: the callers report their own progress.

    An empty dataset is saved as one empty shard: saved with none, ``load_from_disk``
    cannot read it back (datasets 5.2 raises IndexError).
    """
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        dataset.save_to_disk(str(path), num_shards=None if len(dataset) else 1)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
