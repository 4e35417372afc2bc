"""The CLI starts without the heavy libraries: they load only when a command needs a model."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "trl", "datasets", "accelerate", "vllm")


def imported_top_level_modules(importtime_log: str) -> set[str]:
    """Top-level module names from ``python -X importtime`` output on stderr."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    return names


def test_importing_the_cli_imports_no_heavy_library():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import skillfactory.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = imported_top_level_modules(result.stderr)

    assert "skillfactory" in imported
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_help_and_listings_import_no_heavy_library():
    script = f"""
import sys
from click.testing import CliRunner
from skillfactory.cli import cli

runner = CliRunner()
for args in (["--help"], ["plugins"], ["plugins", "--json"], ["tasks"], ["skills", "--json"]):
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, (args, result.output)
print(sorted(name for name in sys.modules if name.split(".")[0] in {HEAVY!r}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
