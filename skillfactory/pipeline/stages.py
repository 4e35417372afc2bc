"""The stages of a run, in order: problems → samples → reflections → traces → sft → grpo → eval.

A new stage joins :data:`STAGES` in its place; the runner needs no change for it.
"""

from __future__ import annotations

from skillfactory.pipeline.eval_stage import EvalStage
from skillfactory.pipeline.problems import ProblemsStage
from skillfactory.pipeline.reflections import ReflectionsStage
from skillfactory.pipeline.samples import SamplesStage
from skillfactory.pipeline.stage import Stage
from skillfactory.pipeline.traces import TracesStage
from skillfactory.pipeline.training_stages import GRPOStage, SFTStage

STAGES: tuple[Stage, ...] = (
    ProblemsStage(),
    SamplesStage(),
    ReflectionsStage(),
    TracesStage(),
    SFTStage(),
    GRPOStage(),
    EvalStage(),
)
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)
