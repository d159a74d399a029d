"""Figure 7 (issue 16): every report and the manager digests at agency size, as a user runs them.

One sandbox process (150,000 tasks, 3,000 projects, 800 members, 1,500 customers over 65 teams,
20 ms latency), a local SMTP server in this process whose final reply to one recipient's DATA
comes ``slow_s`` late, and a teams config of 65 teams and 150 manager addresses (20 of them
managing 5-9 teams). Two ``pike-reports`` processes with default settings, in Prefect's
temporary-API mode sharing one ``PREFECT_HOME``:

1. ``run overdue --as-of D-1``: the baseline the digests compare with (the same workspace a day
   earlier: every task that fell due on D-1 is new on D);
2. ``run all --send-digests --as-of D``: the measured run; its console is read line by line
   with the time each line arrived, and Prefect's database is measured before and after it.

Then the store, the received messages and the pages (headless Chromium, tests/chromium.py)
are measured. See docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import email
import email.utils
import io
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from benchmarks.harness import PYTHON, REPO, base_env, sandbox_process

AGENCY = {"tasks": 150_000, "projects": 3_000, "members": 800, "customers": 1_500, "teams": 65}
QUICK = {"tasks": 30_000, "projects": 600, "members": 160, "customers": 300, "teams": 65}
MANAGERS, MULTI_MANAGERS = 150, 20  # 20 of the 150 addresses manage 5-9 teams each
LATENCY_MS = 20.0
APP_URL = "https://app.pike.example/tasks/{id}"
TASK_LINK = re.compile(r"https://app\.pike\.example/tasks/([0-9A-Za-z-]+)")
GMAIL_CLIP_BYTES = 102_000

# console lines (Prefect's console handler: "12:00:00.000 | INFO    | Task run 'x' - message")
FETCHED = re.compile(r"fetched (\d+) (\w+) in (\d+) pages? \(.*?\) in ([\d.]+) s")
FETCH_PROGRESS = re.compile(r"fetching \w+: [\d,]+ pages")
BUILD_PROGRESS = re.compile(r"digests built: [\d,]+")
BUILT = re.compile(r"(\d+) manager digests built for")
SEND_PROGRESS = re.compile(r"(?:digests|previews) sent: [\d,]+")
FOLDER_LINE = re.compile(r"^(overdue|workload|digest): (.+?)/ \(")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def manager_address(i: int) -> str:
    return f"manager-{i:03d}@example.com"


def agency_teams_config(teams: dict[str, dict]) -> dict:
    """65 teams, 150 manager addresses: two per team for the first 130, then 20 who manage 5-9
    teams each (teams spread over the workspace, 5, 6, 7, 8, 9, 5, ... of them)."""
    ids = list(teams)
    managers: dict[str, list[str]] = {tid: [] for tid in ids}
    single = MANAGERS - MULTI_MANAGERS
    for i in range(single):
        managers[ids[i % len(ids)]].append(manager_address(i))
    for k in range(MULTI_MANAGERS):
        count = 5 + k % 5
        start = (k * 7) % len(ids)
        for j in range(count):
            managers[ids[(start + j * 3) % len(ids)]].append(manager_address(single + k))
    return {"timezone": "UTC", "app_url_template": APP_URL,
            "teams": {tid: {"name": teams[tid]["name"], "managers": managers[tid]} for tid in ids}}


class Console:
    """A command's merged stdout/stderr, each line with the ``time.monotonic()`` it arrived."""

    def __init__(self, cmd: list[str], env: dict[str, str], timeout: float = 900) -> None:
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                bufsize=1, cwd=REPO)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
            self.returncode = proc.wait()
        finally:
            timer.cancel()
        self.ended = time.monotonic()
        if self.returncode != 0:
            tail = "\n".join(text for _, text in self.lines[-40:])
            raise RuntimeError(f"{' '.join(cmd[2:6])}... failed ({self.returncode}):\n{tail[-3000:]}")

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def matching(self, pattern: re.Pattern) -> list[tuple[float, re.Match]]:
        return [(t, m) for t, text in self.lines if (m := pattern.search(text))]

    def longest_silence(self, start: float, end: float) -> float:
        """The longest time in [start, end] with no line printed."""
        times = [start] + [t for t, _ in self.lines if start < t < end] + [end]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)

    def silences(self, n: int) -> list[dict[str, Any]]:
        """The ``n`` longest gaps between lines: seconds, when (from the start) and the line before."""
        marks = [(self.started, "(start)")] + self.lines + [(self.ended, "(exit)")]
        gaps = sorted(((b[0] - a[0], a[0] - self.started, a[1]) for a, b in zip(marks, marks[1:], strict=False)),
                      reverse=True)[:n]
        return [{"seconds": round(g, 2), "at_s": round(at, 1), "after": text[-140:]} for g, at, text in gaps]

    def count(self, pattern: re.Pattern, start: float, end: float) -> int:
        return sum(1 for t, text in self.lines if start <= t <= end and pattern.search(text))

    def folders(self) -> dict[str, Path]:
        return {m.group(1): Path(m.group(2)) for _, m in self.matching(FOLDER_LINE)}


def prefect_db(home: Path) -> dict[str, Any]:
    """Size of the temporary API's SQLite database (with its WAL) and its task runs, events and logs."""
    db = home / "prefect.db"
    size = sum(p.stat().st_size for p in home.glob("prefect.db*"))
    counts: dict[str, Any] = {}
    if db.exists():
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
            for name in ("task_run", "flow_run", "events", "log", "artifact"):
                if name in tables:
                    counts[name] = conn.execute(f"select count(*) from {name}").fetchone()[0]  # noqa: S608
    return {"bytes": size, **counts}


def folder_facts(folder: Path) -> dict[str, Any]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {"bytes": sum(p.stat().st_size for p in files), "files": len(files)}


def ledger_facts(store: Path, as_of: str) -> dict[str, Any]:
    """Once-only records of one digest day: how many files, and the most in one folder."""
    root = store / "_ledger"
    day = [p for p in root.rglob("*") if p.is_file() and as_of in p.relative_to(root).parts]
    per_folder = Counter(p.parent for p in day)
    busiest = max(per_folder, key=lambda k: per_folder[k], default=None)
    layout = ""
    if busiest is not None:
        parts = busiest.relative_to(store).parts
        layout = "/".join("<source>" if re.fullmatch(r"[0-9a-f]{16}", x) else x for x in parts) + "/"
    return {"files": len(day), "bytes": sum(p.stat().st_size for p in day), "folders": len(per_folder),
            "max_files_in_one_folder": max(per_folder.values(), default=0), "busiest_folder": layout}


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def messages(inbox: Path) -> dict[str, list[email.message.EmailMessage]]:
    """Received messages by recipient (the To address of each message the local SMTP server saved)."""
    out: dict[str, list] = {}
    for path in sorted(inbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        rcpt = email.utils.getaddresses([str(message["To"])])[0][1].casefold()
        out.setdefault(rcpt, []).append(message)
    return out


def html_part(message) -> str:
    return next((p.get_content() for p in message.walk() if p.get_content_type() == "text/html"), "")


def attachments(message) -> list[bytes]:
    return [p.get_payload(decode=True) or b"" for p in message.walk() if p.get_filename()]


def pages(overdue: Path, workload: Path, work: Path) -> dict[str, Any]:
    """Bytes and ``<details>`` of the overdue folder's pages (index and the largest other one),
    the workload page's bytes, and the time each takes to load and lay out in headless Chromium."""
    html = sorted(overdue.rglob("*.html"), key=lambda p: p.stat().st_size, reverse=True)
    index = overdue / "index.html"
    others = [p for p in html if p != index]
    result: dict[str, Any] = {"overdue_html_files": len(html)}
    for name, path, root in (("overdue_index", index, overdue), ("overdue_largest_other", others[0] if others else None,
                             overdue), ("workload_index", workload / "index.html", workload)):
        if path is None or not path.exists():
            continue
        data = path.read_bytes()
        result[name] = {"file": str(path.relative_to(root)), "bytes": len(data), "details": data.count(b"<details")}
    sys.path.insert(0, str(REPO / "tests"))
    from chromium import Chromium, find_chromium

    executable = find_chromium()
    if executable is None:
        result["render"] = "skipped: chromium is not installed (`make browsers`)"
        return result
    browser = Chromium(executable, work / "chromium-profile", timeout=180)
    try:
        browser.render_ms("about:blank")  # the browser's own start is not the page's
        for name, path in (("workload_index", workload / "index.html"), ("overdue_index", index),
                           ("overdue_largest_other", others[0] if others else None)):
            if name in result and path is not None:
                result[name]["render_ms"] = browser.render_ms(path.as_uri())
    finally:
        browser.close()
    return result


def _digests(inbox: Path, config: dict, overdue_rows: list[dict], changes: list[dict], received: list,
             slow: str, slow_s: float, built_at: float) -> dict[str, Any]:
    expected = {m.casefold() for t in config["teams"].values() for m in t["managers"]}
    copies = Counter(r.casefold() for msg in received for r in msg.rcpt_tos)
    by_rcpt = messages(inbox)
    html_sizes = [len(html_part(m).encode("utf-8")) for ms in by_rcpt.values() for m in ms]
    attach_sizes = [len(a) for ms in by_rcpt.values() for m in ms for a in attachments(m)]
    # managers of 5+ teams: what their digest shows against what is overdue in their teams
    teams_of: dict[str, set[str]] = {}
    for tid, team in config["teams"].items():
        for m in team["managers"]:
            teams_of.setdefault(m.casefold(), set()).add(tid)
    multi = sorted(m for m, t in teams_of.items() if len(t) >= 5)
    shown_counts, overdue_counts, all_new, all_urgent, missing_new, missing_urgent = [], [], True, True, 0, 0
    # Urgency first: while any new or urgent task is hidden, every task shown is new or urgent
    # (a digest with more new and urgent tasks than fit shows as many of those as fit).
    order_respected = True
    for m in multi:
        mine = [r for r in overdue_rows if r["team_id"] in teams_of[m]]
        ids = {r["task_id"] for r in mine}
        urgent = {r["task_id"] for r in mine if r["priority"].strip().casefold() == "urgent"}
        new = {r["task_id"] for r in changes if r["change"] == "new" and r["team_id"] in teams_of[m]}
        html = html_part(by_rcpt[m][0]) if by_rcpt.get(m) else ""
        shown = set(TASK_LINK.findall(html))
        shown_counts.append(len(shown & ids))
        overdue_counts.append(len(ids))
        missing_new += len(new - shown)
        missing_urgent += len(urgent - shown)
        all_new &= new <= shown
        all_urgent &= urgent <= shown
        shown_mine = shown & ids
        if not (new | urgent) <= shown_mine:
            order_respected &= shown_mine <= (new | urgent)
    slow_msgs = [r for r in received if slow.casefold() in {x.casefold() for x in r.rcpt_tos}]
    slow_done = [r.answered_at for r in slow_msgs]
    others = [r for r in received if r not in slow_msgs]
    others_done = [r.answered_at for r in others]
    # answered while the slow recipient's final reply was pending: 0 if the sends queue behind it
    during = sum(1 for r in others if any(s.data_at < r.answered_at < s.answered_at for s in slow_msgs))
    return {
        "count": len(expected), "received_recipients": len(copies),
        "copies_min": min((copies.get(r, 0) for r in expected), default=0),
        "copies_max": max((copies.get(r, 0) for r in expected), default=0),
        "exactly_one_each": all(copies.get(r, 0) == 1 for r in expected) and set(copies) <= expected,
        "slow_recipient": slow, "slow_delay_s": slow_s,
        "send_s": max(r.answered_at for r in received) - built_at if received else None,
        "others_done_s": max(others_done) - built_at if others_done else None,
        "slow_done_s": max(slow_done) - built_at if slow_done else None,
        "others_answered_while_slow_pending": during, "others": len(others),
        "others_not_held": bool(slow_msgs) and (during > 0 or (bool(others_done) and max(others_done) < min(
            s.data_at for s in slow_msgs))),
        "largest_html_bytes": max(html_sizes, default=0), "largest_attachment_bytes": max(attach_sizes, default=0),
        "html_under_gmail_clip": max(html_sizes, default=0) < GMAIL_CLIP_BYTES,
        "multi_team": {"managers": len(multi), "teams": sorted(len(teams_of[m]) for m in multi),
                       "shown_min": min(shown_counts, default=0),
                       "shown_median": statistics.median(shown_counts) if shown_counts else 0,
                       "overdue_min": min(overdue_counts, default=0),
                       "overdue_median": statistics.median(overdue_counts) if overdue_counts else 0,
                       "every_new_shown": all_new, "new_not_shown": missing_new,
                       "every_urgent_shown": all_urgent, "urgent_not_shown": missing_urgent,
                       "new_and_urgent_first": order_respected},
    }


def _console_facts(main: Console) -> dict[str, Any]:
    fetched = main.matching(FETCHED)
    per_resource = {m.group(2): {"records": int(m.group(1)), "pages": int(m.group(3)), "seconds": float(m.group(4))}
                    for _, m in fetched}
    fetch_end = max(t for t, _ in fetched)
    fetch_s = max(r["seconds"] for r in per_resource.values())
    fetch_start = fetch_end - fetch_s
    built = main.matching(BUILT)
    built_at = built[-1][0]
    first_build = min([t for t, _ in main.matching(BUILD_PROGRESS)] + [built_at])
    build_start = max((t for t, text in main.lines if t < first_build and not BUILD_PROGRESS.search(text)),
                      default=first_build)
    sends = main.matching(SEND_PROGRESS)
    return {
        "per_resource": per_resource, "fetch_s": fetch_s, "fetch_start": fetch_start, "fetch_end": fetch_end,
        "pages": sum(r["pages"] for r in per_resource.values()), "task_pages": per_resource["tasks"]["pages"],
        "fetch_progress_lines": main.count(FETCH_PROGRESS, fetch_start, fetch_end),
        "fetch_longest_silence_s": main.longest_silence(fetch_start, fetch_end),
        "build_start": build_start, "built_at": built_at, "build_s": built_at - build_start,
        "build_progress_lines": main.count(BUILD_PROGRESS, build_start, built_at),
        "build_longest_silence_s": main.longest_silence(build_start, built_at),
        "send_progress_lines": len(sends),
    }


def _store_facts(store: Path, folders: dict, day: str) -> dict:
    """Files and bytes of each report folder and of the day's ledger, and their totals."""
    reports = {name: folder_facts(folder) for name, folder in folders.items()}
    ledger = ledger_facts(store, day)
    return {"per_report": reports, "ledger": ledger,
            "total_bytes": sum(r["bytes"] for r in reports.values()) + ledger["bytes"],
            "total_files": sum(r["files"] for r in reports.values()) + ledger["files"]}


def _db_growth(db_before: dict, db_after: dict) -> dict:
    """What the measured run (reports and digests, sent) added to the Prefect database."""
    return {
        "before": db_before, "after": db_after,
        "growth_bytes": db_after["bytes"] - db_before["bytes"],
        "task_runs": db_after.get("task_run", 0) - db_before.get("task_run", 0),
        "events": db_after.get("events", 0) - db_before.get("events", 0),
        "logs": db_after.get("log", 0) - db_before.get("log", 0),
    }


def figure_at_scale(opts) -> dict:
    sizes = QUICK if opts.quick else AGENCY
    slow_s = 5.0 if opts.quick else 20.0
    as_of = date(2026, 4, 9)
    day, baseline_day = as_of.isoformat(), (as_of - timedelta(days=1)).isoformat()
    from pike_tasks.local_smtp import LocalSmtpServer
    from pike_tasks.sandbox.data import workspace_teams

    work = Path(tempfile.mkdtemp(prefix="pike-bench-fig7-"))
    home, store, inbox = work / "prefect-home", work / "store", work / "inbox"
    config = agency_teams_config(workspace_teams(sizes["teams"]))
    config_path = work / "teams.json"
    config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    slow = manager_address(0)  # sorted first, so it is sent first: the others must not queue behind it
    cli = [PYTHON, "-m", "flows.cli", "run"]
    common = ["--out", str(store), "--teams-config", str(config_path)]
    result: dict[str, Any] = {"sizes": sizes, "latency_ms": LATENCY_MS, "managers": MANAGERS,
                              "multi_team_managers": MULTI_MANAGERS, "as_of": day, "settings": "defaults"}
    try:
        started = time.monotonic()
        with sandbox_process(**{k: v for k, v in sizes.items()}, latency_ms=LATENCY_MS, today=day) as sb, \
                LocalSmtpServer(inbox, slow={slow: slow_s}) as smtp:
            result["sandbox_start_s"] = time.monotonic() - started
            env = base_env(**sb.env(), PREFECT_HOME=str(home), PYTHONUNBUFFERED="1",
                           PIKE_REPORTS_SMTP_HOST=smtp.host, PIKE_REPORTS_SMTP_PORT=str(smtp.port),
                           PIKE_REPORTS_SMTP_SECURITY="none",
                           PIKE_REPORTS_EMAIL_FROM="pike-reports <reports@example.com>")
            env.pop("PREFECT_LOGGING_LEVEL", None)  # the console users see: Prefect's INFO lines
            log(f"figure 7: baseline `run overdue --as-of {baseline_day}` ({sizes['tasks']:,} tasks, 65 teams)")
            baseline = Console(cli + ["overdue", "--as-of", baseline_day] + common, env)
            db_before = prefect_db(home)
            log(f"figure 7: `run all --send-digests --as-of {day}` ({MANAGERS} managers, {slow} {slow_s:g} s slow)")
            main = Console(cli + ["all", "--send-digests", "--as-of", day] + common, env)
            db_after = prefect_db(home)
            received = list(smtp.handler.received)
        facts = _console_facts(main)
        folders = main.folders()
        overdue_rows = read_csv(folders["overdue"] / "overdue.csv")
        changes = read_csv(folders["overdue"] / "changes.csv")
        result.update({
            "baseline_run_s": baseline.seconds, "run_all_s": main.seconds,
            "fetch": {"seconds": facts["fetch_s"], "pages": facts["pages"], "task_pages": facts["task_pages"],
                      "bound_s": facts["task_pages"] * LATENCY_MS / 1000,
                      "ratio": facts["fetch_s"] / (facts["task_pages"] * LATENCY_MS / 1000),
                      "per_resource": facts["per_resource"]},
            "console": {"lines": len(main.lines),
                        "fetch_progress_lines": facts["fetch_progress_lines"],
                        "fetch_longest_silence_s": facts["fetch_longest_silence_s"],
                        "build_progress_lines": facts["build_progress_lines"],
                        "build_longest_silence_s": facts["build_longest_silence_s"],
                        "send_progress_lines": facts["send_progress_lines"],
                        "longest_silence_s": main.longest_silence(main.started, main.ended),
                        "longest_silences": main.silences(3)},
            "overdue_rows": len(overdue_rows),
            "new_since_baseline": sum(1 for r in changes if r["change"] == "new"),
        })
        digests = _digests(inbox, config, overdue_rows, changes, received, slow, slow_s, facts["built_at"])
        if received:
            result["console"]["send_longest_silence_s"] = main.longest_silence(
                facts["built_at"], max(r.answered_at for r in received))
        digests["build_s"] = facts["build_s"]
        result["digests"] = digests
        result["store"] = _store_facts(store, folders, day)
        result["prefect_db"] = _db_growth(db_before, db_after)
        log("figure 7: pages in headless Chromium")
        result["pages"] = pages(folders["overdue"], folders["workload"], work)
        d = result["digests"]
        m = d["multi_team"]
        result["ok"] = bool(d["exactly_one_each"] and d["html_under_gmail_clip"] and d["others_not_held"]
                            and m["new_and_urgent_first"])
    finally:
        if os.environ.get("PIKE_BENCH_KEEP"):
            print(f"figure 7: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result
