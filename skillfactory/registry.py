"""The plugin registry: loads every plugin one at a time and keeps what each registered.

A plugin that fails to import, whose hook raises, or that registers something
invalid or a name already taken, is recorded with a one-line error; every other
plugin still loads. Nothing here names a built-in plugin: the project's own
plugins arrive through entry points like everyone else's.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from skillfactory import hookspecs
from skillfactory.entrypoints import PluginSource, discover, requested_plugins
from skillfactory.errors import PluginUnavailable, UnknownNameError, UsageError, one_line
from skillfactory.sampler import Sampler
from skillfactory.skill import Skill
from skillfactory.task import Task
from skillfactory.trainer import Trainer

if TYPE_CHECKING:
    import click

TRACE_ENV = "SKILLFACTORY_TRACE_HOOKS"
"""Set to 1 to print every hook call and its result to stderr."""

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.:\-]*")


@dataclass(frozen=True)
class Kind:
    """One kind of plugin object: the hook that registers it and the contract it meets."""

    name: str
    plural: str
    hook: str
    contract: type


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("task", "tasks", "register_tasks", Task),
        Kind("skill", "skills", "register_skills", Skill),
        Kind("sampler", "samplers", "register_samplers", Sampler),
        Kind("trainer", "trainers", "register_trainers", Trainer),
    )
}

REGISTERED_KEYS = (*(kind.plural for kind in KINDS.values()), "commands")
"""The keys of :attr:`PluginRecord.registered`, always all present."""


@dataclass(frozen=True)
class Registration:
    """A name registered by a plugin and the class that implements it."""

    kind: str
    name: str
    factory: type
    plugin: str
    """The entry-point name of the plugin that registered it."""
    distribution: str | None

    @property
    def description(self) -> str:
        return self.factory.description

    def create(self, *args: Any, **options: Any) -> Any:
        """An instance built with these options; options it does not take are a usage error."""
        try:
            inspect.signature(self.factory).bind(*args, **options)
        except TypeError as error:
            accepted = [
                parameter.name
                for parameter in inspect.signature(self.factory).parameters.values()
                if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
            ]
            known = ", ".join(accepted) if accepted else "none"
            raise UsageError(
                f"{self.kind} {self.name!r} cannot take these options ({error}); "
                f"its options: {known}"
            ) from None
        return self.factory(*args, **options)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "plugin": self.plugin,
            "distribution": self.distribution,
        }
        if issubclass(self.factory, Task):
            data["difficulties"] = list(self.factory.difficulties)
            data["default_difficulty"] = self.factory.resolve_difficulty(None)
            data["variants"] = list(self.factory.variants)
            data["sandboxed_scoring"] = self.factory.sandboxed_scoring
        if issubclass(self.factory, Skill):
            data["stage"] = self.factory.stage
            data["requires"] = list(self.factory.requires)
            data["chooses_attempts"] = self.factory.chooses_attempts
            data["needs_reflections"] = self.factory.needs_reflections
        return data


@dataclass
class PluginRecord:
    """What loading one entry point gave: what it registered, and what went wrong."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    registered: dict[str, list[str]] = field(
        default_factory=lambda: {key: [] for key in REGISTERED_KEYS}
    )
    errors: list[str] = field(default_factory=list)
    unavailable: str | None = None
    """Why the plugin cannot work here (a missing optional dependency), when it said so."""
    plugin: object = field(default=None, repr=False)
    """The loaded module (or object); None when it could not be loaded."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "registered": {key: sorted(self.registered[key]) for key in REGISTERED_KEYS},
            "errors": list(self.errors),
            "unavailable": self.unavailable,
        }


class Registry:
    """Every loaded plugin and every task, skill, sampler and trainer they registered."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self.plugins: list[PluginRecord] = []
        self._entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self._commands: dict[str, click.Command] | None = None

    # -- lookups ---------------------------------------------------------------

    def entries(self, kind: str) -> list[Registration]:
        """Everything registered of one kind, sorted by name."""
        table = self._table(kind)
        return [table[name] for name in sorted(table)]

    def names(self, kind: str) -> list[str]:
        return sorted(self._table(kind))

    def get(self, kind: str, name: str) -> Registration:
        """The registration of ``name``; an unknown name is a usage error that lists the known."""
        table = self._table(kind)
        if name not in table:
            raise UnknownNameError(kind, name, table, hint=self._failure_hint(name))
        return table[name]

    def select(self, kind: str, names: Iterable[str]) -> list[Registration]:
        """The registrations of several names, in the order given, each once."""
        return [self.get(kind, name) for name in dict.fromkeys(names)]

    def find(
        self, kind: str, terms: Iterable[str] = (), *, source: str | None = None
    ) -> list[Registration]:
        """What a listing shows: the registrations that match ``terms`` and ``source``.

        A term that is a registered name selects that name alone; any other term
        selects every name that contains it (ignoring case), so ``count`` finds the
        counting tasks among a hundred. ``source`` keeps the names of one plugin (its
        entry-point name) or one distribution. A term that matches nothing is an
        unknown name, refused with the closest ones.
        """
        entries = self.entries(kind)
        if source is not None:
            entries = [entry for entry in entries if source in (entry.plugin, entry.distribution)]
            if not entries:
                sources = sorted({entry.plugin for entry in self.entries(kind)})
                raise UsageError(
                    f"no {kind}s come from {source!r}; their plugins: "
                    + (", ".join(sources) if sources else "none are installed")
                )
        terms = list(dict.fromkeys(terms))
        if not terms:
            return entries
        found: dict[str, Registration] = {}
        for term in terms:
            matched = [entry for entry in entries if entry.name == term] or [
                entry for entry in entries if term.casefold() in entry.name.casefold()
            ]
            if not matched:
                if source is None:
                    self.get(kind, term)  # raises, naming the closest names
                raise UsageError(f"no {kind} from {source!r} has {term!r} in its name")
            for entry in matched:
                found.setdefault(entry.name, entry)
        return list(found.values())

    @property
    def failed(self) -> list[PluginRecord]:
        return [record for record in self.plugins if not record.ok]

    def plugin_commands(self, reserved: Collection[str] = ()) -> dict[str, click.Command]:
        """The commands plugins add to the CLI; names in ``reserved`` belong to the core.

        Collected on first use only, because only the CLI needs them.
        """
        if self._commands is None:
            self._commands = {}
            for record in self.plugins:
                if record.plugin is not None:
                    self._collect_commands(record, reserved)
        return self._commands

    # -- loading ---------------------------------------------------------------

    def load(self, source: PluginSource) -> PluginRecord:
        """Load one entry point and run its registration hooks; never raises."""
        record = PluginRecord(source.name, source.value, source.distribution, source.version)
        self.plugins.append(record)
        if source.entry_point is None:
            record.errors.append(
                "not installed: no entry point of that name in group 'skillfactory'"
            )
            return record
        try:
            plugin = source.entry_point.load()
        except PluginUnavailable as reason:
            record.unavailable = str(reason)
            return record
        except (Exception, SystemExit) as error:
            record.errors.append(f"import failed: {one_line(error)}")
            return record
        problem = self._registration_problem(plugin, source.name)
        if problem:
            record.errors.append(problem)
            return record
        record.plugin = plugin
        for caller in self.manager.get_hookcallers(plugin) or ():
            if not caller.has_spec():
                known = ", ".join(sorted(_hook_names()))
                record.errors.append(f"unknown hook {caller.name!r}; known hooks: {known}")
        for kind in KINDS.values():
            self._run_registration_hook(record, kind)
        return record

    def _registration_problem(self, plugin: object, name: str) -> str | None:
        """Register ``plugin`` with pluggy; say why that failed, or None when it worked."""
        if self.manager.has_plugin(name):
            return f"the entry-point name {name!r} is already used by another plugin"
        other = self.manager.get_name(plugin)
        if other is not None:
            return f"the same object is already loaded as plugin {other!r}"
        try:
            self.manager.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            return "invalid hook implementation: " + "; ".join(lines)
        return None

    def _run_registration_hook(self, record: PluginRecord, kind: Kind) -> None:
        pending: dict[str, Registration] = {}

        def register(factory: Any) -> None:
            problem = self._check(kind, factory, pending)
            if problem:
                record.errors.append(f"{kind.hook}: {problem}")
                return
            pending[factory.name] = Registration(
                kind.name, factory.name, factory, record.name, record.distribution
            )

        try:
            self._call_for(record.plugin, kind.hook, register=register)
        except PluginUnavailable as reason:
            record.unavailable = str(reason)
            return
        except (Exception, SystemExit) as error:
            record.errors.append(f"{kind.hook} raised {one_line(error)}")
            return
        self._entries[kind.name].update(pending)
        record.registered[kind.plural].extend(pending)

    def _check(self, kind: Kind, factory: Any, pending: dict[str, Registration]) -> str | None:
        """Why ``factory`` cannot be registered as a ``kind``, or None when it can."""
        contract = f"skillfactory.{kind.contract.__name__}"
        if isinstance(factory, kind.contract):
            return f"register the class {type(factory).__qualname__}, not an instance of it"
        if not (inspect.isclass(factory) and issubclass(factory, kind.contract)):
            return f"{_describe(factory)} is not a subclass of {contract}"
        label = factory.__qualname__
        name = getattr(factory, "name", None)
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            return (
                f"{label}.name must be lower case letters, digits, '_', '.', ':' or '-', "
                f"got {name!r}"
            )
        description = getattr(factory, "description", None)
        if not isinstance(description, str) or not description.strip() or "\n" in description:
            return f"{label}.description must be one non-empty line"
        missing = sorted(getattr(factory, "__abstractmethods__", ()))
        if missing:
            return f"{label} does not implement {', '.join(missing)}"
        taken = pending.get(name) or self._entries[kind.name].get(name)
        if taken is not None:
            return f"{kind.name} {name!r} is already registered by plugin {taken.plugin!r}" + (
                f" ({taken.distribution})" if taken.distribution else ""
            )
        return None

    def _collect_commands(self, record: PluginRecord, reserved: Collection[str]) -> None:
        import click

        collector = click.Group(name=record.name)
        try:
            self._call_for(record.plugin, "register_commands", cli=collector)
        except (Exception, SystemExit) as error:
            record.errors.append(f"register_commands raised {one_line(error)}")
            return
        assert self._commands is not None
        for name, command in collector.commands.items():
            if name in reserved:
                record.errors.append(f"register_commands: command {name!r} belongs to the core")
            elif name in self._commands:
                owner = next(r.name for r in self.plugins if name in r.registered["commands"])
                record.errors.append(
                    f"register_commands: command {name!r} is already added by plugin {owner!r}"
                )
            else:
                self._commands[name] = command
                record.registered["commands"].append(name)

    def _call_for(self, plugin: object, hook: str, **kwargs: Any) -> None:
        """Call one hook of one plugin only, so that its failure is its own."""
        others = [other for other in self.manager.get_plugins() if other is not plugin]
        self.manager.subset_hook_caller(hook, remove_plugins=others)(**kwargs)

    def _table(self, kind: str) -> dict[str, Registration]:
        if kind not in KINDS:
            raise ValueError(f"unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
        return self._entries[kind]

    def _failure_hint(self, name: str) -> str:
        """Plugins that might have registered ``name``: every broken one, and an unavailable
        one whose own name is close to it (``vllm`` for ``--sampler vllm``, not for a task)."""
        import difflib

        hints = []
        failed = self.failed
        if failed:
            names = ", ".join(record.name for record in failed)
            hints.append(f"plugins with errors: {names}; see 'skillfactory plugins'")
        hints += [
            f"plugin {record.name} is unavailable: {record.unavailable}"
            for record in self.plugins
            if record.unavailable
            and difflib.SequenceMatcher(None, record.name, name.lower()).ratio() >= 0.6
        ]
        return "; ".join(hints)


def load_registry(requested: list[str] | None = None) -> Registry:
    """Load every installed plugin (or the requested entry-point names) into a new registry.

    ``requested`` defaults to what ``SKILLFACTORY_PLUGINS`` asks for.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV, "") not in ("", "0"):
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    registry = Registry(manager)
    if requested is None:
        requested = requested_plugins()
    for source in discover(requested):
        registry.load(source)
    return registry


@functools.cache
def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    return load_registry()


def _describe(obj: object) -> str:
    """Name what a plugin handed to ``register``, briefly, for an error message."""
    if inspect.isclass(obj):
        return f"class {obj.__module__}.{obj.__qualname__}"
    return f"{type(obj).__name__} {obj!r:.60}"


def _hook_names() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith("register_")]
