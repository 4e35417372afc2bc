"""Every hook a SkillFactory plugin can implement, in one place.

A plugin is a module (or any object) named by an entry point in the group
``skillfactory``. It implements hooks by defining functions with the names below,
decorated with :data:`skillfactory.hookimpl`::

    from skillfactory import hookimpl

    @hookimpl
    def register_skills(register):
        register(MySkill)

The registration hooks hand the plugin a ``register`` callable instead of
collecting return values, so that the host checks every registration in one
place: the object must be a subclass of the kind's contract with a ``name`` and a
one-line ``description``, and the name must not be taken. A rejected
registration, or a hook that raises, is reported against the plugin (see
``skillfactory plugins``) and never stops the other plugins from loading. What a
hook registered before it raised is discarded, so a plugin is never half-loaded.

An implementation may accept fewer arguments than the spec names (pluggy passes
only the ones it asks for), but never others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from skillfactory.sampler import Sampler
    from skillfactory.skill import Skill
    from skillfactory.task import Task
    from skillfactory.trainer import Trainer

PROJECT_NAME = "skillfactory"
"""The pluggy project name; it is also the entry-point group plugins are listed in."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register task classes: problem generation, prompts, answer extraction, scoring.

    Call ``register(TaskClass)`` once per task. ``TaskClass`` subclasses
    :class:`skillfactory.Task`; its ``name`` is what users type after ``--task``.
    """


@hookspec
def register_skills(register: Callable[[type[Skill]], None]) -> None:
    """Register skill classes: how verified attempts and reflections become a trace.

    Call ``register(SkillClass)`` once per skill. ``SkillClass`` subclasses
    :class:`skillfactory.Skill`; its ``name`` is what users list in ``--skills``.
    """


@hookspec
def register_samplers(register: Callable[[type[Sampler]], None]) -> None:
    """Register sampler classes: chat prompts in, ``n`` completions per prompt out.

    Call ``register(SamplerClass)`` once per sampler. ``SamplerClass`` subclasses
    :class:`skillfactory.Sampler`; its ``name`` is what users pass to ``--sampler``.
    Import heavy libraries (torch, vllm) inside its methods, not at module level:
    every plugin module is imported whenever the CLI starts.
    """


@hookspec
def register_trainers(register: Callable[[type[Trainer]], None]) -> None:
    """Register trainer classes: a model and a dataset in, a model or export files out.

    Call ``register(TrainerClass)`` once per trainer. ``TrainerClass`` subclasses
    :class:`skillfactory.Trainer`. The same advice about heavy imports applies.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``skillfactory`` command line.

    ``cli`` is a click group that collects this plugin's commands; decorate with
    ``@cli.command()`` or call ``cli.add_command(command)``. A command whose name
    is already taken (by the core or by a plugin loaded earlier) is not added and
    is reported against this plugin.
    """
