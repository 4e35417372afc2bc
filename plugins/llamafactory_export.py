"""The ``llamafactory`` exporter: a run's traces as a LLaMA-Factory SFT dataset, ready to train.

It writes three files into the output directory:

- ``<dataset_name>.json``: the traces in LLaMA-Factory's ShareGPT format, one record per
  trace: ``{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value":
  ...}], "system": ...}``. ``system`` is there only when the trace starts with a system
  message; user turns become ``human``, assistant turns ``gpt``.
- ``dataset_info.json``: the entry that tells LLaMA-Factory how to read that file
  (``formatting: sharegpt``, the column and tag names). An existing ``dataset_info.json``
  in the directory keeps its other entries, so the output may be LLaMA-Factory's own
  ``data`` directory.
- ``sft_skillfactory.yaml``: an example ``llamafactory-cli train`` config with the paper's
  SFT settings (§5): full fine-tuning, learning rate 1e-6 with a cosine schedule, 2
  epochs, a 4,096-token context, batch size 1, bf16.

The file layout follows LLaMA-Factory's ``data/README.md`` (v0.9.x); see docs/exports.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillfactory import Trainer, UsageError, hookimpl

if TYPE_CHECKING:
    from datasets import Dataset

DATASET_INFO = "dataset_info.json"
CONFIG_FILE = "sft_skillfactory.yaml"
ROLE_TAGS = {"user": "human", "assistant": "gpt"}
"""Chat roles to ShareGPT's ``from`` values (LLaMA-Factory's default user and assistant tags)."""

_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")

PAPER_SFT = {
    "learning_rate": 1.0e-6,
    "lr_scheduler_type": "cosine",
    "num_train_epochs": 2.0,
    "cutoff_len": 4096,
    "per_device_train_batch_size": 1,
}
"""The paper's SFT settings (§5), as LLaMA-Factory option names."""


class LlamaFactoryExport(Trainer):
    """Writes traces as a ShareGPT dataset, its ``dataset_info.json`` entry and an SFT config.

    Options: ``dataset_name`` (the dataset's name in ``dataset_info.json`` and the stem of
    its file, default ``skillfactory_traces``) and ``template`` (LLaMA-Factory's chat
    template for the model, default ``qwen``, right for Qwen2.5 instruct models).
    """

    name = "llamafactory"
    description = "Export traces as a LLaMA-Factory ShareGPT dataset with an SFT config."
    produces = "files"
    data = "traces"

    def __init__(self, *, dataset_name: str = "skillfactory_traces", template: str = "qwen"):
        if not isinstance(dataset_name, str) or not _DATASET_NAME.fullmatch(dataset_name):
            raise UsageError(
                f"llamafactory: dataset_name must be letters, digits, '_', '.' or '-', "
                f"got {dataset_name!r}"
            )
        if not isinstance(template, str) or not template.strip():
            raise UsageError(f"llamafactory: template must be a template name, got {template!r}")
        self.dataset_name = dataset_name
        self.template = template.strip()

    @property
    def file_name(self) -> str:
        return f"{self.dataset_name}.json"

    def train(self, model: str, dataset: Dataset, output_dir: Path) -> Path:
        if len(dataset) == 0:
            raise UsageError("llamafactory: there are no traces to export; the dataset is empty")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        has_system = _write_records(_records(dataset), output_dir / self.file_name)
        self._write_dataset_info(output_dir, has_system)
        _write_text(output_dir / CONFIG_FILE, self.config_text(model, output_dir))
        return output_dir

    def dataset_info_entry(self, has_system: bool) -> dict[str, Any]:
        """The ``dataset_info.json`` entry for the exported file.

        The ``system`` column is named only when some record has one: LLaMA-Factory looks
        a named column up in every row and fails when no record carries it.
        """
        columns = {"messages": "conversations"}
        if has_system:
            columns["system"] = "system"
        return {
            "file_name": self.file_name,
            "formatting": "sharegpt",
            "columns": columns,
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": ROLE_TAGS["user"],
                "assistant_tag": ROLE_TAGS["assistant"],
            },
        }

    def _write_dataset_info(self, output_dir: Path, has_system: bool) -> None:
        path = output_dir / DATASET_INFO
        info: dict[str, Any] = {}
        if path.exists():
            try:
                info = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise UsageError(
                    f"llamafactory: cannot add to {str(path)!r}, which is not readable JSON "
                    f"({type(error).__name__}); move it away or choose another --output"
                ) from None
            if not isinstance(info, dict):
                raise UsageError(
                    f"llamafactory: cannot add to {str(path)!r}: it is not a JSON object"
                )
        info[self.dataset_name] = self.dataset_info_entry(has_system)
        _write_text(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")

    def config_text(self, model: str, output_dir: Path) -> str:
        """The example ``llamafactory-cli train`` config, with comments."""
        dataset_dir = str(Path(output_dir).resolve())
        save_dir = f"saves/{self.dataset_name}/full/sft"
        settings = PAPER_SFT
        return f"""\
# LLaMA-Factory SFT on SkillFactory traces, with the paper's settings (§5).
# Run: llamafactory-cli train {CONFIG_FILE}
# dataset_dir is where this export was written; if you move the files, or copy the dataset
# and its dataset_info.json entry into LLaMA-Factory's data/ directory, change it.

### model
model_name_or_path: {_yaml_string(model)}
trust_remote_code: false

### method
stage: sft
do_train: true
finetuning_type: full
# deepspeed: examples/deepspeed/ds_z3_config.json  # LLaMA-Factory's; for 7B models

### dataset
dataset: {_yaml_string(self.dataset_name)}
dataset_dir: {_yaml_string(dataset_dir)}
template: {_yaml_string(self.template)}
cutoff_len: {settings["cutoff_len"]}
overwrite_cache: true
preprocessing_num_workers: 16

### output
output_dir: {_yaml_string(save_dir)}
logging_steps: 10
save_strategy: epoch
plot_loss: true
overwrite_output_dir: true
report_to: none

### train
per_device_train_batch_size: {settings["per_device_train_batch_size"]}
gradient_accumulation_steps: 1
learning_rate: {settings["learning_rate"]:.1e}
num_train_epochs: {settings["num_train_epochs"]:.1f}
lr_scheduler_type: {settings["lr_scheduler_type"]}
warmup_ratio: 0.05  # the authors' example config; the paper states none
bf16: true
ddp_timeout: 180000000
"""


def _records(dataset: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    """Each trace as a ShareGPT record; a trace that is not user/assistant turns is refused."""
    for number, row in enumerate(dataset):
        messages = list(row.get("messages") or [])
        label = row.get("question_id") or f"row {number}"
        system = None
        if messages and messages[0].get("role") == "system":
            system = messages[0].get("content") or ""
            messages = messages[1:]
        turns = []
        for index, message in enumerate(messages):
            role = message.get("role")
            expected = "user" if index % 2 == 0 else "assistant"
            if role != expected:
                raise UsageError(
                    f"llamafactory: trace {label!r} has a {role!r} message where a "
                    f"{expected!r} one belongs; ShareGPT needs user and assistant turns in turn"
                )
            turns.append({"from": ROLE_TAGS[role], "value": message.get("content") or ""})
        if not turns or len(turns) % 2:
            raise UsageError(
                f"llamafactory: trace {label!r} must end with an assistant turn, "
                f"it has {len(turns)} user and assistant messages"
            )
        yield (
            {"conversations": turns}
            if system is None
            else {"conversations": turns, "system": system}
        )


def _write_records(records: Iterable[dict[str, Any]], path: Path) -> bool:
    """Write a JSON list, one record per line; returns whether any record has a system prompt."""
    from skillfactory.atomic import atomic_text

    has_system = False
    with atomic_text(path) as handle:
        handle.write("[")
        for index, record in enumerate(records):
            has_system = has_system or "system" in record
            handle.write(",\n" if index else "\n")
            handle.write(json.dumps(record, ensure_ascii=False))
        handle.write("\n]\n")
    return has_system


def _write_text(path: Path, text: str) -> None:
    from skillfactory.atomic import write_atomically

    write_atomically(path, text)


def _yaml_string(text: str) -> str:
    """A YAML scalar that reads back as exactly ``text`` (JSON strings are valid YAML)."""
    return json.dumps(str(text), ensure_ascii=False)


@hookimpl
def register_trainers(register):
    register(LlamaFactoryExport)
