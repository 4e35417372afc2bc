"""The errors a user can cause, as one family with messages that say what to do.

The CLI prints any :class:`SkillFactoryError` as a single line and exits with its
``exit_code``; everything else is a bug and says so.
"""

from __future__ import annotations

from collections.abc import Iterable


class SkillFactoryError(Exception):
    """Something went wrong that the user can fix; the message says how."""

    exit_code = 1


class UsageError(SkillFactoryError):
    """The command was asked for something it cannot do: a bad option, name or value."""

    exit_code = 2


MAX_NAMES_LISTED = 20
"""An unknown-name error lists every known name up to this many, else the closest ones."""


class UnknownNameError(UsageError):
    """A task, skill, sampler or trainer name that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        if len(self.known) > MAX_NAMES_LISTED:
            # A bridge to a whole library registers a hundred names: suggest, do not list.
            import difflib

            closest = difflib.get_close_matches(name, self.known, n=5, cutoff=0.5)
            listing = (
                f"{len(self.known)} are installed"
                + (f"; the closest: {', '.join(closest)}" if closest else "")
                + f"; 'skillfactory {kind}s' lists them"
            )
        else:
            listing = ", ".join(self.known) if self.known else "none are installed"
        message = f"unknown {kind} {name!r}; known {kind}s: {listing}"
        if hint:
            message = f"{message} ({hint})"
        super().__init__(message)


class PluginUnavailable(Exception):
    """Raised by a plugin, at import or in a hook, when an optional dependency is missing.

    The plugin is then listed as unavailable with this message (say how to install
    what it needs), instead of as broken::

        try:
            import vllm  # noqa: F401
        except ImportError:
            raise PluginUnavailable("needs vLLM: pip install 'skillfactory[vllm]'") from None
    """


def one_line(error: BaseException) -> str:
    """Describe an exception in one line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if len(lines) > 1:
        text += " …"
    name = type(error).__name__
    return f"{name}: {text}" if text else name
