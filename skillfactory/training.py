"""What every trainer plugin needs around the library that trains: precision, resuming, records.

TRL does the training; this module does the parts around it that each trainer
would otherwise repeat: the precision that suits the device (float32 on a CPU,
bfloat16 on a GPU that has it), finding the checkpoint an interrupted run can
resume from, turning a GPU out-of-memory error into one line that names the
setting to lower, and writing the resolved settings and the loss curve beside
the saved model.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillfactory.errors import SkillFactoryError, UsageError

CHECKPOINTS_DIR = "checkpoints"
"""Inside a trainer's output directory while it trains; removed once the model is saved."""
SETTINGS_FILE = "training.json"
CURVE_FILE = "curve.json"
TRAINER_STATE = "trainer_state.json"
"""What transformers writes last into a checkpoint: without it, the checkpoint is partial."""
RESUME_FILE = "resume.json"
"""In the checkpoints directory: the settings its checkpoints were made with."""


@dataclass(frozen=True)
class Device:
    """Where training runs and in what precision."""

    cuda: bool
    bf16: bool

    @property
    def dtype_name(self) -> str:
        return "bfloat16" if self.bf16 else "float32"

    def config_args(self) -> dict[str, Any]:
        """The ``TrainingArguments`` that say so, the same on every machine but for their values."""
        return {"use_cpu": not self.cuda, "bf16": self.bf16, "fp16": False}


def pick_device() -> Device:
    """A CUDA GPU when there is one (bfloat16 where it supports it), else the CPU in float32."""
    import torch

    cuda = torch.cuda.is_available()
    return Device(cuda=cuda, bf16=cuda and torch.cuda.is_bf16_supported())


def load_for_training(
    spec: str, device: Device, *, trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """The model (in the device's precision) and its tokenizer, which must have a chat template."""
    import torch

    from skillfactory.models.resolve import load_model

    model, tokenizer = load_model(
        spec, trust_remote_code=trust_remote_code, dtype=getattr(torch, device.dtype_name)
    )
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(
            f"model {spec!r} has no chat template, and traces and prompts are chats: set "
            "'chat_template' in its tokenizer_config.json (ChatML works for most base models), "
            "or train an instruct model"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.train()
    return model, tokenizer


def resume_point(output_dir: Path, settings: Mapping[str, Any]) -> bool:
    """Whether ``output_dir`` holds checkpoints made with exactly ``settings`` to resume from.

    Checkpoints made with other settings are removed: resuming them would train
    a mixture of two runs. Under ``accelerate launch`` only the main process
    touches the directory, and the others wait for it.
    """
    from accelerate import PartialState

    state = PartialState()
    checkpoints = output_dir / CHECKPOINTS_DIR
    record = checkpoints / RESUME_FILE
    if state.is_main_process:
        try:
            made_with = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            made_with = None
        if made_with != _plain(settings):
            shutil.rmtree(checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(_plain(settings), indent=2, sort_keys=True) + "\n")
        for partial in checkpoints.glob("checkpoint-*"):
            # A process killed while saving leaves a checkpoint without its state file, which
            # is written last; resuming from it would fail, so it goes.
            if not _complete(partial):
                shutil.rmtree(partial, ignore_errors=True)
    state.wait_for_everyone()
    return any(path.name.startswith("checkpoint-") for path in checkpoints.iterdir())


def quiet_progress(trainer: Any, label: str = "training") -> None:
    """Show the trainer's progress, but not a printed dict at every logging step.

    On a terminal the trainer keeps its own bar (rate, ETA); in a log, where a bar
    is one ever-growing line, the steps go to :class:`skillfactory.progress.ProgressReport`,
    which prints a plain line at most every 30 seconds. Every logged value still
    reaches ``curve.json``; printed, one dict per step buries the stage summaries
    that say the same in a table.
    """
    import sys

    from transformers.trainer_callback import ProgressCallback, TrainerCallback

    class BarOnly(ProgressCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any):
            return None

    class StepLines(TrainerCallback):
        def __init__(self) -> None:
            from rich.console import Console

            from skillfactory.progress import ProgressReport

            self.report = ProgressReport(Console(stderr=True, force_terminal=False), indent="  ")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any):
            if state.is_world_process_zero:
                self.report.update(label, state.global_step, state.max_steps)

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarOnly() if sys.stderr.isatty() else StepLines())


def _complete(checkpoint: Path) -> bool:
    try:
        json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


@contextlib.contextmanager
def out_of_memory_as_one_line(lower: str) -> Iterator[None]:
    """A GPU out-of-memory error becomes one line that says which setting to lower."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError:
        raise SkillFactoryError(
            f"out of memory on the GPU; lower {lower} (and raise gradient_accumulation_steps to "
            "keep the effective batch), then rerun: training resumes from its last checkpoint"
        ) from None


def finish(
    output_dir: Path,
    trainer: Any,
    tokenizer: Any,
    settings: Mapping[str, Any],
    facts: Mapping[str, Any],
) -> Path:
    """Save the model and tokenizer, the settings and facts, and the curve; drop checkpoints.

    ``trainer.save_model`` gathers weights that DeepSpeed ZeRO-3 or FSDP spread
    over processes, so every process calls it; the files of our own are written
    by the main process alone.
    """
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # a LoRA model: save it as a plain one
        merged = model.merge_and_unload()
        if trainer.is_world_process_zero():
            merged.save_pretrained(str(output_dir))
    else:
        trainer.save_model(str(output_dir))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(output_dir))
        curve = [entry for entry in trainer.state.log_history if "step" in entry]
        (output_dir / CURVE_FILE).write_text(json.dumps(curve, indent=1) + "\n")
        record = {"settings": _plain(settings), **_plain(facts)}
        (output_dir / SETTINGS_FILE).write_text(json.dumps(record, indent=2) + "\n")
        shutil.rmtree(output_dir / CHECKPOINTS_DIR, ignore_errors=True)
    return output_dir


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


class OptionChecks:
    """Checks a trainer's keyword options; each refusal is one line that names the trainer."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def number(
        self,
        name: str,
        value: Any,
        *,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._refuse(name, "must be a number", value)
        if above is not None and not value > above:
            raise self._refuse(name, f"must be above {above:g}", value)
        if at_least is not None and value < at_least:
            raise self._refuse(name, f"must be at least {at_least:g}", value)
        if at_most is not None and value > at_most:
            raise self._refuse(name, f"must be at most {at_most:g}", value)
        return float(value)

    def whole(self, name: str, value: Any, *, at_least: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < at_least:
            raise self._refuse(name, f"must be a whole number of at least {at_least}", value)
        return value

    def flag(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._refuse(name, "must be true or false", value)
        return value

    def choice(self, name: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self._refuse(name, f"must be one of {', '.join(choices)}", value)
        return value

    def _refuse(self, name: str, why: str, value: Any) -> UsageError:
        return UsageError(f"{self.owner}: {name} {why}, got {value!r}")


def checked_schedule(
    check: OptionChecks,
    *,
    learning_rate: Any,
    per_device_train_batch_size: Any,
    gradient_accumulation_steps: Any,
    warmup_ratio: Any,
    lr_scheduler_type: Any,
    seed: Any,
    logging_steps: Any,
    save_steps: Any,
    gradient_checkpointing: Any,
) -> dict[str, Any]:
    """The options every TRL trainer shares (rate, batch, schedule, logging, saving), checked."""
    return {
        "learning_rate": check.number("learning_rate", learning_rate, above=0),
        "per_device_train_batch_size": check.whole(
            "per_device_train_batch_size", per_device_train_batch_size, at_least=1
        ),
        "gradient_accumulation_steps": check.whole(
            "gradient_accumulation_steps", gradient_accumulation_steps, at_least=1
        ),
        "warmup_ratio": check.number("warmup_ratio", warmup_ratio, at_least=0, at_most=0.999),
        "lr_scheduler_type": str(lr_scheduler_type),
        "seed": check.whole("seed", seed, at_least=0),
        "logging_steps": check.whole("logging_steps", logging_steps, at_least=1),
        "save_steps": check.whole("save_steps", save_steps, at_least=1),
        "gradient_checkpointing": check.flag("gradient_checkpointing", gradient_checkpointing),
    }


def schedule_args(settings: Mapping[str, Any], output_dir: Path, device: Device) -> dict[str, Any]:
    """The TrainingArguments of :func:`checked_schedule`'s options, with checkpoints kept in
    ``output_dir`` (one at a time) and the device's precision."""
    return {
        "output_dir": str(output_dir / CHECKPOINTS_DIR),
        "learning_rate": settings["learning_rate"],
        "per_device_train_batch_size": settings["per_device_train_batch_size"],
        "gradient_accumulation_steps": settings["gradient_accumulation_steps"],
        "warmup_steps": settings["warmup_ratio"],  # below 1: a share of all steps
        "lr_scheduler_type": settings["lr_scheduler_type"],
        "seed": settings["seed"],
        "data_seed": settings["seed"],
        "logging_steps": settings["logging_steps"],
        "save_strategy": "steps",
        "save_steps": settings["save_steps"],
        "save_total_limit": 1,
        "activation_checkpointing": settings["gradient_checkpointing"],
        "report_to": [],
        **device.config_args(),
    }
