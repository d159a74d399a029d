"""Pure: REPORTS.md Report 4, what changed since the previous overdue report (``changes.csv``).

The baseline B is the stored ``overdue.csv`` of an earlier date, read back as the report's
values (``read_report_rows``); D is today's overdue rows (``transforms.overdue_tasks``) and the
whole of today's resolved task listing (``transforms.resolve_tasks``). Finding B in the store
and writing the outputs is the caller's business; nothing here does I/O.

Readings where REPORTS.md is silent (the same in benchmarks/plain_script.py):

- No baseline (``baseline_rows`` None) gives no rows (header only). A baseline with no rows
  (B had nothing overdue) makes every row of D new.
- Task ids are matched as the CSV writes them (``csv_output.guard_cell``): the one id the
  formula guard cannot round-trip (a literal ``'`` before a guarded character) still matches.
- A task id that appears twice in B's (or D's) rows counts once, at its first row.
- A resolved task that is listed, open, still overdue and inside the team filter cannot be
  missing from D's rows when D was computed from the same listing, date and filter; such
  inputs are a caller's bug and raise ``ValueError`` rather than get a reason of our own.
- ``days_overdue`` (and every other B value) is what B showed, even though B's as_of is
  earlier: "what the reader saw last time".
- Every text column is ``str``, ``""`` for empty (B's null priority/status read back as "").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from pike_tasks.csv_output import guard_column, unguard_column
from pike_tasks.rules import (
    ADDED,
    BECAME_OVERDUE,
    CHANGES_COLUMNS,
    HISTORY_LENGTH,
    NEW,
    OVERDUE_COLUMNS,
    RESOLVED,
    RESOLVED_REASONS,
)
from pike_tasks.transforms import _as_of_number, _day_numbers

REASONS = RESOLVED_REASONS  # in the order REPORTS.md gives them: the first that applies is the reason

_VALUE_COLUMNS = CHANGES_COLUMNS[2:]  # task_id .. days_overdue, taken from D's or B's rows
_TEXT_COLUMNS = tuple(c for c in _VALUE_COLUMNS if c != "days_overdue")


def read_report_rows(csv_bytes: bytes) -> pd.DataFrame:
    """A stored ``overdue.csv`` read back as the report's values, in its row order.

    Every cell is text exactly as written, less the ``'`` the formula guard added
    (``csv_output.unguard_cell``); ``days_overdue`` is an int. Columns are looked up by the
    header, so their order in the file does not matter; extra columns are ignored.

    Args:
        csv_bytes: the file's bytes (UTF-8, a BOM tolerated, CRLF or LF).

    Returns:
        The ``csv_output.OVERDUE_COLUMNS``, text as ``str`` (``""`` for an empty cell) and
        ``days_overdue`` int64.

    Raises:
        ValueError: no header, a missing column, a short row or a non-integer ``days_overdue``.
    """
    text = csv_bytes.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ValueError("not an overdue.csv: the file is empty")
    missing = [c for c in OVERDUE_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"not an overdue.csv: columns {missing} missing from the header")
    rows = list(reader)
    short = next((line for line, row in enumerate(rows, start=2) if len(row) < len(header)), None)
    if short is not None:
        raise ValueError(f"overdue.csv row {short}: {len(rows[short - 2])} cells, the header has {len(header)}")
    # strict=False: a row may have extra trailing cells (only short rows are refused above); the
    # transpose keeps the first len(shortest row) >= len(header) columns, so every header column.
    cells = list(zip(*rows, strict=False)) if rows else [()] * len(header)
    frame = pd.DataFrame({
        column: unguard_column(pd.Series(cells[header.index(column)], dtype=object)) for column in OVERDUE_COLUMNS
    }, columns=list(OVERDUE_COLUMNS))
    try:
        frame["days_overdue"] = np.array([int(v) for v in frame["days_overdue"]], dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"overdue.csv: days_overdue is not an integer ({exc})") from None
    return frame


def _text(column: pd.Series) -> pd.Series:
    """Cells as ``str``, ``""`` for null (None/NaN)."""
    column = column.astype(object)
    column = column.where(column.notna(), "")
    if pd.api.types.infer_dtype(column, skipna=False) not in ("string", "empty"):
        column = column.map(str)
    return column


def _keys(ids: pd.Series) -> pd.Series:
    """Ids as the CSV writes them: the matching key of B's rows, D's rows and the listing."""
    return guard_column(_text(ids))


def _first_per_task(rows: pd.DataFrame) -> pd.DataFrame:
    keys = _keys(rows["task_id"])
    return rows[~keys.duplicated(keep="first").to_numpy()]


def _values(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: _text(rows[c]).to_numpy(dtype=object) for c in _TEXT_COLUMNS})
    out["days_overdue"] = rows["days_overdue"].to_numpy(dtype=np.int64)
    return out[list(_VALUE_COLUMNS)]


def empty_changes() -> pd.DataFrame:
    """No rows, the ``changes.csv`` columns (what a report without a baseline writes)."""
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in CHANGES_COLUMNS})
    frame["days_overdue"] = frame["days_overdue"].astype(np.int64)
    return frame


def compute_changes(
    today_rows: pd.DataFrame,
    baseline_rows: pd.DataFrame | None,
    resolved_today: pd.DataFrame,
    as_of: date,
    team_ids: Collection[str] | None = None,
    *,
    baseline_as_of: date | None = None,
) -> pd.DataFrame:
    """The rows of ``changes.csv``: new overdue tasks, then resolved ones with their reason.

    Args:
        today_rows: D's overdue rows in report order (``transforms.overdue_tasks`` for ``as_of``
            and ``team_ids``, or D's CSV read back); ``task_id, team_id, team, title, priority,
            status, due_date, days_overdue`` used.
        baseline_rows: B's rows (``read_report_rows``), or None when there is no baseline.
        resolved_today: today's whole resolved listing (``transforms.resolve_tasks``, not
            filtered); ``task_id, is_open, status, due_date, team_id`` used.
        as_of: D.
        team_ids: the report's team filter (None or empty: none); B has the same scope.
        baseline_as_of: B's date, required with ``baseline_rows``.

    Returns:
        ``change, reason, task_id, team_id, team, title, priority, status, due_date,
        days_overdue``: ``new`` rows (D's values, D's order, reason ``became_overdue`` when
        the due date is on or after B, else ``added``) in D's order, then ``resolved``
        rows in B's order with the first reason of ``gone``, ``closed``, ``rescheduled``,
        ``out_of_scope`` that applies, B's values, and ``status`` as the API gives it today
        (``""`` when gone or null). Text columns ``str``; ``days_overdue`` int64.

    Raises:
        ValueError: a task of B that is missing from D but still overdue and in scope today
            (the inputs do not belong together), or a baseline without its date.
    """
    if baseline_rows is None:
        return empty_changes()
    if baseline_as_of is None:
        raise ValueError("a baseline needs its as_of date (baseline_as_of)")
    today = _first_per_task(today_rows)
    baseline = _first_per_task(baseline_rows)
    today_keys = _keys(today["task_id"])
    baseline_keys = _keys(baseline["task_id"])

    new = _values(today[~today_keys.isin(baseline_keys).to_numpy()])
    new.insert(0, "reason", _new_reasons(new["due_date"], baseline_as_of))
    new.insert(0, "change", NEW)

    gone_rows = baseline[~baseline_keys.isin(today_keys).to_numpy()]
    gone_keys = baseline_keys[~baseline_keys.isin(today_keys).to_numpy()]
    listing = _listing(resolved_today)
    at = listing.index.get_indexer(pd.Index(gone_keys.to_numpy(dtype=object)))  # -1: not listed
    resolved = _values(gone_rows)
    resolved.insert(0, "reason", _reasons(gone_keys, listing, at, as_of, team_ids))
    resolved.insert(0, "change", RESOLVED)
    resolved["status"] = np.append(_text(listing["status"]).to_numpy(dtype=object), "")[at]  # gone: ""

    parts = [part for part in (new, resolved) if len(part)]
    if not parts:
        return empty_changes()
    changes = pd.concat(parts, ignore_index=True)[list(CHANGES_COLUMNS)]
    changes["days_overdue"] = changes["days_overdue"].astype(np.int64)
    return changes


def _new_reasons(due_dates: pd.Series, baseline_as_of: date) -> np.ndarray:
    """``became_overdue`` where the due date (``YYYY-MM-DD`` text) is on or after B, else ``added``.

    A new row fell due since the baseline, or it was already past due on B but not on B's list
    (reopened, moved into the scope, created since, or given an earlier date).
    """
    since = due_dates.astype(str).to_numpy(dtype=object) >= baseline_as_of.isoformat()
    return np.where(since, BECAME_OVERDUE, ADDED).astype(object)


def _listing(resolved_today: pd.DataFrame) -> pd.DataFrame:
    """Today's listing indexed by matching key (first record of an id kept, as the client)."""
    keys = _keys(resolved_today["task_id"])
    keep = ~keys.duplicated(keep="first").to_numpy()
    return resolved_today[keep].set_axis(keys[keep].to_numpy(), axis=0)


def _reasons(keys: pd.Series, listing: pd.DataFrame, at: np.ndarray, as_of: date,
             team_ids: Collection[str] | None) -> np.ndarray:
    """The first reason that applies to each resolved task (``at``: its row in ``listing``)."""
    listed = at >= 0
    if not len(listing):
        return np.full(len(keys), "gone", dtype=object)
    picked = listing.iloc[np.where(listed, at, 0)]
    is_open = picked["is_open"].astype(bool).to_numpy()
    due_days, no_due = _day_numbers(picked["due_date"].reset_index(drop=True))
    due_before = ~no_due & (due_days < _as_of_number(as_of))
    in_scope = picked["team_id"].isin(list(team_ids)).to_numpy() if team_ids else np.ones(len(picked), dtype=bool)
    reasons = np.select([~listed, ~is_open, ~due_before, ~in_scope], list(REASONS), default="").astype(object)
    stray = reasons == ""
    if stray.any():
        ids = keys[stray].tolist()[:5]
        raise ValueError(f"tasks of the baseline are still overdue and in scope but not in today's rows: {ids}")
    return reasons


def changes_for_teams(changes: pd.DataFrame, team_ids: Collection[str]) -> pd.DataFrame:
    """The rows of these teams (a digest's), in the same order: a new row by D's team, a
    resolved row by the team B's report gave it (both are the row's ``team_id``; ``""`` is No team)."""
    return changes[_text(changes["team_id"]).isin(list(team_ids)).to_numpy()].reset_index(drop=True)


def change_counts(changes: pd.DataFrame) -> dict[str, Any]:
    """The ``new`` and ``resolved`` counts of summary.json, in total and per team.

    A new row counts for D's team, a resolved row for the team B's report gave it: both are
    the row's ``team_id`` (``""`` for No team).

    Returns:
        ``{"new": n, "resolved": n, "teams": [{"team_id", "team", "new", "resolved"}, ...]}``,
        one entry per team with at least one change, ordered by label (casefold), then team id.
        A team whose label differs between D and B is one entry, under the label of its first
        row (D's when it has a new row). Plain ints and str only.
    """
    kind = _text(changes["change"]).to_numpy(dtype=object)
    team_ids = _text(changes["team_id"]).tolist()
    labels = _text(changes["team"]).tolist()
    teams: dict[str, dict[str, Any]] = {}
    for team_id, label, change in zip(team_ids, labels, kind, strict=True):
        entry = teams.setdefault(team_id, {"team_id": team_id, "team": label, NEW: 0, RESOLVED: 0})
        entry[change] += 1
    ordered = sorted(teams.values(), key=lambda e: (e["team"].casefold(), e["team_id"]))
    return {NEW: int((kind == NEW).sum()), RESOLVED: int((kind == RESOLVED).sum()), "teams": ordered}


def history(
    entries: Iterable[tuple[date | str, int]],
    as_of: date | None = None,
    overdue_tasks: int | None = None,
    limit: int = HISTORY_LENGTH,
) -> list[dict[str, Any]]:
    """The trend of summary.json: the up to 8 latest reports of the scope with as_of <= D.

    Args:
        entries: ``(as_of, overdue count)`` of the stored reports of the same scope (dates or
            ISO text); a date given twice keeps its last count.
        as_of: D; stored reports after it are left out (None: keep all).
        overdue_tasks: D's own count, which replaces a stored report of D (a re-run stores
            the report it is writing) or adds D's point. None: use what is stored.
        limit: how many points at most (the latest ones).

    Returns:
        ``[{"as_of": "YYYY-MM-DD", "overdue_tasks": n}, ...]``, oldest first. The key is the
        name of the count in summary.json's ``totals``.
    """
    points: dict[date, int] = {}
    for day, count in entries:
        day = date.fromisoformat(day) if isinstance(day, str) else day
        if as_of is None or day <= as_of:
            points[day] = int(count)
    if as_of is not None and overdue_tasks is not None:
        points[as_of] = int(overdue_tasks)
    latest = sorted(points)[-limit:] if limit > 0 else []
    return [{"as_of": day.isoformat(), "overdue_tasks": points[day]} for day in latest]
