"""The settings of ``skillfactory run``: one table, read from defaults, a config file and flags.

Every setting is declared once in :data:`SETTINGS`, with its type, default, help
and the first pipeline stage it changes. That one table gives the command-line
flags, the keys a TOML or YAML config file may hold, the resolved config a run
directory keeps, and each stage's fingerprint: a stage is redone when a setting
it depends on changes, and so is everything after it.

Precedence, lowest first: the defaults below, the config file, the flags given.
The defaults are the paper's ratios (several prompt variants, many samples per
variant, several reflections per sample) scaled down to what the default model
runs through in a few minutes on a 2-core CPU; ``docs/run.md`` lists the paper's
own settings for a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillfactory.errors import UsageError

NAMES = "names"
"""The type of a setting that holds a list of names (``verify,retry`` on the command line)."""
OPTIONS = "options"
"""The type of a setting that holds plugin options (``KEY=VALUE`` flags, a table in a file)."""


@dataclass(frozen=True)
class Setting:
    """One setting of a run."""

    name: str
    """The config-file key; the flag is the same with dashes (``samples_per_variant``)."""
    kind: Any
    """``int``, ``float``, ``str``, ``bool``, :data:`NAMES` or :data:`OPTIONS`."""
    default: Any
    help: str
    stage: str | None
    """The first stage whose output it changes; None for where and how far to run."""
    check: Callable[[Any], str | None] | None = None
    """Returns why a value is refused, or None when it is fine."""
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _at_least(low: float) -> Callable[[Any], str | None]:
    return lambda value: None if value >= low else f"must be at least {low:g}"


def _open_unit(value: float) -> str | None:
    return None if 0 < value <= 1 else "must be above 0 and at most 1"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be above 0"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "skills", NAMES, (), "Skills the traces show, comma-separated: verify,retry.", "traces"
    ),
    Setting("task", str, "countdown", "The task the questions come from.", "problems"),
    Setting(
        "task_options",
        OPTIONS,
        {},
        "Options of the task, KEY=VALUE (repeatable); with the default model and Countdown, "
        "numbers 1 to 20 unless given.",
        "problems",
    ),
    Setting(
        "difficulty", int, None, "Difficulty of the questions (default: the task's).", "problems"
    ),
    Setting("questions", int, 64, "How many questions to sample.", "problems", _at_least(1)),
    Setting("seed", int, 0, "Seeds the questions, the sampling and the traces.", "problems"),
    Setting(
        "model",
        str,
        "default",
        "default, smollm2, a local model directory, or a hub id.",
        "samples",
    ),
    Setting("trust_remote_code", bool, False, "Let code shipped with the model run.", "samples"),
    Setting("sampler", str, "transformers", "The sampler plugin.", "samples"),
    Setting(
        "sampler_options",
        OPTIONS,
        {},
        "Options of the sampler, KEY=VALUE (repeatable), e.g. batch_size=32.",
        "samples",
    ),
    Setting("variants", NAMES, (), "Prompt variants to sample under (default: all).", "samples"),
    Setting(
        "samples_per_variant",
        int,
        4,
        "Samples per question and variant (the paper: 16).",
        "samples",
        _at_least(1),
    ),
    Setting(
        "temperature", float, 0.7, "Sampling temperature; 0 is greedy.", "samples", _at_least(0)
    ),
    Setting("top_p", float, 0.8, "Nucleus sampling mass.", "samples", _open_unit),
    Setting(
        "top_k",
        int,
        20,
        "Sample among the k likeliest tokens; 0 turns it off.",
        "samples",
        _at_least(0),
    ),
    Setting(
        "repetition_penalty",
        float,
        1.0,
        "Penalty on repeated tokens (the paper: 1.1; it hurts the small default model).",
        "samples",
        _positive,
    ),
    Setting("max_new_tokens", int, 192, "Token budget of one attempt.", "samples", _at_least(1)),
    Setting(
        "shard_size",
        int,
        16,
        "Prompts per shard: the unit sampling saves, and resumes from.",
        "samples",
        _at_least(1),
    ),
    Setting(
        "reflections",
        int,
        4,
        "Reflections per sample (as in the paper).",
        "reflections",
        _at_least(1),
    ),
    Setting(
        "reflection_max_new_tokens",
        int,
        192,
        "Token budget of one reflection.",
        "reflections",
        _at_least(1),
    ),
    Setting(
        "max_attempts",
        int,
        5,
        "Most attempts one trace shows (the paper: 5).",
        "traces",
        _at_least(1),
    ),
    Setting(
        "traces_per_question",
        int,
        8,
        "Most traces made from one question.",
        "traces",
        _at_least(1),
    ),
    Setting(
        "order",
        str,
        "correct-last",
        "random is the paper's no-order ablation.",
        "traces",
        choices=("correct-last", "random"),
    ),
    Setting(
        "sft_learning_rate",
        float,
        5e-4,
        "SFT learning rate (the paper: 1e-6 for a 1.5B model; the small default model needs "
        "far more).",
        "sft",
        _positive,
    ),
    Setting(
        "sft_epochs", float, 2.0, "SFT epochs over the traces (the paper: 2).", "sft", _positive
    ),
    Setting("sft_batch_size", int, 4, "SFT traces per step.", "sft", _at_least(1)),
    Setting(
        "sft_max_length",
        int,
        1024,
        "Longest trace SFT trains on, in tokens; longer ones are dropped and counted.",
        "sft",
        _at_least(8),
    ),
    Setting(
        "sft_options",
        OPTIONS,
        {},
        "More options of the sft trainer, KEY=VALUE (repeatable), e.g. lora=true.",
        "sft",
    ),
    Setting("grpo_steps", int, 40, "GRPO steps (the paper: 150).", "grpo", _at_least(1)),
    Setting(
        "grpo_learning_rate",
        float,
        1e-4,
        "GRPO learning rate (the paper: 1e-6).",
        "grpo",
        _positive,
    ),
    Setting(
        "grpo_questions",
        int,
        64,
        "Questions GRPO prompts with (drawn apart from the evaluation questions).",
        "grpo",
        _at_least(1),
    ),
    Setting(
        "grpo_generations",
        int,
        8,
        "Completions per question that GRPO compares (the paper: 16).",
        "grpo",
        _at_least(2),
    ),
    Setting(
        "grpo_batch_size",
        int,
        8,
        "Completions per GRPO step; a multiple of grpo_generations.",
        "grpo",
        _at_least(1),
    ),
    Setting(
        "grpo_max_completion_length",
        int,
        384,
        "Token budget of one GRPO completion.",
        "grpo",
        _at_least(1),
    ),
    Setting("grpo_temperature", float, 0.7, "GRPO sampling temperature.", "grpo", _positive),
    Setting("grpo_beta", float, 0.0, "KL weight (the paper: none).", "grpo", _at_least(0)),
    Setting(
        "grpo_options",
        OPTIONS,
        {},
        "More options of the grpo trainer, KEY=VALUE (repeatable).",
        "grpo",
    ),
    Setting(
        "eval_suite",
        str,
        "quick",
        "The evaluation suite: quick (minutes on a CPU) or paper.",
        "eval",
        choices=("quick", "paper"),
    ),
    Setting(
        "eval_samples",
        int,
        1,
        "Responses per held-out question (the paper: 4).",
        "eval",
        _at_least(1),
    ),
    Setting(
        "eval_questions",
        int,
        None,
        "Held-out questions per level (default: the suite's).",
        "eval",
        _at_least(1),
    ),
    Setting(
        "eval_max_new_tokens",
        int,
        512,
        "Token budget of one evaluated response.",
        "eval",
        _at_least(1),
    ),
    Setting(
        "eval_budget_forcing",
        int,
        0,
        "Also evaluate with the thinking re-opened up to N times (the paper's budget forcing).",
        "eval",
        _at_least(0),
    ),
    Setting(
        "eval_budget_cap",
        str,
        "total",
        "Budget forcing's token cap: total (the whole response, as the paper) or each "
        "(every continuation).",
        "eval",
        choices=("total", "each"),
    ),
    Setting(
        "run_dir", str, None, "The run directory (default: runs/TASK-DIFFICULTY-SKILLS).", None
    ),
    Setting("from", str, None, "Redo this stage and all after it, keeping the ones before.", None),
    Setting("until", str, None, "Stop after this stage (default: the last one).", None),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
PLACEMENT = ("run_dir", "from", "until")
"""Settings that say where and how far to run, not what to make: never in a fingerprint."""


def defaults() -> dict[str, Any]:
    return {setting.name: setting.default for setting in SETTINGS}


def load_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML (``.toml``) or YAML (``.yaml``, ``.yml``) file, checked."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"config file {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {str(path)!r} is not UTF-8 text") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UsageError(f"config file {str(path)!r} is not valid TOML: {error}") from None
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            first = str(error).splitlines()[0] if str(error) else "parse error"
            raise UsageError(f"config file {str(path)!r} is not valid YAML: {first}") from None
    else:
        raise UsageError(
            f"config file {str(path)!r}: use a .toml, .yaml or .yml file, got {suffix or 'none'!r}"
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {str(path)!r} must hold a table of settings")
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in BY_NAME:
            known = ", ".join(BY_NAME)
            raise UsageError(
                f"config file {str(path)!r}: unknown setting {key!r}; settings: {known}"
            )
        values[name] = parse_value(BY_NAME[name], value, where=f"config file {str(path)!r}")
    return values


def parse_value(setting: Setting, value: Any, *, where: str) -> Any:
    """``value`` as ``setting`` holds it; a wrong type or a refused value is a usage error."""

    def refuse(why: str) -> UsageError:
        return UsageError(f"{where}: {setting.name} {why}, got {value!r}")

    if value is None:
        return setting.default
    kind = setting.kind
    if kind is NAMES:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise refuse("must be a list of names")
        parsed: Any = tuple(value)
    elif kind is OPTIONS:
        if not isinstance(value, Mapping):
            raise refuse("must be a table of options")
        parsed = {str(k): v for k, v in value.items()}
    elif kind is bool:
        if not isinstance(value, bool):
            raise refuse("must be true or false")
        parsed = value
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse("must be a whole number")
        parsed = value
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse("must be a number")
        parsed = float(value)
    else:
        if not isinstance(value, str):
            raise refuse("must be text")
        parsed = value
    if setting.choices and parsed not in setting.choices:
        raise refuse(f"must be one of {', '.join(setting.choices)}")
    if setting.check is not None:
        why = setting.check(parsed)
        if why:
            raise refuse(why)
    return parsed


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; a layer holds only the settings it sets."""
    values = defaults()
    for layer in layers:
        values.update(layer)
    return values


def stage_settings(stage: str) -> list[str]:
    """The settings whose first effect is on ``stage``, in table order."""
    return [setting.name for setting in SETTINGS if setting.stage == stage]


def default_run_dir(values: Mapping[str, Any]) -> str:
    skills = "-".join(values["skills"]) or "no-skills"
    return str(Path("runs") / f"{values['task']}-{values['difficulty']}-{skills}")


def made_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that decide what a run makes (all but where and how far it runs)."""
    return {name: _plain(values[name]) for name in BY_NAME if name not in PLACEMENT}


def _plain(value: Any) -> Any:
    """JSON's view of a value, so that a config read back compares equal to a resolved one."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in sorted(value.items())}
    return value


def resolve(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check the settings against the installed plugins and fill in what depends on them.

    The task's default difficulty and its full list of variants are written out,
    so that the saved config says exactly what was run. Unknown names are usage
    errors that list the known ones.
    """
    from skillfactory.compose_command import selected_skills
    from skillfactory.models.resolve import check_model_spec
    from skillfactory.registry import get_registry

    resolved = dict(values)
    registry = get_registry()
    if not resolved["skills"]:
        known = ", ".join(registry.names("skill")) or "none are installed"
        raise UsageError(f"choose the skills the traces show with --skills; known skills: {known}")
    selected_skills(",".join(resolved["skills"]))
    task_class = registry.get("task", resolved["task"]).factory
    if not resolved["task_options"]:
        resolved["task_options"] = model_task_options(resolved["model"], resolved["task"])
    registry.get("task", resolved["task"]).create(**resolved["task_options"])
    resolved["difficulty"] = task_class.resolve_difficulty(resolved["difficulty"])
    variants = resolved["variants"] or tuple(task_class.variants)
    resolved["variants"] = tuple(task_class.resolve_variant(v) for v in dict.fromkeys(variants))
    registry.get("sampler", resolved["sampler"])
    from skillfactory.pipeline.stages import STAGE_NAMES, STAGES

    for name in ("from", "until"):
        if resolved[name] is not None and resolved[name] not in STAGE_NAMES:
            raise UsageError(
                f"{name} must name a stage ({', '.join(STAGE_NAMES)}), got {resolved[name]!r}"
            )
    last = STAGE_NAMES.index(resolved["until"] or STAGE_NAMES[-1])
    if any(stage.uses_model for stage in STAGES[: last + 1]):  # not for --until problems
        check_model_spec(resolved["model"])
    if resolved["grpo_batch_size"] % resolved["grpo_generations"]:
        raise UsageError(
            f"grpo_batch_size ({resolved['grpo_batch_size']}) must be a multiple of "
            f"grpo_generations ({resolved['grpo_generations']})"
        )
    if resolved["run_dir"] is None:
        resolved["run_dir"] = default_run_dir(resolved)
    return resolved


def model_task_options(model: str, task: str) -> dict[str, Any]:
    """The task options a run uses when none are given: the range its model was built for.

    The default model (shipped or rebuilt) knows Countdown over numbers 1 to 20
    (its corpus holds no other), so a default run asks it questions in that range;
    any other model
    gets the task's own defaults (the paper's range). ``--task-option`` overrides.
    """
    from skillfactory.models.resolve import DEFAULT_MODEL, REBUILT

    if model not in (DEFAULT_MODEL, REBUILT) or task != "countdown":
        return {}
    from skillfactory.models.worked_countdown import OPTIONS

    return dict(OPTIONS)


def to_yaml(values: Mapping[str, Any]) -> str:
    """The resolved settings as a YAML config file that ``--config`` reads back."""
    import yaml

    plain = {name: _plain(values[name]) for name in BY_NAME}
    header = "# skillfactory run: resolved settings (save this and pass it to --config)\n"
    return header + yaml.safe_dump(plain, sort_keys=False, default_flow_style=None)
