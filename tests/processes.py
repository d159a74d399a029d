"""One helper for every child process the tests start: start it, wait until it is ready, stop it.

A server is started in a process group of its own (``start_new_session``) with its output in a
log file, never a pipe nobody reads (which blocks the child once the pipe buffer fills).
``wait_ready`` polls a readiness check until a deadline and fails at once, with the end of the
log, if the process exits first. ``stop`` ends the whole group: the process and everything it
started (flow-run subprocesses, a browser's renderers), SIGKILL after a grace period.

Used by prefect_server.py, postgres_server.py and chromium.py; a new server helper needs only::

    proc = start("my-server", [exe, "--port", str(port)], log=folder / "my-server.log")
    wait_ready(proc, lambda: http_ok(f"http://127.0.0.1:{port}/health"), timeout=60)
    ...
    proc.stop()

``poll_until`` is the same deadline loop for anything a test waits on (a log line, a file, a
request in a server's log), instead of a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def poll_until(check: Callable[[], T], *, timeout: float, interval: float = 0.05,
               message: str | Callable[[], str] = "condition not met") -> T:
    """Call ``check`` until it returns something truthy and return that; ``TimeoutError`` once
    ``timeout`` seconds have passed (``message``, or what it returns, says what was awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message() if callable(message) else message} after {timeout:g} s")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 2xx; False on any connection error or other status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    """Send ``sig`` to the process group of ``process``, SIGKILL the group after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass
class Process:
    """A child process in a group of its own, its output in ``log``."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        """End the process and everything it started (``sig``, then SIGKILL after ``grace`` s)."""
        stop_group(self.process, sig, grace)

    def kill(self) -> None:
        """Gone at once (SIGKILL to the whole group)."""
        stop_group(self.process, signal.SIGKILL, grace=5.0)


def start(name: str, argv: Sequence[str], *, log: Path, cwd: str | Path | None = None,
          env: dict[str, str] | None = None, **popen_kwargs: Any) -> Process:
    """Start ``argv`` in a new process group, stdin from /dev/null, stdout and stderr to ``log``.

    ``popen_kwargs`` go to ``subprocess.Popen`` (e.g. ``user``/``group`` to drop root).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(arg) for arg in argv], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, **popen_kwargs,
        )
    return Process(name, process, log)


def wait_ready(proc: Process, ready: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> None:
    """Poll ``ready()`` until it is true. If the process exits first, or ``timeout`` seconds pass,
    stop it and raise ``RuntimeError`` with the end of its log."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.process.poll() is not None:
            text = proc.tail()
            raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{text}")
        if ready():
            return
        if time.monotonic() >= deadline:
            proc.stop()
            raise RuntimeError(f"{proc.name} not ready after {timeout:g} s:\n{proc.tail()}")
        time.sleep(interval)
