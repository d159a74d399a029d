"""Processes the benchmarks start and stop: a sandbox, a `prefect server`, timed commands.

Everything listens on 127.0.0.1 only. Each helper stops exactly the process (group) it
started, by id.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent


def machine_facts() -> dict:
    import pandas
    import prefect

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with suppress(ValueError, OSError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    import timeit

    return {
        # Pure-Python speed of this machine at the time of the run (best of 5, ms): the shared
        # machine's speed varies 2-3x between days, so compare absolute seconds across runs by it.
        "python_loop_ms": round(min(timeit.repeat("sum(range(1_000_000))", number=10, repeat=5)) * 100, 1),
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "prefect": prefect.__version__,
        "pandas": pandas.__version__,
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: no inherited Pike/Prefect endpoints, quiet Prefect."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIKE_API_", "PREFECT_API_URL", "PREFECT_HOME"))}
    env.update({
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # as the CLI sets it: the temporary API's first start (a new database) can pass Prefect's 20 s
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    env.update(extra)
    return env


def _stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a process started with start_new_session=True, and its children, by process group id."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Sandbox:
    url: str
    secret: str
    proc: subprocess.Popen

    def env(self) -> dict[str, str]:
        return {"PIKE_API_BASE_URL": self.url, "PIKE_API_SECRET": self.secret}


@contextmanager
def sandbox_process(*, tasks: int, projects: int, members: int, customers: int, latency_ms: float,
                    today: str, seed: int = 42, rate: float = 0.0, teams: int | None = None):
    """`pike-reports sandbox` in its own process (so the server does not share our GIL);
    ``rate`` > 0 turns on its token bucket (requests/s per secret, a bucket of one second's worth);
    ``teams`` spreads the projects and members over that many teams (default: the 4 demo teams)."""
    cmd = [PYTHON, "-m", "pike_tasks.cli", "sandbox", "--host", "127.0.0.1", "--seed", str(seed),
           "--today", today, "--tasks", str(tasks), "--projects", str(projects), "--members", str(members),
           "--customers", str(customers), "--latency-ms", str(latency_ms), "--rate", str(rate), "--warm"]
    if teams is not None:
        cmd += ["--teams", str(teams)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=base_env(), start_new_session=True)
    try:
        url = secret = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (url is None or secret is None):
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"sandbox exited: {proc.stderr.read()[-2000:]}")
            if m := re.search(r"serving at (http://\S+)", line):
                url = m.group(1)
            elif line.startswith("Secret: "):
                secret = line.split(":", 1)[1].strip()
        if url is None or secret is None:
            raise RuntimeError("sandbox did not start in time")
        yield Sandbox(url, secret, proc)
    finally:
        _stop_group(proc)


@contextmanager
def prefect_server():
    """A `prefect server start` on 127.0.0.1 with a temporary PREFECT_HOME; yields its env vars."""
    home = Path(tempfile.mkdtemp(prefix="pike-bench-prefect-"))
    port = free_port()
    env = base_env(PREFECT_HOME=str(home))
    proc = subprocess.Popen([PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    started = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited: {proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - started > 180:
                raise RuntimeError("prefect server did not answer /api/health in 180 s")
            time.sleep(0.25)
        yield {"PREFECT_HOME": str(home), "PREFECT_API_URL": api,
               "startup_seconds": f"{time.monotonic() - started:.1f}"}
    finally:
        _stop_group(proc)
        shutil.rmtree(home, ignore_errors=True)


def timed(cmd: list[str], env: dict[str, str], timeout: float = 600) -> float:
    """Wall seconds of one command (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def worker(kind: str, args: dict, env: dict[str, str], timeout: float = 900) -> dict:
    """Run ``benchmarks.workers <kind>`` in a fresh process; returns the JSON it prints last."""
    done = subprocess.run([PYTHON, "-m", "benchmarks.workers", kind, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"worker {kind} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """Peak resident set of this process in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")
