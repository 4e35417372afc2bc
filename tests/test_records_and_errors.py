"""Records refuse impossible values; errors read as one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from skillfactory import Score, UnknownNameError, UsageError
from skillfactory.errors import one_line


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_a_score_outside_zero_to_one_is_refused(value):
    with pytest.raises(ValueError, match="a score must lie in"):
        Score(value, "impossible")


def test_only_full_marks_are_correct():
    assert Score(1.0, "correct").correct
    assert not Score(0.99, "nearly").correct


def test_one_line_keeps_the_type_and_first_line():
    assert one_line(KeyError("x")) == "KeyError: 'x'"
    assert one_line(RuntimeError("first\nsecond")) == "RuntimeError: first …"
    assert one_line(RuntimeError()) == "RuntimeError"


def test_unknown_name_error_is_a_usage_error():
    error = UnknownNameError("sampler", "vlm", ["transformers", "vllm"])

    assert isinstance(error, UsageError)
    assert str(error) == "unknown sampler 'vlm'; known samplers: transformers, vllm"
    assert (
        str(UnknownNameError("task", "x", []))
        == "unknown task 'x'; known tasks: none are installed"
    )


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [(["skills", "--bogus"], 2), (["no-such-command"], 2), (["--version"], 0)],
)
def test_the_installed_command_exits_with_the_documented_codes(args, exit_code):
    result = subprocess.run(
        [sys.executable, "-m", "skillfactory", *args], capture_output=True, text=True
    )

    assert result.returncode == exit_code
    if exit_code:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
        assert "Traceback" not in result.stderr
