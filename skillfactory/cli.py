"""The ``skillfactory`` command line.

Every error reaches the user as one line on stderr: usage errors (unknown option,
unknown name, bad value) exit 2, runtime failures exit 1, and a traceback appears
only with ``--debug``. Plugins are loaded on the first lookup of a command, so
``skillfactory --version`` stays instant and no command imports torch unless it
needs a model.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from typing import Any

import click

from skillfactory import __version__
from skillfactory.compose_command import compose_command
from skillfactory.console import echo_json, show_plugins, show_registrations
from skillfactory.errors import SkillFactoryError, one_line
from skillfactory.evaluate_command import evaluate_command
from skillfactory.export_command import export_command
from skillfactory.model_commands import model_group
from skillfactory.registry import KINDS, Kind, get_registry
from skillfactory.report_command import report_command
from skillfactory.run_command import run_command
from skillfactory.scaffold import new_plugin
from skillfactory.task_commands import problems, score
from skillfactory.train_command import train_command

DEBUG_ENV = "SKILLFACTORY_DEBUG"


class OneLineError(click.ClickException):
    """An error shown as a single ``Error: …`` line, with the exit code it carries."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=True)


@contextlib.contextmanager
def one_line_errors(debug: bool) -> Iterator[None]:
    """Turn whatever goes wrong inside into a :class:`OneLineError` (unless debugging)."""
    try:
        yield
    except (OneLineError, click.exceptions.Exit, click.Abort, click.exceptions.NoArgsIsHelpError):
        raise
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        raise OneLineError(_joined(error.format_message()) + hint, 2) from error
    except click.ClickException as error:
        raise OneLineError(_joined(error.format_message()), error.exit_code) from error
    except SkillFactoryError as error:
        if debug:
            raise
        raise OneLineError(str(error), error.exit_code) from error
    except OSError as error:
        if debug or error.errno == errno.EPIPE:
            raise
        raise OneLineError(one_line(error), 1) from error
    except Exception as error:
        if debug:
            raise
        message = f"unexpected {one_line(error)} (rerun with --debug to see the traceback)"
        raise OneLineError(message, 1) from error


def _joined(message: str) -> str:
    """Click spreads some messages over lines (a choice's options); keep them on one."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


class SkillFactoryGroup(click.Group):
    """The root command: core commands, then the commands plugins add, all with one-line errors."""

    def plugin_commands(self) -> dict[str, click.Command]:
        return get_registry().plugin_commands(reserved=self.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or self.plugin_commands().get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(self.list_commands(ctx))
            raise click.UsageError(f"no such command {name!r}; commands: {known}", ctx)
        return super().resolve_command(ctx, args)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with one_line_errors(debug=False):
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_errors(debug=bool(ctx.params.get("debug"))):
            return super().invoke(ctx)


@click.group(
    name="skillfactory",
    cls=SkillFactoryGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(
    __version__, "--version", prog_name="skillfactory", message="%(prog)s %(version)s"
)
@click.option(
    "--debug",
    is_flag=True,
    envvar=DEBUG_ENV,
    help=f"Show the full traceback of unexpected errors (or set {DEBUG_ENV}=1).",
)
def cli(debug: bool) -> None:
    """SkillFactory: teach a language model to verify, retry, backtrack and confirm,
    from its own samples and reflections.

    Tasks, skills, samplers and trainers come from plugins; the commands below list them.
    """


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (documented in docs/plugins.md).")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: what each registered, or why it failed to load."""
    registry = get_registry()
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    registry.plugin_commands(reserved=root.commands)
    if as_json:
        echo_json([record.to_json() for record in registry.plugins])
    else:
        show_plugins(registry.plugins)


def _listing_command(kind: Kind) -> click.Command:
    """``skillfactory tasks|skills|samplers|trainers``: one command per plugin kind."""

    @click.command(
        name=kind.plural,
        help=(
            f"List the installed {kind.plural}, or only those NAMES match: a {kind.name}'s "
            f"name selects it, any other text every {kind.name} whose name contains it."
        ),
    )
    @click.argument("names", nargs=-1)
    @click.option(
        "--source",
        metavar="PLUGIN",
        default=None,
        help=f"Only the {kind.plural} of one plugin (or distribution), as `plugins` names it.",
    )
    @click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (documented in docs/plugins.md)."
    )
    def listing(names: tuple[str, ...], source: str | None, as_json: bool) -> None:
        registry = get_registry()
        registrations = registry.find(kind.name, names, source=source)
        if as_json:
            echo_json([registration.to_json() for registration in registrations])
        else:
            show_registrations(kind, registrations)

    return listing


for _kind in KINDS.values():
    cli.add_command(_listing_command(_kind))
cli.add_command(problems)
cli.add_command(score)
cli.add_command(compose_command)
cli.add_command(run_command)
cli.add_command(export_command)
cli.add_command(train_command)
cli.add_command(evaluate_command)
cli.add_command(report_command)
cli.add_command(model_group)
cli.add_command(new_plugin)
