"""The stage contract, and what a running stage is handed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.console import Console

from skillfactory.run_store import RunStore


@dataclass
class StageContext:
    """The resolved settings, the run directory, a console, and a sampler loaded once."""

    config: Mapping[str, Any]
    store: RunStore
    console: Console
    fingerprint: str
    """This stage's fingerprint: the settings and inputs its output was made from."""
    _samplers: dict[str, Any] = field(default_factory=dict)

    def sampler(self) -> Any:
        """The configured sampler, loaded on first use and shared by the stages that sample."""
        key = "sampler"
        if key not in self._samplers:
            self._samplers[key] = _load_sampler(self.config, self.console)
        return self._samplers[key]

    def release_sampler(self) -> None:
        """Free the sampler's model (and its GPU memory) before a stage that trains."""
        sampler = self._samplers.pop("sampler", None)
        if sampler is None:
            return
        close = getattr(sampler, "close", None)
        if callable(close):
            close()
        del sampler
        import gc

        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def task(self) -> Any:
        from skillfactory.registry import get_registry

        registration = get_registry().get("task", self.config["task"])
        return registration.create(**self.config["task_options"])


class Stage(ABC):
    """One step of a run: reads earlier stages' outputs, writes its own, summarises them."""

    name: ClassVar[str]
    """The stage's name: what ``--until`` takes, and its dataset's directory."""
    title: ClassVar[str]
    """What it does, for progress and summaries ("sampling attempts")."""
    outputs: ClassVar[tuple[str, ...]]
    """The paths it writes in the run directory, relative to it."""
    uses_model: ClassVar[bool] = False
    """True when its output depends on the model (the model's identity joins its fingerprint)."""
    version: ClassVar[int] = 1
    """Bump when the stage's code changes what it writes, so that old outputs are redone."""

    @abstractmethod
    def run(self, context: StageContext) -> dict[str, Any]:
        """Do the stage's work, save its outputs, and return a JSON summary of them."""

    @abstractmethod
    def show(self, summary: Mapping[str, Any], console: Console) -> None:
        """Print the one-screen summary of a finished stage."""


def _load_sampler(config: Mapping[str, Any], console: Console) -> Any:
    from skillfactory.models.resolve import resolve_model
    from skillfactory.registry import get_registry

    spec = config["model"]
    location = resolve_model(spec)
    options = dict(config["sampler_options"])
    if config["trust_remote_code"]:
        options["trust_remote_code"] = True
    registration = get_registry().get("sampler", config["sampler"])
    with console.status(f"loading {spec} into the {config['sampler']} sampler"):
        return registration.create(location, **options)
