"""The ``grpo`` trainer: TRL's GRPOTrainer, rewarded by the task's own verifier.

The reward of a completion is exactly the score that judges samples: the task
extracts the answer and its verifier scores it (0 or 1 for Countdown), through
:class:`skillfactory.scoring.Verifier`, so a scorer that fails gives 0 and never
stops training. As in the paper there is no KL term by default (``beta`` 0).

Each logging step records the mean reward, the accuracy (the share of
completions with full marks, logged by TRL as the mean of a second reward
function whose weight is 0, so it never changes the training signal), the
completion length, and a few sample completions, written to
``completions.jsonl`` in the output directory.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from skillfactory import Trainer, UsageError, hookimpl, training
from skillfactory.training import OptionChecks

COMPLETIONS_FILE = "completions.jsonl"
SAMPLES_PER_LOG = 2
"""Sample completions written per reward call (one call per generation batch)."""


class GRPO(Trainer):
    name = "grpo"
    description = "GRPO with TRL, rewarded by the task's verifier; no KL term by default."
    produces = "model"
    data = "problems"

    def __init__(
        self,
        *,
        learning_rate: float = 1e-6,
        max_steps: int = 150,
        num_generations: int = 16,
        per_device_train_batch_size: int = 16,
        gradient_accumulation_steps: int = 1,
        max_completion_length: int = 4096,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        beta: float = 0.0,
        warmup_ratio: float = 0.0,
        lr_scheduler_type: str = "constant",
        seed: int = 0,
        logging_steps: int = 1,
        save_steps: int = 50,
        gradient_checkpointing: bool = False,
        use_vllm: str | bool = "auto",
        vllm_mode: str = "colocate",
        vllm_server_base_url: str | None = None,
        vllm_gpu_memory_utilization: float = 0.3,
        steps_per_generation: int | None = None,
        num_iterations: int = 1,
        task_options: dict[str, Any] | None = None,
        variant: str | None = None,
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
            "max_steps": check.whole("max_steps", max_steps, at_least=1),
            "num_generations": check.whole("num_generations", num_generations, at_least=2),
            "max_completion_length": check.whole(
                "max_completion_length", max_completion_length, at_least=1
            ),
            "temperature": check.number("temperature", temperature, above=0),
            "top_p": check.number("top_p", top_p, above=0, at_most=1),
            "top_k": check.whole("top_k", top_k, at_least=0),
            "beta": check.number("beta", beta, at_least=0),
            "use_vllm": use_vllm if use_vllm == "auto" else check.flag("use_vllm", use_vllm),
            "vllm_mode": check.choice("vllm_mode", vllm_mode, ("colocate", "server")),
            "vllm_server_base_url": vllm_server_base_url,
            "vllm_gpu_memory_utilization": check.number(
                "vllm_gpu_memory_utilization", vllm_gpu_memory_utilization, above=0, at_most=1
            ),
            "steps_per_generation": None
            if steps_per_generation is None
            else check.whole("steps_per_generation", steps_per_generation, at_least=1),
            "num_iterations": check.whole("num_iterations", num_iterations, at_least=1),
            "task_options": dict(task_options or {}),
            "variant": variant,
        }
        steps = (
            self.settings["steps_per_generation"] or self.settings["gradient_accumulation_steps"]
        )
        generations = self.settings["per_device_train_batch_size"] * steps
        if generations % self.settings["num_generations"]:
            raise UsageError(
                f"grpo: per_device_train_batch_size x steps_per_generation ({generations}; "
                "steps_per_generation defaults to gradient_accumulation_steps) must be a multiple "
                f"of num_generations ({self.settings['num_generations']}): each question's "
                "completions are compared within one generation batch"
            )
        self.trust_remote_code = check.flag("trust_remote_code", trust_remote_code)

    def train(self, model: str, dataset: Any, output_dir: Path) -> Path:
        from trl import GRPOConfig, GRPOTrainer

        missing = {"id", "task", "question", "answer", "data"} - set(dataset.column_names)
        if missing:
            raise UsageError(
                f"grpo trains on problems: the data lacks {', '.join(sorted(missing))} "
                "(write problems with 'skillfactory problems')"
            )
        if len(dataset) == 0:
            raise UsageError("there are no problems to train on")
        started = time.perf_counter()
        settings = self.settings
        device = training.pick_device()
        network, tokenizer = training.load_for_training(
            model, device, trust_remote_code=self.trust_remote_code
        )
        stack = contextlib.ExitStack()
        prompts, rewards = _prompts_and_rewards(
            dataset, settings["task_options"], settings["variant"], output_dir, stack
        )
        output_dir.mkdir(parents=True, exist_ok=True)
        resume = training.resume_point(output_dir, {"model": model, **settings})
        if not resume:  # a fresh training: the samples of an earlier one go
            (output_dir / COMPLETIONS_FILE).unlink(missing_ok=True)
        use_vllm = _use_vllm(settings["use_vllm"], device.cuda)
        config = GRPOConfig(
            **training.schedule_args(settings, output_dir, device),
            max_steps=settings["max_steps"],
            num_generations=settings["num_generations"],
            max_completion_length=settings["max_completion_length"],
            temperature=settings["temperature"],
            top_p=settings["top_p"],
            top_k=settings["top_k"],
            beta=settings["beta"],
            reward_weights=[1.0, 0.0],
            use_vllm=use_vllm,
            vllm_mode=settings["vllm_mode"],
            vllm_server_base_url=settings["vllm_server_base_url"],
            vllm_gpu_memory_utilization=settings["vllm_gpu_memory_utilization"],
            steps_per_generation=settings["steps_per_generation"],
            num_iterations=settings["num_iterations"],
        )
        trainer = GRPOTrainer(
            model=network,
            reward_funcs=rewards,
            args=config,
            train_dataset=prompts,
            processing_class=tokenizer,
        )
        training.quiet_progress(trainer, "GRPO steps")
        with (
            stack,
            warnings.catch_warnings(),
            training.out_of_memory_as_one_line(
                "per_device_train_batch_size, num_generations or max_completion_length"
            ),
        ):
            # TRL 1.16 asks transformers whether checkpointing is on by its deprecated name.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*deprecated")
            result = trainer.train(resume_from_checkpoint=True if resume else None)
        rewarded = [e for e in trainer.state.log_history if "reward" in e]
        facts = {
            "trainer": self.name,
            "model": model,
            "problems": len(dataset),
            "steps": trainer.state.global_step,
            "training_loss": result.training_loss,
            "first_reward": rewarded[0]["reward"] if rewarded else None,
            "last_reward": rewarded[-1]["reward"] if rewarded else None,
            "resumed": resume,
            "use_vllm": use_vllm,
            "device": "cuda" if device.cuda else "cpu",
            "dtype": device.dtype_name,
            "seconds": round(time.perf_counter() - started, 2),
        }
        return training.finish(output_dir, trainer, tokenizer, settings, facts)


def _use_vllm(choice: str | bool, cuda: bool) -> bool:
    if choice == "auto":
        return cuda and importlib.util.find_spec("vllm") is not None
    if choice and not cuda:
        raise UsageError("grpo: use_vllm needs a CUDA GPU; set use_vllm to false or auto")
    return bool(choice)


def _prompts_and_rewards(
    dataset: Any,
    task_options: dict[str, Any],
    variant: str | None,
    output_dir: Path,
    stack: contextlib.ExitStack,
) -> tuple[Any, list[Callable[..., list[float]]]]:
    """The prompt dataset TRL samples from, and the reward and accuracy functions.

    The verifiers are entered on ``stack`` (a sandboxed task's worker pool then
    lives as long as training). TRL calls both functions on the same batch in
    turn, so the second reuses the first's scores.
    """
    from datasets import Dataset

    from skillfactory.pipeline.problems import row_problem
    from skillfactory.registry import get_registry
    from skillfactory.scoring import Verifier

    problems = [row_problem(row) for row in dataset]
    tasks = {}
    for name in sorted({problem.task for problem in problems}):
        tasks[name] = get_registry().get("task", name).create(**task_options)
    by_id = {problem.id: problem for problem in problems}
    prompts = Dataset.from_dict(
        {
            "prompt": [
                tasks[p.task].prompt(p, tasks[p.task].resolve_variant(variant)) for p in problems
            ],
            "problem_id": [p.id for p in problems],
        }
    )
    verifiers = {
        name: stack.enter_context(Verifier(task, task_options)) for name, task in tasks.items()
    }
    log = output_dir / COMPLETIONS_FILE
    last: dict[str, Any] = {"key": None, "values": []}

    def scores(completions: list[Any], problem_id: list[str]) -> list[float]:
        texts = [_text(completion) for completion in completions]
        key = (tuple(problem_id), tuple(texts))
        if key != last["key"]:
            values = []
            for text, name in zip(texts, problem_id, strict=True):
                problem = by_id[name]
                values.append(verifiers[problem.task].judge([(problem, text)])[0].score.value)
            last.update(key=key, values=values)
        return last["values"]

    def verifier_reward(completions: list[Any], problem_id: list[str], **_: Any) -> list[float]:
        values = scores(completions, problem_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            for key, completion, value in list(zip(problem_id, completions, values, strict=True))[
                :SAMPLES_PER_LOG
            ]:
                row = {"problem_id": key, "completion": _text(completion), "reward": value}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return values

    def accuracy(completions: list[Any], problem_id: list[str], **_: Any) -> list[float]:
        return [1.0 if value == 1.0 else 0.0 for value in scores(completions, problem_id)]

    return prompts, [verifier_reward, accuracy]


def _text(completion: Any) -> str:
    """A completion's text, whether TRL hands it over as chat messages or as a string."""
    if isinstance(completion, list):
        return "".join(str(message.get("content", "")) for message in completion)
    return str(completion)


@hookimpl
def register_trainers(register: Callable[[type[Trainer]], None]) -> None:
    register(GRPO)
