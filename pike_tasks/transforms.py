"""Pure: the report rules of ../shared/REPORTS.md on DataFrames (no Prefect, no HTTP).

Every function takes frames and returns new frames; inputs are never modified. Work is
vectorised: assignee lists are handled with ``explode`` and regrouped with numpy, groupbys use
built-in aggregations only (MEASURED.md: Python-lambda aggregations are the slow part).

Text order (REPORTS.md): labels compare by ``str.casefold()``, equal ones by record id. It is
implemented as a ``sort_values`` on a casefolded key column of Python ``str`` objects (object
dtype), which compares by code point exactly like Python's ``sorted``; the id is the next key.
A missing id sorts as ``""`` ("No team", "No customer").

Readings where REPORTS.md is silent (agreed with the lead, same as benchmarks/plain_script.py):

- a team name from the config is used only when non-empty, else ``Team <id[:8]>``;
- a customer with a null ``customerName`` is labelled ``""``;
- the project label is ``f"{projectNumber} · {title}"`` with null parts as ``""``;
- a listed member with neither ``displayName`` nor ``email`` is ``Member <id[:8]>``;
- a listed member's null status is an empty ``status`` cell and the flag ``unknown``;
- ``team_ids`` / ``project_ids`` / ``customer_ids`` that are None *or empty* mean "no filter".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from pike_tasks.frames import Frames, gc_paused, regroup, text_replaced
from pike_tasks.rules import (  # noqa: F401 - the rules this module applies, re-exported for its callers
    AGE_BUCKET_STARTS,
    AGE_BUCKETS,
    CLOSED_STATUSES,
    DUE_SOON_DAYS,
    ID_PREFIX_CHARS,
    KNOWN_STATUSES,
    NAMELESS_MEMBER_PREFIX,
    NO_CUSTOMER,
    NO_PROJECT,
    NO_TEAM,
    NONE_RANK,
    PRIORITY_ORDER,
    PRIORITY_RANK,
    UNASSIGNED,
    UNKNOWN_CUSTOMER,
    UNKNOWN_MEMBER_PREFIX,
    UNKNOWN_PROJECT,
    team_fallback,
)

RESOLVED_COLUMNS = (
    "task_id", "title", "description", "status", "priority", "priority_rank", "is_open", "due_date",
    "project_id", "project", "team_id", "team", "customer_id", "customer", "assignee_ids", "assignees",
    "assignees_text", "billable_status",
)
OVERDUE_ROW_COLUMNS = (
    "task_id", "team_id", "team", "title", "project", "customer", "assignees", "priority", "status",
    "due_date", "days_overdue", "priority_rank", "age_bucket", "description",
)
DUE_SOON_ROW_COLUMNS = (
    "task_id", "team_id", "team", "title", "project", "customer", "assignees", "priority", "status",
    "due_date", "days_left", "priority_rank", "description",
)
SUMMARY_COLUMNS = (
    "team_id", "team", "count", "urgent", "high", "medium", "low", "none", "oldest_days",
    "age_1_7", "age_8_30", "age_31_plus",
)
WORKLOAD_MEMBER_COLUMNS = (
    "member_id", "member", "status", "open", "billable", "non_billable", "unclassified",
    "billable_share", "overdue", "flag",
)
WORKLOAD_CUSTOMER_COLUMNS = ("customer_id", "customer", "open_tasks", "billable_tasks", "assignees", "projects")

_EPOCH = date(1970, 1, 1)


# --- small helpers -------------------------------------------------------------------------


def _nullable(column: pd.Series) -> pd.Series:
    """Object column with ``None`` for every null (map/merge leave NaN behind)."""
    column = column.astype(object)
    return column.where(column.notna(), None)


def _id_text(column: pd.Series) -> pd.Series:
    """Ids for output and sorting: ``""`` for a missing id."""
    return column.astype(object).where(column.notna(), "")


def _casefold(column: pd.Series) -> pd.Series:
    """Sort key of the text order: casefolded ``str`` (missing -> ``""``).

    Each distinct label is casefolded once (titles and team names repeat across rows).
    """
    text = column.astype(object).where(column.notna(), "")
    if not len(text):
        return text
    codes, distinct = pd.factorize(text.to_numpy(dtype=object))
    folded = np.array([str(value).casefold() for value in distinct], dtype=object)
    return pd.Series(folded[codes], index=column.index, dtype=object)


def _choose(condition: Any, if_true: Any, if_false: Any) -> np.ndarray:
    return np.where(np.asarray(condition, dtype=bool), np.asarray(if_true, dtype=object),
                    np.asarray(if_false, dtype=object))


def _pick(values: pd.Series, at: np.ndarray) -> np.ndarray:
    """``values`` at positions ``at`` as an object array, None where ``at`` is -1."""
    picked: np.ndarray = np.append(values.to_numpy(dtype=object), [None])[at]
    return picked


def _join_labels(labels: list[Any]) -> Any:
    """``"; "``-joined labels; NaN when one is not text (as ``Series.str.join`` gives)."""
    try:
        return "; ".join(labels)
    except TypeError:
        return np.nan


def _unique_index(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Frame indexed by its (non-null, first-kept) id, so ``Series.map`` can look rows up."""
    ids = frame[id_column]
    keep = ids.notna() & ~ids.duplicated(keep="first")
    return frame[keep].set_index(id_column)


def _day_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Due dates as days since 1970-01-01 (int64) and a mask of the missing ones.

    Accepts ``datetime.date`` / ``Timestamp`` / ISO text / None cells or a datetime64 column.
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        days = column.to_numpy().astype("datetime64[D]")
    else:
        # numpy converts a date object to datetime64 slowly (about 3 us each, 1.5 s for 500k
        # cells); a due-date column holds a few hundred distinct values, so convert only those.
        codes, distinct = pd.factorize(column.to_numpy(dtype=object))  # nulls -> code -1
        distinct_days = np.array(list(distinct), dtype="datetime64[D]")
        days = np.full(len(codes), np.datetime64("NaT"), dtype="datetime64[D]")
        found = codes >= 0
        days[found] = distinct_days[codes[found]]
    missing = np.isnat(days)
    return days.astype(np.int64), missing


def _as_of_number(as_of: date) -> int:
    return (as_of - _EPOCH).days


def _ranks(column: pd.Series) -> np.ndarray:
    """priority_rank cells as ints 0..4 (anything else counts as none)."""
    ranks = pd.to_numeric(column, errors="coerce").fillna(NONE_RANK).to_numpy()
    ranks = np.where(np.isin(ranks, [0, 1, 2, 3, 4]), ranks, NONE_RANK)
    return ranks.astype(np.int64)


def member_labels(members: pd.DataFrame) -> pd.Series:
    """Label of each listed member, indexed by ``member_id``: ``displayName``, else ``email``,
    else ``Member <id[:8]>`` (null and empty strings count as absent)."""
    listed = _unique_index(members, "member_id")
    ids = listed.index.to_series().astype(object).map(str)
    name = listed["display_name"].astype(object)
    email = listed["email"].astype(object)
    has_name = name.notna() & (name != "")
    has_email = email.notna() & (email != "")
    fallback = NAMELESS_MEMBER_PREFIX + ids.str.slice(0, ID_PREFIX_CHARS)
    labels = _choose(has_name, name, _choose(has_email, email, fallback))
    return pd.Series(labels, index=listed.index, dtype=object)


def _unknown_member(ids: pd.Series) -> pd.Series:
    return UNKNOWN_MEMBER_PREFIX + ids.astype(object).map(str).str.slice(0, ID_PREFIX_CHARS)


def _explode_assignees(frame: pd.DataFrame) -> pd.Series:
    """One row per (task position, assignee id) with the task's *position* as index.

    Tasks without assignees (``[]``/None) are left out; repeated ids in one task count once.
    """
    lists = frame["assignee_ids"].reset_index(drop=True)
    flat = lists.explode()
    flat = flat[flat.notna()]
    if len(flat):
        pairs = pd.DataFrame({"row": flat.index.to_numpy(), "who": flat.to_numpy()})
        flat = flat[~pairs.duplicated().to_numpy()]
    return flat.astype(object)


def _filter_mask(frame: pd.DataFrame, column: str, wanted: Collection[str] | None) -> np.ndarray:
    if not wanted:
        return np.ones(len(frame), dtype=bool)
    return frame[column].isin(list(wanted)).to_numpy()


def _open_in_scope(resolved: pd.DataFrame, team_ids: Collection[str] | None, project_ids: Collection[str] | None,
                   customer_ids: Collection[str] | None) -> pd.DataFrame:
    mask = resolved["is_open"].astype(bool).to_numpy()
    mask = mask & _filter_mask(resolved, "team_id", team_ids)
    mask = mask & _filter_mask(resolved, "project_id", project_ids)
    mask = mask & _filter_mask(resolved, "customer_id", customer_ids)
    in_scope: pd.DataFrame = resolved[mask].reset_index(drop=True)
    return in_scope


def _overdue_mask(frame: pd.DataFrame, as_of: date) -> tuple[np.ndarray, np.ndarray]:
    """(overdue?, days_overdue) per row: open, due date set and before as_of."""
    days, missing = _day_numbers(frame["due_date"])
    overdue_days = _as_of_number(as_of) - days
    mask = frame["is_open"].astype(bool).to_numpy() & ~missing & (overdue_days >= 1)
    return mask, np.where(mask, overdue_days, 0)


def round_half_up_1dp(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``rules.share_pct`` vectorised: ``numerator / denominator`` as a percentage rounded
    half-up to one decimal (0.0 when the denominator is 0), with ``rules.half_up_tenths``'
    exact integer formula, floor((2000 n + d) / 2d) tenths.

    1/16 -> 6.3, 1/8 -> 12.5, 2/3 -> 66.7, 1/6 -> 16.7.
    """
    index = numerator.index if isinstance(numerator, pd.Series) else None
    num = np.asarray(numerator, dtype=np.int64)
    den = np.asarray(denominator, dtype=np.int64)
    safe = np.where(den > 0, den, 1)
    tenths = np.where(den > 0, (2000 * num + safe) // (2 * safe), 0)
    return pd.Series(tenths / 10.0, index=index, dtype=float)


# --- resolve --------------------------------------------------------------------------------


def resolve_tasks(frames: Frames, team_names: Mapping[str, str]) -> pd.DataFrame:
    """Join every task to its team, project, customer and member labels.

    Args:
        frames: the four listings (``frames.build_frames``).
        team_names: team id -> configured name (a missing or empty name gives ``Team <id[:8]>``).

    Returns:
        One row per task, in listing order, with columns
        ``task_id, title, description, status, priority`` (as the API sent them, None for null),
        ``priority_rank`` (0 urgent .. 4 none/null/unknown), ``is_open`` (status not closed),
        ``due_date`` (``datetime.date`` or None), ``project_id`` (task's, None for null),
        ``project`` (label), ``team_id`` / ``customer_id`` (resolved: task's own, else the
        found project's; None when none), ``team``, ``customer`` (labels), ``assignee_ids``
        (distinct ids), ``assignees`` (their labels, ``["Unassigned"]`` when none),
        ``assignees_text`` (``"; "``-joined), ``billable_status``.
    """
    joined = frames.tasks_joined
    if joined is None:
        joined = TaskJoiner(frames.projects, frames.customers, frames.members).join(frames.tasks)
    return with_team_labels(joined, team_names)


class TaskJoiner:
    """:func:`resolve_tasks` but the team labels, for any batch of task rows: each row's result
    depends on that row and the three small listings only, so batches joined one by one and
    concatenated equal the whole listing joined at once (``tests/test_frames.py``). The labels
    of the projects, customers and members are made once, here."""

    def __init__(self, projects: pd.DataFrame, customers: pd.DataFrame, members: pd.DataFrame) -> None:
        self._projects = _unique_index(projects, "project_id")
        self._customers = _unique_index(customers, "customer_id")
        self._project_labels = (_nullable(self._projects["project_number"]).fillna("").map(str) + " · "
                                + _nullable(self._projects["project_title"]).fillna("").map(str))
        self._customer_names = _nullable(self._customers["customer_name"]).fillna("")
        self._member_labels: dict[Any, Any] = member_labels(members).to_dict()

    def join(self, tasks: pd.DataFrame) -> pd.DataFrame:
        """``RESOLVED_COLUMNS`` but ``team`` of ``tasks`` (a ``tasks_frame`` or a batch of one)."""
        tasks = tasks.reset_index(drop=True)
        projects, customers = self._projects, self._customers
        # Labels are made once per listed project, team and customer, then picked per task by
        # position (_pick): per-task string work (map, concatenation, slicing) is what costs here.
        project_id = _nullable(tasks["project_id"])
        at = projects.index.get_indexer(pd.Index(project_id))  # -1: null or not listed
        project = _choose(project_id.isna(), NO_PROJECT,
                          _choose(at >= 0, _pick(self._project_labels, at), UNKNOWN_PROJECT))

        own_team = _nullable(tasks["team_id"])
        project_team = _nullable(pd.Series(_pick(projects["team_id"], at), dtype=object))
        team_id = _nullable(own_team.where(own_team.notna(), project_team))

        own_customer = _nullable(tasks["customer_id"])
        project_customer = _nullable(pd.Series(_pick(projects["customer_id"], at), dtype=object))
        customer_id = _nullable(own_customer.where(own_customer.notna(), project_customer))
        at = customers.index.get_indexer(pd.Index(customer_id))
        customer = _choose(customer_id.isna(), NO_CUSTOMER,
                           _choose(at >= 0, _pick(self._customer_names, at), UNKNOWN_CUSTOMER))

        ids_lists, label_lists, assignees_text = _assignee_lists(tasks, self._member_labels)

        priority = _nullable(tasks["priority"])
        status = _nullable(tasks["status"])
        joined = pd.DataFrame({
            "task_id": _nullable(tasks["task_id"]),
            "title": _nullable(tasks["title"]),
            "description": _nullable(tasks["description"]),
            "status": status,
            "priority": priority,
            "priority_rank": priority.map(PRIORITY_RANK).fillna(NONE_RANK).astype(np.int64),
            "is_open": ~status.isin(list(CLOSED_STATUSES)).to_numpy(),
            "due_date": _nullable(tasks["due_date"]),
            "project_id": project_id,
            "project": pd.Series(project, dtype=object),
            "team_id": team_id,
            "customer_id": customer_id,
            "customer": pd.Series(customer, dtype=object),
            "assignee_ids": pd.Series(ids_lists, dtype=object),
            "assignees": pd.Series(label_lists, dtype=object),
            "assignees_text": pd.Series(assignees_text, dtype=object),
            "billable_status": _nullable(tasks["billable_status"]),
        }, columns=[c for c in RESOLVED_COLUMNS if c != "team"])
        joined["is_open"] = joined["is_open"].astype(bool)
        return joined


def with_team_labels(joined: pd.DataFrame, team_names: Mapping[str, str]) -> pd.DataFrame:
    """:meth:`TaskJoiner.join` output with its ``team`` column: ``resolve_tasks`` output."""
    resolved = joined.copy(deep=False)
    resolved.insert(RESOLVED_COLUMNS.index("team"), "team",
                    pd.Series(_team_labels(resolved["team_id"], team_names), index=resolved.index, dtype=object))
    return resolved


def _team_labels(team_id: pd.Series, team_names: Mapping[str, str]) -> np.ndarray:
    """Each task's team label: the configured name, else ``Team <id8>``; NO_TEAM without a team.
    One label per distinct team, picked per task by its code."""
    names = {str(k): str(v) for k, v in (team_names or {}).items() if v}
    codes, distinct = pd.factorize(team_id.to_numpy(dtype=object))  # None -> -1
    team_labels = [names.get(t) or team_fallback(t) for t in distinct]
    team: np.ndarray = np.array([*team_labels, NO_TEAM], dtype=object)[codes]  # -1 picks NO_TEAM
    return team


def _assignee_lists(tasks: pd.DataFrame,
                    label_of: dict[Any, Any]) -> tuple[list[list[Any]], list[list[Any]], list[str]]:
    """Per task (by position): its distinct assignee ids, their labels (``[UNASSIGNED]`` when
    none) and those labels joined with ``"; "``. ``label_of``: ``member_labels`` as a dict, to
    which the labels of unknown ids are added."""
    flat = _explode_assignees(tasks)
    ids = flat.to_numpy(dtype=object)
    for who in set(ids.tolist()) - label_of.keys():
        label_of[who] = _unknown_member(pd.Series([who], dtype=object)).iloc[0]
    n = len(tasks)
    rows = flat.index.to_numpy()
    ids_lists = regroup(rows, ids, n)
    label_lists = regroup(rows, list(map(label_of.__getitem__, ids.tolist())), n)
    nobody = np.flatnonzero(np.bincount(rows.astype(np.int64), minlength=n) == 0).tolist()
    with gc_paused():
        for i in nobody:
            label_lists[i] = [UNASSIGNED]  # one fresh list each, never shared
        assignees_text = [_join_labels(labels) for labels in label_lists]
    return ids_lists, label_lists, assignees_text


# --- Report 1: overdue ------------------------------------------------------------------------


def _task_cells(rows: pd.DataFrame, team_key: pd.Series, due_text: Any) -> dict[str, pd.Series]:
    """The cells a task row has in both overdue.csv and due_soon.csv (REPORTS.md: "cells as in
    overdue.csv"), plus the rank and description the pages use; the day count is the caller's."""
    return {
        "task_id": _id_text(rows["task_id"]),
        "team_id": team_key,
        "team": rows["team"].astype(object),
        "title": rows["title"].astype(object).where(rows["title"].notna(), ""),
        "project": rows["project"].astype(object),
        "customer": rows["customer"].astype(object),
        "assignees": rows["assignees_text"].astype(object),
        "priority": _nullable(rows["priority"]),
        "status": _nullable(rows["status"]),
        "due_date": pd.Series(due_text, dtype=object),
        "priority_rank": pd.Series(_ranks(rows["priority_rank"]), dtype=np.int64),
        "description": _nullable(rows["description"]),
    }


def overdue_tasks(resolved: pd.DataFrame, as_of: date, team_ids: Collection[str] | None = None) -> pd.DataFrame:
    """Overdue tasks (open, due date set, before ``as_of``) in report order.

    Teams by overdue count descending, then label (casefold), then team id; within a team by
    priority rank, ``days_overdue`` descending, title (casefold), task id.

    Args:
        resolved: ``resolve_tasks`` output.
        as_of: the report date.
        team_ids: only these resolved team ids (None or empty: every team).

    Returns:
        ``task_id, team_id, team, title, project, customer, assignees, priority, status,
        due_date, days_overdue`` (the CSV columns: ``team_id`` ``""`` for No team, ``title``
        ``""`` for null, ``assignees`` text, ``priority``/``status`` raw with None for null,
        ``due_date`` ``YYYY-MM-DD``) plus ``priority_rank``, ``age_bucket`` (``1-7``, ``8-30``,
        ``31+``) and ``description``.
    """
    mask, days_overdue = _overdue_mask(resolved, as_of)
    mask = mask & _filter_mask(resolved, "team_id", team_ids)
    rows = resolved[mask].reset_index(drop=True)
    days = days_overdue[mask].astype(np.int64)
    due_days, _ = _day_numbers(rows["due_date"])
    due_text: np.ndarray | list[str] = (
        np.datetime_as_string(due_days.astype("datetime64[D]"), unit="D") if len(rows) else []
    )

    team_key = _id_text(rows["team_id"])
    out = pd.DataFrame({
        **_task_cells(rows, team_key, due_text),
        "days_overdue": pd.Series(days, dtype=np.int64),
        "age_bucket": pd.Series(age_buckets(days), dtype=object),
    }, columns=list(OVERDUE_ROW_COLUMNS))

    keys = pd.DataFrame({
        "team_count": -out.groupby("team_id", sort=False)["task_id"].transform("size").to_numpy(),
        "team_label": _casefold(out["team"]),
        "team_id": team_key,
        "rank": out["priority_rank"],
        "days": -out["days_overdue"],
        "title": _casefold(out["title"]),
        "task_id": out["task_id"],
    })
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return out.loc[order].reset_index(drop=True)


def due_soon_tasks(resolved: pd.DataFrame, as_of: date, team_ids: Collection[str] | None = None) -> pd.DataFrame:
    """Due-soon tasks (open, ``as_of <= dueDate <= as_of + 6 days``) in report order.

    Teams by due-soon count descending, then label (casefold), then team id; within a team by
    ``days_left`` ascending, priority rank, title (casefold), task id.

    Args:
        resolved: ``resolve_tasks`` output.
        as_of: the report date.
        team_ids: only these resolved team ids (None or empty: every team).

    Returns:
        ``task_id, team_id, team, title, project, customer, assignees, priority, status,
        due_date, days_left`` (the CSV columns, cells as in ``overdue_tasks``; ``days_left`` 0
        means due today) plus ``priority_rank`` and ``description``.
    """
    due_days, missing = _day_numbers(resolved["due_date"])
    left = due_days - _as_of_number(as_of)
    mask = (resolved["is_open"].astype(bool).to_numpy() & ~missing & (left >= 0) & (left <= DUE_SOON_DAYS))
    mask = mask & _filter_mask(resolved, "team_id", team_ids)
    rows = resolved[mask].reset_index(drop=True)
    days_left = left[mask].astype(np.int64)
    due_text = np.datetime_as_string(due_days[mask].astype("datetime64[D]"), unit="D") if len(rows) else []

    team_key = _id_text(rows["team_id"])
    out = pd.DataFrame({
        **_task_cells(rows, team_key, due_text),
        "days_left": pd.Series(days_left, dtype=np.int64),
    }, columns=list(DUE_SOON_ROW_COLUMNS))

    keys = pd.DataFrame({
        "team_count": -out.groupby("team_id", sort=False)["task_id"].transform("size").to_numpy(),
        "team_label": _casefold(out["team"]),
        "team_id": team_key,
        "days": out["days_left"],
        "rank": out["priority_rank"],
        "title": _casefold(out["title"]),
        "task_id": out["task_id"],
    })
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return out.loc[order].reset_index(drop=True)


def open_without_due_date(resolved: pd.DataFrame, team_ids: Collection[str] | None = None) -> dict[str, Any]:
    """Open tasks with no ``dueDate`` ("Not counted" in REPORTS.md Report 1), for summary.json.

    A due date that did not parse counts as none (as everywhere else), so such a task is here.

    Args:
        resolved: ``resolve_tasks`` output.
        team_ids: only these resolved team ids (None or empty: every team), as the report.

    Returns:
        ``{"total": n, "teams": [{"team_id": ..., "team": ..., "count": n}, ...]}`` with one
        entry per team that has such tasks (``team_id`` ``""`` for No team), ordered by count
        descending, then label (casefold), then team id. Plain ints and str only.
    """
    _, missing = _day_numbers(resolved["due_date"])
    mask = resolved["is_open"].astype(bool).to_numpy() & missing
    mask = mask & _filter_mask(resolved, "team_id", team_ids)
    rows = resolved[mask]
    frame = pd.DataFrame({"team_id": _id_text(rows["team_id"]).to_numpy(dtype=object),
                          "team": rows["team"].astype(object).to_numpy()})
    grouped = frame.groupby("team_id", sort=False)
    teams = pd.DataFrame({"team": grouped["team"].first(), "count": grouped.size()}).reset_index()
    keys = pd.DataFrame({"count": -teams["count"], "label": _casefold(teams["team"]), "id": teams["team_id"]})
    teams = teams.loc[keys.sort_values(["count", "label", "id"], kind="stable").index]
    return {
        "total": int(mask.sum()),
        "teams": [{"team_id": str(tid), "team": str(label), "count": int(count)}
                  for tid, label, count in zip(teams["team_id"], teams["team"], teams["count"], strict=True)],
    }


def age_buckets(days: np.ndarray) -> np.ndarray:
    """``rules.age_bucket`` of each day count, vectorised."""
    at = np.searchsorted(np.asarray(AGE_BUCKET_STARTS), np.asarray(days, dtype=np.int64), side="right") - 1
    return np.asarray(AGE_BUCKETS, dtype=object)[np.clip(at, 0, len(AGE_BUCKETS) - 1)]


def overdue_team_summary(overdue_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per team of the overdue rows, in report order (count desc, label, id).

    Args:
        overdue_rows: ``overdue_tasks`` output (``team_id, team, priority_rank, days_overdue`` used).

    Returns:
        ``team_id, team, count, urgent, high, medium, low, none, oldest_days, age_1_7,
        age_8_30, age_31_plus`` (``team_id`` ``""`` for No team; null/unknown priority is none).
    """
    days = overdue_rows["days_overdue"].to_numpy(dtype=np.int64) if len(overdue_rows) else np.array([], dtype=np.int64)
    ranks = _ranks(overdue_rows["priority_rank"]) if len(overdue_rows) else np.array([], dtype=np.int64)
    parts = {
        "team_id": _id_text(overdue_rows["team_id"]).to_numpy(),
        "team": overdue_rows["team"].astype(object).to_numpy(),
        "count": np.ones(len(days), dtype=np.int64),
    }
    for rank, name in enumerate(PRIORITY_ORDER):
        parts[name] = (ranks == rank).astype(np.int64)
    parts["oldest_days"] = days
    buckets = age_buckets(days)
    for column, bucket in zip(("age_1_7", "age_8_30", "age_31_plus"), AGE_BUCKETS, strict=True):
        parts[column] = (buckets == bucket).astype(np.int64)
    frame = pd.DataFrame(parts)
    sums = [c for c in SUMMARY_COLUMNS if c not in ("team_id", "team", "oldest_days")]
    grouped = frame.groupby("team_id", sort=False)
    summary = grouped[sums].sum()
    summary["team"] = grouped["team"].first()
    summary["oldest_days"] = grouped["oldest_days"].max()
    summary = summary.reset_index()
    keys = pd.DataFrame({"count": -summary["count"], "label": _casefold(summary["team"]), "id": summary["team_id"]})
    summary = summary.loc[keys.sort_values(["count", "label", "id"], kind="stable").index]
    summary = summary.reset_index(drop=True)[list(SUMMARY_COLUMNS)]
    for column in SUMMARY_COLUMNS[2:]:
        summary[column] = summary[column].astype(np.int64)
    summary["team_id"] = summary["team_id"].astype(object)
    summary["team"] = summary["team"].astype(object)
    return summary


# --- Report 2: workload -----------------------------------------------------------------------


def workload_by_member(
    resolved: pd.DataFrame,
    members: pd.DataFrame,
    as_of: date,
    team_ids: Collection[str] | None = None,
    project_ids: Collection[str] | None = None,
    customer_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Open assignments per person (REPORTS.md Report 2), in report order.

    Scope: open tasks, filtered by resolved team id, project id and resolved customer id. Each
    task counts once per distinct assignee; a task without one counts once for "Unassigned".

    Args:
        resolved: ``resolve_tasks`` output.
        members: ``frames.members_frame`` (``member_id, display_name, email, status, team_ids``).
        as_of: the report date (for ``overdue``).
        team_ids, project_ids, customer_ids: optional filters (None or empty: no filter). With a
            team filter, idle active members are listed only when their ``team_ids`` meet it.

    Returns:
        ``member_id, member, status, open, billable, non_billable, unclassified, billable_share,
        overdue, flag``: every active member (idle ones with zeros), every other listed member
        and every unknown assignee id holding open assignments, then "Unassigned" last when any
        scoped task has no assignee. ``member_id``/``status``/``flag`` are ``""`` when empty;
        ``billable_share`` is a float already rounded half-up to one decimal. Ordered by
        ``open`` descending, member label (casefold), member id.
    """
    scope = _open_in_scope(resolved, team_ids, project_ids, customer_ids)
    stats, unassigned = _assignment_counts(scope, as_of)
    listed = _unique_index(members, "member_id")
    known = _listed_member_rows(listed, member_labels(members), stats, team_ids)
    unknown = _unknown_member_rows(stats[~stats.index.isin(listed.index)])

    people = pd.concat([known, unknown], ignore_index=True)
    keys = pd.DataFrame({"open": -people["open"], "label": _casefold(people["member"]),
                         "id": _id_text(people["member_id"]).map(str)})
    people = people.loc[keys.sort_values(["open", "label", "id"], kind="stable").index]
    if unassigned is not None:
        tail = pd.DataFrame({"member_id": [""], "member": [UNASSIGNED], "status": [""],
                             **{c: [int(unassigned[c])] for c in _COUNTED}, "flag": [""]})
        people = pd.concat([people, tail], ignore_index=True)
    people = people.reset_index(drop=True)
    for column in _COUNTED:
        people[column] = people[column].astype(np.int64)
    people["unclassified"] = people["open"] - people["billable"] - people["non_billable"]
    people["billable_share"] = round_half_up_1dp(people["billable"], people["open"])
    for column in ("member_id", "member", "status", "flag"):
        people[column] = people[column].astype(object)
    return people[list(WORKLOAD_MEMBER_COLUMNS)]


_COUNTED = ["open", "billable", "non_billable", "overdue"]  # summed per assignee by workload_by_member


def _assignment_counts(scope: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, pd.Series | None]:
    """The ``_COUNTED`` sums per assignee id (each task once per distinct assignee; in order of
    first appearance), and those of the tasks without an assignee (None when there are none)."""
    overdue, _ = _overdue_mask(scope, as_of)
    billable = (scope["billable_status"] == "billable").to_numpy()
    non_billable = (scope["billable_status"] == "nonBillable").to_numpy()

    flat = _explode_assignees(scope)
    held = np.zeros(len(scope), dtype=bool)
    held[flat.index.to_numpy()] = True
    rows = np.concatenate([flat.index.to_numpy(), np.flatnonzero(~held)])
    assignments = pd.DataFrame({
        "who": np.concatenate([flat.to_numpy(dtype=object), np.full((~held).sum(), None, dtype=object)]),
        "open": np.ones(len(rows), dtype=np.int64),
        "billable": billable[rows].astype(np.int64),
        "non_billable": non_billable[rows].astype(np.int64),
        "overdue": overdue[rows].astype(np.int64),
    })
    unassigned = assignments.loc[assignments["who"].isna(), _COUNTED].sum()
    has_unassigned = bool(assignments["who"].isna().any())
    stats = assignments[assignments["who"].notna()].groupby("who", sort=False)[_COUNTED].sum()
    return stats, (unassigned if has_unassigned else None)


def _listed_member_rows(listed: pd.DataFrame, labels: pd.Series, stats: pd.DataFrame,
                        team_ids: Collection[str] | None) -> pd.DataFrame:
    """The rows of listed members: the active ones (with a team filter, those whose teams meet
    it) and any other holding open assignments, flagged with their status."""
    member_stats = stats.reindex(listed.index, fill_value=0)
    status = listed["status"].astype(object)
    is_active = (status == "active").to_numpy()
    if team_ids:
        member_teams = listed["team_ids"].reset_index(drop=True).explode()
        in_team = member_teams.isin(list(team_ids))
        meets = np.zeros(len(listed), dtype=bool)
        meets[in_team[in_team].index.to_numpy()] = True
        wanted_active = is_active & meets
    else:
        wanted_active = is_active
    holds = member_stats["open"].to_numpy() > 0
    keep = wanted_active | holds
    flag = _choose(~is_active & holds, status.where(status.notna(), "unknown"), "")
    return pd.DataFrame({
        "member_id": listed.index.to_series().astype(object).to_numpy(),
        "member": labels.reindex(listed.index).to_numpy(dtype=object),
        "status": status.where(status.notna(), "").to_numpy(dtype=object),
        **{c: member_stats[c].to_numpy(dtype=np.int64) for c in _COUNTED},
        "flag": flag,
    })[keep]


def _unknown_member_rows(strangers: pd.DataFrame) -> pd.DataFrame:
    """The rows of assignee ids the members listing does not have (``strangers``: their sums)."""
    stranger_ids = strangers.index.to_series().astype(object)
    return pd.DataFrame({
        "member_id": stranger_ids.to_numpy(dtype=object),
        "member": _unknown_member(stranger_ids).to_numpy(dtype=object),
        "status": np.full(len(strangers), "", dtype=object),
        **{c: strangers[c].to_numpy(dtype=np.int64) for c in _COUNTED},
        "flag": np.full(len(strangers), "", dtype=object),
    })


def workload_by_customer(
    resolved: pd.DataFrame,
    as_of: date,
    team_ids: Collection[str] | None = None,
    project_ids: Collection[str] | None = None,
    customer_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Open tasks per resolved customer id (REPORTS.md Report 2, second table).

    Args:
        resolved: ``resolve_tasks`` output.
        as_of: the report date (kept for symmetry with ``workload_by_member``; unused).
        team_ids, project_ids, customer_ids: optional filters, as in ``workload_by_member``.

    Returns:
        ``customer_id, customer, open_tasks, billable_tasks, assignees, projects``: tasks (not
        assignments), tasks with ``billableStatus == "billable"``, distinct assignee ids (unknown
        ids included, "Unassigned" not), distinct non-null project ids (dangling included).
        ``customer_id`` ``""`` for No customer. Ordered by ``billable_tasks`` descending, label
        (casefold), id.
    """
    del as_of
    scope = _open_in_scope(resolved, team_ids, project_ids, customer_ids)
    key = _id_text(scope["customer_id"])
    frame = pd.DataFrame({
        "customer_id": key,
        "customer": scope["customer"].astype(object),
        "billable": (scope["billable_status"] == "billable").to_numpy().astype(np.int64),
        "project_id": _nullable(scope["project_id"]),
    })
    grouped = frame.groupby("customer_id", sort=False)
    table = pd.DataFrame({
        "customer": grouped["customer"].first(),
        "open_tasks": grouped.size(),
        "billable_tasks": grouped["billable"].sum(),
        "projects": grouped["project_id"].nunique(),
    })
    flat = _explode_assignees(scope)
    pairs = pd.DataFrame({"customer_id": key.to_numpy(dtype=object)[flat.index.to_numpy()],
                          "who": flat.to_numpy(dtype=object)}).drop_duplicates()
    table["assignees"] = pairs.groupby("customer_id", sort=False).size().reindex(table.index, fill_value=0)
    table = table.reset_index()
    keys = pd.DataFrame({"billable": -table["billable_tasks"], "label": _casefold(table["customer"]),
                         "id": table["customer_id"].astype(object).map(str)})
    table = table.loc[keys.sort_values(["billable", "label", "id"], kind="stable").index].reset_index(drop=True)
    for column in ("open_tasks", "billable_tasks", "assignees", "projects"):
        table[column] = table[column].astype(np.int64)
    table["customer_id"] = table["customer_id"].astype(object)
    table["customer"] = table["customer"].astype(object)
    return table[list(WORKLOAD_CUSTOMER_COLUMNS)]


# --- run log ----------------------------------------------------------------------------------


def data_quality(frames: Frames, resolved: pd.DataFrame) -> dict[str, Any]:
    """What the run log reports about the data (never an error).

    Returns:
        ``dangling_projects``, ``dangling_customers``, ``dangling_members``: distinct ids
        referenced (task projectId; resolved customer id; assigneeIds) but not listed;
        ``unknown_statuses`` / ``unknown_priorities``: ``{value: task count}`` for values outside
        the known ones (null counted under ``"null"``); ``bad_due_dates``: non-null ``dueDate``
        values that did not parse; ``text_replaced``: :func:`pike_tasks.frames.text_replaced`.
        Plain ints, lists and str keys only.
    """
    tasks = frames.tasks
    project_ids = tasks["project_id"]
    dangling_projects = project_ids[project_ids.notna() & ~project_ids.isin(frames.projects["project_id"])]
    customer_ids = resolved["customer_id"]
    dangling_customers = customer_ids[customer_ids.notna() & ~customer_ids.isin(frames.customers["customer_id"])]
    assignees = _explode_assignees(tasks)
    dangling_members = assignees[~assignees.isin(frames.members["member_id"])]
    return {
        "dangling_projects": int(dangling_projects.nunique()),
        "dangling_customers": int(dangling_customers.nunique()),
        "dangling_members": int(dangling_members.nunique()),
        "unknown_statuses": _unknown_values(tasks["status"], KNOWN_STATUSES),
        "unknown_priorities": _unknown_values(tasks["priority"], set(PRIORITY_ORDER)),
        "bad_due_dates": int(tasks.attrs.get("bad_due_dates", 0)),
        "text_replaced": text_replaced(frames),
    }


def _unknown_values(column: pd.Series, known: Collection[str]) -> dict[str, int]:
    values = column.astype(object)
    strange = values[~values.isin(list(known))]
    counts = strange.where(strange.notna(), "null").map(str).value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}
