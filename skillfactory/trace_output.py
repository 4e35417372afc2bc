"""Writing composed traces: a saved ``datasets`` directory for training, and JSON Lines to read.

The dataset has one row per trace with chat ``messages`` (the question's prompt,
then the assistant's trace), which is the conversational format TRL's
``SFTTrainer`` takes as it is. Both outputs are written beside their final names
and moved into place at the end, so a failed run never leaves half a dataset.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from skillfactory.composer import Trace
from skillfactory.jsonl import dumps, output_stream

DATASET_DIR = "traces"
JSONL_FILE = "traces.jsonl"


def trace_features():  # -> datasets.Features, imported lazily
    """The dataset's columns; stated, so that an empty result still has them."""
    from datasets import Features, Value

    message = {"role": Value("string"), "content": Value("string")}
    return Features(
        {
            "question_id": Value("string"),
            "messages": [message],
            "format": Value("string"),
            "skills": [Value("string")],
            "attempts": Value("int32"),
            "reflections": Value("int32"),
        }
    )


def write_traces(traces: Sequence[Trace], output_dir: Path) -> tuple[Path, Path]:
    """Save ``traces`` under ``output_dir``; returns the dataset directory and the JSONL file."""
    from datasets import Dataset

    output_dir.mkdir(parents=True, exist_ok=True)
    rows = [trace.to_json() for trace in traces]
    features = trace_features()
    columns = {name: [row[name] for row in rows] for name in features}
    dataset = Dataset.from_dict(columns, features=features)
    final = output_dir / DATASET_DIR
    staging = output_dir / f".{DATASET_DIR}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    save_quietly(dataset, staging)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    jsonl = output_dir / JSONL_FILE
    with output_stream(jsonl) as stream:
        for row in rows:
            stream.write(dumps(row) + "\n")
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
