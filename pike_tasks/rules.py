"""The rules of ../shared/REPORTS.md as plain values and scalar functions: their one home.

Every module that applies a rule (the pandas transforms, the change view, the CSV writer, the
words people read, the page and digest views) takes it from here, so changing "No priority",
a CSV column or where an age bucket starts is one line. No pandas, no numpy, no I/O: the
transforms vectorise what is written here once (``AGE_BUCKET_STARTS``, ``half_up_tenths``) and
tests check that the vectorised forms agree with these.
"""

from __future__ import annotations

from datetime import UTC, datetime

# --- statuses and priorities --------------------------------------------------------------------

CLOSED_STATUSES = frozenset({"done", "cancelled", "duplicate"})
KNOWN_STATUSES = CLOSED_STATUSES | {"toDo", "inProgress", "inReview", "backlog"}
PRIORITY_ORDER = ("urgent", "high", "medium", "low", "none")  # most to least urgent
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITY_ORDER)}
NONE_RANK = PRIORITY_RANK["none"]  # null or unknown priorities sort and count as none
PRIORITY_WORDS = {"urgent": "Urgent", "high": "High", "medium": "Medium", "low": "Low", "none": "No priority"}


def urgency_key(priority: str | None, days_overdue: int, title: str, task_id: str) -> tuple[int, int, str, str]:
    """Sort key of a list of overdue tasks across teams (the new tasks of the page and the digest):
    priority (urgent -> none; null or unknown is none), then days overdue, most first, then title
    (casefold), then task id."""
    rank = PRIORITY_RANK.get(priority or "", NONE_RANK)
    return rank, -int(days_overdue), str(title).casefold(), str(task_id)

# --- age buckets (Report 1) ----------------------------------------------------------------------

# (bucket, first day, label, css key): a task `days_overdue` days late is in the last bucket
# whose first day it has reached. The css key is ours, never data.
AGE_BUCKET_RULES: tuple[tuple[str, int, str, str], ...] = (
    ("1-7", 1, "1–7 days", "a1"),
    ("8-30", 8, "8–30 days", "a2"),
    ("31+", 31, "31+ days", "a3"),
)
AGE_BUCKETS = tuple(bucket for bucket, *_ in AGE_BUCKET_RULES)
AGE_BUCKET_STARTS = tuple(start for _, start, *_ in AGE_BUCKET_RULES)
OLDEST_AGE_KEY = AGE_BUCKET_RULES[-1][3]  # the bucket whose tasks the digest shows in bold


def age_bucket(days_overdue: int) -> str:
    """The age bucket of a task ``days_overdue`` days late (``1-7``, ``8-30``, ``31+``)."""
    found = AGE_BUCKETS[0]
    for bucket, start, _, _ in AGE_BUCKET_RULES:
        if int(days_overdue) >= start:
            found = bucket
    return found


# --- due soon ------------------------------------------------------------------------------------

DUE_SOON_DAYS = 6  # due soon: as_of <= dueDate <= as_of + 6 days

# --- labels --------------------------------------------------------------------------------------

NO_TEAM = "No team"
NO_PROJECT = "No project"
UNKNOWN_PROJECT = "Unknown project"
NO_CUSTOMER = "No customer"
UNKNOWN_CUSTOMER = "Unknown customer"
UNASSIGNED = "Unassigned"
ID_PREFIX_CHARS = 8  # how much of an id the fallback labels show


def team_fallback(team_id: str) -> str:
    """A team without a configured name: ``Team <first 8 characters of the id>``."""
    return "Team " + str(team_id)[:ID_PREFIX_CHARS]


def team_label(team_id: str | None, names: dict[str, str] | None = None) -> str:
    """The configured name when non-empty, else the fallback; "No team" for no id."""
    if not team_id:
        return NO_TEAM
    return (names or {}).get(team_id) or team_fallback(team_id)


UNKNOWN_MEMBER_PREFIX = "Unknown member "  # + id8: an assignee id not in /members
NAMELESS_MEMBER_PREFIX = "Member "  # + id8: a listed member with neither displayName nor email

# --- rounding ------------------------------------------------------------------------------------


def half_up_tenths(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` as a percentage in tenths, rounded half-up (0 when the
    denominator is 0), in exact integer arithmetic: ``floor((2000 n + d) / 2d)``.

    ``half_up_tenths(1, 16) == 63`` (6.3 %), ``(1, 8) == 125``, ``(2, 3) == 667``.
    """
    n, d = int(numerator), int(denominator)
    return (2000 * n + d) // (2 * d) if d > 0 else 0


def share_pct(part: int, whole: int) -> float:
    """REPORTS.md's ``billable_share``: a percentage rounded half-up to one decimal (0.0 when
    ``whole`` is 0)."""
    return half_up_tenths(part, whole) / 10.0


# --- what changed (Report 4) ---------------------------------------------------------------------

NEW = "new"
RESOLVED = "resolved"
BECAME_OVERDUE = "became_overdue"  # a new row whose due date is on or after the baseline's date
ADDED = "added"  # a new row already past due on the baseline's date
RESOLVED_REASONS = ("gone", "closed", "rescheduled", "out_of_scope")  # the first that applies
HISTORY_LENGTH = 8  # the trend's points

# --- files and their columns ---------------------------------------------------------------------

OVERDUE_CSV = "overdue.csv"
DUE_SOON_CSV = "due_soon.csv"
CHANGES_CSV = "changes.csv"
WORKLOAD_CSV = "workload.csv"
WORKLOAD_BY_CUSTOMER_CSV = "workload_by_customer.csv"
SUMMARY_JSON = "summary.json"
INDEX_HTML = "index.html"

OVERDUE_COLUMNS = (
    "task_id", "team_id", "team", "title", "project", "customer", "assignees", "priority", "status",
    "due_date", "days_overdue",
)
DUE_SOON_COLUMNS = (
    "task_id", "team_id", "team", "title", "project", "customer", "assignees", "priority", "status",
    "due_date", "days_left",
)
CHANGES_COLUMNS = (
    "change", "reason", "task_id", "team_id", "team", "title", "priority", "status", "due_date", "days_overdue",
)
WORKLOAD_COLUMNS = (
    "member_id", "member", "status", "open", "billable", "non_billable", "unclassified",
    "billable_share", "overdue", "flag",
)
WORKLOAD_BY_CUSTOMER_COLUMNS = ("customer_id", "customer", "open_tasks", "billable_tasks", "assignees", "projects")
SHARE_COLUMNS = frozenset({"billable_share"})  # written with one decimal, no % sign
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a text cell starting so gets a leading '

# --- when a report was made ----------------------------------------------------------------------


def generated_at(now: datetime | None = None) -> str:
    """The footer's time: ``2026-04-09 07:00 UTC``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
