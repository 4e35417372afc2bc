"""The stages of a run, in order: problems → samples → reflections → traces.

Training (``sft``, ``grpo``) and evaluation (``eval``) join :data:`STAGES` after
``traces`` in later releases; the runner needs no change for them.
"""

from __future__ import annotations

from skillfactory.pipeline.problems import ProblemsStage
from skillfactory.pipeline.reflections import ReflectionsStage
from skillfactory.pipeline.samples import SamplesStage
from skillfactory.pipeline.stage import Stage
from skillfactory.pipeline.traces import TracesStage

STAGES: tuple[Stage, ...] = (ProblemsStage(), SamplesStage(), ReflectionsStage(), TracesStage())
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)
