"""build_digests (REPORTS.md Report 3) with tiny frames and hand-computed expectations, and
the send-manager-digests flow end to end against the sandbox and a loopback SMTP server.

Needs ``pike_tasks.transforms`` (resolve/overdue/workload); skipped until it exists.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

transforms = pytest.importorskip("pike_tasks.transforms")

from pike_tasks.digest import build_digests  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from smtp_server import RecordingSmtpServer  # noqa: E402

AS_OF = date(2026, 4, 9)
TEAMS = {
    "T1": {"name": "Delivery", "managers": ["Lead@Example.com"]},
    "T2": {"name": "Platform", "managers": ["p@example.com", "lead@example.com"]},
    "T3": {"name": "Design", "managers": ["d@example.com"]},
}
RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


def task(task_id, team, status, due, assignees, billable, priority="high"):
    return {
        "task_id": task_id, "title": f"Task {task_id}", "description": None, "status": status,
        "priority": priority, "priority_rank": RANK.get(priority, 4), "is_open": status not in ("done", "cancelled", "duplicate"),
        "due_date": due, "project_id": None, "project": "No project", "team_id": team,
        "team": TEAMS[team]["name"], "customer_id": None, "customer": "No customer",
        "assignee_ids": assignees, "assignees": [f"Member {a}" for a in assignees] or ["Unassigned"],
        "assignees_text": "; ".join(f"Member {a}" for a in assignees) or "Unassigned", "billable_status": billable,
    }


@pytest.fixture
def frames():
    resolved = pd.DataFrame([
        task("a", "T1", "toDo", date(2026, 4, 1), ["m1"], "billable"),        # 8 days overdue
        task("b", "T3", "inProgress", None, ["m1"], "nonBillable"),           # m1's work in another team
        task("c", "T2", "toDo", date(2026, 4, 8), ["m2"], "billable"),         # 1 day overdue
        task("d", "T3", "toDo", date(2026, 3, 1), ["m3"], None, "urgent"),     # 39 days overdue
        task("e", "T1", "done", date(2026, 1, 1), ["m1"], "billable"),         # closed
    ])
    members = pd.DataFrame([
        {"member_id": "m1", "display_name": "Member m1", "email": "m1@example.com", "status": "active", "team_ids": ["T1"]},
        {"member_id": "m2", "display_name": "Member m2", "email": "m2@example.com", "status": "active", "team_ids": ["T2"]},
        {"member_id": "m3", "display_name": "Member m3", "email": "m3@example.com", "status": "active", "team_ids": ["T3"]},
        {"member_id": "m4", "display_name": "Member m4", "email": "m4@example.com", "status": "inactive", "team_ids": ["T1"]},
    ])
    return resolved, members


def test_one_digest_per_manager_address_casefolded_and_sorted(frames):
    resolved, members = frames
    rows = transforms.overdue_tasks(resolved, AS_OF)
    digests = build_digests(resolved, members, rows, TEAMS, AS_OF)
    assert [d.recipient.casefold() for d in digests] == ["d@example.com", "lead@example.com", "p@example.com"]
    lead = digests[1]
    assert lead.recipient == "Lead@Example.com"  # as first written in the config
    assert lead.team_ids == ("T1", "T2") and lead.team_names == ("Delivery", "Platform")
    assert list(lead.overdue_rows["task_id"]) == ["a", "c"] and lead.overdue_count == 2
    assert list(lead.team_summary["team"]) == ["Delivery", "Platform"]
    assert lead.subject == "Pike digest 2026-04-09: 2 overdue tasks (Delivery, Platform)"
    design = digests[0]
    assert list(design.overdue_rows["task_id"]) == ["d"]
    assert design.subject == "Pike digest 2026-04-09: 1 overdue task (Design)"


def test_workload_counts_members_tasks_in_every_team(frames):
    resolved, members = frames
    digests = {d.recipient.casefold(): d for d in build_digests(resolved, members, transforms.overdue_tasks(resolved, AS_OF), TEAMS, AS_OF)}
    lead = digests["lead@example.com"].workload.set_index("member_id")
    # m1 (Delivery) holds a (T1, billable) and b (T3, non-billable); m4 is inactive with no open task: no row
    assert sorted(lead.index) == ["m1", "m2"]
    assert (lead.loc["m1", "open"], lead.loc["m1", "billable"], lead.loc["m1", "non_billable"]) == (2, 1, 1)
    assert lead.loc["m1", "overdue"] == 1 and lead.loc["m2", "open"] == 1
    design = digests["d@example.com"].workload
    assert list(design["member_id"]) == ["m3"]  # b is in Design but m1 is not a member of Design


def test_team_filter_limits_digests(frames):
    resolved, members = frames
    digests = build_digests(resolved, members, transforms.overdue_tasks(resolved, AS_OF), TEAMS, AS_OF, team_ids=["T2"])
    assert [(d.recipient.casefold(), d.team_ids) for d in digests] == [("lead@example.com", ("T2",)), ("p@example.com", ("T2",))]
    assert digests[0].team_filter == ("T2",)


@pytest.fixture
def flow_env(sandbox, tmp_path, monkeypatch, prefect_harness):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    monkeypatch.setenv("PIKE_REPORTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PIKE_REPORTS_EMAIL_FROM", "reports@example.com")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        yield tmp_path


def test_flow_sends_one_digest_per_manager_once(flow_env, monkeypatch):
    from flows.digest import send_manager_digests

    teams = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    with RecordingSmtpServer() as smtp:
        monkeypatch.setenv("PIKE_REPORTS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("PIKE_REPORTS_SMTP_SECURITY", "none")
        out = send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"))
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
            "data.lead@example.com", "delivery.lead@example.com", "design.lead@example.com", "platform.lead@example.com"]
        platform = smtp.to("platform.lead@example.com")[0].message
        assert "(Data, Platform)" in platform["Subject"]
        send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"))
        assert len(smtp.messages) == 4
    assert (Path(out["digest"]) / "summary.json").is_file()


def test_flow_dry_run_writes_eml(flow_env):
    from flows.digest import send_manager_digests

    teams = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    out = send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"), dry_run=True)
    assert len(list(Path(out["digest"]).glob("*.eml"))) == 4
