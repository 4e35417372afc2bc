"""Allow ``python -m skillfactory``.

The guard matters: vLLM's worker processes start by importing ``__main__``
again, and must not run the command a second time.
"""

from skillfactory.cli import cli

if __name__ == "__main__":
    cli(prog_name="skillfactory")
