"""The tests' record builders, in one place: API-shaped task records and resolved task rows.

Every value is a plain literal a test can read and reason about; nothing here calls the code
under test. A test module binds its own defaults once::

    task = task_builder(teamId=TEAM_A)            # task(1) -> {"id": "t1", "title": "Task 1", ...}
    task(2, dueDate="2026-04-01", assigneeIds=["m1"])

and a resolved row (``transforms.resolve_tasks`` output, as the digest and page tests start from)::

    resolved_task("a", team_id="T1", team="Delivery", status="toDo", due=date(2026, 4, 1),
                  assignee_ids=["m1"], assignee_labels=["Ada Lovelace"])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# Every field the list endpoint sends for a task, in the API's order (REPORTS.md, the sandbox).
TASK_FIELDS: dict[str, Any] = {
    "title": None, "status": "toDo", "priority": "medium", "projectId": None, "teamId": None,
    "customerId": None, "assigneeIds": [], "dueDate": None, "billableStatus": None,
}
# The priority order of REPORTS.md as the resolved rows carry it (unknown or missing: 4, last).
PRIORITY_RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
CLOSED_STATUSES = ("done", "cancelled", "duplicate")


def api_task(task_id: str, **fields: Any) -> dict[str, Any]:
    """An API-shaped task record (camelCase): ``TASK_FIELDS`` with ``fields`` on top.

    A field set to None stays in the record as null, as the API may send it; a list default is
    a fresh list per record.
    """
    record: dict[str, Any] = {"id": task_id}
    for name, default in TASK_FIELDS.items():
        record[name] = list(default) if isinstance(default, list) else default
    record.update(fields)
    return record


def task_builder(**defaults: Any) -> Callable[..., dict[str, Any]]:
    """``task(n, **fields)``: the API task ``t<n>`` titled ``Task <n>``, ``defaults`` then ``fields``
    on top of ``TASK_FIELDS``."""

    def task(n: int | str, **fields: Any) -> dict[str, Any]:
        return api_task(f"t{n}", **{"title": f"Task {n}", **defaults, **fields})

    return task


def resolved_task(
    task_id: str, *, team_id: str | None, team: str, status: str | None, due: Any,
    assignee_ids: Sequence[str] = (), assignee_labels: Sequence[str] = (), priority: str | None = "high",
    title: str | None = None, description: str | None = None, billable: str | None = "billable",
    project_id: str | None = None, project: str = "No project", customer_id: str | None = None,
    customer: str = "No customer",
) -> dict[str, Any]:
    """A resolved task row (``transforms.RESOLVED_COLUMNS``), its labels given, not derived."""
    labels = list(assignee_labels)
    return {
        "task_id": task_id, "title": title or f"Task {task_id}", "description": description, "status": status,
        "priority": priority, "priority_rank": PRIORITY_RANK.get(priority, 4),  # type: ignore[arg-type]
        "is_open": status not in CLOSED_STATUSES, "due_date": due, "project_id": project_id,
        "project": project, "team_id": team_id, "team": team, "customer_id": customer_id,
        "customer": customer, "assignee_ids": list(assignee_ids), "assignees": labels or ["Unassigned"],
        "assignees_text": "; ".join(labels) or "Unassigned", "billable_status": billable,
    }
