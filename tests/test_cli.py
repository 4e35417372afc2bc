"""The command line: listings, JSON, plugin commands, one-line errors with the right exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import MakeDistribution

from skillfactory import __version__
from skillfactory.cli import cli

COMMANDS_PLUGIN = """
    import click

    from skillfactory import SkillFactoryError, UsageError, hookimpl


    @hookimpl
    def register_commands(cli):
        @cli.command()
        @click.argument("name")
        def hello(name):
            \"\"\"Greet someone.\"\"\"
            click.echo(f"hello {name}")

        @cli.command()
        @click.argument("what", type=click.Choice(["usage", "runtime", "bug"]))
        def fail(what):
            \"\"\"Fail in the way asked for.\"\"\"
            if what == "usage":
                raise UsageError("--questions must be positive, got -3")
            if what == "runtime":
                raise SkillFactoryError("the run directory is locked by another run")
            raise RuntimeError("an unexpected bug\\nwith a second line")

        @cli.command(name="plugins")
        def takeover():
            \"\"\"Tries to replace a core command.\"\"\"
"""


@pytest.fixture
def runner() -> CliRunner:
    """A runner whose terminal is wide enough that rich never wraps a cell."""
    return CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def commands_distribution(make_distribution: MakeDistribution):
    return make_distribution(
        "skillfactory-greet",
        plugins={"greet": "sf_test_greet"},
        modules={"sf_test_greet": COMMANDS_PLUGIN},
    )


def assert_one_line_error(result, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert text in result.stderr


def test_version(runner):
    result = runner.invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"skillfactory {__version__}\n"


def test_plugins_json_lists_every_plugin_with_what_it_registered(
    runner, make_distribution, echo_distribution, commands_distribution
):
    make_distribution(
        "skillfactory-broken",
        plugins={"broken": "sf_test_broken"},
        modules={"sf_test_broken": "import a_module_that_does_not_exist_anywhere\n"},
    )
    result = runner.invoke(cli, ["plugins", "--json"])

    assert result.exit_code == 0
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert records["echo"] == {
        "name": "echo",
        "module": "sf_test_echo",
        "distribution": "skillfactory-echo",
        "version": "1.0",
        "registered": {
            "tasks": [],
            "skills": ["echo"],
            "samplers": [],
            "trainers": [],
            "commands": [],
        },
        "errors": [],
        "unavailable": None,
    }
    assert records["greet"]["registered"]["commands"] == ["fail", "hello"]
    assert records["greet"]["errors"] == [
        "register_commands: command 'plugins' belongs to the core"
    ]
    assert records["broken"]["distribution"] == "skillfactory-broken"
    assert records["broken"]["errors"][0].startswith("import failed: ModuleNotFoundError")


def test_plugins_table_shows_errors(runner, make_distribution, echo_distribution):
    make_distribution(
        "skillfactory-broken",
        plugins={"broken": "sf_test_broken"},
        modules={"sf_test_broken": "raise ImportError('needs the gpu extra')\n"},
    )
    result = runner.invoke(cli, ["plugins"])

    assert result.exit_code == 0
    assert "skillfactory-echo" in result.stdout
    assert "skills: echo" in result.stdout
    assert "needs the gpu extra" in result.stdout


@pytest.mark.parametrize("kind", ["tasks", "skills", "samplers", "trainers"])
def test_listings_without_plugins(runner, monkeypatch, kind):
    monkeypatch.setenv("SKILLFACTORY_PLUGINS", "")

    table = runner.invoke(cli, [kind])
    as_json = runner.invoke(cli, [kind, "--json"])

    assert table.exit_code == 0
    assert table.stdout.startswith(f"No {kind} installed.")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == []


def test_skills_lists_a_third_party_skill(runner, echo_distribution):
    table = runner.invoke(cli, ["skills"])
    as_json = runner.invoke(cli, ["skills", "--json"])

    assert table.exit_code == 0
    assert "Shows every attempt as a sample" in table.stdout
    assert "stage 10" in table.stdout
    assert "two that both choose the attempts cannot be selected together" in table.stdout
    assert json.loads(as_json.stdout) == [
        {
            "name": "echo",
            "description": "Shows every attempt as a sample, in the order given.",
            "plugin": "echo",
            "distribution": "skillfactory-echo",
            "stage": 10,
            "requires": [],
            "chooses_attempts": False,
            "needs_reflections": False,
        }
    ]


def test_skills_show_the_order_they_apply_in(runner):
    table = runner.invoke(cli, ["skills", "retry", "verify"])

    assert table.exit_code == 0
    assert "stage 10; chooses the attempts; needs verify" in table.stdout
    assert "stage 20" in table.stdout


def test_an_unknown_option_is_one_line_and_exit_2(runner):
    result = runner.invoke(cli, ["skills", "--bogus"])

    assert_one_line_error(result, 2, "No such option '--bogus'")
    assert "skillfactory skills --help" in result.stderr


def test_an_unknown_name_lists_the_known_ones(runner, echo_distribution):
    result = runner.invoke(cli, ["skills", "echo", "verfiy"])

    assert_one_line_error(result, 2, "unknown skill 'verfiy'; known skills: echo")


def test_an_unknown_command_lists_the_commands(runner):
    result = runner.invoke(cli, ["evaluate-everything"])

    assert_one_line_error(result, 2, "no such command 'evaluate-everything'; commands: compose,")


def test_a_bad_value_is_a_usage_error(runner, commands_distribution):
    result = runner.invoke(cli, ["fail", "sideways"])

    assert_one_line_error(result, 2, "'sideways' is not one of 'usage', 'runtime', 'bug'")


def test_plugin_commands_run(runner, commands_distribution):
    result = runner.invoke(cli, ["hello", "world"])

    assert result.exit_code == 0
    assert result.stdout == "hello world\n"
    assert "hello" in runner.invoke(cli, ["--help"]).stdout


def test_a_usage_error_from_a_command_exits_2(runner, commands_distribution):
    result = runner.invoke(cli, ["fail", "usage"])

    assert_one_line_error(result, 2, "Error: --questions must be positive, got -3")


def test_a_runtime_failure_exits_1(runner, commands_distribution):
    result = runner.invoke(cli, ["fail", "runtime"])

    assert_one_line_error(result, 1, "Error: the run directory is locked by another run")


def test_an_unexpected_error_is_one_line_without_debug(runner, commands_distribution):
    result = runner.invoke(cli, ["fail", "bug"])

    assert_one_line_error(result, 1, "unexpected RuntimeError: an unexpected bug …")
    assert "Traceback" not in result.output
    assert "--debug" in result.stderr


@pytest.mark.parametrize("switch", [["--debug"], []])
def test_debug_lets_the_traceback_through(runner, monkeypatch, commands_distribution, switch):
    if not switch:
        monkeypatch.setenv("SKILLFACTORY_DEBUG", "1")
    result = runner.invoke(cli, [*switch, "fail", "bug"])

    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)


MANY_SKILLS = """
    from skillfactory import Skill, hookimpl


    def make(index):
        class Numbered(Skill):
            name = f"skill-{index:02d}"
            description = f"Skill number {index}."

            def apply(self, draft, question, settings, rng):
                return None

        return Numbered


    @hookimpl
    def register_skills(register):
        for index in range(12):
            register(make(index))
"""


def test_a_plugin_with_many_names_is_summarised_in_the_table(runner, make_distribution):
    make_distribution(
        "skillfactory-many", plugins={"many": "sf_test_many"}, modules={"sf_test_many": MANY_SKILLS}
    )
    table = runner.invoke(cli, ["plugins"])
    as_json = json.loads(runner.invoke(cli, ["plugins", "--json"]).stdout)

    assert "skills: 12: skill-00, skill-01, skill-02, skill-03, skill-04, …" in table.stdout
    assert "skill-11" not in table.stdout
    assert len(as_json[0]["registered"]["skills"]) == 12


def test_a_missing_choice_is_still_one_line(runner):
    result = runner.invoke(
        cli,
        ["compose", "--skills", "verify", "--input", ".", "--output", "o", "--order", "sideways"],
    )

    assert_one_line_error(result, 2, "Invalid value for '--order': 'sideways' is not one of")


def _rows(table: str) -> list[list[str]]:
    """The body rows of a rich table, each as its printed lines (a row starts with a name)."""
    body = table.split("┩", 1)[1].split("└", 1)[0].strip("\n").splitlines()
    rows: list[list[str]] = []
    for line in body:
        first_cell = line.split("│")[1]
        if first_cell.strip() and not first_cell.strip().startswith("from "):
            rows.append([line])
        else:
            rows[-1].append(line)
    return rows


@pytest.mark.parametrize("columns", ["80", None])
def test_the_task_table_stays_readable_at_80_columns_and_in_a_pipe(columns):
    """A pipe gets 80 columns too; each task is its description and its levels."""
    output = CliRunner(env={"COLUMNS": columns}).invoke(cli, ["tasks"]).stdout
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = _rows(output)
    assert {row[0].split("│")[1].strip() for row in rows} >= {"countdown", "acronym"}
    assert max(len(row) for row in rows) <= 4, max(rows, key=len)
    assert "variants of every task: original, plan_and_execute" in output


def test_each_built_in_plugin_is_one_line_at_80_columns():
    output = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["plugins"]).stdout
    table = output.split("Problems (also in --json):")[0]  # whole lines, wrapped by the terminal
    assert max(len(line) for line in table.splitlines()) <= 80
    rows = {row[0].split("│")[1].strip(): row for row in _rows(table)}
    for name in ("countdown", "retry", "verify", "sft", "grpo", "acronym", "confirm"):
        assert len(rows[name]) == 1, rows[name]


def test_the_plugin_table_stays_readable_at_80_columns_and_names_problems_whole(
    make_distribution,
):
    message = "this plugin needs the gpu extra, which is not installed on this machine"
    make_distribution(
        "skillfactory-broken",
        plugins={"broken": "sf_test_broken"},
        modules={"sf_test_broken": f"raise ImportError({message!r})\n"},
    )
    output = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["plugins"]).stdout
    table, problems = output.split("Problems (also in --json):")
    assert max(len(line) for line in table.splitlines()) <= 80
    rows = {row[0].split("│")[1].strip(): row for row in _rows(table)}
    assert len(rows["broken"]) == 1 and "failed" in rows["broken"][0]
    assert f"  broken: import failed: ImportError: {message}\n" in problems


def test_a_number_that_is_not_one_says_what_is_wanted(runner):
    result = runner.invoke(cli, ["problems", "countdown", "--count", "abc"])
    assert_one_line_error(result, 2, "'abc' is not a valid whole number")
    assert "integer range" not in result.stderr


def test_a_listing_filters_by_text_and_by_plugin(runner):
    def names(*arguments: str) -> list[str]:
        result = runner.invoke(cli, ["tasks", *arguments, "--json"])
        assert result.exit_code == 0, result.output
        return [row["name"] for row in json.loads(result.stdout)]

    counting = names("count")
    assert {"countdown", "letter_countdown"} <= set(counting)
    assert all("count" in name.casefold() for name in counting)
    assert names("countdown") == ["countdown"], "a task's own name selects it alone"
    either = names("COUNTDOWN", "acro", "count")
    assert {"countdown", "letter_countdown", "acronym"} <= set(either), "case is ignored"
    assert len(either) == len(set(either)), "a task two terms match is listed once"
    assert names("--source", "countdown") == ["countdown"]
    assert "long_multiplication" in names("--source", "skillfactory", "multiplication")
    assert names("--source", "long_multiplication", "multi") == ["long_multiplication"]


def test_a_listing_filter_that_matches_nothing_is_one_line(runner):
    assert_one_line_error(
        runner.invoke(cli, ["tasks", "--source", "nope"]), 2, "no tasks come from 'nope'"
    )
    assert_one_line_error(
        runner.invoke(cli, ["tasks", "--source", "countdown", "acronym"]),
        2,
        "no task from 'countdown' has 'acronym' in its name",
    )
    assert_one_line_error(runner.invoke(cli, ["skills", "zzzq"]), 2, "unknown skill 'zzzq'")
