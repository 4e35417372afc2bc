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
  epochs, a 4,096-token context (less for a model with fewer positions), batch size 1.
  The chat template is the one the model speaks, bf16 is an option (the paper's GPU
  setting), and the preprocessing workers are this machine's CPUs.

The files are written for LLaMA-Factory 0.9.5 (with transformers 5), the release they were
checked against; see docs/exports.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillfactory import Trainer, UsageError, hookimpl

if TYPE_CHECKING:
    from datasets import Dataset

    from skillfactory.export_command import ModelFacts

DATASET_INFO = "dataset_info.json"
CONFIG_FILE = "sft_skillfactory.yaml"
ROLE_TAGS = {"user": "human", "assistant": "gpt"}
"""Chat roles to ShareGPT's ``from`` values (LLaMA-Factory's default user and assistant tags)."""

_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")

LLAMAFACTORY_VERSION = "0.9.5"
"""The LLaMA-Factory release the exported files were checked against (it installs transformers
5, which reads a ``warmup_steps`` below 1 as a share of the steps)."""

PAPER_SFT = {
    "learning_rate": 1.0e-6,
    "lr_scheduler_type": "cosine",
    "num_train_epochs": 2.0,
    "cutoff_len": 4096,
    "per_device_train_batch_size": 1,
}
"""The paper's SFT settings (§5), as LLaMA-Factory option names."""

WARMUP_SHARE = 0.05
"""The authors' example config warms up over 5% of the steps; the paper states none."""

MAX_WORKERS = 16
"""Preprocessing processes at most: LLaMA-Factory's examples use 16, and more rarely help."""

CHATML_MARK = "<|im_start|>"
"""What every ChatML chat template writes before a turn."""

_QWEN2_TEXT = re.compile(r"qwen2(\.5)?(?!\d)(?!.*(vl|audio|omni))")
"""Qwen2 and Qwen2.5 text models (model type ``qwen2``): LLaMA-Factory's ``qwen`` template."""


class LlamaFactoryExport(Trainer):
    """Writes traces as a ShareGPT dataset, its ``dataset_info.json`` entry and an SFT config.

    Options: ``dataset_name`` (the dataset's name in ``dataset_info.json`` and the stem of
    its file, default ``skillfactory_traces``), ``template`` (LLaMA-Factory's chat template
    for the model; default: the one the model speaks, see :func:`chat_template_name`),
    ``bf16`` (train in bfloat16, the paper's GPU setting; default false, which any machine
    runs) and ``engine_version`` (the LLaMA-Factory release to write for; only 0.9.5).
    """

    name = "llamafactory"
    description = "Export traces as a LLaMA-Factory ShareGPT dataset with an SFT config."
    produces = "files"
    data = "traces"

    def __init__(
        self,
        *,
        dataset_name: str = "skillfactory_traces",
        template: str | None = None,
        bf16: bool = False,
        engine_version: str = LLAMAFACTORY_VERSION,
    ) -> None:
        if not isinstance(dataset_name, str) or not _DATASET_NAME.fullmatch(dataset_name):
            raise UsageError(
                f"llamafactory: dataset_name must be letters, digits, '_', '.' or '-', "
                f"got {dataset_name!r}"
            )
        if template is not None and (not isinstance(template, str) or not template.strip()):
            raise UsageError(f"llamafactory: template must be a template name, got {template!r}")
        if not isinstance(bf16, bool):
            raise UsageError(f"llamafactory: bf16 must be true or false, got {bf16!r}")
        if _version_text(engine_version) != LLAMAFACTORY_VERSION:
            raise UsageError(
                f"llamafactory: engine_version {engine_version!r} is not one the export "
                f"writes for; it writes for LLaMA-Factory {LLAMAFACTORY_VERSION}, "
                f"the release it was checked against"
            )
        self.dataset_name = dataset_name
        self.template = template.strip() if template is not None else None
        self.bf16 = bf16

    @property
    def file_name(self) -> str:
        return f"{self.dataset_name}.json"

    def train(self, model: str, dataset: Dataset, output_dir: Path) -> Path:
        from skillfactory.export_command import model_facts

        if len(dataset) == 0:
            raise UsageError("llamafactory: there are no traces to export; the dataset is empty")
        facts = model_facts(model)
        template = self.template_for(facts)  # before writing: a model it cannot tell is refused
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        has_system = _write_records(_records(dataset), output_dir / self.file_name)
        self._write_dataset_info(output_dir, has_system)
        config = self.config_text(model, output_dir, facts, template, workers(len(dataset)))
        _write_text(output_dir / CONFIG_FILE, config)
        return output_dir

    def template_for(self, facts: ModelFacts) -> str:
        """The ``template`` option, else the model's own; one line asking for it if unknown."""
        if self.template is not None:
            return self.template
        template = chat_template_name(facts)
        if template is None:
            raise UsageError(
                f"llamafactory: cannot tell which chat template model {facts.name!r} speaks; "
                f"pass --option template=NAME with LLaMA-Factory's name for it "
                f"(e.g. chatml, qwen, qwen3_nothink, llama3)"
            )
        return template

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

    def config_text(
        self,
        model: str,
        output_dir: Path,
        facts: ModelFacts,
        template: str,
        preprocessing_workers: int,
    ) -> str:
        """The example ``llamafactory-cli train`` config, with comments."""
        dataset_dir = str(Path(output_dir).resolve())
        save_dir = f"saves/{self.dataset_name}/full/sft"
        settings = PAPER_SFT
        cutoff = cutoff_len(facts.positions)
        return f"""\
# LLaMA-Factory SFT on SkillFactory traces, with the paper's settings (§5).
# Written for LLaMA-Factory {LLAMAFACTORY_VERSION}, the release this export was checked against.
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
template: {_yaml_string(template)}  # {_template_note(self.template)}
cutoff_len: {cutoff}  # {_cutoff_note(facts.positions, cutoff)}
overwrite_cache: true
preprocessing_num_workers: {preprocessing_workers}  # the exporting machine's CPUs, at most 16

### output
output_dir: {_yaml_string(save_dir)}  # a rerun resumes from its last checkpoint
logging_steps: 10
save_strategy: epoch
plot_loss: true
report_to: none

### train
per_device_train_batch_size: {settings["per_device_train_batch_size"]}
gradient_accumulation_steps: 1
learning_rate: {settings["learning_rate"]:.1e}
num_train_epochs: {settings["num_train_epochs"]:.1f}
lr_scheduler_type: {settings["lr_scheduler_type"]}
warmup_steps: {WARMUP_SHARE}  # below 1: a share of the steps (the authors' config; the paper: none)
bf16: {"true" if self.bf16 else "false"}  # {_bf16_note(self.bf16)}
ddp_timeout: 180000000
"""


def chat_template_name(facts: ModelFacts) -> str | None:
    """LLaMA-Factory's name for the chat format the model speaks; None where it cannot tell.

    SFT must train on the text that sampling and evaluation show the model, so the template
    must render a trace exactly as the model's own chat template does. Qwen2 and Qwen2.5
    take ``qwen``, which adds Qwen2.5's default system prompt as their template does. A
    model whose own template is ChatML takes ``chatml``, which adds none: the default model
    and SmolLM2 as SkillFactory imports it. Other Qwen generations (``qwen3``,
    ``qwen3_nothink``) and other formats are left to the user, as are hub ids of families
    not named here.
    """
    family = (facts.model_type or Path(facts.name).name).lower()
    speaks_chatml = facts.chat_template is None or CHATML_MARK in facts.chat_template
    if family.startswith("qwen"):
        return "qwen" if _QWEN2_TEXT.match(family) and speaks_chatml else None
    if facts.chat_template is not None:
        return "chatml" if CHATML_MARK in facts.chat_template else None
    return "chatml" if family.startswith("smollm2") else None


def cutoff_len(positions: int | None) -> int:
    """The paper's 4,096-token context, or the model's positions where it has fewer."""
    paper = PAPER_SFT["cutoff_len"]
    return paper if positions is None else min(paper, positions)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def workers(rows: int) -> int:
    """Preprocessing processes: one per CPU, at most 16, and no more than there are traces."""
    return max(1, min(MAX_WORKERS, usable_cpus(), rows))


def _template_note(asked: str | None) -> str:
    return "as asked" if asked is not None else "the chat format the model speaks"


def _cutoff_note(positions: int | None, cutoff: int) -> str:
    if positions is None:
        return "the paper's; not checked against the model's positions (no config.json at hand)"
    if cutoff < PAPER_SFT["cutoff_len"]:
        return f"the paper's 4096, cut to the model's {positions} positions"
    return f"the paper's; the model has {positions} positions"


def _bf16_note(bf16: bool) -> str:
    if bf16:
        return "the paper's GPU setting; needs a GPU with bfloat16 (NVIDIA Ampere or newer)"
    return "true for the paper's GPU setting (--option bf16=true); false runs anywhere"


def _version_text(version: object) -> str:
    """A version as text, also when ``--option`` read it as a number (``0.9`` -> ``"0.9"``)."""
    return version if isinstance(version, str) else str(version)


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
