"""SkillFactory: teach language models cognitive skills by self-distillation.

The package root carries what a plugin author needs: the :data:`hookimpl` marker,
the four contracts, the records they exchange and the error family. Importing it
is cheap; torch and transformers load only when a command needs a model.
"""

from skillfactory.errors import (
    PluginUnavailable,
    SkillFactoryError,
    UnknownNameError,
    UsageError,
)
from skillfactory.hookspecs import hookimpl
from skillfactory.records import (
    Attempt,
    Conversation,
    Draft,
    InMemoryTexts,
    Message,
    Problem,
    Question,
    Score,
    Segment,
)
from skillfactory.sampler import Sampler, SamplingSettings
from skillfactory.skill import ComposeSettings, Skill
from skillfactory.task import Task
from skillfactory.trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "ComposeSettings",
    "Conversation",
    "Draft",
    "InMemoryTexts",
    "Message",
    "PluginUnavailable",
    "Problem",
    "Question",
    "Sampler",
    "SamplingSettings",
    "Score",
    "Segment",
    "Skill",
    "SkillFactoryError",
    "Task",
    "Trainer",
    "UnknownNameError",
    "UsageError",
    "__version__",
    "hookimpl",
]
