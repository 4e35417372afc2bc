"""The trainer contract: a model and a dataset in, a model directory or export files out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from datasets import Dataset


class Trainer(ABC):
    """Trains a model (e.g. SFT or GRPO with TRL) or writes files another engine trains from.

    A trainer is constructed with keyword options only (``TrainerClass(**options)``),
    which mirror the settings of the library it wraps. Heavy libraries are imported
    inside the methods, never at module level.
    """

    name: ClassVar[str]
    """What users pass to ``skillfactory train`` or ``skillfactory export``."""
    description: ClassVar[str]
    """One line for ``skillfactory trainers``."""
    produces: ClassVar[Literal["model", "files"]] = "model"
    """``"model"`` for a trained model directory, ``"files"`` for an export."""
    data: ClassVar[Literal["traces", "problems"]] = "traces"
    """What ``dataset`` holds. ``"traces"``: chat ``messages`` (the traces stage's rows),
    for SFT and its exports. ``"problems"``: the problems stage's rows (``id``, ``task``,
    ``difficulty``, ``question``, ``answer``, ``data`` as JSON text), for RL, which prompts
    with the task and rewards with its verifier."""

    @abstractmethod
    def train(self, model: str, dataset: Dataset, output_dir: Path) -> Path:
        """Train (or export) and return the directory written, inside ``output_dir``."""
