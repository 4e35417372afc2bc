"""Loading plugins through real entry points, one at a time, failures kept to themselves."""

from __future__ import annotations

import random

import pytest
from conftest import ECHO_SKILL, MakeDistribution

from skillfactory import (
    Attempt,
    ComposeSettings,
    Draft,
    InMemoryTexts,
    Question,
    UnknownNameError,
)
from skillfactory.registry import KINDS, load_registry

BROKEN_IMPORT = """
    import a_module_that_does_not_exist_anywhere
"""

RAISING_HOOK = """
    from skillfactory import Segment, Skill, hookimpl


    class Half(Skill):
        name = "half"
        description = "Registered just before the hook fails."

        def apply(self, draft, question, settings, rng):
            return None


    @hookimpl
    def register_skills(register):
        register(Half)
        raise RuntimeError("the plugin author made a mistake")
"""

DUPLICATE_NAME = """
    from skillfactory import Skill, hookimpl


    class AnotherEcho(Skill):
        name = "echo"
        description = "Tries to take a name that is already taken."

        def apply(self, draft, question, settings, rng):
            return None


    class Mirror(Skill):
        name = "mirror"
        description = "A second skill in the same hook, with a free name."

        def apply(self, draft, question, settings, rng):
            return list(reversed([]))


    @hookimpl
    def register_skills(register):
        register(AnotherEcho)
        register(Mirror)
"""


def test_a_working_third_party_skill_is_registered_and_usable(echo_distribution):
    registry = load_registry()

    registration = registry.get("skill", "echo")
    assert registration.plugin == "echo"
    assert registration.distribution == "skillfactory-echo"
    skill = registration.factory()
    attempts = (Attempt(0, True, "12 + 3", "original"), Attempt(1, False, "12", "rephrase"))
    question = Question("q1", [], attempts, InMemoryTexts(["12 + 3 = 15", "12"]))
    draft = skill.apply(Draft(), question, ComposeSettings(max_attempts=1), random.Random(0))
    assert draft == Draft(attempts=attempts[:1], format="echo")

    record = next(record for record in registry.plugins if record.name == "echo")
    assert record.ok
    assert record.version == "1.0"
    assert record.registered["skills"] == ["echo"]


def test_broken_plugins_are_reported_and_the_others_still_work(
    make_distribution: MakeDistribution, echo_distribution
):
    make_distribution(
        "skillfactory-broken",
        plugins={"broken": "sf_test_broken"},
        modules={"sf_test_broken": BROKEN_IMPORT},
    )
    make_distribution(
        "skillfactory-raises",
        plugins={"raises": "sf_test_raises"},
        modules={"sf_test_raises": RAISING_HOOK},
    )
    make_distribution(
        "skillfactory-zz-duplicate",
        plugins={"duplicate": "sf_test_duplicate"},
        modules={"sf_test_duplicate": DUPLICATE_NAME},
    )

    registry = load_registry()
    records = {record.name: record for record in registry.plugins}

    assert records["broken"].distribution == "skillfactory-broken"
    assert records["broken"].errors == [
        "import failed: ModuleNotFoundError: "
        "No module named 'a_module_that_does_not_exist_anywhere'"
    ]
    assert records["raises"].errors == [
        "register_skills raised RuntimeError: the plugin author made a mistake"
    ]
    assert records["raises"].registered["skills"] == [], "a failed hook registers nothing"
    assert records["duplicate"].errors == [
        "register_skills: skill 'echo' is already registered by plugin 'echo' (skillfactory-echo)"
    ]
    assert records["duplicate"].registered["skills"] == ["mirror"]

    assert registry.names("skill") == ["echo", "mirror"]
    assert registry.get("skill", "echo").plugin == "echo"
    assert {record.name for record in registry.failed} == {"broken", "raises", "duplicate"}


def test_an_unknown_name_lists_the_known_ones_and_points_at_failed_plugins(
    make_distribution: MakeDistribution, echo_distribution
):
    make_distribution(
        "skillfactory-broken",
        plugins={"broken": "sf_test_broken"},
        modules={"sf_test_broken": BROKEN_IMPORT},
    )
    registry = load_registry()

    with pytest.raises(UnknownNameError) as caught:
        registry.select("skill", ["echo", "verfiy"])

    assert str(caught.value) == (
        "unknown skill 'verfiy'; known skills: echo "
        "(plugins with errors: broken; see 'skillfactory plugins')"
    )
    assert caught.value.exit_code == 2


def test_select_keeps_the_order_given_and_drops_repeats(echo_distribution, make_distribution):
    make_distribution(
        "skillfactory-zz-duplicate",
        plugins={"duplicate": "sf_test_duplicate"},
        modules={"sf_test_duplicate": DUPLICATE_NAME},
    )
    registry = load_registry()

    selected = registry.select("skill", ["mirror", "echo", "mirror"])

    assert [registration.name for registration in selected] == ["mirror", "echo"]


INVALID_REGISTRATIONS = """
    from skillfactory import Skill, Task, hookimpl


    class NoDescription(Skill):
        name = "quiet"
        description = ""

        def apply(self, draft, question, settings, rng):
            return None


    class BadName(Skill):
        name = "Verify, Retry"
        description = "A name that cannot be typed in a comma-separated list."

        def apply(self, draft, question, settings, rng):
            return None


    class Unfinished(Skill):
        name = "unfinished"
        description = "Forgets to implement apply."


    class NotASkill(Task):
        name = "not-a-skill"
        description = "A task handed to the skill hook."


    class Fine(Skill):
        name = "fine"
        description = "The one valid registration."

        def apply(self, draft, question, settings, rng):
            return None


    @hookimpl
    def register_skills(register):
        register(NoDescription)
        register(BadName)
        register(Unfinished)
        register(NotASkill)
        register(Fine())
        register("verify")
        register(Fine)
"""


def test_each_invalid_registration_is_rejected_with_its_reason(make_distribution):
    make_distribution(
        "skillfactory-invalid",
        plugins={"invalid": "sf_test_invalid"},
        modules={"sf_test_invalid": INVALID_REGISTRATIONS},
    )
    registry = load_registry()
    (record,) = registry.plugins

    assert (
        record.errors[0] == "register_skills: NoDescription.description must be one non-empty line"
    )
    assert record.errors[1].startswith("register_skills: BadName.name must be lower case")
    assert record.errors[2] == "register_skills: Unfinished does not implement apply"
    assert record.errors[3] == (
        "register_skills: class sf_test_invalid.NotASkill is not a subclass of skillfactory.Skill"
    )
    assert record.errors[4] == "register_skills: register the class Fine, not an instance of it"
    assert (
        record.errors[5] == "register_skills: str 'verify' is not a subclass of skillfactory.Skill"
    )
    assert len(record.errors) == 6
    assert record.registered["skills"] == ["fine"]


MISNAMED_HOOKS = """
    from skillfactory import Skill, hookimpl


    class Fine(Skill):
        name = "fine"
        description = "Registered by the correctly named hook."

        def apply(self, draft, question, settings, rng):
            return None


    @hookimpl
    def register_skill(register):
        register(Fine)


    @hookimpl
    def register_skills(register):
        register(Fine)
"""

WRONG_HOOK_ARGUMENTS = """
    from skillfactory import hookimpl


    @hookimpl
    def register_tasks(registry):
        pass
"""


def test_a_misnamed_hook_is_reported_while_the_right_ones_run(make_distribution):
    make_distribution(
        "skillfactory-typo",
        plugins={"typo": "sf_test_typo"},
        modules={"sf_test_typo": MISNAMED_HOOKS},
    )
    registry = load_registry()
    (record,) = registry.plugins

    assert record.errors == [
        "unknown hook 'register_skill'; known hooks: register_commands, register_samplers, "
        "register_skills, register_tasks, register_trainers"
    ]
    assert registry.names("skill") == ["fine"]


def test_a_hook_with_arguments_the_spec_lacks_is_not_loaded(make_distribution, echo_distribution):
    make_distribution(
        "skillfactory-args",
        plugins={"args": "sf_test_args"},
        modules={"sf_test_args": WRONG_HOOK_ARGUMENTS},
    )
    registry = load_registry()
    record = next(record for record in registry.plugins if record.name == "args")

    assert record.plugin is None
    assert record.errors[0].startswith(
        "invalid hook implementation: Plugin 'args' for hook 'register_tasks'"
    )
    assert "registry" in record.errors[0]
    assert registry.names("skill") == ["echo"]


def test_two_distributions_with_one_entry_point_name(make_distribution, echo_distribution):
    make_distribution(
        "skillfactory-other-echo",
        plugins={"echo": "sf_test_other_echo"},
        modules={"sf_test_other_echo": "x = 1\n"},
    )
    registry = load_registry()
    records = [record for record in registry.plugins if record.name == "echo"]

    assert [record.distribution for record in records] == [
        "skillfactory-echo",
        "skillfactory-other-echo",
    ]
    assert records[0].ok
    assert records[1].errors == ["the entry-point name 'echo' is already used by another plugin"]


def test_this_projects_own_plugins_load_first_and_keep_their_names(make_distribution):
    make_distribution(
        "aaa-early-bird",
        plugins={"early": "sf_test_early"},
        modules={"sf_test_early": ECHO_SKILL},
    )
    make_distribution(
        "skillfactory",
        plugins={"builtin-echo": "sf_test_builtin_echo"},
        modules={"sf_test_builtin_echo": ECHO_SKILL},
    )
    registry = load_registry()

    assert [record.name for record in registry.plugins] == ["builtin-echo", "early"]
    assert registry.get("skill", "echo").plugin == "builtin-echo"
    assert not registry.plugins[1].ok


def test_skillfactory_plugins_narrows_loading(monkeypatch, make_distribution, echo_distribution):
    make_distribution(
        "skillfactory-broken",
        plugins={"broken": "sf_test_broken"},
        modules={"sf_test_broken": BROKEN_IMPORT},
    )
    monkeypatch.setenv("SKILLFACTORY_PLUGINS", "echo, not-installed")
    registry = load_registry()

    assert [record.name for record in registry.plugins] == ["echo", "not-installed"]
    assert registry.plugins[1].errors == [
        "not installed: no entry point of that name in group 'skillfactory'"
    ]
    assert registry.names("skill") == ["echo"]

    monkeypatch.setenv("SKILLFACTORY_PLUGINS", "")
    assert load_registry().plugins == []


def test_hook_tracing_writes_every_call_to_stderr(monkeypatch, capsys, echo_distribution):
    monkeypatch.setenv("SKILLFACTORY_TRACE_HOOKS", "1")
    load_registry(requested=["echo"])

    assert "register_skills" in capsys.readouterr().err


def test_every_kind_has_a_documented_hook():
    from skillfactory import hookspecs

    for kind in KINDS.values():
        hook = getattr(hookspecs, kind.hook)
        assert kind.contract.__name__ in hook.__doc__


EXITS_IN_HOOK = """
    import sys

    from skillfactory import hookimpl


    @hookimpl
    def register_tasks(register):
        sys.exit("a plugin must not end the process")
"""


def test_a_hook_that_calls_sys_exit_does_not_end_the_process(make_distribution, echo_distribution):
    make_distribution(
        "skillfactory-exits",
        plugins={"exits": "sf_test_exits"},
        modules={"sf_test_exits": EXITS_IN_HOOK},
    )
    registry = load_registry()
    record = next(record for record in registry.plugins if record.name == "exits")

    assert record.errors == ["register_tasks raised SystemExit: a plugin must not end the process"]
    assert registry.names("skill") == ["echo"]


UNAVAILABLE_AT_IMPORT = """
    from skillfactory import PluginUnavailable

    raise PluginUnavailable("needs the gpu: pip install 'skillfactory-gpu[cuda]'")
"""

UNAVAILABLE_IN_HOOK = """
    from skillfactory import PluginUnavailable, hookimpl


    @hookimpl
    def register_samplers(register):
        raise PluginUnavailable("needs a server that is not running")
"""


def test_a_plugin_missing_an_optional_dependency_is_unavailable_not_broken(make_distribution):
    make_distribution(
        "skillfactory-gpu",
        plugins={"gpu": "sf_test_gpu", "server": "sf_test_server"},
        modules={"sf_test_gpu": UNAVAILABLE_AT_IMPORT, "sf_test_server": UNAVAILABLE_IN_HOOK},
    )
    registry = load_registry()
    records = {record.name: record for record in registry.plugins}

    assert records["gpu"].ok and records["server"].ok
    assert records["gpu"].unavailable == "needs the gpu: pip install 'skillfactory-gpu[cuda]'"
    assert records["server"].unavailable == "needs a server that is not running"
    with pytest.raises(UnknownNameError, match="plugin gpu is unavailable: needs the gpu"):
        registry.get("sampler", "gpu")
    # A plugin whose name is nothing like the one asked for is not offered as the reason.
    with pytest.raises(UnknownNameError) as unrelated:
        registry.get("skill", "verfiy")
    assert "unavailable" not in str(unrelated.value)


def test_an_unknown_name_among_many_suggests_the_closest_instead_of_listing_all():
    from skillfactory.errors import MAX_NAMES_LISTED

    known = [f"rg:task_{index:03d}" for index in range(100)] + ["countdown", "letter_countdown"]
    error = UnknownNameError("task", "countdwn", known)
    assert len(known) > MAX_NAMES_LISTED
    assert str(error).startswith(
        "unknown task 'countdwn'; known tasks: 102 are installed; the closest: countdown"
    )
    assert str(error).endswith("'skillfactory tasks' lists them")
    assert len(str(error)) < 200
