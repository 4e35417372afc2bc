"""Fixtures that make real installed distributions, so plugin loading is tested for real."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from skillfactory.entrypoints import PLUGINS_ENV
from skillfactory.registry import TRACE_ENV, get_registry

MakeDistribution = Callable[..., Path]


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Plugins' caches (reasoning-gym's dataset list) go to a directory of the test run's own."""
    path = tmp_path_factory.mktemp("skillfactory-cache")
    previous = os.environ.get("SKILLFACTORY_CACHE_DIR")
    os.environ["SKILLFACTORY_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        del os.environ["SKILLFACTORY_CACHE_DIR"]
    else:
        os.environ["SKILLFACTORY_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test loads plugins anew, with the environment switches off."""
    for name in (PLUGINS_ENV, TRACE_ENV, "SKILLFACTORY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    get_registry.cache_clear()
    yield
    get_registry.cache_clear()


@pytest.fixture(autouse=True)
def no_model_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real model hub: hub ids are checked against a closed port."""
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_HUB)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local stand-in for the hub's model API that knows the models in ``HUB_MODELS``.

    It answers ``/api/models/<id>`` the way the hub does: the model's metadata,
    or 404 with the hub's ``RepoNotFound`` error code.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    yield endpoint
    server.shutdown()
    server.server_close()


CLOSED_HUB = "http://127.0.0.1:9"
"""A hub endpoint nothing listens on (the discard port): connections are refused at once."""

HUB_MODELS = ("someorg/some-model", "Qwen/Qwen2.5-1.5B-Instruct", "example-org/tiny-chat-model")


class _FakeHubHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        repo_id = self.path.removeprefix("/api/models/").split("?")[0].split("/revision/")[0]
        if repo_id in HUB_MODELS:
            status, body = 200, {"id": repo_id, "modelId": repo_id, "sha": "0" * 40}
        else:
            status, body = 404, {"error": "Repository not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        if status == 404:
            self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is not the place for request lines."""


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on ``sys.path`` that plays the part of site-packages."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def make_distribution(
    site_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeDistribution]:
    """Install a distribution the way pip leaves one: modules plus a ``*.dist-info``.

    ``make_distribution("skillfactory-echo", plugins={"echo": "sf_echo"},
    modules={"sf_echo": "...source..."})`` declares entry points in the group
    ``skillfactory``, exactly as a package's ``pyproject.toml`` would. It also sets
    ``SKILLFACTORY_PLUGINS`` to the entry points made so far, so that the project's
    own built-in plugins stay out of the way of tests about plugin loading.
    """
    imported: list[str] = []
    entry_point_names: list[str] = []

    def make(
        name: str,
        *,
        plugins: dict[str, str],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
    ) -> Path:
        for module, source in (modules or {}).items():
            (site_dir / f"{module}.py").write_text(textwrap.dedent(source))
            imported.append(module)
        dist_info = site_dir / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        lines = ["[skillfactory]", *(f"{ep} = {target}" for ep, target in plugins.items())]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        entry_point_names.extend(plugins)
        monkeypatch.setenv(PLUGINS_ENV, ",".join(entry_point_names))
        importlib.invalidate_caches()
        return dist_info

    yield make
    for module in imported:
        sys.modules.pop(module, None)


ECHO_SKILL = """
    from dataclasses import replace

    from skillfactory import Skill, hookimpl


    class EchoSkill(Skill):
        name = "echo"
        description = "Shows every attempt as a sample, in the order given."
        stage = 10

        def apply(self, draft, question, settings, rng):
            if not question.attempts:
                return None
            shown = question.attempts[: settings.max_attempts]
            return replace(draft, attempts=shown, format="echo")


    @hookimpl
    def register_skills(register):
        register(EchoSkill)
"""
"""A complete, working third-party skill plugin."""


@pytest.fixture
def echo_distribution(make_distribution: MakeDistribution) -> Path:
    """The working plugin above, installed as distribution ``skillfactory-echo``."""
    return make_distribution(
        "skillfactory-echo", plugins={"echo": "sf_test_echo"}, modules={"sf_test_echo": ECHO_SKILL}
    )


@pytest.fixture(scope="session")
def micro_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model's recipe at micro size (seconds to build), shared by the whole run."""
    from skillfactory.models import build

    directory = tmp_path_factory.mktemp("micro-model") / "micro"
    build.build_model(directory, seed=0, size="micro", measure=False)
    return directory


def kill_9_when(command: list[str], ready: Callable[[], bool], *, timeout: float = 120) -> None:
    """Run ``command`` and SIGKILL it as soon as ``ready()`` holds (or after ``timeout`` s).

    What a crash or a killed job does to a command: no clean-up code of its own runs.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ready():
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
