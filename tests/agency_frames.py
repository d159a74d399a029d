"""A workspace at agency size (60+ teams, hundreds of overdue tasks each), as resolved frames.

The sandbox generator knows only the four demo teams; the overdue pages depend on the resolved
tasks, not on how they were fetched, so the tests of the pages at scale start from a frame shaped
like ``transforms.resolve_tasks`` output (``transforms.RESOLVED_COLUMNS``).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from records import resolved_task

from pike_tasks import transforms

AGENCY_TEAMS = 65
AGENCY_ROWS_PER_TEAM = 260  # above the old 250-row cap of the page
HOSTILE_TEAM = '<script>alert("team")</script>'

_DESCRIPTIONS = [None, None, "Plain text notes, no markup.", "<p>Enable SAML and test IdP metadata.</p>",
                 "<p>See the <a href=\"https://example.com/spec\">spec</a> and <strong>confirm</strong> scope.</p>",
                 "<ul><li>Collect logs</li><li>Reproduce</li><li>Fix</li></ul>",
                 "<p>Blocked on customer feedback.</p><p>Follow up on <em>Friday</em>.</p>"]
_PRIORITIES = ["urgent", "high", "medium", "low", None]
_STATUSES = ["toDo", "inProgress", "inReview", "backlog"]


def team_id(i: int) -> str:
    return f"0b6f{i:04d}-7c1e-4d2a-9f00-{i:012d}"


def team_label(i: int) -> str:
    return HOSTILE_TEAM if i == 0 else f"Team {i:02d} Delivery"


def agency_tasks(
    as_of: date, *, teams: int = AGENCY_TEAMS, rows_per_team: int = AGENCY_ROWS_PER_TEAM,
) -> pd.DataFrame:
    """Resolved tasks: ``rows_per_team`` overdue tasks in each of ``teams`` teams, plus one due
    soon and one without a due date per team. Team 0 is named :data:`HOSTILE_TEAM`; five tasks
    in seven have a description (as in the sandbox data)."""
    records = []
    for t in range(teams):
        for k in range(rows_per_team + 2):
            rank = min(k * len(_PRIORITIES) // rows_per_team, len(_PRIORITIES) - 1)
            due = as_of - timedelta(days=1 + (k * 7) % 90) if k < rows_per_team else (
                as_of + timedelta(days=2) if k == rows_per_team else None)
            records.append(resolved_task(
                f"task-{t:03d}-{k:04d}", team_id=team_id(t), team=team_label(t),
                status=_STATUSES[k % len(_STATUSES)], due=due,
                assignee_ids=["m1", "m2"] if k % 3 else [],
                assignee_labels=["Jane Doe", "alex@example.com"] if k % 3 else [],
                priority=_PRIORITIES[rank],
                title=f"Task {k} of team {t}: migrate the reporting pipeline for the regional offices",
                description=_DESCRIPTIONS[k % len(_DESCRIPTIONS)],
                project_id=f"p{t}-{k % 4}", project=f"2026-{t:04d} · Acme rollout phase {k % 4}",
                customer_id=f"c{t % 17}", customer=f"Customer {t % 17} Holdings",
            ))
    return pd.DataFrame.from_records(records, columns=list(transforms.RESOLVED_COLUMNS))


def agency_frames(as_of: date, **sizes: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows, summary)`` of :func:`agency_tasks`, as the overdue report computes them."""
    rows = transforms.overdue_tasks(agency_tasks(as_of, **sizes), as_of)
    return rows, transforms.overdue_team_summary(rows)


def agency_workload(members: int = 16_000, customers: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Workload tables as ``transforms.workload_by_member`` / ``workload_by_customer`` give them,
    in report order, for a workspace of ``members`` people and ``customers`` customers: every
    50th person inactive and flagged (some far down the list), "Unassigned" last, one hostile name."""
    people = []
    for i in range(members):
        open_ = max(0, 400 - i // 40)
        flagged = i % 50 == 49
        billable = open_ // 2
        people.append({
            "member_id": f"m{i:06d}", "member": HOSTILE_TEAM if i == 3 else f"Person {i:05d} with a long name",
            "status": "inactive" if flagged else "active", "open": open_, "billable": billable,
            "non_billable": open_ - billable, "unclassified": 0,
            "billable_share": 50.0 if open_ else 0.0, "overdue": open_ // 10, "flag": "inactive" if flagged else "",
        })
    people.append({"member_id": "", "member": "Unassigned", "status": "", "open": 7, "billable": 0, "non_billable": 0,
                   "unclassified": 7, "billable_share": 0.0, "overdue": 1, "flag": ""})
    clients = [{"customer_id": f"c{i:06d}", "customer": f"Customer {i:05d} Holdings Ltd", "open_tasks": 90 - i // 250,
                "billable_tasks": 80 - i // 250, "assignees": 3, "projects": 2} for i in range(customers)]
    return pd.DataFrame(people), pd.DataFrame(clients)
