"""Scoring in worker processes, for scorers that cannot be trusted with model output.

A task whose scorer may hang, crash or run code on hostile input declares
``sandboxed_scoring = True``; callers then judge its answers through a
:class:`ScoringPool` instead of calling ``task.score`` in their own process.
:class:`skillfactory.scoring.Verifier` makes that choice from the task's
declaration, so that callers need not.

What the pool guarantees:

- Each answer is judged under a wall-clock time limit. A scorer that runs past it
  has its worker killed (with every process the worker started) and replaced;
  the answer scores 0 with the reason ``"scorer timed out"``.
- Each worker runs under a memory (address-space) limit, so an answer that makes
  the scorer allocate without bound gets a ``MemoryError`` inside the worker
  (``"scorer ran out of memory"``) instead of exhausting the machine.
- A worker that dies while judging (``os._exit``, a segfault, ``sys.exit``, the
  kernel's OOM killer) costs only that answer: ``"scorer crashed"``, and a fresh
  worker takes over. A scorer that raises gives ``"scorer raised <Type>"``; one
  that returns anything but a :class:`~skillfactory.records.Score` in [0, 1]
  gives 0 with a reason. The calling process never hangs and never raises
  because of one answer.
- Replies come back as JSON lines over a socket, never as pickles, so code that a
  hostile answer runs inside a worker cannot reach into the calling process
  through the replies; a reply that is not well-formed costs the worker.

What it does **not** do: stop a scorer from running code. If a scorer evaluates
model output (reasoning-gym's countdown scorer hands it to sympy, which runs
Python), a shell command in the answer runs inside the worker, with the user's
permissions, files, network and environment variables. The pool bounds the time
and memory that code gets and keeps the main process alive; it is not a security
boundary. It also cannot stop such code from tampering with the scores that the
same worker gives later answers. Only an operating-system sandbox (a container,
a separate user, seccomp) can do those things; run untrusted scorers in one when
that matters.

Cheap hardening each worker applies to itself: it starts a new session (so the
terminal's Ctrl-C goes to the parent, which then stops the workers, and one kill
reaches every process the worker started), reads nothing from the terminal
(multiprocessing gives it ``/dev/null`` as stdin), writes its stdout to
``/dev/null`` (so a scorer's prints cannot corrupt JSON lines the caller writes
to stdout), dumps no core, uses one BLAS/OpenMP thread, and raises its own CPU
time limit per answer, so that a worker orphaned in a busy loop still ends.

Costs: workers start with the ``spawn`` method, because the caller may hold CUDA
state or threads that ``fork`` would copy unsafely. A spawned worker is a fresh
interpreter that imports SkillFactory, re-imports the caller's ``__main__``
module (so scripts must guard their entry point with
``if __name__ == "__main__":``, as with any spawn-based pool) and loads the task's
plugin: about 0.1-0.3 s before the task's own imports, which for reasoning-gym
add about 1-2 s. Workers start on the first :meth:`ScoringPool.score_many` call,
all at once, and are reused across calls; every timeout or crash pays the start
again for its replacement. Items travel in batches (up to :data:`MAX_BATCH` per
message) and results stream back one line per answer, so the per-answer overhead
in the steady state is a JSON round of encoding and decoding, tens of
microseconds. Workers inherit the caller's ``sys.path`` (spawn passes it on) and
environment, so plugins installed or enabled for the caller (including
``SKILLFACTORY_PLUGINS``) load the same way in the workers.

A pool is not thread-safe: use it from one thread at a time.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import socket
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Any

from skillfactory.errors import SkillFactoryError, UsageError, one_line
from skillfactory.records import Problem, Score
from skillfactory.task import Task

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

TIMED_OUT = "scorer timed out"
CRASHED = "scorer crashed"
OUT_OF_MEMORY = "scorer ran out of memory"
MALFORMED = "scorer sent a malformed reply"

MAX_BATCH = 32
"""The most items sent to a worker in one message."""
START_TIMEOUT = 120.0
"""Seconds a new worker may take to import and construct its task."""
MAX_REPLY_BYTES = 1 << 20
"""A reply line longer than this is malformed (a JSON score needs a few dozen bytes)."""
MAX_REASON_CHARS = 300
"""Longer reasons are cut to this length."""

_NO_SIGPIPE = getattr(socket, "MSG_NOSIGNAL", 0)


SCORER_RAISED = "scorer raised"
"""How the reason of a score whose scorer raised begins (then the error, as a traceback ends)."""


def _last_line(error: BaseException) -> str:
    """The error as a traceback's last line shows it: ``KeyError: 'numbers'``."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def judge(task: Task, problem: Problem, answer: str | None) -> Score:
    """Call ``task.score`` and vouch for what it gives: any failure is a 0 with a reason."""
    try:
        result = task.score(problem, answer)
    except MemoryError:
        return Score(0.0, OUT_OF_MEMORY)
    except Exception as error:
        return Score(0.0, f"{SCORER_RAISED} {_last_line(error)}"[:MAX_REASON_CHARS])
    return _vouch(result)


def _vouch(result: object) -> Score:
    if not isinstance(result, Score):
        return Score(
            0.0, f"scorer returned {type(result).__name__}, not a Score"[:MAX_REASON_CHARS]
        )
    value = _valid_value(getattr(result, "value", None))
    if value is None:
        return Score(0.0, "scorer returned a value outside [0, 1]")
    reason = getattr(result, "reason", None)
    if not isinstance(reason, str):
        return Score(0.0, "scorer returned a reason that is not text")
    return Score(value, reason[:MAX_REASON_CHARS])


def _valid_value(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


@dataclass(eq=False)
class _Worker:
    """The parent's view of one worker process."""

    process: multiprocessing.process.BaseProcess
    sock: socket.socket
    ready: bool = False
    batch: deque[int] = field(default_factory=deque)
    """Indexes of the items sent and not yet answered; the first is being judged."""
    deadline: float = math.inf
    buffer: bytearray = field(default_factory=bytearray)


class ScoringPool:
    """Scores one task's answers in worker processes, each answer under a time limit,
    each worker under a memory limit.

    ``task_name`` is looked up in the registry here (an unknown name is a usage
    error at once) and the task is built in each worker from the same plugin with
    ``task_options``. ``memory_limit_mb`` is the address space a worker may add
    while scoring, on top of what importing and constructing the task took (that
    part differs a lot between machines: thread stacks, mapped libraries). Use it
    as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        task_name: str,
        task_options: Mapping[str, Any] | None = None,
        *,
        workers: int = 1,
        time_limit: float = 2.0,
        memory_limit_mb: int = 1024,
    ) -> None:
        from skillfactory.registry import get_registry

        if workers < 1:
            raise UsageError(f"a scoring pool needs at least one worker, got {workers}")
        if not time_limit > 0:
            raise UsageError(f"the scoring time limit must be positive, got {time_limit}")
        if memory_limit_mb < 1:
            raise UsageError(f"the scoring memory limit must be positive, got {memory_limit_mb}")
        registration = get_registry().get("task", task_name)
        self.task_name = task_name
        self.task_options = dict(task_options or {})
        self.workers = workers
        self.time_limit = float(time_limit)
        self.memory_limit_mb = memory_limit_mb
        self._plugin = registration.plugin
        self._context = multiprocessing.get_context("spawn")
        self._live: list[_Worker] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop_all, self._live)

    # -- public ----------------------------------------------------------------

    def score_many(self, items: Sequence[tuple[Problem, str | None]]) -> list[Score]:
        """Judge each (problem, answer) pair; the scores come back in the order given.

        Raises only for what is not one answer's fault: a closed pool, a problem
        whose data is not JSON-serialisable, an answer that is not a string or
        None, or a task that cannot be loaded in a worker.
        """
        if self._closed:
            raise RuntimeError("this scoring pool is closed")
        payloads = [_payload(problem, answer) for problem, answer in items]
        results: list[Score | None] = [None] * len(payloads)
        pending: deque[int] = deque(range(len(payloads)))
        try:
            while pending or any(worker.batch for worker in self._live):
                self._start_workers(len(pending) + sum(len(w.batch) for w in self._live))
                self._dispatch(pending, payloads, results)
                self._wait_and_collect(pending, results)
        except BaseException:
            _stop_all(self._live)
            raise
        return [score if score is not None else Score(0.0, CRASHED) for score in results]

    def close(self) -> None:
        """Stop every worker (and whatever it started); the pool cannot be used again."""
        self._closed = True
        self._finalizer()

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the event loop ----------------------------------------------------------

    def _start_workers(self, outstanding: int) -> None:
        while len(self._live) < min(self.workers, outstanding):
            parent_end, child_end = socket.socketpair()
            child_conn = Connection(child_end.detach())
            process = self._context.Process(
                target=_worker_main,
                args=(
                    child_conn,
                    self._plugin,
                    self.task_name,
                    self.task_options,
                    self.memory_limit_mb,
                    self.time_limit,
                ),
                name=f"skillfactory-scorer[{self.task_name}]",
                daemon=True,
            )
            try:
                process.start()
            except BaseException:
                parent_end.close()
                raise
            finally:
                child_conn.close()
            parent_end.setblocking(False)
            deadline = time.monotonic() + START_TIMEOUT
            self._live.append(_Worker(process, parent_end, deadline=deadline))

    def _dispatch(
        self, pending: deque[int], payloads: list[str], results: list[Score | None]
    ) -> None:
        for worker in list(self._live):
            if not (worker.ready and not worker.batch and pending):
                continue
            size = min(MAX_BATCH, max(1, math.ceil(len(pending) / (2 * self.workers))))
            batch = [pending.popleft() for _ in range(min(size, len(pending)))]
            message = ("[" + ",".join(payloads[index] for index in batch) + "]\n").encode()
            if self._send(worker, message):
                worker.batch.extend(batch)
                worker.deadline = time.monotonic() + self.time_limit
            else:
                pending.extendleft(reversed(batch))
                self._lose(worker, None, pending, results)

    def _send(self, worker: _Worker, message: bytes) -> bool:
        """Write a whole message, waiting at most the time limit for the worker to read."""
        view = memoryview(message)
        give_up = time.monotonic() + self.time_limit
        while view:
            try:
                view = view[worker.sock.send(view, _NO_SIGPIPE) :]
            except BlockingIOError:
                remaining = give_up - time.monotonic()
                if remaining <= 0 or not _writable(worker.sock, remaining):
                    return False
            except OSError:
                return False
        return True

    def _wait_and_collect(self, pending: deque[int], results: list[Score | None]) -> None:
        if not self._live:
            return
        soonest = min(worker.deadline for worker in self._live)
        timeout = None if soonest == math.inf else max(0.0, soonest - time.monotonic())
        watched: dict[int, _Worker] = {}
        for worker in self._live:
            watched[worker.sock.fileno()] = worker
            watched[worker.process.sentinel] = worker
        ready = wait(list(watched), timeout)
        woken = list(dict.fromkeys(watched[key] for key in ready))  # type: ignore[index]
        for worker in woken:
            alive = self._read(worker, pending, results)
            if worker not in self._live:
                continue
            if not alive or not worker.process.is_alive():
                self._lose(worker, CRASHED, pending, results)
        for worker in list(self._live):
            if worker.deadline > time.monotonic():
                continue
            alive = self._read(worker, pending, results)  # a reply may have just come in
            if worker not in self._live:
                continue
            if not alive:
                self._lose(worker, CRASHED, pending, results)
            elif worker.deadline <= time.monotonic():
                reason = TIMED_OUT if worker.process.is_alive() else CRASHED
                self._lose(worker, reason, pending, results)

    def _read(self, worker: _Worker, pending: deque[int], results: list[Score | None]) -> bool:
        """Take in what the worker sent; False once it has hung up."""
        while True:
            try:
                chunk = worker.sock.recv(1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                chunk = b""
            if not chunk:
                return False
            worker.buffer += chunk
            while worker in self._live:
                end = worker.buffer.find(b"\n")
                if end < 0:
                    break
                line = bytes(worker.buffer[:end])
                del worker.buffer[: end + 1]
                self._take_line(worker, line, pending, results)
            if worker not in self._live:
                return False
            if len(worker.buffer) > MAX_REPLY_BYTES:
                self._lose(worker, MALFORMED, pending, results)
                return False

    def _take_line(
        self, worker: _Worker, line: bytes, pending: deque[int], results: list[Score | None]
    ) -> None:
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not worker.ready:
            if isinstance(reply, dict) and isinstance(reply.get("error"), str):
                raise SkillFactoryError(
                    f"a scoring worker could not load task {self.task_name!r}: "
                    f"{reply['error'][:MAX_REASON_CHARS]}"
                )
            if reply != {"ready": True}:
                raise SkillFactoryError(
                    f"a scoring worker for task {self.task_name!r} started badly: {line[:80]!r}"
                )
            worker.ready = True
            worker.deadline = math.inf
            return
        score = _reply_score(reply)
        if score is None or not worker.batch:
            self._lose(worker, MALFORMED, pending, results)
            return
        results[worker.batch.popleft()] = score
        worker.deadline = time.monotonic() + self.time_limit if worker.batch else math.inf

    def _lose(
        self,
        worker: _Worker,
        reason: str | None,
        pending: deque[int],
        results: list[Score | None],
    ) -> None:
        """Stop a worker; the answer it was judging gets ``reason``, the rest go back in line."""
        if not worker.ready:
            code = worker.process.exitcode
            _stop(worker)
            self._live.remove(worker)
            what = "did not start in time" if code is None else f"exited with code {code}"
            raise SkillFactoryError(
                f"a scoring worker for task {self.task_name!r} {what} while loading the task"
            )
        if worker.batch and reason is not None:
            results[worker.batch.popleft()] = Score(0.0, reason)
        pending.extendleft(reversed(worker.batch))
        worker.batch.clear()
        _stop(worker)
        self._live.remove(worker)


def _payload(problem: Problem, answer: str | None) -> str:
    if answer is not None and not isinstance(answer, str):
        raise TypeError(f"an answer must be a string or None, got {type(answer).__name__}")
    try:
        return json.dumps([problem.to_json(), answer])
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"problem {problem.id} cannot be sent to a scoring worker: {one_line(error)}"
        ) from None


def _reply_score(reply: object) -> Score | None:
    """The score in a worker's reply ``[value, reason]``, or None when it is malformed."""
    if not (isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], str)):
        return None
    value = _valid_value(reply[0])
    return None if value is None else Score(value, reply[1][:MAX_REASON_CHARS])


def _writable(sock: socket.socket, timeout: float) -> bool:
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        return bool(selector.select(timeout))


def _stop(worker: _Worker) -> None:
    """Kill a worker and its process group (the shells and children a scorer started)."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(OSError):
            os.killpg(worker.process.pid, signal.SIGKILL)  # type: ignore[arg-type]
    with contextlib.suppress(OSError, ValueError):
        worker.process.kill()
    with contextlib.suppress(OSError, ValueError, AssertionError):
        worker.process.join(timeout=5)
    worker.sock.close()
    with contextlib.suppress(ValueError):
        worker.process.close()


def _stop_all(workers: list[_Worker]) -> None:
    while workers:
        _stop(workers.pop())


# -- inside a worker -------------------------------------------------------------


def _worker_main(
    conn: Connection,
    plugin: str,
    task_name: str,
    task_options: dict[str, Any],
    memory_limit_mb: int,
    time_limit: float,
) -> None:
    """Load the task, then judge batches of items until the parent hangs up."""
    _harden()
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()
    lines = sock.makefile("rb")

    def send(reply: object) -> None:
        sock.sendall(json.dumps(reply).encode() + b"\n")

    try:
        from skillfactory.registry import load_registry

        task = load_registry([plugin]).get("task", task_name).factory(**task_options)
    except BaseException as error:
        send({"error": one_line(error)})
        return
    _limit_memory(memory_limit_mb)
    send({"ready": True})
    for line in lines:
        for problem, answer in json.loads(line):
            _limit_cpu(time_limit)
            score = judge(task, Problem.from_json(problem), answer)
            send([score.value, score.reason])


def _harden() -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setsid()
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    _set_soft_limit("RLIMIT_CORE", 0)


def _limit_memory(megabytes: int) -> None:
    _set_soft_limit("RLIMIT_AS", _address_space() + megabytes * 2**20)


def _limit_cpu(seconds: float) -> None:
    """A backstop for a worker whose parent is gone: CPU time for one more answer, and spare."""
    if resource is None:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _set_soft_limit("RLIMIT_CPU", math.ceil(usage.ru_utime + usage.ru_stime + 2 * seconds + 1))


def _set_soft_limit(name: str, value: int) -> None:
    """Lower or raise a soft resource limit within the hard one; skip where unsupported."""
    limit = getattr(resource, name, None)
    if limit is None:
        return
    with contextlib.suppress(OSError, ValueError):
        _, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, hard))


def _address_space() -> int:
    """Bytes of address space this process maps now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
