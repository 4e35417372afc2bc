"""One or more evaluations as ``report.md``, PNG plots and ``plots.json``.

A *source* is either a run directory (it holds ``eval/metrics.json``, and maybe
``config.json``, ``sft/curve.json`` and ``grpo/curve.json``) or an evaluation
directory (it holds ``metrics.json`` itself, as ``skillfactory evaluate --output``
leaves it). Several sources are compared side by side: every model of every source
becomes one column, named ``RUN / LABEL``.

The plots are drawn with matplotlib's Agg renderer, imported only when a report is
written, so importing this module stays cheap. ``plots.json`` holds every plotted
series exactly as drawn (label → ``[[x, y], ...]``), for tests and for anyone who
wants the numbers behind a figure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillfactory.errors import SkillFactoryError, UsageError
from skillfactory.evaluation.metrics import wilson_interval

METRICS_FILE = "metrics.json"
EVAL_DIR = "eval"
CONFIG_FILE = "config.json"
SFT_CURVE = Path("sft") / "curve.json"
GRPO_CURVE = Path("grpo") / "curve.json"

REPORT_FILE = "report.md"
PLOTS_FILE = "plots.json"
ACCURACY_PLOT = "accuracy_by_difficulty.png"
SKILL_PLOT = "skill_usage.png"
CURVES_PLOT = "training_curves.png"
GRPO_CURVES = (
    ("reward", "grpo_reward"),
    ("frac_reward_zero_std", "grpo_zero_std"),
    ("entropy", "grpo_entropy"),
    ("completions/mean_length", "grpo_length_curve"),
)
"""What GRPO's curve.json logs per step, and the name each is kept under: the reward, the
share of groups whose completions all scored alike (they teach nothing), the policy's
entropy (a collapse shows here) and the mean completion length."""
CURVE_PANELS = (
    ("sft_loss", "SFT loss", "loss"),
    ("grpo_reward", "GRPO reward", "reward"),
    ("grpo_zero_std", "GRPO groups with one reward for all", "fraction"),
    ("grpo_entropy", "GRPO entropy", "entropy"),
    ("grpo_length_curve", "GRPO completion length", "tokens"),
)

RUN_SETTINGS = (
    "task",
    "task_options",
    "difficulty",
    "model",
    "skills",
    "questions",
    "variants",
    "samples_per_variant",
    "reflections",
    "max_attempts",
    "traces_per_question",
    "order",
    "seed",
)
"""Settings of ``config.json`` shown for a run, in this order; then every ``sft_*`` and
``grpo_*`` setting."""

NO_DIFFICULTY = "all"
"""How a cell without a difficulty (CSQA, GSM8K) is shown."""
DASH = "—"
EN_DASH = "\u2013"
"""The en dash between the bounds of an interval or a range."""


@dataclass(frozen=True)
class BudgetForcing:
    """Accuracy and length of the same cell when the model is made to keep thinking."""

    rounds: int | None
    reopened: int | None
    """How many times, over all responses, the thinking was re-opened."""
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    mean_length: float | None


@dataclass(frozen=True)
class Cell:
    """One task at one difficulty, for one model."""

    task: str
    difficulty: Any
    problems: int | None
    responses: int | None
    correct: int | None
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    format_rate: float | None
    mean_length: float | None
    attempts: float | None
    reflections: float | None
    verdicts: int | None
    verdict_f1_correct: float | None
    verdict_f1_incorrect: float | None
    budget_forcing: BudgetForcing | None
    trace_rate: float | None = None
    """Share of responses in the trace format (a ``<sample>`` and a ``<reflect>``)."""
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """95% intervals of the skill figures, by metrics.json key (absent where undefined)."""

    @property
    def key(self) -> tuple[str, Any]:
        return (self.task, self.difficulty)


@dataclass(frozen=True)
class ModelResult:
    """The cells of one evaluated model (a stage of a run: ``base``, ``sft``, ``grpo``)."""

    label: str
    model: str
    cells: tuple[Cell, ...]

    def cell(self, task: str, difficulty: Any) -> Cell | None:
        return next((cell for cell in self.cells if cell.key == (task, difficulty)), None)


@dataclass
class Source:
    """One run or evaluation directory, as read from its files."""

    name: str
    path: Path
    kind: str
    """``"run"`` or ``"evaluation"``."""
    settings: dict[str, Any]
    models: list[ModelResult]
    config: dict[str, Any] | None = None
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """``"sft_loss"`` and ``"grpo_reward"`` (when present) as ``(step, value)`` points."""
    curve_extras: dict[str, float] = field(default_factory=dict)
    """The last GRPO accuracy and completion length, when the curve logs them."""

    @property
    def metrics_path(self) -> Path:
        if self.kind == "run":
            return self.path / EVAL_DIR / METRICS_FILE
        return self.path / METRICS_FILE


@dataclass(frozen=True)
class Column:
    """One model of one source: a column of the tables and a line of the plots."""

    name: str
    source: Source
    result: ModelResult


# --------------------------------------------------------------------------- reading


def load_source(path: Path) -> Source:
    """Read a run or evaluation directory; anything missing or unreadable is a usage error."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{str(path)!r} does not exist")
    if not path.is_dir():
        raise UsageError(f"{str(path)!r} is a file; pass a run or evaluation directory")
    if (path / EVAL_DIR / METRICS_FILE).is_file():
        kind = "run"
        metrics_path = path / EVAL_DIR / METRICS_FILE
    elif (path / METRICS_FILE).is_file():
        kind = "evaluation"
        metrics_path = path / METRICS_FILE
    elif (path / CONFIG_FILE).is_file():
        raise UsageError(
            f"run {str(path)!r} has no {EVAL_DIR}/{METRICS_FILE}; evaluate it before reporting"
        )
    else:
        raise UsageError(
            f"{str(path)!r} has no {METRICS_FILE} (nor {EVAL_DIR}/{METRICS_FILE}); "
            f"pass a run directory or an evaluation directory"
        )
    metrics = _read_json(metrics_path)
    if not isinstance(metrics, dict) or not isinstance(metrics.get("models"), list):
        raise UsageError(f"{str(metrics_path)!r} is not an evaluation's metrics (no 'models' list)")
    settings = metrics.get("settings") or {}
    if not isinstance(settings, dict):
        raise UsageError(f"{str(metrics_path)!r} has a 'settings' entry that is not an object")
    source = Source(
        name=path.resolve().name or str(path),
        path=path,
        kind=kind,
        settings=settings,
        models=_models(metrics["models"], metrics_path),
    )
    if kind == "run":
        config_path = path / CONFIG_FILE
        if config_path.is_file():
            config = _read_json(config_path)
            if not isinstance(config, dict):
                raise UsageError(f"{str(config_path)!r} does not hold a run's settings")
            source.config = config
        sft = _curve(path / SFT_CURVE)
        grpo = _curve(path / GRPO_CURVE)
        if sft is not None:
            source.curves["sft_loss"] = _points(sft, "loss")
        if grpo is not None:
            for key, name in GRPO_CURVES:
                points = _points(grpo, key)
                if points:
                    source.curves[name] = points
            for key, name in (
                ("rewards/accuracy/mean", "grpo_accuracy"),
                ("completions/mean_length", "grpo_length"),
            ):
                points = _points(grpo, key)
                if points:
                    source.curve_extras[name] = points[-1][1]
    return source


def load_sources(paths: Sequence[Path]) -> list[Source]:
    """Read every source; sources whose directories share a name get their parent's too."""
    if not paths:
        raise UsageError("give at least one run or evaluation directory")
    sources = [load_source(Path(path)) for path in paths]
    _unique_names(sources)
    return sources


def _unique_names(sources: list[Source]) -> None:
    counts: dict[str, int] = {}
    for source in sources:
        counts[source.name] = counts.get(source.name, 0) + 1
    for source in sources:
        if counts[source.name] > 1:
            resolved = source.path.resolve()
            source.name = f"{resolved.parent.name}/{resolved.name}"
    seen: dict[str, int] = {}
    for source in sources:
        seen[source.name] = seen.get(source.name, 0) + 1
        if seen[source.name] > 1:
            source.name = f"{source.name} #{seen[source.name]}"


def _read_json(path: Path) -> Any:
    """A JSON file's value; its strings stored safely (a lone surrogate kept as its escape)."""
    from skillfactory.jsonl import storable

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"{str(path)!r} is unreadable ({error.strerror or error})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{str(path)!r} is not valid UTF-8 (byte 0x{raw[error.start]:02x} at offset "
            f"{error.start})"
        ) from None
    try:
        return storable(json.loads(text))
    except ValueError as error:
        raise UsageError(f"{str(path)!r} is not valid JSON ({error})") from None


def _curve(path: Path) -> list[Mapping[str, Any]] | None:
    if not path.is_file():
        return None
    entries = _read_json(path)
    if not isinstance(entries, list):
        raise UsageError(f"{str(path)!r} is not a list of log entries")
    return [entry for entry in entries if isinstance(entry, Mapping)]


def _points(entries: Iterable[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    points = []
    for entry in entries:
        step, value = _number(entry.get("step")), _number(entry.get(key))
        if step is not None and value is not None:
            points.append((step, value))
    return points


def _models(entries: list[Any], path: Path) -> list[ModelResult]:
    models: list[ModelResult] = []
    labels: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("cells"), list):
            raise UsageError(f"{str(path)!r}: model {index} has no 'cells' list")
        label = str(entry.get("label") or entry.get("model") or f"model {index + 1}")
        labels[label] = labels.get(label, 0) + 1
        if labels[label] > 1:
            label = f"{label} #{labels[label]}"
        cells = tuple(_cell(cell, path, label) for cell in entry["cells"])
        models.append(ModelResult(label=label, model=str(entry.get("model") or ""), cells=cells))
    return models


def _cell(entry: Any, path: Path, label: str) -> Cell:
    if not isinstance(entry, dict) or not isinstance(entry.get("task"), str) or not entry["task"]:
        raise UsageError(f"{str(path)!r}: a cell of model {label!r} names no task")
    responses = _integer(entry.get("responses"))
    correct = _integer(entry.get("correct"))
    accuracy = _number(entry.get("accuracy"))
    if accuracy is None and correct is not None and responses:
        accuracy = correct / responses
    ci_low, ci_high = _number(entry.get("ci_low")), _number(entry.get("ci_high"))
    if (ci_low is None or ci_high is None) and accuracy is not None and responses:
        ci_low, ci_high = wilson_interval(round(accuracy * responses), responses)
    forcing = entry.get("budget_forcing")
    budget = None
    if isinstance(forcing, dict):
        budget = BudgetForcing(
            rounds=_integer(forcing.get("rounds")),
            reopened=_integer(forcing.get("reopened")),
            accuracy=_number(forcing.get("accuracy")),
            ci_low=_number(forcing.get("ci_low")),
            ci_high=_number(forcing.get("ci_high")),
            mean_length=_number(forcing.get("mean_length")),
        )
    return Cell(
        task=str(entry["task"]),
        difficulty=entry.get("difficulty"),
        problems=_integer(entry.get("problems")),
        responses=responses,
        correct=correct,
        accuracy=accuracy,
        ci_low=ci_low,
        ci_high=ci_high,
        format_rate=_number(entry.get("format_rate")),
        mean_length=_number(entry.get("mean_length")),
        attempts=_number(entry.get("attempts")),
        reflections=_number(entry.get("reflections")),
        verdicts=_integer(entry.get("verdicts")),
        verdict_f1_correct=_number(entry.get("verdict_f1_correct")),
        verdict_f1_incorrect=_number(entry.get("verdict_f1_incorrect")),
        intervals=_intervals(entry.get("intervals")),
        budget_forcing=budget,
        trace_rate=_number(entry.get("trace_rate")),
    )


def _number(value: Any) -> float | None:
    """A finite number as given (ints stay ints); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


# --------------------------------------------------------------------------- layout


def columns(sources: Sequence[Source]) -> list[Column]:
    """Every model of every source, in order; named ``RUN / LABEL`` when there are several."""
    several = len(sources) > 1
    return [
        Column(f"{source.name} / {result.label}" if several else result.label, source, result)
        for source in sources
        for result in source.models
    ]


def task_rows(sources: Sequence[Source]) -> list[tuple[str, list[Any]]]:
    """Tasks in order of first appearance, each with its difficulties in ascending order."""
    tasks: dict[str, list[Any]] = {}
    for source in sources:
        for result in source.models:
            for cell in result.cells:
                difficulties = tasks.setdefault(cell.task, [])
                if cell.difficulty not in difficulties:
                    difficulties.append(cell.difficulty)
    return [(task, sorted(levels, key=_difficulty_order)) for task, levels in tasks.items()]


def _difficulty_order(difficulty: Any) -> tuple[int, float, str]:
    if difficulty is None:
        return (2, 0.0, "")
    if isinstance(difficulty, (int, float)) and not isinstance(difficulty, bool):
        return (0, float(difficulty), "")
    return (1, 0.0, str(difficulty))


def difficulty_text(difficulty: Any) -> str:
    return NO_DIFFICULTY if difficulty is None else str(difficulty)


def accuracy_text(accuracy: float | None, low: float | None, high: float | None) -> str:
    """``15.5% [11.0-21.0]`` (an en dash): the accuracy and its 95% interval, in percent."""
    if accuracy is None:
        return DASH
    text = f"{100 * accuracy:.1f}%"
    if low is not None and high is not None:
        text += f" [{100 * low:.1f}{EN_DASH}{100 * high:.1f}]"
    return text


def headline_lines(sources: Sequence[Path]) -> list[str]:
    """The accuracy of every column on each difficulty of the first task, one line each."""
    loaded = load_sources(sources)
    rows = task_rows(loaded)
    if not rows:
        return ["no cells were evaluated"]
    task, difficulties = rows[0]
    lines = [f"{task} accuracy by difficulty ({', '.join(map(difficulty_text, difficulties))}):"]
    table = columns(loaded)
    cells = []
    for column in table:
        row = []
        for difficulty in difficulties:
            cell = column.result.cell(task, difficulty)
            value = accuracy_text(cell.accuracy, cell.ci_low, cell.ci_high) if cell else DASH
            row.append(f"{difficulty_text(difficulty)}: {value}")
        cells.append(row)
    widths = [max(len(row[index]) for row in cells) for index in range(len(difficulties))]
    name_width = max(len(column.name) for column in table)
    for column, row in zip(table, cells, strict=True):
        parts = [text.ljust(width) for text, width in zip(row, widths, strict=True)]
        lines.append(f"  {column.name.ljust(name_width)}  " + "   ".join(parts).rstrip())
    return lines


# --------------------------------------------------------------------------- markdown


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_escape(text) for text in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(_escape(text) for text in row) + " |" for row in rows)
    return lines


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value) or DASH
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else DASH
    if value is None:
        return DASH
    return str(value)


def _intervals(value: Any) -> dict[str, tuple[float, float]]:
    """The ``intervals`` of a metrics.json cell, keeping only well-formed pairs."""
    if not isinstance(value, Mapping):
        return {}
    kept = {}
    for key, bounds in value.items():
        if isinstance(bounds, list) and len(bounds) == 2:
            low, high = _number(bounds[0]), _number(bounds[1])
            if low is not None and high is not None:
                kept[str(key)] = (low, high)
    return kept


def _with_interval(text: str, bounds: tuple[float, float] | None, show: Any) -> str:
    """``text`` then its interval in brackets, the bounds (written by ``show``) joined by a dash."""
    if text == DASH or bounds is None:
        return text
    return f"{text} [{show(bounds[0])}{EN_DASH}{show(bounds[1])}]"


def _fixed(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def _span(values: Iterable[int | None]) -> str:
    known = sorted({value for value in values if value is not None})
    if not known:
        return DASH
    return str(known[0]) if len(known) == 1 else f"{known[0]}{EN_DASH}{known[-1]}"


def _run_settings(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    keys = [key for key in RUN_SETTINGS if key in config]
    keys += sorted(
        (
            key
            for key in config
            if key.startswith(("sft_", "grpo_")) and key not in keys and config[key] not in ({}, [])
        ),
        key=lambda key: (not key.startswith("sft_"), key),
    )
    return [(key, config[key]) for key in keys]


def _source_section(source: Source) -> list[str]:
    kind = "A run" if source.kind == "run" else "An evaluation"
    lines = [f"### {source.name}", "", f"{kind} directory: `{source.path}`."]
    if source.settings:
        settings = ", ".join(
            f"{key} = {_value_text(value)}" for key, value in source.settings.items()
        )
        lines += ["", f"Evaluation settings: {settings}."]
    if source.config is not None:
        lines += ["", "Run settings (config.json):", ""]
        lines += [f"- {key}: {_value_text(value)}" for key, value in _run_settings(source.config)]
    elif source.kind == "run":
        lines += ["", "The run has no config.json, so its settings are unknown."]
    lines += ["", "Sample sizes:", ""]
    rows = []
    for result in source.models:
        responses = [cell.responses for cell in result.cells]
        total = sum(value for value in responses if value is not None)
        rows.append(
            [
                result.label,
                result.model or DASH,
                str(len(result.cells)),
                _span(cell.problems for cell in result.cells),
                _span(responses),
                str(total),
            ]
        )
    lines += _table(
        [
            "Label",
            "Model",
            "Cells",
            "Problems per cell",
            "Responses per cell",
            "Responses in all",
        ],
        rows,
    )
    return lines


def _accuracy_section(sources: Sequence[Source]) -> list[str]:
    table = columns(sources)
    header = ["Task", "Difficulty"] + [column.name for column in table]
    rows = []
    for task, difficulties in task_rows(sources):
        for difficulty in difficulties:
            row = [task, difficulty_text(difficulty)]
            for column in table:
                cell = column.result.cell(task, difficulty)
                if cell is None or cell.accuracy is None:
                    row.append(DASH)
                    continue
                text = accuracy_text(cell.accuracy, cell.ci_low, cell.ci_high)
                n = DASH if cell.responses is None else str(cell.responses)
                row.append(f"{text} (n={n})")
            rows.append(row)
    several = "RUN / LABEL" if len(sources) > 1 else "label"
    intro = (
        f"Accuracy of each model (one column per {several}), with the 95% Wilson interval "
        "in brackets and the number of scored responses n. Responses to the same problem "
        "are not independent, so when a problem is sampled several times the true "
        "uncertainty is wider than the interval suggests; compare the problem counts above."
    )
    return ["## Accuracy", "", intro, "", *_table(header, rows)]


def _skill_section(sources: Sequence[Source]) -> list[str]:
    several = len(sources) > 1
    header = [
        "Task",
        "Difficulty",
        "RUN / LABEL" if several else "Label",
        "In trace format",
        "Attempts",
        "Reflections",
        "Verdicts",
        "F1 correct",
        "F1 incorrect",
        "Format rate",
        "Mean length",
    ]
    table = columns(sources)
    rows = []
    for task, difficulties in task_rows(sources):
        for difficulty in difficulties:
            for column in table:
                cell = column.result.cell(task, difficulty)
                if cell is None:
                    continue
                rows.append(
                    [
                        task,
                        difficulty_text(difficulty),
                        column.name,
                        _with_interval(
                            _percent(cell.trace_rate),
                            cell.intervals.get("trace_rate"),
                            lambda bound: f"{100 * bound:.1f}",
                        ),
                        _with_interval(
                            _fixed(cell.attempts), cell.intervals.get("attempts"), _fixed
                        ),
                        _with_interval(
                            _fixed(cell.reflections), cell.intervals.get("reflections"), _fixed
                        ),
                        _value_text(cell.verdicts),
                        _with_interval(
                            _fixed(cell.verdict_f1_correct),
                            cell.intervals.get("verdict_f1_correct"),
                            _fixed,
                        ),
                        _with_interval(
                            _fixed(cell.verdict_f1_incorrect),
                            cell.intervals.get("verdict_f1_incorrect"),
                            _fixed,
                        ),
                        _percent(cell.format_rate),
                        _fixed(cell.mean_length, 1),
                    ]
                )
    intro = (
        "In trace format is the share of responses with at least one <sample> and one "
        "<reflect> block. Attempts and reflections are means per response. The verdict F1 "
        "scores compare the "
        "verdicts the model writes about its own attempts with the verifier, for attempts "
        "that are correct and for those that are not (— where undefined). The format rate "
        "is the share of responses with an answer that could be extracted; lengths are in "
        "tokens. Brackets hold 95% intervals: Wilson for the trace share, the normal "
        "approximation for the means, a seeded bootstrap over the verdicts for F1."
    )
    return ["## Skill usage", "", intro, "", *_table(header, rows)]


def _budget_section(sources: Sequence[Source]) -> list[str]:
    several = len(sources) > 1
    rows = []
    table = columns(sources)
    for task, difficulties in task_rows(sources):
        for difficulty in difficulties:
            for column in table:
                cell = column.result.cell(task, difficulty)
                if cell is None or cell.budget_forcing is None:
                    continue
                forced = cell.budget_forcing
                rows.append(
                    [
                        task,
                        difficulty_text(difficulty),
                        column.name,
                        _value_text(forced.rounds),
                        _value_text(forced.reopened),
                        accuracy_text(cell.accuracy, cell.ci_low, cell.ci_high),
                        accuracy_text(forced.accuracy, forced.ci_low, forced.ci_high),
                        _fixed(cell.mean_length, 1),
                        _fixed(forced.mean_length, 1),
                    ]
                )
    if not rows:
        return []
    header = [
        "Task",
        "Difficulty",
        "RUN / LABEL" if several else "Label",
        "Rounds",
        "Re-opened",
        "Accuracy",
        "Accuracy forced",
        "Mean length",
        "Mean length forced",
    ]
    intro = (
        "Budget forcing re-opens the model's thinking when it closes it, up to the given "
        "number of rounds (Re-opened: how many times that happened over all responses); "
        "the forced columns score those longer responses on the same problems."
    )
    return ["## Budget forcing", "", intro, "", *_table(header, rows)]


def _quarter_means(points: Sequence[tuple[float, float]]) -> list[str]:
    """The mean reward over the first and the last quarter of the steps, and the gain.

    One step's reward is the mean over a handful of completions, so it is noisy; whether
    GRPO learned shows in quarters, not in the first and last step.
    """
    if not points:
        return [DASH, DASH, DASH]
    size = max(1, len(points) // 4)
    first = sum(value for _, value in points[:size]) / size
    last = sum(value for _, value in points[-size:]) / size
    return [_fixed(first, 3), _fixed(last, 3), f"{last - first:+.3f}"]


def _curves_section(sources: Sequence[Source], drawn: bool) -> list[str]:
    lines = ["## Training curves", ""]
    if not drawn:
        return [
            *lines,
            "No training curves were found (no source has sft/curve.json or "
            "grpo/curve.json), so training_curves.png was not drawn.",
        ]
    rows = []
    for source in sources:
        if not source.curves:
            continue
        sft = source.curves.get("sft_loss") or []
        grpo = source.curves.get("grpo_reward") or []
        rows.append(
            [
                source.name,
                str(len(sft)) if sft else DASH,
                _fixed(sft[0][1], 4) if sft else DASH,
                _fixed(sft[-1][1], 4) if sft else DASH,
                str(len(grpo)) if grpo else DASH,
                *_quarter_means(grpo),
                _fixed(source.curve_extras.get("grpo_accuracy"), 3),
                _fixed(source.curve_extras.get("grpo_length"), 1),
            ]
        )
    header = [
        "Run",
        "SFT log entries",
        "SFT loss first",
        "SFT loss last",
        "GRPO log entries",
        "GRPO reward first quarter",
        "GRPO reward last quarter",
        "GRPO reward gain",
        "GRPO accuracy last",
        "GRPO length last",
    ]
    missing = [source.name for source in sources if not source.curves]
    lines += _table(header, rows)
    if missing:
        lines += ["", f"No curves for: {', '.join(missing)}."]
    return lines


def render_markdown(sources: Sequence[Source], plots: Sequence[str]) -> str:
    """The text of ``report.md`` for the loaded sources and the plot files drawn."""
    names = ", ".join(source.name for source in sources)
    lines = [
        "# SkillFactory evaluation report",
        "",
        f"Sources: {names}.",
        "",
        "## Sources",
        "",
    ]
    for source in sources:
        lines += [*_source_section(source), ""]
    lines += [*_accuracy_section(sources), ""]
    lines += [*_skill_section(sources), ""]
    budget = _budget_section(sources)
    if budget:
        lines += [*budget, ""]
    lines += [*_curves_section(sources, CURVES_PLOT in plots), ""]
    lines += ["## Plots", ""]
    titles = {
        ACCURACY_PLOT: "Accuracy by difficulty",
        SKILL_PLOT: "Skill usage by difficulty",
        CURVES_PLOT: "Training curves",
    }
    for name in plots:
        lines += [f"- [{titles.get(name, name)}]({name})"]
    lines += ["", f"The numbers behind every plot are in [{PLOTS_FILE}]({PLOTS_FILE}).", ""]
    for name in plots:
        lines += [f"![{titles.get(name, name)}]({name})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- plots


def plot_data(sources: Sequence[Source]) -> list[dict[str, Any]]:
    """What each plot draws: ``{"file", "styles", "panels": [{"title", "x", "y", "series"}]}``.

    ``series`` maps a line's label to its ``[x, y]`` points; ``x`` is the difficulty
    (``null`` for a task without one) or the training step. The accuracy panels add
    ``intervals`` (label → ``[x, low, high]``), the error bars. Panels over difficulties
    list them in ``difficulties`` (drawn evenly spaced, in that order) and shift each
    line sideways by its ``offsets`` entry (in difficulty steps) so that error bars do
    not hide each other. ``styles`` gives each label's colour and line style.
    """
    table = columns(sources)
    rows = task_rows(sources)
    accuracy_panels = []
    skill_panels = []
    for task, difficulties in rows:
        series: dict[str, list[list[Any]]] = {}
        intervals: dict[str, list[list[Any]]] = {}
        usage: dict[str, dict[str, list[list[Any]]]] = {"attempts": {}, "reflections": {}}
        for column in table:
            for difficulty in difficulties:
                cell = column.result.cell(task, difficulty)
                if cell is None:
                    continue
                if cell.accuracy is not None:
                    series.setdefault(column.name, []).append([difficulty, cell.accuracy])
                    low = cell.accuracy if cell.ci_low is None else cell.ci_low
                    high = cell.accuracy if cell.ci_high is None else cell.ci_high
                    intervals.setdefault(column.name, []).append([difficulty, low, high])
                for measure, values in usage.items():
                    value = getattr(cell, measure)
                    if value is not None:
                        values.setdefault(column.name, []).append([difficulty, value])
        accuracy_panels.append(
            {
                "title": task,
                "x": "difficulty",
                "y": "accuracy",
                "difficulties": difficulties,
                "offsets": _offsets(list(series)),
                "series": series,
                "intervals": intervals,
            }
        )
        for measure, values in usage.items():
            skill_panels.append(
                {
                    "title": f"{task}: {measure}",
                    "x": "difficulty",
                    "y": f"{measure} per response",
                    "difficulties": difficulties,
                    "offsets": _offsets(list(values)),
                    "series": values,
                }
            )
    styles = _column_styles(sources)
    plots = [
        {"file": ACCURACY_PLOT, "styles": styles, "panels": accuracy_panels},
        {"file": SKILL_PLOT, "styles": styles, "panels": skill_panels},
    ]
    curve_panels = []
    for key, title, y in CURVE_PANELS:
        series = {
            source.name: [[step, value] for step, value in source.curves[key]]
            for source in sources
            if source.curves.get(key)
        }
        if series:
            curve_panels.append({"title": title, "x": "step", "y": y, "series": series})
    if curve_panels:
        run_styles = {
            source.name: {"color": f"C{index % 10}", "linestyle": "-"}
            for index, source in enumerate(sources)
        }
        plots.append({"file": CURVES_PLOT, "styles": run_styles, "panels": curve_panels})
    return plots


LINESTYLES = ("-", "--", ":", "-.")
"""One line style per source, so that each label keeps its colour across runs."""
DODGE = 0.3
"""How far apart, in difficulty steps, the outermost lines of a panel are drawn."""


def _column_styles(sources: Sequence[Source]) -> dict[str, dict[str, str]]:
    labels: list[str] = []
    styles = {}
    for index, column in enumerate(columns(sources)):
        label = column.result.label
        if label not in labels:
            labels.append(label)
        source_index = next(i for i, source in enumerate(sources) if source is column.source)
        color = labels.index(label) if len(sources) > 1 else index
        styles[column.name] = {
            "color": f"C{color % 10}",
            "linestyle": LINESTYLES[source_index % len(LINESTYLES)],
        }
    return styles


def _offsets(labels: list[str]) -> dict[str, float]:
    if len(labels) < 2:
        return dict.fromkeys(labels, 0.0)
    step = min(0.08, DODGE / (len(labels) - 1))
    middle = (len(labels) - 1) / 2
    return {label: round((index - middle) * step, 6) for index, label in enumerate(labels)}


def _draw(plot: Mapping[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    panels = plot["panels"]
    styles = plot["styles"]
    if plot["file"] == SKILL_PLOT:
        ncols = 2
        nrows = max(1, math.ceil(len(panels) / 2))
    else:
        ncols = min(3, max(1, len(panels)))
        nrows = max(1, math.ceil(len(panels) / ncols))
    figure = Figure(figsize=(4.2 * ncols + 2.0, 3.4 * nrows), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).flatten()
    legend: dict[str, Any] = {}
    for ax, panel in zip(axes, panels, strict=False):
        ax.set_title(panel["title"])
        ax.set_xlabel(panel["x"])
        ax.set_ylabel(panel["y"])
        ax.grid(alpha=0.3)
        categorical = "difficulties" in panel
        if categorical:
            positions = {_difficulty_key(d): index for index, d in enumerate(panel["difficulties"])}
            ax.set_xticks(range(len(positions)))
            ax.set_xticklabels([difficulty_text(d) for d in panel["difficulties"]])
            ax.set_xlim(-0.5, len(positions) - 0.5)
        for label, points in panel["series"].items():
            style = styles.get(label, {})
            if categorical:
                shift = panel["offsets"][label]
                xs = [positions[_difficulty_key(x)] + shift for x, _ in points]
            else:
                xs = [x for x, _ in points]
            ys = [y for _, y in points]
            marker = "o" if categorical else None
            if "intervals" in panel:
                bounds = panel["intervals"][label]
                below = [max(0.0, y - low) for y, (_, low, _) in zip(ys, bounds, strict=True)]
                above = [max(0.0, high - y) for y, (_, _, high) in zip(ys, bounds, strict=True)]
                artist = ax.errorbar(
                    xs, ys, yerr=[below, above], marker=marker, capsize=3, label=label, **style
                )
            else:
                (artist,) = ax.plot(xs, ys, marker=marker, label=label, **style)
            legend.setdefault(label, artist)
        if panel["y"] == "accuracy":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        if categorical:
            top = max(ax.get_ylim()[1], 1e-9)
            ax.set_ylim(-0.03 * top, top)
        if not panel["series"]:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if legend:
        figure.legend(list(legend.values()), list(legend), loc="outside right upper")
    figure.savefig(path, format="png", dpi=100)


def _difficulty_key(difficulty: Any) -> str:
    return json.dumps(difficulty)


# --------------------------------------------------------------------------- writing


def write_report(sources: Sequence[Path], output_dir: Path) -> Path:
    """Write ``report.md``, the PNG plots and ``plots.json`` for ``sources`` into ``output_dir``.

    Each source is a run directory (with ``eval/metrics.json``) or an evaluation
    directory (with ``metrics.json``). Returns the path of ``report.md``.
    """
    loaded = load_sources(sources)
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"the output {str(output_dir)!r} is a file, not a directory")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SkillFactoryError(
            "the report's plots need matplotlib: pip install matplotlib"
        ) from None
    output_dir.mkdir(parents=True, exist_ok=True)
    plots = plot_data(loaded)
    for plot in plots:
        _draw(plot, output_dir / plot["file"])
    drawn = [plot["file"] for plot in plots]
    if CURVES_PLOT not in drawn:
        (output_dir / CURVES_PLOT).unlink(missing_ok=True)
    skipped = (
        {}
        if CURVES_PLOT in drawn
        else {CURVES_PLOT: "no source has sft/curve.json or grpo/curve.json"}
    )
    (output_dir / PLOTS_FILE).write_text(
        json.dumps({"plots": plots, "skipped": skipped}, indent=2) + "\n", encoding="utf-8"
    )
    report = output_dir / REPORT_FILE
    report.write_text(render_markdown(loaded, drawn), encoding="utf-8")
    return report
