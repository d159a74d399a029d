"""The report CSVs from a plain requests + pandas script: no Prefect, no pike_tasks.

Written from ../shared/REPORTS.md alone, as a second implementation: the benchmarks time
our flow against it, and ``tests/test_independent.py`` checks that both give byte-identical
``overdue.csv``, ``due_soon.csv``, ``changes.csv``, ``workload.csv`` and
``workload_by_customer.csv``.

    PIKE_API_BASE_URL=http://127.0.0.1:8000 PIKE_API_SECRET=... \\
        python -m benchmarks.plain_script --as-of 2026-04-09 --out DIR [--teams-config FILE] \\
        [--team TEAM_ID ...] [--baseline PREVIOUS/overdue.csv --baseline-as-of YYYY-MM-DD]

``changes.csv`` (Report 4) compares today's overdue rows with the ``overdue.csv`` given as
``--baseline`` (the previous report of the same scope; finding it is the caller's business);
without one it holds the header only.

Readings where REPORTS.md is silent (the same as the lead's): a customer with a null
``customerName`` is labelled ""; a project label is ``f"{projectNumber} · {title}"`` with
null parts as ""; a listed member with neither displayName nor email is ``Member <id8>``;
a listed member's null status is an empty ``status`` cell (flag ``unknown``); duplicate ids
in ``assigneeIds`` count once (a null entry is
no id and is skipped); the due date is the first 10 characters of ``dueDate`` (unparseable: none); an id listed twice
keeps its first record, as our client does.

Report 4 readings (the same as the lead's pike_tasks/changes.py): task ids of B and of today
match when their CSV cells do (so the id the formula guard cannot round-trip still matches);
an id twice in B's rows counts once, at its first row; a task of B still overdue and in scope
but not in today's rows cannot happen with consistent inputs and is an error; a baseline with
no rows makes every overdue task new, no baseline gives the header only.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import requests

RESOURCES = ("projects", "tasks", "customers", "members")
CLOSED = {"done", "cancelled", "duplicate"}
PRIORITY_RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3, "none": 4}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

OVERDUE_COLUMNS = ["task_id", "team_id", "team", "title", "project", "customer", "assignees",
                   "priority", "status", "due_date", "days_overdue"]
WORKLOAD_COLUMNS = ["member_id", "member", "status", "open", "billable", "non_billable", "unclassified",
                    "billable_share", "overdue", "flag"]
DUE_SOON_COLUMNS = OVERDUE_COLUMNS[:-1] + ["days_left"]
CHANGES_COLUMNS = ["change", "reason", "task_id", "team_id", "team", "title", "priority", "status", "due_date",
                   "days_overdue"]
CUSTOMER_COLUMNS = ["customer_id", "customer", "open_tasks", "billable_tasks", "assignees", "projects"]


# -- fetch -------------------------------------------------------------------------------------

def fetch_listing(base_url: str, secret: str, resource: str, limit: int = 200) -> list[dict]:
    """Every record of one listing, following ``nextCursor``; retries 429/5xx/connection errors."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {secret}", "Accept": "application/json"})
    items: list[dict] = []
    cursor = None
    while True:
        params = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
        page = _get_json(session, f"{base_url}/{resource}", params)
        items.extend(page.get("items") or [])
        cursor = page.get("nextCursor")
        if not page.get("hasMore") or not cursor:
            return items


def _get_json(session: requests.Session, url: str, params: dict, attempts: int = 8) -> dict:
    for attempt in range(attempts):
        try:
            response = session.get(url, params=params, timeout=(5, 60))
        except requests.ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(min(0.1 * 2**attempt, 5))
            continue
        if response.status_code == 429 or response.status_code >= 500:
            if attempt == attempts - 1:
                response.raise_for_status()
            retry_after = response.headers.get("Retry-After", "")
            delay = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 0.1 * 2**attempt
            time.sleep(min(delay, 10))
            continue
        response.raise_for_status()
        return response.json()
    raise RuntimeError("unreachable")


def fetch_workspace(base_url: str, secret: str) -> dict[str, list[dict]]:
    """The four listings, fetched concurrently (one thread each)."""
    base_url = base_url.rstrip("/")
    gc_was_on = gc.isenabled()
    gc.disable()  # the collector re-scans the growing lists of dicts while pages are parsed
    try:
        with ThreadPoolExecutor(max_workers=len(RESOURCES)) as pool:
            futures = {r: pool.submit(fetch_listing, base_url, secret, r) for r in RESOURCES}
            return {r: f.result() for r, f in futures.items()}
    finally:
        if gc_was_on:
            gc.enable()


# -- labels --------------------------------------------------------------------------------------

def _text_key(label: str, record_id: str | None) -> tuple[str, str]:
    return (label.casefold(), record_id or "")


def _member_label(member_id: str, members: dict[str, dict]) -> str:
    member = members.get(member_id)
    if member is None:
        return f"Unknown member {member_id[:8]}"
    return member.get("displayName") or member.get("email") or f"Member {member_id[:8]}"


def _by_id(records: list[dict]) -> dict:
    """Records by id; an id listed twice keeps its first record (as our client does)."""
    out: dict = {}
    for record in records:
        out.setdefault(record.get("id"), record)
    return out


def _due_date(text) -> date | None:
    """The first 10 characters as a date; a missing or unparseable due date counts as none."""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except (TypeError, ValueError):
        return None


def _half_up_share(part: int, whole: int) -> str:
    if whole == 0:
        return "0.0"
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value:.1f}"


def resolve(data: dict[str, list[dict]], as_of: date, team_names: dict[str, str]) -> pd.DataFrame:
    """One row per task with everything the three reports need (labels, open/overdue flags).

    Null ids, priority and status are "" here (pandas would turn None into NaN).
    """
    projects, customers, members = (_by_id(data[r]) for r in ("projects", "customers", "members"))
    rows = []
    for t in _by_id(data["tasks"]).values():
        project_id = t.get("projectId") or None  # "" is no id
        project = projects.get(project_id) if project_id is not None else None
        if project_id is None:
            project_label = "No project"
        elif project is None:
            project_label = "Unknown project"
        else:
            number, title = project.get("projectNumber"), project.get("title")
            project_label = f"{number if number is not None else ''} · {title if title is not None else ''}"
        team_id = t.get("teamId") or None
        if team_id is None and project is not None:
            team_id = project.get("teamId") or None
        team = "No team" if team_id is None else (team_names.get(team_id) or f"Team {team_id[:8]}")
        customer_id = t.get("customerId") or None
        if customer_id is None and project is not None:
            customer_id = project.get("customerId") or None
        if customer_id is None:
            customer = "No customer"
        elif customer_id in customers:
            customer = customers[customer_id].get("customerName") or ""
        else:
            customer = "Unknown customer"
        assignee_ids = list(dict.fromkeys(a for a in t.get("assigneeIds") or [] if a not in (None, "")))
        status = t.get("status")
        is_open = status not in CLOSED
        due = _due_date(t.get("dueDate"))
        days = (as_of - due).days if due is not None else 0
        billable_status = t.get("billableStatus")
        rows.append({
            "task_id": t["id"],
            "title": "" if t.get("title") is None else str(t["title"]),
            "status": status or "",
            "priority": t.get("priority") or "",
            "priority_rank": PRIORITY_RANK.get(t.get("priority"), 4),
            "is_open": is_open,
            "is_overdue": is_open and due is not None and days >= 1,
            "is_due_soon": is_open and due is not None and 0 <= -days <= 6,
            "due_date": due.isoformat() if due else "",
            "days_overdue": days,
            "project_id": project_id or "",
            "project": project_label,
            "team_id": team_id or "",
            "team": team,
            "customer_id": customer_id or "",
            "customer": customer,
            "assignee_ids": assignee_ids,
            "assignees": "; ".join(_member_label(a, members) for a in assignee_ids) or "Unassigned",
            "billable": billable_status == "billable",
            "non_billable": billable_status == "nonBillable",
        })
    frame = pd.DataFrame(rows, columns=[
        "task_id", "title", "status", "priority", "priority_rank", "is_open", "is_overdue", "is_due_soon", "due_date",
        "days_overdue", "project_id", "project", "team_id", "team", "customer_id", "customer",
        "assignee_ids", "assignees", "billable", "non_billable"])
    flags = ["is_open", "is_overdue", "is_due_soon", "billable", "non_billable"]
    frame[flags] = frame[flags].astype(bool)  # an empty frame would otherwise mask as object
    frame["days_overdue"] = frame["days_overdue"].astype(int)
    return frame


# -- reports -------------------------------------------------------------------------------------

def _in_teams(tasks: pd.DataFrame, team_ids) -> pd.DataFrame:
    return tasks[tasks["team_id"].isin(list(team_ids))] if team_ids else tasks


def _grouped_rows(rows: pd.DataFrame, task_key) -> list[dict]:
    """Rows grouped by team (count desc, then label, then id), ordered by ``task_key`` within."""
    # keyed by (id, label): "No team" has id "" here, and so would a team whose id is ""
    counts = rows.groupby(["team_id", "team"], sort=False).size().to_dict()
    team_order = sorted(counts, key=lambda key: (-counts[key], *_text_key(key[1], key[0])))
    team_pos = {key: i for i, key in enumerate(team_order)}
    records = rows.to_dict(orient="records")
    records.sort(key=lambda r: (team_pos[(r["team_id"], r["team"])], *task_key(r)))
    return records


def overdue_rows(tasks: pd.DataFrame, team_ids=None) -> list[list]:
    overdue = _in_teams(tasks[tasks["is_overdue"]], team_ids)
    records = _grouped_rows(overdue, lambda r: (r["priority_rank"], -r["days_overdue"],
                                                 *_text_key(r["title"], r["task_id"])))
    return [[r["task_id"], r["team_id"], r["team"], r["title"], r["project"], r["customer"],
             r["assignees"], r["priority"], r["status"], r["due_date"], r["days_overdue"]]
            for r in records]


def due_soon_rows(tasks: pd.DataFrame, team_ids=None) -> list[list]:
    soon = _in_teams(tasks[tasks["is_due_soon"]], team_ids)
    records = _grouped_rows(soon, lambda r: (-r["days_overdue"], r["priority_rank"],
                                             *_text_key(r["title"], r["task_id"])))
    return [[r["task_id"], r["team_id"], r["team"], r["title"], r["project"], r["customer"],
             r["assignees"], r["priority"], r["status"], r["due_date"], -r["days_overdue"]]
            for r in records]


def read_overdue_csv(text: str) -> list[dict]:
    """A stored overdue.csv as the report's values: the guard's ``'`` removed, days as int."""
    rows = []
    for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")):
        value = {k: _uncell(v) for k, v in row.items() if k in OVERDUE_COLUMNS}
        value["days_overdue"] = int(value["days_overdue"])
        rows.append(value)
    return rows


def _uncell(cell: str) -> str:
    if cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


def changes_rows(today_overdue: list[list], baseline: list[dict] | None, data: dict[str, list[dict]],
                 tasks: pd.DataFrame, as_of: date, team_ids=None, baseline_as_of: date | None = None) -> list[list]:
    """Report 4: new rows (today's values, today's order), then resolved rows (B's values and
    order, a reason, today's status).

    ``today_overdue``: ``overdue_rows`` of today; ``baseline``: ``read_overdue_csv`` of B (None:
    no baseline); ``data``: today's listings; ``tasks``: ``resolve`` of them (for the team);
    ``baseline_as_of``: B's date (a new row ``became_overdue`` when its due date is on or after
    it, else it was ``added``).
    """
    if baseline is None:
        return []
    if baseline_as_of is None:
        raise ValueError("a baseline needs its as_of date")
    since = baseline_as_of.isoformat()
    key = _cell  # ids match as the CSV writes them
    seen_today, new = _first_of_each(today_overdue, lambda row: row[0])
    seen_b, old = _first_of_each(baseline, lambda row: row["task_id"])
    out = [["new", "became_overdue" if r[9] >= since else "added", r[0], r[1], r[2], r[3], r[7], r[8], r[9], r[10]]
           for r in new if key(r[0]) not in seen_b]
    listing = {}
    for record in data["tasks"]:
        listing.setdefault(key(record["id"]), record)
    team_of = {}
    for task_id, team_id in zip(tasks["task_id"], tasks["team_id"], strict=True):
        team_of.setdefault(key(task_id), team_id)
    for row in old:
        k = key(row["task_id"])
        if k in seen_today:
            continue
        record = listing.get(k)
        status = "" if record is None else (record.get("status") or "")
        reason = _resolved_reason(row, record, as_of, team_ids, team_of, k)
        out.append(["resolved", reason, row["task_id"], row["team_id"], row["team"], row["title"], row["priority"],
                    status, row["due_date"], row["days_overdue"]])
    return out


def _first_of_each(rows, task_id) -> tuple[set, list]:
    """The ids seen (as the CSV writes them) and the rows with their first occurrence only."""
    seen, kept = set(), []
    for row in rows:
        k = _cell(task_id(row))
        if k in seen:
            continue
        seen.add(k)
        kept.append(row)
    return seen, kept


def _resolved_reason(row: dict, record: dict | None, as_of: date, team_ids, team_of: dict, k: str) -> str:
    """Why a row of B is not in today's report: gone, closed, rescheduled or out_of_scope."""
    if record is None:
        return "gone"
    if record.get("status") in CLOSED:
        return "closed"
    if (due := _due_date(record.get("dueDate"))) is None or not due < as_of:
        return "rescheduled"
    if team_ids and team_of[k] not in team_ids:
        return "out_of_scope"
    raise ValueError(f"task {row['task_id']} is overdue and in scope but not in today's rows")


def workload_rows(tasks: pd.DataFrame, member_records: list[dict]) -> list[list]:
    members = _by_id(member_records)
    open_tasks = tasks[tasks["is_open"]]
    assignments = open_tasks.explode("assignee_ids")
    assignments["who"] = assignments["assignee_ids"].fillna("")  # "" is Unassigned
    assignments["unclassified"] = ~(assignments["billable"] | assignments["non_billable"])
    stats = assignments.groupby("who").agg(
        open=("task_id", "size"), billable=("billable", "sum"), non_billable=("non_billable", "sum"),
        unclassified=("unclassified", "sum"), overdue=("is_overdue", "sum"),
    )
    counts = {who: {k: int(v) for k, v in row.items()} for who, row in stats.iterrows()}
    zero = {"open": 0, "billable": 0, "non_billable": 0, "unclassified": 0, "overdue": 0}
    rows = []
    for member_id, member in members.items():
        c = counts.get(member_id, zero)
        status = member.get("status")
        if status != "active" and c["open"] == 0:
            continue
        flag = "" if status == "active" else ("unknown" if status is None else status)
        rows.append((member_id, _member_label(member_id, members), status or "", c, flag))
    for who, c in counts.items():
        if who and who not in members:
            rows.append((who, _member_label(who, members), "", c, ""))
    rows.sort(key=lambda r: (-r[3]["open"], *_text_key(r[1], r[0])))
    if "" in counts:
        rows.append(("", "Unassigned", "", counts[""], ""))
    return [[mid, label, status, c["open"], c["billable"], c["non_billable"], c["unclassified"],
             _half_up_share(c["billable"], c["open"]), c["overdue"], flag]
            for mid, label, status, c, flag in rows]


def customer_rows(tasks: pd.DataFrame) -> list[list]:
    open_tasks = tasks[tasks["is_open"]].copy()
    open_tasks["project_id"] = open_tasks["project_id"].replace("", None)  # nunique skips nulls
    stats = open_tasks.groupby("customer_id").agg(
        open_tasks=("task_id", "size"), billable_tasks=("billable", "sum"),
        projects=("project_id", "nunique"), customer=("customer", "first"))
    assignees = open_tasks.explode("assignee_ids").groupby("customer_id")["assignee_ids"].nunique()
    rows = [[cid, row["customer"], int(row["open_tasks"]), int(row["billable_tasks"]),
             int(assignees.get(cid, 0)), int(row["projects"])] for cid, row in stats.iterrows()]
    rows.sort(key=lambda r: (-r[3], *_text_key(r[1], r[0])))
    return rows


# -- output --------------------------------------------------------------------------------------

def _cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, columns: list[str], rows: list[list]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)


def load_team_names(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    names = {}
    for team_id, entry in (raw.get("teams") or {}).items():
        name = entry.get("name") if isinstance(entry, dict) else entry
        if name:
            names[str(team_id)] = str(name)
    return names


def build_reports(data: dict[str, list[dict]], as_of: date, team_names: dict[str, str], out: Path,
                  team_ids=None, baseline: Path | None = None, baseline_as_of: date | None = None) -> None:
    tasks = resolve(data, as_of, team_names)
    out.mkdir(parents=True, exist_ok=True)
    overdue = overdue_rows(tasks, team_ids)
    write_csv(out / "overdue.csv", OVERDUE_COLUMNS, overdue)
    write_csv(out / "due_soon.csv", DUE_SOON_COLUMNS, due_soon_rows(tasks, team_ids))
    # bytes, not read_text: universal newlines would turn a "\r" inside a quoted cell into "\n"
    previous = read_overdue_csv(baseline.read_bytes().decode("utf-8")) if baseline else None
    write_csv(out / "changes.csv", CHANGES_COLUMNS, changes_rows(overdue, previous, data, tasks, as_of, team_ids,
                                                                 baseline_as_of))
    write_csv(out / "workload.csv", WORKLOAD_COLUMNS, workload_rows(tasks, data["members"]))
    write_csv(out / "workload_by_customer.csv", CUSTOMER_COLUMNS, customer_rows(tasks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--teams-config")
    parser.add_argument("--team", action="append", default=[], help="team filter (repeatable)")
    parser.add_argument("--baseline", type=Path, help="the previous overdue.csv of the same scope")
    parser.add_argument("--baseline-as-of", type=date.fromisoformat, help="the as_of date of --baseline")
    args = parser.parse_args(argv)
    base_url = os.environ.get("PIKE_API_BASE_URL", "https://api.usepike.com")
    secret = os.environ["PIKE_API_SECRET"]
    data = fetch_workspace(base_url, secret)
    build_reports(data, args.as_of, load_team_names(args.teams_config), args.out, args.team, args.baseline,
                  args.baseline_as_of)
    print(f"plain script: {len(data['tasks'])} tasks -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
