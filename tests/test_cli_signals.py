"""Stopping `pike-reports run` (SIGTERM, or SIGKILL) also stops Prefect's temporary API server.

It used to stay behind (uvicorn, ~200 MB, parent PID 1). The processes are found through /proc,
so these tests run on Linux only.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state letter, command line), for every process we can read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]  # the name in brackets may hold spaces
        found[int(entry.name)] = (int(ppid), state, cmdline)
    return found


def _descendants(root: int) -> dict[int, str]:
    procs = _processes()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, state, cmdline) in procs.items():
            if ppid == parent and pid not in found and state != "Z":
                found[pid] = cmdline
                frontier.append(pid)
    return found


def _alive(pids) -> list[int]:
    procs = _processes()
    return [pid for pid in pids if pid in procs and procs[pid][1] != "Z"]  # a zombie holds no memory


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.timeout(400)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_run_leaves_no_prefect_server_behind(signum, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        run = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "overdue", "--sandbox", "--out", str(tmp_path / "out")],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 300
        while not any("uvicorn" in cmd for cmd in started.values()):
            assert run.poll() is None, (tmp_path / "stderr.txt").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prefect's temporary server never started"
            time.sleep(0.1)
            started.update(_descendants(run.pid))
        server = next(cmd for cmd in started.values() if "uvicorn" in cmd)
        port = re.search(r"--port (\d+)", server).group(1)
        health = f"http://127.0.0.1:{port}/api/health"
        while not _answers(health):  # kill a run whose server is up and serving, as in the report
            assert run.poll() is None and time.monotonic() < deadline, "Prefect's temporary server never answered"
            time.sleep(0.2)
        started.update(_descendants(run.pid))  # everything `run` started: its child and the server

        os.kill(run.pid, signum)
        killed = time.monotonic()
        while _alive(started) and time.monotonic() - killed < 10:
            time.sleep(0.2)
        left = {pid: started[pid] for pid in _alive(started)}
        assert not left, f"still running {time.monotonic() - killed:.0f} s after {signum.name}: {left}"
        assert run.wait(timeout=10) is not None
    finally:
        for pid in _alive(started):  # a failed test must not leave its server behind either
            os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()
            run.wait()
