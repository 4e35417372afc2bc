"""The ``verl`` exporter: RL questions as verl parquet files, with the task's verifier as reward.

It writes four files into the output directory:

- ``train.parquet`` and ``test.parquet``: one row per problem in verl's RL data format
  (``docs/preparation/prepare_data.rst``): ``data_source`` (``skillfactory/<task>``),
  ``prompt`` (the task's chat prompt in its first variant, the one traces start from),
  ``ability`` (the task's name), ``reward_model`` (``style`` ``rule``, ``ground_truth`` the
  problem as JSON text with the task's options) and ``extra_info`` (``split``, ``index``,
  ``problem_id``, ``difficulty``). The test split is a fixed share of the problems chosen
  by a hash of their ids, so the same problems always land on the same side.
- ``skillfactory_reward.py``: verl's custom reward function, ``compute_score``. It rebuilds
  the problem and the task from the ground truth and judges the response with
  :class:`skillfactory.scoring.Verifier`, the code that judged every sample of the run, so
  the RL reward is exactly the verifier's score. It never evaluates model output.
- ``run_grpo.sh``: an example ``verl.trainer.main_ppo`` launch with the paper's GRPO
  settings (§5), its prompt and response lengths within the model's positions. Before verl
  starts, it checks that its Python can import skillfactory and the tasks, which the reward
  needs, and says so in one line if not.

The script is written for verl 0.9.1, the release it was checked against; ``engine_version``
0.7.0 writes the previous layout, where the reward function was a top-level setting.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillfactory import Problem, Trainer, UsageError, hookimpl

if TYPE_CHECKING:
    from datasets import Dataset

TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
REWARD_FILE = "skillfactory_reward.py"
SCRIPT_FILE = "run_grpo.sh"
DATA_SOURCE_PREFIX = "skillfactory/"

DEFAULT_TEST_SHARE = 0.1
"""The share of problems held out as verl's validation set when ``test_size`` is not given."""
MAX_DEFAULT_TEST = 256
"""The default test split never exceeds this many problems."""

VERL_VERSION = "0.9.1"
"""The verl release ``run_grpo.sh`` is written for by default: the one it was checked against."""

REWARD_SETTINGS = {"0.9.1": "reward.custom_reward_function", "0.7.0": "custom_reward_function"}
"""Where each verl release the export writes for reads the custom reward function. verl 0.9.1
still accepts the top-level setting, as a legacy key, but its ``main_ppo`` never reads it: the
run would fail at the first reward."""

PROMPT_LENGTH = 1024
"""``data.max_prompt_length`` where the model has room: far more than any task's prompt."""

PAPER_GRPO = {
    "lr": "1e-6",
    "train_batch_size": 256,
    "ppo_mini_batch_size": 32,
    "rollouts": 16,
    "total_training_steps": 150,
    "total_epochs": 50,
    "max_response_length": 4096,
    "n_gpus_per_node": 4,
}
"""The paper's GRPO settings (§5) and the authors' verl command (16 rollouts, 50 epochs)."""


def parquet_schema():  # -> pyarrow.Schema, imported lazily
    """The columns of ``train.parquet`` and ``test.parquet``, in verl's RL data format."""
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(message)),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [
                        ("split", pa.string()),
                        ("index", pa.int64()),
                        ("problem_id", pa.string()),
                        ("difficulty", pa.int64()),
                    ]
                ),
            ),
        ]
    )


def count_for_test(total: int, test_size: int | float | None) -> int:
    """How many of ``total`` problems go to the test split.

    None: 10% of them, at most 256, and at least one when there are two or more. A float
    in (0, 1): that share, at least one (with two or more problems). An int: that many.
    The train split always keeps at least one problem.
    """
    if test_size is None:
        return 0 if total < 2 else max(1, min(MAX_DEFAULT_TEST, int(total * DEFAULT_TEST_SHARE)))
    if isinstance(test_size, float):
        return 0 if total < 2 else min(total - 1, max(1, round(total * test_size)))
    if test_size > 0 and test_size >= total:
        raise UsageError(
            f"verl: test_size {test_size} leaves no training problems out of {total}; "
            f"ask for fewer or for more --questions"
        )
    return test_size


def split_key(problem_id: str) -> str:
    """The order problems are drawn into the test split in: a hash of the id, fixed for ever."""
    return hashlib.sha256(f"skillfactory-verl-test/{problem_id}".encode()).hexdigest()


class VerlExport(Trainer):
    """Writes problems as verl train/test parquet files, a reward module and a GRPO script.

    Options: ``task_options`` (the task's options, as the run used them; default none),
    ``test_size`` (problems held out for validation: a count, or a share below 1; default
    10% capped at 256) and ``engine_version`` (the verl release to write for: 0.9.1, the
    default, or 0.7.0).
    """

    name = "verl"
    description = "Export RL questions as verl parquet files with the task's verifier as reward."
    produces = "files"
    data = "problems"

    def __init__(
        self,
        *,
        task_options: Mapping[str, Any] | None = None,
        test_size: int | float | None = None,
        engine_version: str = VERL_VERSION,
    ) -> None:
        if task_options is None:
            task_options = {}
        if not isinstance(task_options, Mapping):
            raise UsageError(f"verl: task_options must be a table of options, got {task_options!r}")
        if test_size is not None:
            if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
                raise UsageError(f"verl: test_size must be a number, got {test_size!r}")
            if isinstance(test_size, float) and not 0.0 < test_size < 1.0:
                raise UsageError(
                    f"verl: test_size must be a count (0 or more) or a share between 0 and 1, "
                    f"got {test_size}"
                )
            if isinstance(test_size, int) and test_size < 0:
                raise UsageError(f"verl: test_size must be 0 or more, got {test_size}")
        self.task_options = dict(task_options)
        self.test_size = test_size
        self.engine_version = verl_release(engine_version)
        self._tasks: dict[str, Any] = {}

    def train(self, model: str, dataset: Dataset, output_dir: Path) -> Path:
        from skillfactory.export_command import model_facts
        from skillfactory.pipeline.problems import row_problem

        problems = _unique([row_problem(row) for row in dataset])
        if not problems:
            raise UsageError("verl: there are no problems to export; the dataset is empty")
        count = count_for_test(len(problems), self.test_size)
        held = {p.id for p in sorted(problems, key=lambda p: (split_key(p.id), p.id))[:count]}
        splits = {
            "train": [problem for problem in problems if problem.id not in held],
            "test": [problem for problem in problems if problem.id in held],
        }
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        for split, file_name in (("train", TRAIN_FILE), ("test", TEST_FILE)):
            rows = [self.row(problem, split, index) for index, problem in enumerate(splits[split])]
            _write_parquet(rows, output_dir / file_name)
        _write_text(output_dir / REWARD_FILE, REWARD_MODULE)
        script = output_dir / SCRIPT_FILE
        tasks = sorted({problem.task for problem in problems})
        positions = model_facts(model).positions
        _write_text(script, self.script_text(model, len(splits["train"]), tasks, positions))
        script.chmod(0o755)
        return output_dir

    def task(self, name: str) -> Any:
        """The task ``name``, built once with the export's task options."""
        if name not in self._tasks:
            from skillfactory.registry import get_registry

            self._tasks[name] = get_registry().get("task", name).create(**self.task_options)
        return self._tasks[name]

    def ground_truth(self, problem: Problem) -> str:
        """What the reward function gets: the problem and the task's options, as JSON text."""
        record = {**problem.to_json(), "task_options": self.task_options}
        return json.dumps(record, ensure_ascii=False, sort_keys=True)

    def row(self, problem: Problem, split: str, index: int) -> dict[str, Any]:
        """One problem as a row of verl's RL data format."""
        task = self.task(problem.task)
        prompt = task.prompt(problem, task.variants[0])
        return {
            "data_source": f"{DATA_SOURCE_PREFIX}{problem.task}",
            "prompt": [
                {"role": message["role"], "content": message["content"]} for message in prompt
            ],
            "ability": problem.task,
            "reward_model": {"style": "rule", "ground_truth": self.ground_truth(problem)},
            "extra_info": {
                "split": split,
                "index": index,
                "problem_id": problem.id,
                "difficulty": problem.difficulty,
            },
        }

    def script_text(
        self,
        model: str,
        train_rows: int,
        tasks: Sequence[str],
        positions: int | None = None,
    ) -> str:
        """The example launch script, with the paper's GRPO settings.

        ``tasks`` are the tasks the reward must build (the script checks for them first);
        ``positions`` is the model's ``max_position_embeddings``, where known.
        """
        g = PAPER_GRPO
        steps_per_epoch = train_rows // g["train_batch_size"]
        prompt_length, response_length = sequence_lengths(positions)
        release = self.engine_version
        reward = REWARD_SETTINGS[release]
        return f"""\
#!/usr/bin/env bash
# GRPO with verl on the questions exported here, with the paper's RL settings (§5):
# GRPO advantages, no KL (neither a KL loss nor a KL penalty in the reward), learning rate
# 1e-6, {g["train_batch_size"]} prompts per step in mini-batches of {g["ppo_mini_batch_size"]}, \
{g["rollouts"]} rollouts per prompt,
# {g["total_training_steps"]} steps, {g["n_gpus_per_node"]} GPUs.
# Written for verl {release} (pip install verl=={release}); option names follow its
# ppo_trainer.yaml, and the reward function is set in {reward}.
# For another verl release, export again with --engine-version.
# The reward is skillfactory_reward.py: the task's own verifier, 1 for a correct final
# answer and 0 otherwise. It imports skillfactory, so install it (and any task plugin) in the
# Python verl runs in, on every node; the script checks this Python before verl starts.
# Lengths: {_lengths_note(positions, prompt_length, response_length)}
# {train_rows} training questions make {steps_per_epoch} steps per epoch (verl drops the last \
partial batch);
# total_training_steps stops the run at {g["total_training_steps"]} steps whatever the epochs.
# Set MODEL=... to train another model; override any option by adding key=value arguments:
#   MODEL=/path/to/model ./run_grpo.sh trainer.n_gpus_per_node=8
set -euo pipefail

HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
DEFAULT_MODEL={shlex.quote(model)}
MODEL="${{MODEL:-$DEFAULT_MODEL}}"

# First, in one line each: can this Python import skillfactory and the tasks, is verl here?
python3 - {shlex.quote(release)} {" ".join(map(shlex.quote, tasks))} <<'CHECK'
{PREFLIGHT}CHECK

python3 -m verl.trainer.main_ppo \\
    algorithm.adv_estimator=grpo \\
    algorithm.use_kl_in_reward=False \\
    data.train_files="$HERE/{TRAIN_FILE}" \\
    data.val_files="$HERE/{TEST_FILE}" \\
    data.train_batch_size={g["train_batch_size"]} \\
    data.max_prompt_length={prompt_length} \\
    data.max_response_length={response_length} \\
    data.filter_overlong_prompts=True \\
    data.truncation=error \\
    actor_rollout_ref.model.path="$MODEL" \\
    actor_rollout_ref.model.use_remove_padding=True \\
    actor_rollout_ref.model.enable_gradient_checkpointing=True \\
    actor_rollout_ref.actor.optim.lr={g["lr"]} \\
    actor_rollout_ref.actor.ppo_mini_batch_size={g["ppo_mini_batch_size"]} \\
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \\
    actor_rollout_ref.actor.use_kl_loss=False \\
    actor_rollout_ref.actor.entropy_coeff=0 \\
    actor_rollout_ref.rollout.name=vllm \\
    actor_rollout_ref.rollout.n={g["rollouts"]} \\
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \\
    actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \\
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \\
    {reward}.path="$HERE/{REWARD_FILE}" \\
    {reward}.name=compute_score \\
    trainer.critic_warmup=0 \\
    trainer.n_gpus_per_node={g["n_gpus_per_node"]} \\
    trainer.nnodes=1 \\
    trainer.total_epochs={g["total_epochs"]} \\
    trainer.total_training_steps={g["total_training_steps"]} \\
    trainer.save_freq=50 \\
    trainer.test_freq=10 \\
    trainer.logger='["console"]' \\
    trainer.project_name=skillfactory \\
    trainer.experiment_name=grpo \\
    "$@"
"""


def verl_release(version: object) -> str:
    """The verl release to write for: 0.9.1 or 0.7.0 (or their series, 0.9 and 0.7).

    Any other is refused rather than guessed at: verl moves settings between releases, and
    a setting it no longer reads is dropped without a word.
    """
    text = version if isinstance(version, str) else str(version)  # --option reads 0.9 as a number
    series = {release.rsplit(".", 1)[0]: release for release in REWARD_SETTINGS}
    release = text if text in REWARD_SETTINGS else series.get(text)
    if release is None:
        known = " or ".join(REWARD_SETTINGS)
        raise UsageError(
            f"verl: engine_version {text!r} is not one the export writes for; use {known} "
            f"({VERL_VERSION}, the default, is the release it was checked against)"
        )
    return release


def sequence_lengths(positions: int | None) -> tuple[int, int]:
    """``data.max_prompt_length`` and ``data.max_response_length`` for a model of ``positions``.

    The paper's responses of up to 4,096 tokens after prompts of up to 1,024 where the model
    has room (or where its positions are unknown). Otherwise a quarter of its positions for
    the prompt, which is still far more than the tasks' prompts, and the rest for the
    response: verl's vLLM rollout refuses a prompt and response longer than the model's
    positions.
    """
    prompt, response = PROMPT_LENGTH, PAPER_GRPO["max_response_length"]
    if positions is None or prompt + response <= positions:
        return prompt, response
    prompt = min(prompt, positions // 4)
    return prompt, positions - prompt


def _lengths_note(positions: int | None, prompt: int, response: int) -> str:
    """Where the prompt and response lengths come from, as two comment lines."""
    lengths = f"prompts of up to {prompt} tokens, responses of up to {response}"
    if positions is None:
        return (
            f"{lengths}: the paper's.\n"
            f"# Not checked against the model's positions: its config.json was not at hand."
        )
    if (prompt, response) == sequence_lengths(None):
        return f"{lengths}: the paper's,\n# within the model's {positions} positions."
    return f"{lengths}: the paper's 1024 and\n# 4096, cut to fit the model's {positions} positions."


PREFLIGHT = """\
import importlib.util
import sys
from importlib import metadata

target, tasks = sys.argv[1], sys.argv[2:]
try:
    from skillfactory.registry import get_registry
except ImportError:
    sys.exit(
        f"run_grpo.sh: {sys.executable} cannot import skillfactory, which the reward needs; "
        "install SkillFactory in the Python verl runs in"
    )
for task in tasks:
    try:
        get_registry().get("task", task)
    except Exception:
        sys.exit(
            f"run_grpo.sh: task {task!r} is not installed for {sys.executable}, so every "
            "response would score 0; install its plugin in the Python verl runs in"
        )
try:
    found = metadata.version("verl")
except metadata.PackageNotFoundError:
    if importlib.util.find_spec("verl") is None:
        sys.exit(
            f"run_grpo.sh: verl is not installed for {sys.executable}; pip install verl=={target}"
        )
else:
    if found != target:
        print(
            f"run_grpo.sh: written for verl {target}, but this Python has verl {found}; "
            "if verl refuses a setting, export again with --engine-version",
            file=sys.stderr,
        )
"""
"""What ``run_grpo.sh`` runs before verl: the reward's imports, one line if they fail, and a
one-line warning when the installed verl is not the release the script was written for."""


REWARD_MODULE = '''\
"""SkillFactory's reward for verl: the task's own verifier, exactly as it judged the samples.

Written by `skillfactory export verl`. verl loads this file through the
``custom_reward_function`` settings in run_grpo.sh (``reward.custom_reward_function.path``
in verl 0.9.1, top-level in 0.7.0) and calls ``compute_score`` for every response. The ground
truth is a problem as JSON text (``Problem.to_json`` plus ``task_options``); the task is
rebuilt from the installed plugins, the final answer is extracted with the task's
``extract_answer`` and scored by ``skillfactory.scoring.Verifier`` (in worker processes for
tasks that ask for a sandbox). Model output is never evaluated as code here.

The score is the verifier's value in [0, 1]: 1.0 for a correct final answer, 0.0 otherwise.
Anything unreadable (a ground truth that is not such a problem, a response that is not
text, a task that is not installed) scores 0.0; ``compute_score`` never raises.
"""

from __future__ import annotations

import atexit
import json
import threading
import warnings
from collections.abc import Mapping
from typing import Any

from skillfactory.errors import one_line
from skillfactory.records import Problem
from skillfactory.registry import get_registry
from skillfactory.scoring import Verifier

_LOCK = threading.Lock()
_VERIFIERS: dict[str, Any] = {}
"""One verifier per task and options, entered once and kept (a sandboxed pool starts once)."""


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
    """The task's verifier's score for ``solution_str``; 0.0 for anything it cannot read."""
    try:
        record = ground_truth if isinstance(ground_truth, Mapping) else json.loads(ground_truth)
        problem = Problem.from_json(record)
        options = record.get("task_options") or {}
    except Exception:
        return 0.0
    if not isinstance(solution_str, str) or not isinstance(options, Mapping):
        return 0.0
    try:
        with _LOCK:
            verifier = _verifier(problem.task, dict(options))
            if verifier is None:
                return 0.0
            (judgement,) = verifier.judge([(problem, solution_str)])
        return float(judgement.score.value)
    except Exception as error:
        _warn(f"scoring a {problem.task} response failed: {one_line(error)}")
        return 0.0


def _verifier(task_name: str, options: dict) -> Any:
    key = json.dumps([task_name, options], sort_keys=True)
    if key not in _VERIFIERS:
        try:
            task = get_registry().get("task", task_name).create(**options)
            verifier = Verifier(task, options)
            verifier.__enter__()
        except Exception as error:
            _warn(f"cannot load task {task_name!r}, its responses score 0: {one_line(error)}")
            verifier = None
        else:
            atexit.register(verifier.__exit__, None, None, None)
        _VERIFIERS[key] = verifier
    return _VERIFIERS[key]


def _warn(message: str) -> None:
    warnings.warn(f"skillfactory_reward: {message}", RuntimeWarning, stacklevel=3)
'''
"""The reward module written next to the parquet files (a fixed text: it reads everything
it needs from each row's ground truth)."""


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    """The problems in order, each id once, so that no problem is on both sides of the split."""
    seen: set[str] = set()
    kept = []
    for problem in problems:
        if problem.id not in seen:
            seen.add(problem.id)
            kept.append(problem)
    return kept


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skillfactory.atomic import atomic_path

    table = pa.Table.from_pylist(rows, schema=parquet_schema())
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)


def _write_text(path: Path, text: str) -> None:
    from skillfactory.atomic import write_atomically

    write_atomically(path, text)


@hookimpl
def register_trainers(register):
    register(VerlExport)
