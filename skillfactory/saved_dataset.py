"""Write a saved ``datasets`` directory with pyarrow alone, for outputs the CLI makes in seconds.

``Dataset.save_to_disk`` leaves three files: the rows as an Arrow IPC stream
(``data-00000-of-00001.arrow``, the features in its schema metadata),
``dataset_info.json`` and ``state.json``. Importing ``datasets`` takes about a
second, which at paper scale was a third of ``skillfactory compose``. This
writes the same three files, so ``datasets.load_from_disk`` (and TRL after it)
reads them like any saved dataset; :func:`skillfactory.arrow_texts.map_saved_dataset`
reads the same layout back without ``datasets`` too. A test checks the
round trip against ``datasets`` itself.

The array builders below make Arrow arrays straight from buffers: ``pa.array`` and
``pa.Table.from_pydict`` import pandas on first use (a quarter of a second) and
convert more slowly than joining the encoded strings does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

DATA_FILE = "data-00000-of-00001.arrow"
"""The one shard's name, as ``save_to_disk`` names a dataset of a single shard."""

BATCH_ROWS = 1000
"""Rows per record batch, ``datasets``' own default writer batch size."""

BATCH_CHARACTERS = 2**28
"""Text per record batch at most (about), so a batch's string offsets stay within 32 bits."""

_INT32_MAX = 2**31 - 1


def string_array(values: Sequence[str]) -> pa.Array:
    """A ``string`` array of ``values`` (at most 2 GiB of UTF-8 in all)."""
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    if offsets[-1] > _INT32_MAX:
        raise ValueError(f"{offsets[-1]} bytes of text are too many for one string array")
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def int32_array(values: Sequence[int]) -> pa.Array:
    """An ``int32`` array of ``values``."""
    data = np.asarray(values, dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), len(data), [None, pa.py_buffer(data)])


def list_array(lengths: Sequence[int], values: pa.Array) -> pa.Array:
    """A list array whose rows take ``lengths`` items each, in order, from ``values``."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(np.asarray(lengths, dtype=np.int32), out=offsets[1:])
    starts = pa.Array.from_buffers(pa.int32(), len(offsets), [None, pa.py_buffer(offsets)])
    return pa.ListArray.from_arrays(starts, values)


def save_table(
    table: pa.Table, features: Mapping[str, Any], directory: Path, *, fingerprint: str
) -> None:
    """Write ``table`` as a saved dataset in the new directory ``directory``.

    ``features`` is the ``datasets`` features' dictionary form (``Features.to_dict()``),
    and must describe ``table``'s schema; ``fingerprint`` names this content (equal
    rows, equal fingerprint), as ``datasets`` records it in ``state.json``.
    """
    directory.mkdir(parents=True)
    metadata = {"huggingface": json.dumps({"info": {"features": features}})}
    schema = table.schema.with_metadata(metadata)
    with (
        pa.OSFile(str(directory / DATA_FILE), "wb") as sink,
        pa.ipc.new_stream(sink, schema) as writer,
    ):
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            writer.write_batch(batch)
    info = {"citation": "", "description": "", "features": features, "homepage": "", "license": ""}
    (directory / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    state = {
        "_data_files": [{"filename": DATA_FILE}],
        "_fingerprint": fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    (directory / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
