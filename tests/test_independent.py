"""Differential test: our reports and an independent plain script must write the same CSVs.

``benchmarks/plain_script.py`` was written from REPORTS.md alone (requests + pandas, no Prefect,
no pike_tasks code). Both read the same sandbox over HTTP; the three CSVs must be
byte-identical (line endings normalised). Two workspaces: the demo data, and a hostile one
built below with every awkward case REPORTS.md names (and some it only implies).

``due_soon.csv`` and ``changes.csv`` (Report 4) are not wired into the flows yet: for them our
pure functions (frames -> transforms -> changes -> csv_output) and the plain script's functions
run in-process on the same records, over two consecutive report dates where day 2 is day 1
with tasks closed, deleted, rescheduled, moved between teams, retitled and added.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from records import api_task

from benchmarks import plain_script as plain
from pike_tasks import changes as ch
from pike_tasks import csv_output as co
from pike_tasks import frames as fr
from pike_tasks import transforms as tf
from pike_tasks.sandbox.data import generate_workspace
from pike_tasks.sandbox.server import start_sandbox
from pike_tasks.teams_config import read_teams_source

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 4, 9)
CSVS = (("overdue", "overdue.csv"), ("workload", "workload.csv"), ("workload", "workload_by_customer.csv"))

T_DELIVERY = "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"
T_FORMULA = "22222222-aaaa-4aaa-8aaa-222222222222"  # config name starts with "@"
T_NONAME = "33333333-bbbb-4bbb-8bbb-333333333333"  # not in the config: "Team 33333333"
T_TIE = "0aaaaaaa-cccc-4ccc-8ccc-444444444444"  # config name "delivery" ties "Delivery" casefolded

TEAMS_YAML = f"""\
timezone: UTC
teams:
  {T_DELIVERY}:
    name: Delivery
    managers: [lead@example.com]
  {T_FORMULA}:
    name: "@Ops <b>team</b>"
  {T_TIE}:
    name: delivery
"""


def _id(prefix: str, n: int) -> str:
    return f"{prefix}{n:07d}-0000-4000-8000-{n:012d}"


def _due(days_ago: int) -> str:
    return (AS_OF - timedelta(days=days_ago)).isoformat()


def hostile_workspace() -> dict[str, list[dict]]:
    """Every awkward case we could think of, in one small workspace (as_of 2026-04-09)."""
    c = {k: _id(f"c{k}", k) for k in range(1, 8)}
    customers = [
        {"id": c[1], "customerName": "Acme"},
        {"id": c[2], "customerName": "acme"},  # ties c1 casefolded: ordered by id
        {"id": c[3], "customerName": "<script>alert('c')</script>"},
        {"id": c[4], "customerName": None},  # label "" (lead's reading)
        {"id": c[5], "customerName": "=SUM(A1:A9)"},
        {"id": c[6], "customerName": "Straße GmbH"},
        {"id": c[7], "customerName": "STRASSE GMBH"},  # ties c6 under casefold, not under lower()
    ]
    p = {k: _id(f"d{k}", k) for k in range(1, 9)}
    projects = [
        {"id": p[1], "projectNumber": "2026-0001", "title": "Acme — rollout", "teamId": T_DELIVERY, "customerId": c[1]},
        {"id": p[2], "projectNumber": "2026-0002", "title": "<img src=x onerror=alert(1)>", "teamId": None,
         "customerId": c[3]},
        {"id": p[3], "projectNumber": "2026-0003", "title": "No customer here", "teamId": T_NONAME, "customerId": None},
        {"id": p[4], "projectNumber": None, "title": "-dash first", "teamId": T_FORMULA, "customerId": c[5]},
        {"id": p[5], "projectNumber": "2026-0005", "title": None, "teamId": T_TIE, "customerId": c[4]},
        {"id": p[6], "projectNumber": "2026-0006", "title": "Dangling customer", "teamId": T_FORMULA,
         "customerId": "deadbeef-cust-4000-8000-000000000001"},
        {"id": p[7], "projectNumber": "2026-0007", "title": "Straße", "teamId": "0badc0de-0000-4000-8000-00000000f00d",
         "customerId": c[6]},
        {"id": p[8], "projectNumber": "2026-0008", "title": "STRASSE", "teamId": T_DELIVERY, "customerId": c[7]},
    ]
    m = {k: _id(f"e{k}", k) for k in range(1, 17)}
    members = [
        {"id": m[1], "displayName": "Ann", "email": "ann@example.com", "status": "active", "teamIds": [T_DELIVERY]},
        {"id": m[2], "displayName": "ann", "email": "ann2@example.com", "status": "active", "teamIds": [T_DELIVERY]},
        {"id": m[3], "displayName": "Ivan Inactive", "email": "ivan@example.com", "status": "inactive", "teamIds": []},
        {"id": m[4], "displayName": "Ines Invited", "email": "ines@example.com", "status": "invited", "teamIds": []},
        {"id": m[5], "displayName": "Nul Status", "email": "nul@example.com", "status": None, "teamIds": []},
        {"id": m[6], "displayName": None, "email": None, "status": "active", "teamIds": [T_FORMULA]},
        {"id": m[7], "displayName": "Gone Quiet", "email": "gq@example.com", "status": "inactive", "teamIds": []},
        {"id": m[8], "displayName": "Not Yet", "email": "notyet@example.com", "status": "invited", "teamIds": []},
        {"id": m[9], "displayName": "", "email": "empty.name@example.com", "status": "active", "teamIds": []},
        {"id": m[10], "displayName": "<b>Bob</b><script>x()</script>", "email": "bob@example.com",
         "status": "active", "teamIds": [T_DELIVERY]},
        {"id": m[11], "displayName": "+Plus Person", "email": "plus@example.com", "status": "active", "teamIds": []},
        {"id": m[12], "displayName": "Idle Active", "email": "idle@example.com", "status": "active", "teamIds": []},
        {"id": m[13], "displayName": "Sus Pended", "email": "sus@example.com", "status": "suspended", "teamIds": []},
        {"id": m[14], "displayName": "Null Idle", "email": "nullidle@example.com", "status": None, "teamIds": []},
        {"id": m[15], "displayName": "Zoë Ångström", "email": "zoe@example.com", "status": "active", "teamIds": []},
        {"id": m[16], "displayName": "@handle", "email": "handle@example.com", "status": "active", "teamIds": []},
    ]
    ghost = "deadbeef-memb-4000-8000-000000000009"
    tasks: list[dict] = []

    def task(**fields) -> None:
        n = len(tasks) + 1
        tasks.append(api_task(_id("f", n), **{"title": f"Task {n}", "projectId": p[1], "assigneeIds": [m[1]],
                                               "dueDate": _due(3), "billableStatus": "billable", **fields}))

    # ties in every overdue sort key: same team, priority and days; titles equal casefolded
    task(title="Fix login", priority="high", dueDate=_due(5))
    task(title="fix LOGIN", priority="high", dueDate=_due(5))
    task(title="Fix login", priority="high", dueDate=_due(5))
    task(title="Straße", priority="high", dueDate=_due(5), assigneeIds=[m[2]])
    task(title="STRASSE", priority="high", dueDate=_due(5), assigneeIds=[m[2]])
    # formula-like and hostile titles
    task(title="=HYPERLINK(\"http://evil.example\",\"x\")", priority="urgent", dueDate=_due(1))
    task(title="-2+3", priority="urgent", dueDate=_due(1), assigneeIds=[m[10]])
    task(title="+SUM(1)", priority="urgent", dueDate=_due(2), assigneeIds=[m[11]])
    task(title="@mention", priority="low", dueDate=_due(40), assigneeIds=[m[16]])
    task(title="\tTabbed", priority="low", dueDate=_due(8))
    task(title="\rCarriage", priority="low", dueDate=_due(30))
    task(title="<script>alert(1)</script>", priority="none", dueDate=_due(31), projectId=p[2])
    task(title="Line\nbreak, \"quoted\"", priority=None, dueDate=_due(7), projectId=p[2])
    task(title="🚀 ünïcödé 設計 مراجعة", priority="critical", dueDate=_due(9), projectId=p[3])
    task(title="Upper priority", priority="URGENT", dueDate=_due(9), projectId=p[3])
    # team fallbacks: task team wins over the project's, null on both, unknown/unnamed teams
    task(title="Own team", teamId=T_FORMULA, projectId=p[1], dueDate=_due(12))
    task(title="No project no team", projectId=None, dueDate=_due(12), billableStatus=None)
    task(title="Dangling project", projectId="deadbeef-proj-4000-8000-000000000002", dueDate=_due(13))
    task(title="Dangling project w team", projectId="deadbeef-proj-4000-8000-000000000003", teamId=T_TIE,
         dueDate=_due(13), customerId=c[2])
    task(title="Ties team label", projectId=p[5], dueDate=_due(14))
    task(title="Formula project", projectId=p[4], dueDate=_due(15), assigneeIds=[m[6]])
    task(title="Unknown team via project", projectId=p[7], dueDate=_due(16))
    task(title="Project 8", projectId=p[8], dueDate=_due(16), assigneeIds=[m[2]])
    # customers: task's own, the project's, dangling on task, dangling via project
    task(title="Own customer", customerId=c[2], dueDate=None)
    task(title="Dangling customer", customerId="deadbeef-cust-4000-8000-000000000004", dueDate=_due(20))
    task(title="Dangling customer via project", projectId=p[6], dueDate=_due(21))
    task(title="Customer without name", projectId=p[5], dueDate=None, billableStatus="nonBillable")
    # statuses: null, unknown (open), closed
    task(title="Null status", status=None, dueDate=_due(22))
    task(title="Unknown status", status="blocked", dueDate=_due(22))
    task(title="Upper DONE is unknown", status="DONE", dueDate=_due(22))
    for status in ("done", "cancelled", "duplicate"):
        task(title=f"Closed {status}", status=status, dueDate=_due(50), assigneeIds=[m[7], m[8]])
    # due dates: none, today, a timestamp, tomorrow
    task(title="Due today", dueDate=AS_OF.isoformat())
    task(title="Due timestamp", dueDate=_due(2) + "T23:59:59.000Z")
    task(title="Due tomorrow", dueDate=(AS_OF + timedelta(days=1)).isoformat())
    task(title="No due", dueDate=None, billableStatus="Billable")
    # assignees: duplicates, dangling, none, null, inactive/invited/null-status/suspended
    task(title="Duplicate assignees", assigneeIds=[m[1], m[1], m[2], m[1]], dueDate=_due(6))
    task(title="Ghost assignee", assigneeIds=[ghost, m[1]], dueDate=_due(6))
    task(title="Ghost twice", assigneeIds=[ghost, ghost], dueDate=None, billableStatus="nonBillable")
    task(title="Nobody", assigneeIds=[], dueDate=_due(6))
    task(title="Null assignees", assigneeIds=None, dueDate=_due(60), billableStatus=None)
    task(title="Leaver work", assigneeIds=[m[3]], dueDate=_due(4))
    task(title="Invitee work", assigneeIds=[m[4]], dueDate=None)
    task(title="Null-status work", assigneeIds=[m[5]], dueDate=_due(4))
    task(title="Suspended work", assigneeIds=[m[13]], dueDate=_due(4), billableStatus="nonBillable")
    task(title="Empty display name", assigneeIds=[m[9], m[15]], dueDate=_due(4))
    # billable_share rounding half-up: Zoë 1 of 16 = 6.25 -> 6.3, 1 of 8 = 12.5; Ann gets many
    for i in range(15):
        task(title=f"Zoë filler {i:02d}", assigneeIds=[m[15]], dueDate=None, billableStatus="nonBillable")
    for i in range(6):
        task(title=f"Plus filler {i}", assigneeIds=[m[11]], dueDate=None,
             billableStatus="billable" if i == 0 else None)
    for i in range(3):  # m2 (ann) 2 of 3 billable etc.; ties on open count between Ann/ann
        task(title=f"ann filler {i}", assigneeIds=[m[2]], dueDate=None,
             billableStatus="billable" if i else "nonBillable")
    # empty-string ids mean no id: no team of its own (falls back to the project's), no customer
    task(title="Empty team id", teamId="", customerId="", dueDate=_due(3), assigneeIds=["", m[2]])
    task(title="Empty ids, project's team", teamId="", projectId=p[1], dueDate=_due(3))
    return {"customers": customers, "projects": projects, "members": members, "tasks": tasks}


def _run_plain(url: str, secret: str, out: Path, teams: Path) -> None:
    env = dict(os.environ, PIKE_API_BASE_URL=url, PIKE_API_SECRET=secret,
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "benchmarks.plain_script", "--as-of", AS_OF.isoformat(), "--out", str(out),
                    "--teams-config", str(teams)], env=env, check=True, cwd=REPO, timeout=120)


def _normalised(path: Path) -> bytes:
    return path.read_bytes().replace(b"\r\n", b"\n")


def _diff(ours: bytes, plain: bytes) -> str:
    import difflib

    lines = difflib.unified_diff(plain.decode().splitlines(), ours.decode().splitlines(),
                                 "plain_script", "ours", lineterm="", n=1)
    return "\n".join(list(lines)[:60])


@pytest.fixture(params=["demo", "hostile"])
def workspace_server(request):
    server = start_sandbox(today=AS_OF) if request.param == "demo" else start_sandbox(hostile_workspace())
    yield server
    server.stop()


def test_reports_match_the_independent_script(prefect_harness, workspace_server, tmp_path, point_api):
    from flows.all_reports import run_all_reports

    teams = tmp_path / "teams.yaml"
    teams.write_text(TEAMS_YAML, encoding="utf-8")
    point_api(workspace_server)
    _run_plain(workspace_server.url, workspace_server.secret, tmp_path / "plain", teams)
    run_all_reports(as_of=AS_OF, output_dir=str(tmp_path / "ours"), teams_config=str(teams))

    differences = []
    for report, name in CSVS:
        ours = _normalised(tmp_path / "ours" / report / AS_OF.isoformat() / name)
        plain = _normalised(tmp_path / "plain" / name)
        if ours != plain:
            differences.append(f"{name}:\n{_diff(ours, plain)}")
    assert not differences, "\n\n".join(differences)


# --- due_soon.csv and changes.csv: pure functions against the plain script, in-process ------------------

DAY2 = AS_OF + timedelta(days=2)
SCOPE = (T_DELIVERY, T_FORMULA)  # team filter of the scoped runs: moves to other teams leave it


def with_due_soon(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """``data`` plus a copy of every task due between as_of - 1 and as_of + 7 (both ends just
    outside the due-soon window), some as timestamps: hostile titles and ties in the window."""
    tasks = list(data["tasks"])
    for k, record in enumerate(data["tasks"]):
        due = (AS_OF + timedelta(days=k % 9 - 1)).isoformat() + ("T23:59:59.000Z" if k % 5 == 0 else "")
        tasks.append(dict(record, id=_id("a", k + 1), dueDate=due))
    return {**data, "tasks": tasks}


def next_day(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Day 2 (``DAY2``): day 1's records with every kind of change Report 4 names, and new ones."""
    teams = (T_DELIVERY, T_FORMULA, T_NONAME, T_TIE, None)
    tasks = []
    for k, record in enumerate(data["tasks"]):
        record = dict(record)
        rule = k % 8
        if rule == 0:
            record["status"] = ("done", "cancelled", "duplicate")[k % 3]
        elif rule == 1:
            continue  # gone from the listing
        elif rule == 2:
            record["dueDate"] = None if k % 2 else (DAY2 + timedelta(days=k % 4)).isoformat()
        elif rule == 3:
            record["teamId"] = teams[k % len(teams)]
        elif rule == 4:
            record["title"] = "=" + str(record.get("title"))  # B's title stays on resolved rows
            record["priority"] = "urgent"
        elif rule == 5:
            record["status"] = None if k % 2 else "blocked"  # still open: today's status
        tasks.append(record)
    titles = ("=NEW()", "-new", "@new", "\tnew", "\rnew", "'=literal", "'quoted", "+1", "Plain new", "plain NEW")
    for k, title in enumerate(titles):
        tasks.append(api_task(_id("b", k + 1), title=title, status=(None, "toDo", "blocked")[k % 3],
                              priority=("urgent", None, "low", "high")[k % 4], teamId=teams[k % len(teams)],
                              dueDate=(DAY2 - timedelta(days=1 + k % 3)).isoformat()))
    return {**data, "tasks": tasks}


def _workspace(name: str) -> dict[str, list[dict]]:
    return with_due_soon(generate_workspace(today=AS_OF) if name == "demo" else hostile_workspace())


def _resolved(data: dict[str, list[dict]], teams: Path):
    frames = fr.build_frames(data["projects"], data["tasks"], data["customers"], data["members"])
    return tf.resolve_tasks(frames, read_teams_source(str(teams)).team_names())


def _compare(ours: bytes, plain_path: Path, name: str) -> str | None:
    plain_bytes = _normalised(plain_path)
    ours = ours.replace(b"\r\n", b"\n")
    return None if ours == plain_bytes else f"{name}:\n{_diff(ours, plain_bytes)}"


@pytest.mark.parametrize("scoped", [False, True], ids=["workspace", "team-filter"])
@pytest.mark.parametrize("name", ["demo", "hostile"])
def test_due_soon_and_changes_match_the_independent_script(name, scoped, tmp_path):
    teams = tmp_path / "teams.yaml"
    teams.write_text(TEAMS_YAML, encoding="utf-8")
    names = plain.load_team_names(str(teams))
    team_ids = list(SCOPE) if scoped else None
    day1 = _workspace(name)
    day2 = next_day(day1)

    plain.build_reports(day1, AS_OF, names, tmp_path / "plain1", team_ids)
    plain.build_reports(day2, DAY2, names, tmp_path / "plain2", team_ids, baseline=tmp_path / "plain1" / "overdue.csv",
                        baseline_as_of=AS_OF)

    resolved1 = _resolved(day1, teams)
    resolved2 = _resolved(day2, teams)
    overdue1 = tf.overdue_tasks(resolved1, AS_OF, team_ids)
    overdue2 = tf.overdue_tasks(resolved2, DAY2, team_ids)
    stored = co.csv_bytes(overdue1, co.OVERDUE_COLUMNS)  # what the store holds for day 1
    changes1 = ch.compute_changes(overdue1, None, resolved1, AS_OF, team_ids)
    changes2 = ch.compute_changes(overdue2, ch.read_report_rows(stored), resolved2, DAY2, team_ids,
                                  baseline_as_of=AS_OF)
    ours = {
        "plain1/overdue.csv": stored,
        "plain1/due_soon.csv": co.csv_bytes(tf.due_soon_tasks(resolved1, AS_OF, team_ids), co.DUE_SOON_COLUMNS),
        "plain1/changes.csv": co.csv_bytes(changes1, co.CHANGES_COLUMNS),
        "plain2/overdue.csv": co.csv_bytes(overdue2, co.OVERDUE_COLUMNS),
        "plain2/due_soon.csv": co.csv_bytes(tf.due_soon_tasks(resolved2, DAY2, team_ids), co.DUE_SOON_COLUMNS),
        "plain2/changes.csv": co.csv_bytes(changes2, co.CHANGES_COLUMNS),
    }
    differences = [d for path, data in ours.items() if (d := _compare(data, tmp_path / path, path))]
    assert not differences, "\n\n".join(differences)

    # the data exercise what they are meant to
    assert ours["plain1/changes.csv"] == (",".join(co.CHANGES_COLUMNS) + "\r\n").encode()
    assert tf.due_soon_tasks(resolved1, AS_OF, team_ids)["days_left"].nunique() == 7
    reasons = set(changes2.loc[changes2["change"] == "resolved", "reason"])
    assert reasons == ({"gone", "closed", "rescheduled", "out_of_scope"} if scoped
                       else {"gone", "closed", "rescheduled"})
    assert set(changes2.loc[changes2["change"] == "new", "reason"]) == {"became_overdue", "added"}
    new_titles = set(changes2.loc[changes2["change"] == "new", "title"])
    assert {"=NEW()", "'=literal", "\tnew"} <= new_titles or scoped


# --- the change view end to end: two days of flow runs into one store, against the plain script ---


@pytest.mark.parametrize("scoped", [False, True], ids=["workspace", "team-filter"])
def test_two_days_of_flow_runs_into_one_store_match_the_plain_script(prefect_harness, scoped, tmp_path, point_api):
    """Day 1 then day 2 through the real flow and the real store (baseline read back from the
    stored day-1 report), compared byte for byte with the plain script; day 2 re-run is identical."""
    from flows.overdue import report_overdue_tasks

    teams = tmp_path / "teams.yaml"
    teams.write_text(TEAMS_YAML, encoding="utf-8")
    names = plain.load_team_names(str(teams))
    team_ids = list(SCOPE) if scoped else None
    day1 = _workspace("hostile")
    day2 = next_day(day1)
    plain.build_reports(day1, AS_OF, names, tmp_path / "plain1", team_ids)
    plain.build_reports(day2, DAY2, names, tmp_path / "plain2", team_ids, baseline=tmp_path / "plain1" / "overdue.csv",
                        baseline_as_of=AS_OF)

    store = tmp_path / "store"
    folders = {}
    for day, data in ((AS_OF, day1), (DAY2, day2), (DAY2, day2)):
        with start_sandbox(data) as server:
            point_api(server)
            result = report_overdue_tasks(as_of=day, team_ids=team_ids, output_dir=str(store), teams_config=str(teams))
        folders.setdefault(day, []).append(Path(result["overdue"]))
        if len(folders[day]) == 1:
            snapshot = {p.name: p.read_bytes() for p in folders[day][0].iterdir() if p.suffix in (".csv", ".json")}
            folders[day].append(snapshot)

    differences = []
    for day, plain_dir in ((AS_OF, "plain1"), (DAY2, "plain2")):
        folder = folders[day][0]
        assert (folder.parents[2].name == "filtered") == scoped  # a filtered run is stored apart
        for name in ("overdue.csv", "due_soon.csv", "changes.csv"):
            if d := _compare((folder / name).read_bytes(), tmp_path / plain_dir / name, f"{day} {name}"):
                differences.append(d)
    assert not differences, "\n\n".join(differences)

    rerun = {p.name: p.read_bytes() for p in folders[DAY2][0].iterdir() if p.suffix in (".csv", ".json")}
    assert rerun == folders[DAY2][1]  # the re-run of day 2 reads the same baseline: byte-identical

    summary = json.loads((folders[DAY2][0] / "summary.json").read_text(encoding="utf-8"))
    plain_changes = list(csv.reader(io.StringIO((tmp_path / "plain2" / "changes.csv").read_text(encoding="utf-8"),
                                                newline="")))[1:]
    assert summary["baseline_as_of"] == AS_OF.isoformat()
    assert summary["new"] == sum(r[0] == "new" for r in plain_changes) > 0
    assert summary["resolved"] == sum(r[0] == "resolved" for r in plain_changes) > 0
    assert sum(t["new"] + t["resolved"] for t in summary["changes_by_team"]) == len(plain_changes)
    day1_count = len(list(csv.reader(io.StringIO((tmp_path / "plain1" / "overdue.csv").read_text(encoding="utf-8"),
                                                 newline="")))) - 1
    assert [p["as_of"] for p in summary["history"]] == [AS_OF.isoformat(), DAY2.isoformat()]
    assert [p["overdue_tasks"] for p in summary["history"]] == [day1_count, summary["totals"]["overdue_tasks"]]
    first = json.loads(folders[AS_OF][1]["summary.json"])
    assert first["baseline_as_of"] is None and first["new"] == 0 and first["resolved"] == 0
    undated = sum(1 for t in day2["tasks"]
                  if not t.get("dueDate") and t.get("status") not in ("done", "cancelled", "duplicate"))
    without_due = summary["open_without_due_date"]["total"]
    assert without_due <= undated and (scoped or without_due == undated)
