"""Start and stop a real `prefect server` and `prefect worker` for end-to-end tests.

Everything runs as child processes in their own process groups (tests/processes.py) with a
temporary ``PREFECT_HOME`` (its own SQLite database), so a test never touches ``~/.prefect`` and
``stop()`` can end a process together with every flow-run subprocess it started.
Output goes to log files in that home; ``tail()`` shows them when something fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from processes import Process, free_port, http_ok, start, wait_ready

__all__ = ["PrefectServer", "Worker", "clean_env", "free_port", "start_server"]

BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")


@dataclass
class Worker:
    """A running ``prefect worker start`` process (and the flow runs it spawned)."""

    name: str
    proc: Process

    @property
    def log(self) -> Path:
        return self.proc.log

    def stop(self) -> None:
        self.proc.stop()

    def tail(self, lines: int = 60) -> str:
        return self.proc.tail(lines)


@dataclass
class PrefectServer:
    """A running ``prefect server start`` on 127.0.0.1 with its own temporary home."""

    home: Path
    port: int
    proc: Process
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log(self) -> Path:
        return self.proc.log

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
        worker_env = {
            **self.env,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            **(env or {}),
        }
        proc = start(name, [PREFECT, "worker", "start", "--pool", pool, "--name", name, "--type", "process", *args],
                     log=self.home / f"{name}.log", cwd=cwd, env=worker_env)
        worker = Worker(name, proc)
        self.workers.append(worker)
        return worker

    def tail(self, lines: int = 40) -> str:
        return self.proc.tail(lines)

    def stop(self) -> None:
        """Stop every worker, then the server (each with its whole process group)."""
        for worker in self.workers:
            worker.stop()
        self.proc.stop()


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
    proc = start("prefect server", [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                    "--no-ui", "--no-scheduler", "--analytics-off"],
                 log=home / "server.log", env={**env, **(server_env or {})})
    wait_ready(proc, lambda: http_ok(f"{api_url}/health"), timeout=timeout, interval=0.25)
    return PrefectServer(home=home, port=port, proc=proc, env=env)
