"""Start and stop a real `prefect server` and `prefect worker` for end-to-end tests.

Everything runs as child processes in their own process groups with a temporary
``PREFECT_HOME`` (its own SQLite database), so a test never touches ``~/.prefect`` and
``stop()`` can end a process together with every flow-run subprocess it started.
Output goes to log files in that home (never to pipes nobody reads, which would block
the child once the pipe buffer fills); ``tail()`` shows them when something fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Worker:
    """A running ``prefect worker start`` process (and the flow runs it spawned)."""

    name: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        _stop_group(self.process)

    def tail(self, lines: int = 60) -> str:
        return _tail(self.log, lines)


@dataclass
class PrefectServer:
    """A running ``prefect server start`` on 127.0.0.1 with its own temporary home."""

    home: Path
    port: int
    process: subprocess.Popen
    log: Path
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def cli(self, *args: str, cwd: str | Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run ``prefect --no-prompt <args>`` against this server; raise with its output on failure."""
        result = subprocess.run(
            [PREFECT, "--no-prompt", *args], cwd=cwd, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"prefect {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def start_worker(self, pool: str, *, name: str = "e2e-worker", cwd: str | Path | None = None,
                     env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Worker:
        """Start ``prefect worker start --pool <pool> [args]`` polling every second; returns at once.

        ``env`` overrides the server's environment (e.g. a ``PREFECT_HOME`` of the worker's own).
        """
        log = self.home / f"{name}.log"
        worker_env = {
            **self.env,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            **(env or {}),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", pool, "--name", name, "--type", "process", *args],
                cwd=cwd, env=worker_env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        worker = Worker(name, proc, log)
        self.workers.append(worker)
        return worker

    def tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)

    def stop(self) -> None:
        """Stop every worker, then the server (each with its whole process group)."""
        for worker in self.workers:
            worker.stop()
        _stop_group(self.process)


def clean_env(home: Path, api_url: str) -> dict[str, str]:
    """The environment for every child: this interpreter's env minus any Prefect/Pike settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PIKE_"))}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def start_server(home: Path, *, timeout: float = 120.0, server_env: dict[str, str] | None = None) -> PrefectServer:
    """Start ``prefect server start`` on a free port and wait until ``/api/health`` answers.

    The scheduler is off (no cron runs appear behind a test's back) and so is the UI.
    ``server_env`` goes to the server process only (e.g. ``PREFECT_SERVER_DATABASE_CONNECTION_URL``),
    not to the CLI calls and workers that share ``PrefectServer.env``.

    Raises:
        RuntimeError: the server exited or did not become healthy in ``timeout`` seconds
            (the message carries the end of its log).
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = clean_env(home, api_url)
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
             "--no-ui", "--no-scheduler", "--analytics-off"],
            env={**env, **(server_env or {})}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = PrefectServer(home=home, port=port, process=proc, log=log, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}:\n{server.tail()}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"prefect server not healthy after {timeout:.0f} s:\n{server.tail()}")
