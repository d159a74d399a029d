"""`make bench`: the figures of issues 6 and 13, printed as a table and written to results/latest.json.

    python -m benchmarks.run                       # everything (about 20-26 minutes on 2 cores)
    python -m benchmarks.run --figures 7 --runs 1  # only "At scale" (issue 16): about 5-6 minutes
    python -m benchmarks.run --figures 8 --runs 1  # only the Slack digests (issue 22)
    python -m benchmarks.run --figures 9 --runs 1 --big-sizes 50000,500000  # big workspaces (issue 24)
    python -m benchmarks.run --quick               # smaller sizes, one run each: a smoke check
    python -m benchmarks.run --quick --figures 6   # only the rate-limited API, small (about 2 minutes)
    python -m benchmarks.run --figures 1,4         # only some figures
    python -m benchmarks.run --runs 5        # runs per figure (median reported)

Every server (the Pike sandbox, `prefect server`) listens on 127.0.0.1 and is started and
stopped here. Figures are medians of ``--runs`` runs; the JSON keeps every run.
See docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.big import big_rows, figure_big
from benchmarks.harness import PYTHON, base_env, machine_facts, median, prefect_server, sandbox_process, timed, worker
from benchmarks.scale import figure_at_scale
from benchmarks.slack import figure_slack, slack_rows
from benchmarks.workers import sizes_for

AS_OF = "2026-04-09"
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
CSV_NAMES = (("overdue", "overdue.csv"), ("workload", "workload.csv"), ("workload", "workload_by_customer.csv"))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- figure 1 ------------------------------------------------------------------------------------

def figure_fetch(opts) -> dict:
    tasks = 20_000 if opts.quick else 100_000
    sizes = sizes_for(tasks)
    latency = 20.0
    bound = math.ceil(tasks / 200) * latency / 1000
    log(f"figure 1: sandbox with {sizes}, {latency:.0f} ms latency")
    with sandbox_process(**sizes, latency_ms=latency, today=AS_OF) as sb:
        env = base_env(**sb.env())  # what users get: no PIKE_API_RATE_LIMIT, the adaptive rate
        warm = worker("fetch", {"runs": 1}, env)  # the sandbox encodes items lazily on first read
        measured = worker("fetch", {"runs": opts.runs}, env)
        floor = worker("fetch_floor", {"runs": opts.runs}, env)
        seconds = [r["seconds"] for r in measured["runs"]]
        floor_s = median([r["seconds"] for r in floor["runs"]])
        result = {
            "sizes": sizes, "latency_ms": latency, "lower_bound_s": bound,
            "client_rate_limit": "default (adaptive, no ceiling)",
            "warmup_s": warm["runs"][0]["seconds"], "runs_s": seconds, "median_s": median(seconds),
            "ratio": median(seconds) / bound, "target": "<= 1.10", "per_resource": measured["runs"][-1]["per_resource"],
            "floor": {"what": "task pages only, bare http.client, nothing decoded",
                      "runs_s": [r["seconds"] for r in floor["runs"]],
                      "median_s": floor_s, "ratio": floor_s / bound, "ours_over_floor": median(seconds) / floor_s},
        }
        if not opts.quick and not opts.skip_limiter_off:
            log("figure 1: once more with the client's rate limiter off (PIKE_API_RATE_LIMIT=0)")
            off = worker("fetch", {"runs": 1}, base_env(**sb.env(), PIKE_API_RATE_LIMIT="0"))
            result["limiter_off"] = {"seconds": off["runs"][0]["seconds"], "ratio": off["runs"][0]["seconds"] / bound}
    result["ok"] = result["ratio"] <= 1.10
    return result


# -- figure 2 ------------------------------------------------------------------------------------

def _read_csvs(folder: Path, nested: bool) -> dict[str, bytes]:
    out = {}
    for report, name in CSV_NAMES:
        path = folder / report / AS_OF / name if nested else folder / name
        out[name] = path.read_bytes().replace(b"\r\n", b"\n")
    return out


def figure_flow_vs_plain(opts) -> dict:
    tasks = 8_000 if opts.quick else 40_000
    sizes = {**sizes_for(100_000), "tasks": tasks}
    log(f"figure 2: prefect server + sandbox with {sizes}, 20 ms latency")
    work = Path(tempfile.mkdtemp(prefix="pike-bench-fig2-"))
    try:
        with prefect_server() as prefect_env, sandbox_process(**sizes, latency_ms=20, today=AS_OF) as sb:
            startup = prefect_env.pop("startup_seconds")
            env = base_env(**sb.env(), **prefect_env)  # defaults: the adaptive rate, as users run it
            plain_cmd = [PYTHON, "-m", "benchmarks.plain_script", "--as-of", AS_OF]
            ours_cmd = [PYTHON, "-m", "flows.cli", "run", "all", "--as-of", AS_OF]
            timed(plain_cmd + ["--out", str(work / "warm-plain")], env)  # warm the sandbox's caches
            plain, ours = [], []
            for i in range(opts.runs):  # interleaved, so drift on a shared machine hits both alike
                ours.append(timed(ours_cmd + ["--out", str(work / f"ours-{i}")], env))
                plain.append(timed(plain_cmd + ["--out", str(work / f"plain-{i}")], env))
            same = _read_csvs(work / "ours-0", True) == _read_csvs(work / "plain-0", False)
            repeat = worker("flow_repeat", {"runs": max(3, opts.runs), "as_of": AS_OF, "out": str(work / "rep")}, env)
            result = {
                "sizes": sizes, "latency_ms": 20, "prefect_server_startup_s": float(startup),
                "client_rate_limit": "default (adaptive, no ceiling); the plain script has none",
                "ours_runs_s": ours, "plain_runs_s": plain, "ours_s": median(ours), "plain_s": median(plain),
                "ratio": median(ours) / median(plain), "target": "<= 1.3", "csvs_identical": same,
                "in_process": {"import_s": repeat["import_s"], "runs_s": repeat["runs"],
                               "first_s": repeat["runs"][0], "repeat_median_s": median(repeat["runs"][1:])},
            }
            if not opts.quick and not opts.skip_limiter_off:
                log("figure 2: our flow once more with the client's rate limiter off")
                off = timed(ours_cmd + ["--out", str(work / "ours-off")],
                            base_env(**sb.env(), **prefect_env, PIKE_API_RATE_LIMIT="0"))
                result["limiter_off"] = {"seconds": off, "ratio": off / median(plain)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["ok"] = result["ratio"] <= 1.3
    return result


# -- figure 3 ------------------------------------------------------------------------------------

def _fixed_cost(env: dict, runs: int, work: Path, label: str) -> dict:
    ours_cmd = [PYTHON, "-m", "flows.cli", "run", "all", "--sandbox", "--as-of", AS_OF]
    trivial_cmd = [PYTHON, "-m", "benchmarks.workers", "trivial", "{}"]
    timed(trivial_cmd, env)  # first run creates the database / warms the disk cache
    ours, trivial = [], []
    for i in range(runs):
        ours.append(timed(ours_cmd + ["--out", str(work / f"{label}-{i}")], env))
        trivial.append(timed(trivial_cmd, env))
    return {"ours_runs_s": ours, "trivial_runs_s": trivial, "ours_s": median(ours), "trivial_s": median(trivial),
            "added_s": median(ours) - median(trivial)}


def figure_fixed_cost(opts) -> dict:
    work = Path(tempfile.mkdtemp(prefix="pike-bench-fig3-"))
    result: dict = {"data": "demo (built-in sandbox: --sandbox)", "target": "< 3 s added"}
    try:
        log("figure 3: temporary-API mode (each process starts its own Prefect API)")
        home = work / "prefect-home"
        result["temporary_api"] = _fixed_cost(base_env(PREFECT_HOME=str(home)), opts.runs, work, "tmp")
        log("figure 3: against a running prefect server")
        with prefect_server() as prefect_env:
            prefect_env.pop("startup_seconds")
            result["server"] = _fixed_cost(base_env(**prefect_env), opts.runs, work, "srv")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["ok"] = all(result[m]["added_s"] < 3 for m in ("temporary_api", "server"))
    return result


# -- figure 4 ------------------------------------------------------------------------------------

def figure_transform_scale(opts) -> dict:
    sizes = [2_000, 10_000, 50_000] if opts.quick else [10_000, 100_000, 500_000]
    per_size = {}
    for n in sizes:
        runs = []
        for _ in range(opts.runs if n < 500_000 else min(opts.runs, 2)):
            log(f"figure 4: {n} tasks")
            runs.append(worker("transform", {"tasks": n, "as_of": AS_OF}, base_env()))
        keys = ("generate_s", "frames_s", "resolve_s", "aggregate_s", "render_s", "join_aggregate_s", "total_s",
                "rss_input_mb", "peak_rss_mb")
        for r in runs:  # the target's "join and aggregate": resolve_tasks and the four aggregations
            r["join_only_aggregate_s"] = r["resolve_s"] + r["aggregate_s"]
        keys += ("join_only_aggregate_s",)
        per_size[str(n)] = {"runs": len(runs), **{k: median([r[k] for r in runs]) for k in keys},
                            "overdue_rows": runs[0]["overdue_rows"], "html_bytes": runs[0]["html_bytes"]}
    small, large = per_size[str(sizes[0])], per_size[str(sizes[-1])]
    scale = sizes[-1] / sizes[0]
    result = {"sizes": per_size, "growth": {
        "tasks_factor": scale,
        "total_time_factor": large["total_s"] / small["total_s"],
        "join_aggregate_time_factor": large["join_aggregate_s"] / small["join_aggregate_s"],
        "join_only_aggregate_time_factor": large["join_only_aggregate_s"] / small["join_only_aggregate_s"],
        "peak_rss_factor": large["peak_rss_mb"] / small["peak_rss_mb"],
    }, "target": "at 500k: join + aggregate (resolve + aggregations) < 5 s, peak RSS < 2048 MB; "
                 "records -> frames reported beside it"}
    if "500000" in per_size:
        big = per_size["500000"]
        result["ok"] = big["join_only_aggregate_s"] < 5 and big["peak_rss_mb"] < 2048
    return result


# -- figure 5 ------------------------------------------------------------------------------------

def figure_digest(opts) -> dict:
    tasks = 20_000 if opts.quick else 100_000
    runs = []
    for _ in range(opts.runs):
        log(f"figure 5: 50 managers over {tasks} tasks")
        runs.append(worker("digest", {"tasks": tasks, "managers": 50, "as_of": AS_OF}, base_env()))
    result = {"tasks": tasks, "managers": 50, "digests": runs[0]["digests"], "runs": len(runs),
              "seconds": median([r["seconds"] for r in runs]), "build_s": median([r["build_s"] for r in runs]),
              "render_s": median([r["render_s"] for r in runs]),
              "largest_html_bytes": max(r["largest_html_bytes"] for r in runs),
              "largest_text_bytes": max(r["largest_text_bytes"] for r in runs),
              "min_rows_per_team": min(r["min_rows_per_team"] for r in runs), "target": "largest HTML < 100,000 bytes"}
    result["ok"] = result["largest_html_bytes"] < 100_000
    return result


# -- figure 6 ------------------------------------------------------------------------------------

SERVER_RATES = (None, 5, 20, 100)  # requests/s of the sandbox's token bucket; None: no server limit


def figure_rate_limited(opts) -> dict:
    """Our fetch with default settings against an API that enforces a limit we are not told."""
    tasks = 40_000 if opts.quick else 100_000
    sizes = sizes_for(tasks)
    latency = 20.0
    page_bound = math.ceil(tasks / 200) * latency / 1000
    per_rate = {}
    for rate in SERVER_RATES:
        name = "none" if rate is None else str(rate)
        limit = f"{rate} requests/s" if rate else "none"
        log(f"figure 6: sandbox with {sizes}, {latency:.0f} ms latency, server limit: {limit}")
        with sandbox_process(**sizes, latency_ms=latency, today=AS_OF, rate=rate or 0) as sb:
            measured = worker("fetch", {"runs": opts.runs}, base_env(**sb.env()))
            if rate is None:  # the same fetch without the limiter: what the limiter costs, apart from the machine
                off = worker("fetch", {"runs": opts.runs}, base_env(**sb.env(), PIKE_API_RATE_LIMIT="0"))
        runs = measured["runs"]
        pages = runs[0]["pages"]
        bound = max(page_bound, pages / rate) if rate else page_bound
        seconds = median([r["seconds"] for r in runs])
        requests = [r["pages"] + r["retries"] for r in runs]
        share_429 = median([r["answers_429"] / n for r, n in zip(runs, requests, strict=True)])
        per_rate[name] = {"server_rate": rate, "pages": pages, "bound_s": bound, "runs_s": [r["seconds"] for r in runs],
                          "median_s": seconds, "ratio": seconds / bound,
                          "answers_429": [r["answers_429"] for r in runs], "requests": requests,
                          "share_429": share_429, "rate_note": runs[-1]["rate_note"],
                          "ok": seconds / bound <= 1.25 and share_429 <= 0.05}
        if rate is None:
            off_s = median([r["seconds"] for r in off["runs"]])
            per_rate[name]["limiter_off"] = {"runs_s": [r["seconds"] for r in off["runs"]], "median_s": off_s,
                                             "ratio": off_s / bound}
    return {"sizes": sizes, "latency_ms": latency, "page_bound_s": page_bound, "client": "default settings",
            "rates": per_rate, "target": "<= 1.25x max(page bound, pages / R), 429s <= 5% of requests",
            "ok": all(r["ok"] for r in per_rate.values())}


FIGURES = {1: figure_fetch, 2: figure_flow_vs_plain, 3: figure_fixed_cost, 4: figure_transform_scale, 5: figure_digest,
           6: figure_rate_limited, 7: figure_at_scale, 8: figure_slack, 9: figure_big}


# -- table ---------------------------------------------------------------------------------------

def _ok(fig: dict) -> str:
    return {True: "yes", False: "**no**"}.get(fig.get("ok"), "n/a")


def _figure1_rows(f: dict) -> list[str]:
    rows: list[str] = []
    if "error" in f:
        rows.append(f"| 1 | fetch vs lower bound | error: {f['error']} | <= 1.10 | n/a |")
    else:
        s = f["sizes"]
        extra = (f"; with the client's rate limiter off (`PIKE_API_RATE_LIMIT=0`): "
                 f"{f['limiter_off']['seconds']:.2f} s = {f['limiter_off']['ratio']:.2f}x"
                 if "limiter_off" in f else "")
        floor = (f"; bare http.client floor on this machine {f['floor']['median_s']:.2f} s = "
                 f"{f['floor']['ratio']:.2f}x "
                 f"(ours / floor = {f['floor']['ours_over_floor']:.2f})" if "floor" in f else "")
        rows.append(f"| 1 | fetch {s['tasks']:,} tasks / {s['projects']:,} projects / {s['members']:,} members / "
                    f"{s['customers']:,} customers, 20 ms latency, default settings | "
                    f"{f['median_s']:.2f} s vs bound "
                    f"{f['lower_bound_s']:.1f} s = **{f['ratio']:.2f}x**{floor}{extra} | <= 1.10 | {_ok(f)} |")
    return rows


def _figure2_rows(f: dict) -> list[str]:
    rows: list[str] = []
    if "error" in f:
        rows.append(f"| 2 | flow vs plain script | error: {f['error']} | <= 1.3 | n/a |")
    else:
        ip = f["in_process"]
        extra = (f"; ours with the rate limiter off: {f['limiter_off']['seconds']:.1f} s = "
                 f"{f['limiter_off']['ratio']:.2f}x" if "limiter_off" in f else "")
        rows.append(f"| 2 | `run all` vs plain script, {f['sizes']['tasks']:,} tasks, 20 ms, prefect server | "
                    f"{f['ours_s']:.2f} s vs {f['plain_s']:.2f} s = **{f['ratio']:.2f}x** (CSVs identical: "
                    f"{f['csvs_identical']}); in one process: import {ip['import_s']:.1f} s, first run "
                    f"{ip['first_s']:.2f} s, repeats {ip['repeat_median_s']:.2f} s "
                    f"(= {ip['repeat_median_s'] / f['plain_s']:.2f}x the plain script's whole run){extra} "
                    f"| <= 1.3 | {_ok(f)} |")
    return rows


def _figure3_rows(f: dict) -> list[str]:
    rows: list[str] = []
    if "error" in f:
        rows.append(f"| 3 | Prefect fixed cost | error: {f['error']} | < 3 s | n/a |")
    else:
        for mode, name in (("temporary_api", "temporary API"), ("server", "running server")):
            m = f[mode]
            rows.append(f"| 3 | `run all` on demo data vs trivial flow, {name} | {m['ours_s']:.1f} s vs "
                        f"{m['trivial_s']:.1f} s: **+{m['added_s']:.1f} s** | < 3 s | "
                        f"{'yes' if m['added_s'] < 3 else '**no**'} |")
    return rows


def _figure4_rows(f: dict) -> list[str]:
    rows: list[str] = []
    if "error" in f:
        rows.append(f"| 4 | transform scale | error: {f['error']} | | n/a |")
    else:
        for n, s in f["sizes"].items():
            rows.append(f"| 4 | transforms {int(n):,} tasks: join + aggregate (records -> frames; "
                        f"all + render) | **{s['join_only_aggregate_s']:.2f} s** ({s['frames_s']:.2f} s; "
                        f"{s['total_s']:.2f} s), peak RSS {s['peak_rss_mb']:.0f} MB "
                        f"(input alone {s['rss_input_mb']:.0f} MB) | | |")
        g = f["growth"]
        rows.append(f"| 4 | growth x{g['tasks_factor']:.0f} tasks | "
                    f"time x{g['join_only_aggregate_time_factor']:.1f} "
                    f"(join + aggregate), x{g['join_aggregate_time_factor']:.1f} (with records -> frames), "
                    f"x{g['total_time_factor']:.1f} (total); RSS x{g['peak_rss_factor']:.1f} | "
                    f"500k: < 5 s, < 2 GB | {_ok(f)} |")
    return rows


def _figure5_rows(f: dict) -> list[str]:
    rows: list[str] = []
    if "error" in f:
        rows.append(f"| 5 | digests | error: {f['error']} | < 100 KB | n/a |")
    else:
        rows.append(f"| 5 | {f['digests']} digests, {f['managers']} managers over {f['tasks']:,} tasks | "
                    f"{f['seconds']:.2f} s (build {f['build_s']:.2f} s, render {f['render_s']:.2f} s); largest "
                    f"HTML {f['largest_html_bytes']:,} B | < 100,000 B | {_ok(f)} |")
    return rows


def _figure6_rows(f: dict) -> list[str]:
    rows: list[str] = []
    if "error" in f:
        rows.append(f"| 6 | rate-limited API | error: {f['error']} | <= 1.25x, 429s <= 5% | n/a |")
    else:
        for r in f["rates"].values():
            limit = f"{r['server_rate']} req/s" if r["server_rate"] else "no"
            bound = (f"max({f['page_bound_s']:.1f} s, {r['pages']} pages / {r['server_rate']}/s)"
                     if r["server_rate"] else "page bound")
            rows.append(f"| 6 | fetch {f['sizes']['tasks']:,} tasks, 20 ms, {limit} server limit, default "
                        f"settings | {r['median_s']:.2f} s vs {bound} = {r['bound_s']:.1f} s: "
                        f"**{r['ratio']:.2f}x**, 429s {100 * r['share_429']:.1f}% ({r['rate_note']})"
                        + (f"; limiter off: {r['limiter_off']['median_s']:.2f} s = {r['limiter_off']['ratio']:.2f}x"
                           if "limiter_off" in r else "") + " | "
                        f"<= 1.25x, 429s <= 5% | {'yes' if r['ok'] else '**no**'} |")
    return rows


def table(results: dict) -> str:
    figs, runs = results["figures"], results["runs"]
    rows = ["| # | figure | measured | target | met |", "|---|---|---|---|---|"]
    if f := figs.get("1"):
        rows += _figure1_rows(f)
    if f := figs.get("2"):
        rows += _figure2_rows(f)
    if f := figs.get("3"):
        rows += _figure3_rows(f)
    if f := figs.get("4"):
        rows += _figure4_rows(f)
    if f := figs.get("5"):
        rows += _figure5_rows(f)
    if f := figs.get("6"):
        rows += _figure6_rows(f)
    if f := figs.get("8"):
        rows += slack_rows(f)
    if f := figs.get("9"):  # its own table: "Big workspaces" in the README
        rows += ["", "Big workspaces (figure 9, issue 24):", ""]
        rows += [f"error: {f['error']}"] if "error" in f else big_rows(f)
    if f := figs.get("7"):  # its own table: "At scale" in the README
        if len(rows) == 2:
            rows.clear()
        else:
            rows.append("")
        rows += ["At scale (figure 7, issue 16):", "", "| what | measured | target | met |", "|---|---|---|---|"]
        rows += [f"| at agency size | error: {f['error']} | | n/a |"] if "error" in f else at_scale_rows(f)
    m = results["machine"]
    rows.append("")
    rows.append(f"Medians of {runs} run(s) (500k: at most 2). Machine: {m['nproc']} x {m['cpu_model']}, "
                f"{m['memory_gb']} GB, `sum(range(10**6))` {m.get('python_loop_ms', 'n/a')} ms, "
                f"Python {m['python']}, Prefect {m['prefect']}, pandas {m['pandas']}. "
                f"Command: `{results['command']}` ({results['wall_s']:.0f} s, {results['date']}).")
    return "\n".join(rows)


def _yes(value: bool) -> str:
    return "yes" if value else "**no**"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _silences(console: dict) -> str:
    """The two longest silences of a run and the line each came after (``(start)``: before any)."""
    parts = []
    for gap in console.get("longest_silences", [])[:2]:
        task = re.search(r"(?:Task|Flow) run '([^']+?)(?:-[0-9a-f]{3})?' - (.*)", gap["after"])
        after = "the start" if gap["after"] == "(start)" else (
            f"`{task.group(1)}` {task.group(2)[:40]}" if task else f"`{gap['after'][-60:]}`")
        parts.append(f"{gap['seconds']:.1f} s after {after}")
    return "; ".join(parts) or _seconds(console.get("longest_silence_s"))


def at_scale_rows(f: dict) -> list[str]:
    """The rows of the "At scale" table (figure 7)."""
    s, fe, c, d, st, pg = f["sizes"], f["fetch"], f["console"], f["digests"], f["store"], f["pages"]
    mt, db, lg = d["multi_team"], f.get("prefect_db", {}), st["ledger"]
    where = (f"{s['tasks']:,} tasks, {s['projects']:,} projects, {s['members']:,} members, {s['teams']} teams, "
             f"{f['managers']} managers")
    rows = [f"| fetch, {where}, 20 ms | {fe['seconds']:.1f} s, {fe['pages']} pages vs bound {fe['task_pages']} "
            f"task pages x 20 ms = {fe['bound_s']:.1f} s: **{fe['ratio']:.2f}x** | | |",
            f"| console while fetching / building digests / sending | progress lines {c['fetch_progress_lines']} / "
            f"{c['build_progress_lines']} / {c['send_progress_lines']}; longest silence "
            f"{c['fetch_longest_silence_s']:.1f} s / {c['build_longest_silence_s']:.1f} s / "
            f"{_seconds(c.get('send_longest_silence_s'))}; whole run: {_silences(c)} "
            f"| a line every few seconds | {_yes(c['fetch_progress_lines'] > 0 and c['build_progress_lines'] > 0)} |"]
    page = pg.get("overdue_index", {})

    def render(k: str) -> str:
        return f", {pg[k]['render_ms'] / 1000:.1f} s in Chromium" if "render_ms" in pg.get(k, {}) else ""

    other = pg.get("overdue_largest_other")
    other_text = (f"; largest other page ({other['file']}) {other['bytes'] / 1e6:.2f} MB, {other['details']:,} "
                  f"`<details>`{render('overdue_largest_other')}" if other else "; no other page")
    rows.append(f"| overdue page ({f['overdue_rows']:,} overdue tasks) | index.html {page.get('bytes', 0) / 1e6:.2f} "
                f"MB, {page.get('details', 0):,} `<details>`{render('overdue_index')}{other_text}; workload page "
                f"{pg.get('workload_index', {}).get('bytes', 0) / 1e6:.2f} MB{render('workload_index')} | | |")
    rows.append(f"| {d['count']} digests: build, send with one recipient {d['slow_delay_s']:.0f} s slow | build "
                f"{d['build_s']:.1f} s; sent in {d['send_s']:.1f} s (the slow one done at {d['slow_done_s']:.1f} s, "
                f"the other {d['others']} at {d['others_done_s']:.1f} s; {d['others_answered_while_slow_pending']} "
                f"answered while it was pending) | others not held up | {_yes(d['others_not_held'])} |")
    rows.append(f"| copies per recipient; largest HTML part; largest attachment | {d['copies_min']}-{d['copies_max']} "
                f"({d['received_recipients']} of {d['count']} recipients); {d['largest_html_bytes']:,} B; "
                f"{d['largest_attachment_bytes']:,} B | exactly 1; < 102,000 B | "
                f"{_yes(d['exactly_one_each'] and d['html_under_gmail_clip'])} |")
    rows.append(f"| the {mt['managers']} managers of 5-9 teams: overdue tasks shown / overdue in their teams | "
                f"min {mt['shown_min']} / {mt['overdue_min']:,}, median {mt['shown_median']:,g} / "
                f"{mt['overdue_median']:,g}; new not shown: {mt['new_not_shown']:,}, urgent not shown: "
                f"{mt['urgent_not_shown']:,} (more than fit the HTML budget) | only new or urgent tasks shown while "
                f"one is hidden | {_yes(mt.get('new_and_urgent_first'))} |")
    per = st["per_report"]
    rows.append("| store per report date | " + ", ".join(
        f"{name} {v['bytes'] / 1e6:.2f} MB ({v['files']} files)" for name, v in per.items())
        + f"; ledger {lg['files']} files ({lg['max_files_in_one_folder']} in one folder, `{lg['busiest_folder']}`);"
        f" total {st['total_bytes'] / 1e6:.1f} MB | | |")
    if db:
        rows.append(f"| Prefect database (SQLite) added by the run | +{db['growth_bytes'] / 1e6:.1f} MB, "
                    f"{db['task_runs']} task runs, {db['events']} events, {db['logs']} log lines | | |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks of issues 6 and 13 (see docs/benchmarks.md).")
    parser.add_argument("--quick", action="store_true", help="Smaller sizes, one run each (a smoke check).")
    parser.add_argument("--figures", default="1,2,3,4,5,6,7,8",
                        help="Comma-separated figure numbers (default: 1-8; 9, big workspaces, only when named).")
    parser.add_argument("--runs", type=int, default=None, help="Runs per figure (default 3; --quick: 1).")
    parser.add_argument("--skip-limiter-off", "--skip-default-rate", dest="skip_limiter_off", action="store_true",
                        help="Skip the extra runs with the client's rate limiter off (figures 1 and 2).")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON output (default: "
                             f"{RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}; "
                             "--quick runs write nothing unless given).")
    parser.add_argument("--big-sizes", default=None,
                        help="Figure 9's task counts, comma-separated (default 50000,500000; --quick: 20000).")
    opts = parser.parse_args(argv)
    opts.runs = opts.runs or (1 if opts.quick else 3)
    wanted = [int(x) for x in opts.figures.split(",") if x.strip()]
    started = time.perf_counter()
    results = {"command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
               "date": date.today().isoformat(), "quick": opts.quick, "runs": opts.runs,
               "machine": machine_facts(), "figures": {}}
    for n in wanted:
        t = time.perf_counter()
        try:
            results["figures"][str(n)] = FIGURES[n](opts)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the others
            log(f"figure {n} failed: {exc}")
            results["figures"][str(n)] = {"error": str(exc).splitlines()[0][:300], "detail": str(exc)[-3000:]}
        results["figures"][str(n)]["bench_seconds"] = time.perf_counter() - t
    results["wall_s"] = time.perf_counter() - started
    results["table"] = table(results)
    print(results["table"])
    out = opts.out or (None if opts.quick else RESULTS)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(out)
        log(f"wrote {out}")
    return 0 if all(f.get("ok") is not False for f in results["figures"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
