"""What both engine checks do first: run SkillFactory's CLI, and make a small default run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    """``command``'s output; its output and exit code end the check if it fails."""
    print("+", " ".join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(
            f"{command[0]} {command[1]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def default_run(run_dir: Path, *, questions: int, until: str) -> str:
    """A ``verify,retry`` run of the shipped default model up to ``until``; the model's path."""
    model = run(["skillfactory", "model", "path", "default"]).strip()
    run(
        [
            "skillfactory",
            "run",
            "--skills",
            "verify,retry",
            "--questions",
            str(questions),
            "--until",
            until,
            "--run-dir",
            str(run_dir),
        ]
    )
    return model
