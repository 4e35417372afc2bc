"""Allow ``python -m skillfactory``."""

from skillfactory.cli import cli

cli(prog_name="skillfactory")
