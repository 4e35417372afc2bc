"""The ``sft`` trainer: TRL's SFTTrainer on silver traces, with loss on the reply only.

The paper's SFT is a short primer: it should teach the trace format and the
habit of checking and retrying, not the answers, so only the assistant's trace
carries loss, never the question. Where the model's chat template marks the
assistant's turn with ``{% generation %}`` (the default model's does), TRL's
``assistant_only_loss`` uses those marks; where it does not (many instruct
models' templates), each trace is split into prompt and completion and TRL
masks the prompt, which gives the same labels with any template.

Traces longer than ``max_length`` are dropped, not cut: a cut trace would teach
a reply that never reaches its answer. How many were dropped is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from skillfactory import Trainer, UsageError, hookimpl, training
from skillfactory.training import OptionChecks

GENERATION_MARK = "{% generation %}"


class SFT(Trainer):
    name = "sft"
    description = "Supervised fine-tuning on traces with TRL's SFTTrainer, loss on the reply only."
    produces = "model"
    data = "traces"

    def __init__(
        self,
        *,
        learning_rate: float = 1e-6,
        num_train_epochs: float = 2.0,
        per_device_train_batch_size: int = 1,
        gradient_accumulation_steps: int = 1,
        max_length: int = 4096,
        warmup_ratio: float = 0.0,
        lr_scheduler_type: str = "cosine",
        weight_decay: float = 0.0,
        seed: int = 0,
        logging_steps: int = 1,
        save_steps: int = 50,
        gradient_checkpointing: bool = False,
        lora: bool = False,
        lora_r: int = 16,
        lora_alpha: int = 32,
        lora_dropout: float = 0.05,
        trust_remote_code: bool = False,
    ) -> None:
        check = OptionChecks(self.name)
        self.settings: dict[str, Any] = {
            **training.checked_schedule(
                check,
                learning_rate=learning_rate,
                per_device_train_batch_size=per_device_train_batch_size,
                gradient_accumulation_steps=gradient_accumulation_steps,
                warmup_ratio=warmup_ratio,
                lr_scheduler_type=lr_scheduler_type,
                seed=seed,
                logging_steps=logging_steps,
                save_steps=save_steps,
                gradient_checkpointing=gradient_checkpointing,
            ),
            "num_train_epochs": check.number("num_train_epochs", num_train_epochs, above=0),
            "max_length": check.whole("max_length", max_length, at_least=8),
            "weight_decay": check.number("weight_decay", weight_decay, at_least=0),
            "lora": check.flag("lora", lora),
            "lora_r": check.whole("lora_r", lora_r, at_least=1),
            "lora_alpha": check.whole("lora_alpha", lora_alpha, at_least=1),
            "lora_dropout": check.number("lora_dropout", lora_dropout, at_least=0, at_most=0.999),
        }
        self.trust_remote_code = check.flag("trust_remote_code", trust_remote_code)

    def train(self, model: str, dataset: Any, output_dir: Path) -> Path:

        started = time.perf_counter()
        trainer, facts = self.prepare(model, dataset, output_dir)
        with training.out_of_memory_as_one_line("per_device_train_batch_size or max_length"):
            result = trainer.train(resume_from_checkpoint=True if facts["resumed"] else None)
        facts.update(
            steps=trainer.state.global_step,
            training_loss=result.training_loss,
            seconds=round(time.perf_counter() - started, 2),
        )
        return training.finish(output_dir, trainer, trainer.processing_class, self.settings, facts)

    def prepare(self, model: str, dataset: Any, output_dir: Path) -> tuple[Any, dict[str, Any]]:
        """TRL's trainer, set up on the traces that fit, and what is known before training."""
        from trl import SFTConfig, SFTTrainer

        if "messages" not in dataset.column_names:
            raise UsageError("sft trains on traces: the data needs a 'messages' column of chats")
        if len(dataset) == 0:
            raise UsageError(
                "there are no traces to train on: the traces stage made none (too few questions "
                "with a correct attempt and an agreeing reflection); sample more questions"
            )
        settings = self.settings
        device = training.pick_device()
        network, tokenizer = training.load_for_training(
            model, device, trust_remote_code=self.trust_remote_code
        )
        marked = GENERATION_MARK in (tokenizer.chat_template or "")
        train_set, dropped = _fit(dataset, tokenizer, settings["max_length"], marked=marked)
        if len(train_set) == 0:
            raise UsageError(
                f"all {len(dataset)} traces are longer than max_length {settings['max_length']} "
                "tokens; raise max_length"
            )
        output_dir.mkdir(parents=True, exist_ok=True)
        resume = training.resume_point(output_dir, {"model": model, **settings})
        config = SFTConfig(
            **training.schedule_args(settings, output_dir, device),
            num_train_epochs=settings["num_train_epochs"],
            max_length=settings["max_length"],
            weight_decay=settings["weight_decay"],
            assistant_only_loss=marked,
            completion_only_loss=None if marked else True,
            packing=False,
        )
        trainer = SFTTrainer(
            model=network,
            args=config,
            train_dataset=train_set,
            processing_class=tokenizer,
            peft_config=_lora_config(settings) if settings["lora"] else None,
        )
        training.quiet_progress(trainer, "SFT steps")
        facts = {
            "trainer": self.name,
            "model": model,
            "traces": len(dataset),
            "traces_used": len(train_set),
            "traces_dropped_too_long": dropped,
            "loss_on": "assistant tokens (chat template marks)" if marked else "completion",
            "resumed": resume,
            "device": "cuda" if device.cuda else "cpu",
            "dtype": device.dtype_name,
        }
        return trainer, facts


def _fit(dataset: Any, tokenizer: Any, max_length: int, *, marked: bool) -> tuple[Any, int]:
    """The traces that fit in ``max_length`` tokens, in the shape the loss mask needs."""
    from datasets import Dataset

    kept, dropped = [], 0
    for messages in dataset["messages"]:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) > max_length:
            dropped += 1
            continue
        if marked:
            kept.append({"messages": messages})
        else:
            kept.append({"prompt": messages[:-1], "completion": messages[-1:]})
    columns = ["messages"] if marked else ["prompt", "completion"]
    return Dataset.from_dict({c: [row[c] for row in kept] for c in columns}), dropped


def _lora_config(settings: dict[str, Any]) -> Any:
    try:
        from peft import LoraConfig
    except ImportError:
        raise UsageError("LoRA needs peft: pip install 'skillfactory[lora]'") from None
    return LoraConfig(
        r=settings["lora_r"],
        lora_alpha=settings["lora_alpha"],
        lora_dropout=settings["lora_dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


@hookimpl
def register_trainers(register: Callable[[type[Trainer]], None]) -> None:
    register(SFT)
