"""A small workspace for digest tests: one manager of two teams with something in every part
of the digest (new, resolved for each reason, due soon, still overdue, an inactive holder),
plus a third team with its own manager whose rows must never leak into the first digest."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from records import resolved_task

from pike_tasks import transforms
from pike_tasks.changes import compute_changes

AS_OF = date(2026, 4, 9)
BASELINE = date(2026, 4, 2)
TEAMS = {
    "T1": {"name": "Delivery", "managers": ["lead@example.com"]},
    "T2": {"name": "Platform", "managers": ["lead@example.com"]},
    "T3": {"name": "Design", "managers": ["design@example.com"]},
}
NAMES = {"m1": "Ada Lovelace", "m2": "Grace Hopper", "m5": "Sam Inactive", "m6": "Dee Design"}
LONG_TITLE = "Migrate-the-billing-export-to-the-new-warehouse-schema-without-downtime-" * 2


def day(n: int) -> date:
    return AS_OF + timedelta(days=n)


def task(task_id, team, status, due, assignees, priority="high", title=None, description=None, billable="billable"):
    return resolved_task(task_id, team_id=team, team=TEAMS[team]["name"], status=status, due=due,
                         assignee_ids=assignees, assignee_labels=[NAMES[a] for a in assignees], priority=priority,
                         title=title, description=description, billable=billable)


def resolved_tasks() -> pd.DataFrame:
    return pd.DataFrame([
        task("a", "T1", "inProgress", day(-8), ["m1"], "high", "Fix invoice rounding"),
        task("n1", "T1", "toDo", day(-2), ["m1"], "urgent", "Renew TLS certificate"),
        task("n2", "T2", "inReview", day(-1), ["m2"], "medium", "Rotate API keys",
             description="<p>Keys for <b>staging</b> and prod.</p>"),
        task("c", "T2", "toDo", day(-39), ["m5"], "low", "Archive old dashboards"),
        task("c2", "T2", "backlog", day(-20), ["m5"], None, "Document the deploy runbook"),
        task("long", "T2", "toDo", day(-12), ["m2"], "high", LONG_TITLE),
        task("s1", "T1", "toDo", day(0), ["m1"], "high", "Send the April forecast"),
        task("s2", "T2", "toDo", day(3), ["m2"], "low", "Review on-call rota"),
        task("s3", "T3", "toDo", day(1), ["m6"], "urgent", "Design review (other team)"),
        task("r1", "T1", "done", day(-5), ["m1"], "high", "Ship release notes"),
        task("r3", "T1", "toDo", day(10), ["m1"], "medium", "Plan the offsite"),
        task("x", "T3", "toDo", day(-3), ["m6"], "high", "Design task (other team)"),
    ])


def members() -> pd.DataFrame:
    return pd.DataFrame([
        {"member_id": "m1", "display_name": NAMES["m1"], "email": "ada@example.com", "status": "active",
         "team_ids": ["T1"]},
        {"member_id": "m2", "display_name": NAMES["m2"], "email": "grace@example.com", "status": "active",
         "team_ids": ["T2"]},
        {"member_id": "m5", "display_name": NAMES["m5"], "email": "sam@example.com", "status": "inactive",
         "team_ids": ["T2"]},
        {"member_id": "m6", "display_name": NAMES["m6"], "email": "dee@example.com", "status": "active",
         "team_ids": ["T3"]},
    ])


def baseline_rows() -> pd.DataFrame:
    """B's overdue.csv as read back (text cells, days_overdue int), as of BASELINE."""
    def row(task_id, team, title, priority, due, days):
        return {"task_id": task_id, "team_id": team, "team": TEAMS[team]["name"], "title": title,
                "project": "No project",
                "customer": "No customer", "assignees": "", "priority": priority, "status": "toDo",
                "due_date": due.isoformat(), "days_overdue": days}
    return pd.DataFrame([
        row("c", "T2", "Archive old dashboards", "low", day(-39), 32),
        row("c2", "T2", "Document the deploy runbook", "", day(-20), 13),
        row("long", "T2", LONG_TITLE, "high", day(-12), 5),
        row("a", "T1", "Fix invoice rounding", "high", day(-8), 1),
        row("r1", "T1", "Ship release notes", "high", day(-10), 3),
        row("r3", "T1", "Plan the offsite", "medium", day(-9), 2),
        row("r2", "T2", "Clean up feature flags", "medium", day(-11), 4),  # gone from Pike today
        row("r4", "T3", "Design thing resolved", "high", day(-9), 2),       # another manager's team
        row("x", "T3", "Design task (other team)", "high", day(-3), 0),
    ])


def inputs() -> dict:
    """Everything ``build_digests`` takes for the sample run (with a baseline)."""
    resolved = resolved_tasks()
    overdue = transforms.overdue_tasks(resolved, AS_OF)
    baseline = baseline_rows()
    changes = compute_changes(overdue, baseline, resolved, AS_OF, baseline_as_of=BASELINE)
    return {
        "resolved": resolved, "members": members(), "overdue_rows": overdue, "teams_config_teams": TEAMS,
        "as_of": AS_OF, "changes": changes, "due_soon_rows": transforms.due_soon_tasks(resolved, AS_OF),
        "baseline_as_of": BASELINE,
    }
