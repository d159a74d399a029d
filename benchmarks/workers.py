"""What each benchmark measures, run in a fresh process: ``python -m benchmarks.workers KIND JSON``.

Each kind prints one JSON line (its measurements) as the last line of stdout. A fresh process
per measurement keeps peak RSS (``ru_maxrss``) and import costs honest.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from benchmarks.harness import current_rss_mb, peak_rss_mb

RESOURCES = ("projects", "tasks", "customers", "members")


def sizes_for(tasks: int) -> dict[str, int]:
    """Workspace sizes that scale with the task count (100k tasks: 2,000 / 500 / 1,000)."""
    return {"tasks": tasks, "projects": max(40, tasks // 50), "members": max(30, tasks // 200),
            "customers": max(15, tasks // 100)}


def fetch(args: dict) -> dict:
    """Figure 1: our client, the four listings concurrently (one thread each, as the flow's tasks)."""
    from pike_tasks.client import PikeClient
    from pike_tasks.settings import resolve_api_settings

    settings = resolve_api_settings()

    def one(resource: str) -> tuple[int, dict, float]:
        started = time.perf_counter()
        with PikeClient(settings) as client:
            records = client.list_all(resource)
            stats = client.stats[resource]
        return len(records), stats, time.perf_counter() - started

    runs = []
    for _ in range(args.get("runs", 1)):
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(RESOURCES)) as pool:
            results = dict(zip(RESOURCES, pool.map(one, RESOURCES), strict=True))
        seconds = time.perf_counter() - started
        last = max(results.values(), key=lambda one_result: one_result[2])[1]  # the listing that ended last
        runs.append({"seconds": seconds, "rate_note": last.rate_note,
                     "pages": sum(st.pages for _, st, _ in results.values()),
                     "answers_429": sum(st.throttled for _, st, _ in results.values()),
                     "retries": sum(st.retries for _, st, _ in results.values()),
                     "per_resource": {r: {"records": n, "pages": st.pages, "answers_429": st.throttled,
                                          "seconds": round(s, 3)} for r, (n, st, s) in results.items()}})
        del results
    return {"runs": runs, "rate_limit_per_sec": settings.rate_limit_per_sec}


def fetch_floor(args: dict) -> dict:
    """Figure 1's floor on this machine: the task pages through bare ``http.client`` on one
    keep-alive connection, the cursor cut out of the bytes, nothing decoded. What is left above
    the bound here is the sandbox's and the machine's, not our client's."""
    import http.client
    import os
    import re
    from urllib.parse import urlencode, urlsplit

    base = urlsplit(os.environ["PIKE_API_BASE_URL"])
    headers = {"Authorization": f"Bearer {os.environ['PIKE_API_SECRET']}"}
    cursor_re = re.compile(rb'"nextCursor":"([^"]+)"')
    runs = []
    for _ in range(args.get("runs", 1)):
        conn = http.client.HTTPConnection(base.hostname, base.port)
        started, pages, cursor = time.perf_counter(), 0, None
        while True:
            query = {"limit": 200} if cursor is None else {"limit": 200, "cursor": cursor}
            conn.request("GET", f"{base.path}/tasks?{urlencode(query)}", headers=headers)
            found = cursor_re.search(conn.getresponse().read())
            pages += 1
            if found is None:
                break
            cursor = found.group(1).decode()
        conn.close()
        runs.append({"seconds": time.perf_counter() - started, "pages": pages})
    return {"runs": runs}


def _generate(args: dict) -> dict:
    from pike_tasks.sandbox.data import generate_workspace

    return generate_workspace(args.get("seed", 42), date.fromisoformat(args["as_of"]), **sizes_for(args["tasks"]))


def _frames(data: dict):
    """The four frames, each listing's records dropped once its frame is built: the flow's
    ``fetch-listing`` task returns the frame and lets the records go the same way."""
    from pike_tasks import frames

    built = {}
    for resource in RESOURCES:
        records = data.pop(resource)
        built[resource] = getattr(frames, f"{resource}_frame")(records)
        del records
    return frames.Frames(**built)


def _team_names() -> dict[str, str]:
    from pike_tasks.sandbox.data import DEMO_TEAMS

    return {tid: team["name"] for tid, team in DEMO_TEAMS.items()}


def transform(args: dict) -> dict:
    """Figure 4: frames + resolve (join) + aggregate + render for one generated workspace size."""
    from pike_tasks import csv_output, transforms, views
    from pike_tasks.render import render_overdue_html, render_workload_html

    as_of = date.fromisoformat(args["as_of"])
    t0 = time.perf_counter()
    data = _generate(args)
    generate_s = time.perf_counter() - t0
    rss_input = current_rss_mb()

    t = time.perf_counter()
    workspace = _frames(data)
    frames_s = time.perf_counter() - t
    t = time.perf_counter()
    resolved = transforms.resolve_tasks(workspace, _team_names())
    resolve_s = time.perf_counter() - t
    t = time.perf_counter()
    rows = transforms.overdue_tasks(resolved, as_of)
    summary = transforms.overdue_team_summary(rows)
    by_member = transforms.workload_by_member(resolved, workspace.members, as_of)
    by_customer = transforms.workload_by_customer(resolved, as_of)
    aggregate_s = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        out = Path(out)
        csv_output.write_csv(rows, csv_output.OVERDUE_COLUMNS, out / "overdue.csv")
        csv_output.write_csv(by_member, csv_output.WORKLOAD_COLUMNS, out / "workload.csv")
        csv_output.write_csv(by_customer, csv_output.WORKLOAD_BY_CUSTOMER_COLUMNS, out / "by_customer.csv")
        overdue_html = render_overdue_html(views.overdue_view(
            rows, summary, as_of=as_of, generated_at="bench", filters={}, app_url_template=None, source="bench"))
        workload_html = render_workload_html(views.workload_view(
            by_member, by_customer, as_of=as_of, generated_at="bench", filters={}, source="bench"))
    render_s = time.perf_counter() - t
    return {
        "tasks": args["tasks"], "generate_s": generate_s, "frames_s": frames_s, "resolve_s": resolve_s,
        "aggregate_s": aggregate_s, "render_s": render_s,
        "join_aggregate_s": frames_s + resolve_s + aggregate_s,
        "total_s": frames_s + resolve_s + aggregate_s + render_s,
        "rss_input_mb": rss_input, "peak_rss_mb": peak_rss_mb(),
        "overdue_rows": len(rows), "html_bytes": len(overdue_html.encode()) + len(workload_html.encode()),
    }


def digest(args: dict) -> dict:
    """Figure 5: build_digests + render_digest for ``managers`` managers over a generated workspace."""
    from pike_tasks import digest as digest_mod
    from pike_tasks import transforms
    from pike_tasks.sandbox.data import DEMO_TEAMS, UNKNOWN_TEAM_ID

    as_of = date.fromisoformat(args["as_of"])
    data = _generate(args)
    workspace = _frames(data)
    resolved = transforms.resolve_tasks(workspace, _team_names())
    rows = transforms.overdue_tasks(resolved, as_of)
    team_ids = [*DEMO_TEAMS, UNKNOWN_TEAM_ID]
    teams: dict[str, dict] = {tid: {"name": DEMO_TEAMS.get(tid, {}).get("name"), "managers": []} for tid in team_ids}
    for i in range(args["managers"]):  # every manager one team, every third a second one
        teams[team_ids[i % len(team_ids)]]["managers"].append(f"manager{i:02d}@example.com")
        if i % 3 == 0:
            teams[team_ids[(i + 1) % len(team_ids)]]["managers"].append(f"manager{i:02d}@example.com")
    t = time.perf_counter()
    digests = digest_mod.build_digests(resolved, workspace.members, rows, teams, as_of)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    rendered = [digest_mod.render_digest(d, generated_at="bench") for d in digests]
    render_s = time.perf_counter() - t
    sizes = [len(r.html.encode("utf-8")) for r in rendered]
    return {"digests": len(digests), "build_s": build_s, "render_s": render_s, "seconds": build_s + render_s,
            "largest_html_bytes": max(sizes), "largest_text_bytes": max(len(r.text.encode()) for r in rendered),
            "min_rows_per_team": min(r.rows_per_team for r in rendered), "peak_rss_mb": peak_rss_mb()}


def flow_repeat(args: dict) -> dict:
    """Figure 2b: ``run_all_reports`` several times in one process (import and first-run cost visible)."""
    t = time.perf_counter()
    from flows.all_reports import run_all_reports
    import_s = time.perf_counter() - t
    runs = []
    for i in range(args["runs"]):
        t = time.perf_counter()
        run_all_reports(as_of=date.fromisoformat(args["as_of"]), output_dir=f"{args['out']}/{i}")
        runs.append(time.perf_counter() - t)
    return {"import_s": import_s, "runs": runs}


def trivial(args: dict) -> dict:
    """Figure 3 baseline: a flow with one task that does nothing."""
    from prefect import flow, task

    @task
    def nothing() -> int:
        return 1

    @flow(name="trivial-bench-flow")
    def trivial_flow() -> int:
        return nothing()

    t = time.perf_counter()
    trivial_flow()
    return {"flow_s": time.perf_counter() - t}


KINDS = {"fetch": fetch, "fetch_floor": fetch_floor, "transform": transform, "digest": digest,
         "flow_repeat": flow_repeat, "trivial": trivial}

if __name__ == "__main__":
    result = KINDS[sys.argv[1]](json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    sys.stdout.flush()
    print(json.dumps(result))
