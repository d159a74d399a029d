"""Figure 9 (issue 24): big workspaces: `run all` and the plain script against a bare fetch, in one run.

    python -m benchmarks.run --figures 9 --runs 1 --big-sizes 50000,500000 --out benchmarks/results/big.json

For each size N: a sandbox with N tasks (other listings as ``sizes_for``) at 20 ms per request and
a running `prefect server`; then, one after the other against the same sandbox,

1. a **bare fetch** of /tasks: the standard library only (``urllib.request`` + ``json``), one
   connection per request as urllib does, sequential cursor pages of 200, each page decoded and
   its items counted, then dropped (the least any client can do); run before ``run all`` and
   again after it, the ratios taken against the mean of the two (the shared machine's load drifts);
2. ``pike-reports run all --as-of D --out DIR`` with default settings (the log at INFO, Prefect's
   default, so the run's ``phases:`` line shows);
3. ``python -m benchmarks.plain_script`` (requests + pandas, no Prefect), and its CSVs compared
   with ours.

Reported: wall seconds, the ratios run all / bare fetch and plain / bare fetch, the peak RSS of
each command's whole process tree (the sum of the tree's resident sets, polled from /proc every
0.1 s: `run` is a supervisor plus its child), and the phase durations from the run log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

from benchmarks.harness import PYTHON, base_env, prefect_server, sandbox_process
from benchmarks.workers import sizes_for

AS_OF = "2026-04-09"
LATENCY_MS = 20.0
CSV_NAMES = (("overdue", "overdue.csv"), ("workload", "workload.csv"), ("workload", "workload_by_customer.csv"))
_PHASE = re.compile(r"phases: (.*)$")


def bare_fetch(base_url: str, secret: str) -> dict:
    """Every /tasks page, sequentially, through urllib + json (no session, no retries, nothing kept)."""
    started = time.perf_counter()
    cursor: str | None = None
    pages = records = 0
    while True:
        query = "limit=200" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
        request = urllib.request.Request(f"{base_url}/tasks?{query}", headers={"Authorization": f"Bearer {secret}"})
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the local sandbox's http URL
            page = json.loads(answer.read())
        pages += 1
        records += len(page["items"])
        if not page.get("hasMore"):
            break
        cursor = page["nextCursor"]
    return {"seconds": time.perf_counter() - started, "pages": pages, "records": records}


def _tree_rss_bytes(root: int) -> int:
    """The summed resident set of ``root`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo, page = 0, [root], os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        with suppress(OSError, ValueError, IndexError):  # a process that just ended
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        todo += children.get(pid, [])
    return total


def run_measured(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> dict:
    """Wall seconds, the peak RSS of the process tree, and the output of one command (which must succeed)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()
    out: dict[str, str] = {}

    def read() -> None:
        out["stdout"], out["stderr"] = proc.communicate(timeout=timeout)
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while not done.wait(0.1):
        peak = max(peak, _tree_rss_bytes(proc.pid))
    seconds = time.perf_counter() - started
    reader.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed ({proc.returncode}):\n{out['stderr'][-3000:]}")
    return {"seconds": seconds, "peak_rss_gib": peak / 2**30, "stdout": out["stdout"], "stderr": out["stderr"]}


def phase_seconds(log: str) -> tuple[dict[str, float], dict[str, float]]:
    """The ``phases:`` line of a run log (the last one) as {phase: seconds} and {phase: peak RSS MiB so far}."""
    found: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for line in log.splitlines():
        if m := _PHASE.search(line):
            times, _, memory = m.group(1).partition("; ")
            found = {}
            for part in times.split(", "):
                name, _, value = part.rpartition(" ")[0].rpartition(" ")
                found[name] = float(value)
            peaks = {}
            for part in memory.partition(": ")[2].split(", ") if memory else ():
                name, _, value = part.rpartition(" ")
                peaks[name] = float(value)
    return found, peaks


def _csvs(folder: Path, nested: bool) -> dict[str, bytes]:
    return {name: (folder / report / AS_OF / name if nested else folder / name).read_bytes().replace(b"\r\n", b"\n")
            for report, name in CSV_NAMES}


def one_size(tasks: int, work: Path) -> dict:
    sizes = sizes_for(tasks)
    started = time.perf_counter()
    with prefect_server() as prefect_env, sandbox_process(**sizes, latency_ms=LATENCY_MS, today=AS_OF) as sb:
        sandbox_ready_s = time.perf_counter() - started
        prefect_env.pop("startup_seconds")
        env = base_env(**sb.env(), **prefect_env)
        bare_cmd = [PYTHON, "-m", "benchmarks.big", "bare", sb.url, sb.secret]
        bares = [json.loads(subprocess.run(bare_cmd, env=env, capture_output=True, text=True, check=True).stdout)]
        ours = run_measured([PYTHON, "-m", "flows.cli", "run", "all", "--as-of", AS_OF, "--out", str(work / "ours")],
                            {**env, "PREFECT_LOGGING_LEVEL": "INFO"})
        # once more after run all: the machine's load drifts, the ratios use the mean of both
        bares.append(json.loads(subprocess.run(bare_cmd, env=env, capture_output=True, text=True, check=True).stdout))
        bare = {**bares[0], "seconds": sum(b["seconds"] for b in bares) / len(bares),
                "runs_s": [b["seconds"] for b in bares]}
        plain = run_measured([PYTHON, "-m", "benchmarks.plain_script", "--as-of", AS_OF, "--out", str(work / "plain")],
                             env)
    same = _csvs(work / "ours", True) == _csvs(work / "plain", False)
    return {
        "sizes": sizes, "latency_ms": LATENCY_MS, "sandbox_ready_s": sandbox_ready_s,
        "bare_fetch": bare,
        "run_all": {k: v for k, v in ours.items() if k not in ("stdout", "stderr")},
        "plain": {k: v for k, v in plain.items() if k not in ("stdout", "stderr")},
        "ratio_run_all": ours["seconds"] / bare["seconds"], "ratio_plain": plain["seconds"] / bare["seconds"],
        "phases": phase_seconds(ours["stderr"] + ours["stdout"])[0],
        "peak_rss_mib_by_phase": phase_seconds(ours["stderr"] + ours["stdout"])[1], "csvs_identical": same,
    }


def figure_big(opts) -> dict:
    """Figure 9: one run per size of ``opts.big_sizes`` (default 50k and 500k; --quick: 20k)."""
    wanted = [int(n) for n in (opts.big_sizes or ("20000" if opts.quick else "50000,500000")).split(",")]
    per_size = {}
    for n in wanted:
        print(f"[bench {time.strftime('%H:%M:%S')}] figure 9: {n} tasks, 20 ms, prefect server", file=sys.stderr,
              flush=True)
        work = Path(tempfile.mkdtemp(prefix="pike-bench-big-"))
        try:
            per_size[str(n)] = one_size(n, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    ok = all(s["ratio_run_all"] <= 1.25 and s["csvs_identical"] for s in per_size.values())
    big = per_size.get("500000")
    if big is not None:
        ok = ok and big["run_all"]["peak_rss_gib"] <= 1.0
    return {"sizes": per_size, "target": "run all <= 1.25x the bare fetch; peak RSS <= 1.0 GiB at 500k", "ok": ok}


def big_rows(f: dict) -> list[str]:
    """Rows of the README's big-workspace table."""
    rows = ["| tasks | bare fetch | `run all` (ratio) | plain script (ratio) | peak RSS run all / plain | "
            "CSVs identical | phases of `run all` |", "|---|---|---|---|---|---|---|"]
    for n, s in f["sizes"].items():
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in s["phases"].items())
        runs = " / ".join(f"{x:.1f}" for x in s["bare_fetch"].get("runs_s", []))
        rows.append(f"| {int(n):,} | {s['bare_fetch']['seconds']:.1f} s ({runs}; {s['bare_fetch']['pages']} pages) | "
                    f"{s['run_all']['seconds']:.1f} s (**{s['ratio_run_all']:.2f}x**) | {s['plain']['seconds']:.1f} s "
                    f"({s['ratio_plain']:.2f}x) | **{s['run_all']['peak_rss_gib']:.2f}** / "
                    f"{s['plain']['peak_rss_gib']:.2f} GiB | {s['csvs_identical']} | {phases} |")
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        print(json.dumps(bare_fetch(sys.argv[2], sys.argv[3])))
