"""``skillfactory report``: one or more evaluations as ``report.md``, plots and ``plots.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from skillfactory.errors import SkillFactoryError, UsageError

DEFAULT_OUTPUT = Path("report")
"""Where a report comparing several sources goes, unless ``--output`` says otherwise."""


class ReportError(click.ClickException):
    """A :class:`SkillFactoryError` shown as one ``Error: …`` line, with its exit code.

    The command raises it itself, so it prints one line and exits 2 on bad input
    whether it runs under the ``skillfactory`` group or on its own.
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=True)


def default_output(sources: tuple[Path, ...]) -> Path:
    """The single source's own directory, else ``./report``."""
    return sources[0] if len(sources) == 1 else DEFAULT_OUTPUT


@click.command(name="report")
@click.argument("sources", nargs=-1, metavar="RUN_DIR...", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for report.md, the plots and plots.json "
    "(default: the source's own directory when one is given, else ./report).",
)
def report_command(sources: tuple[Path, ...], output_dir: Path | None) -> None:
    """Write report.md and plots for run or evaluation directories, compared side by side.

    Each RUN_DIR is a run directory (with eval/metrics.json) or an evaluation
    directory (with metrics.json).
    """
    from skillfactory.evaluation.report import headline_lines, write_report

    try:
        if not sources:
            raise UsageError("give at least one run or evaluation directory")
        output = output_dir if output_dir is not None else default_output(sources)
        report = write_report(sources, output)
        lines = headline_lines(sources)
    except SkillFactoryError as error:
        message = " ".join(str(error).split())
        raise ReportError(message, error.exit_code) from None
    click.echo(f"Report: {report}")
    for line in lines:
        click.echo(line)
