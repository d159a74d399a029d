"""Pure: Pike API records (lists of camelCase dicts) -> typed DataFrames.

No Prefect, no HTTP. Any field of any record may be missing or null; the frames hold ``None``
(never NaN) for a missing value in every text column, so later code can test ``is None`` and
pandas' default ``str`` dtype never turns a null into ``nan``. Text columns are ``object``
dtype (Python ``str``), which sort by code point exactly like Python.

Normalisation choices (documented once, here):

- A record whose id repeats an earlier record's id in the same listing is dropped (first wins).
- An empty-string id (`teamId: ""`, an `""` inside `assigneeIds`) is no id, like null.
- Projects, customers and members without an id are dropped (nothing can refer to them);
  tasks without an id are kept (their ``task_id`` is ``None``).
- A non-null scalar that should be text but is not (e.g. a numeric ``projectNumber``) becomes
  ``str(value)``, which is also what ``csv`` and an f-string would print.
- ``assigneeIds`` / ``teamIds``: a list of distinct ids in their original order (first
  occurrence wins); null, missing or not-a-list -> ``[]``; null entries inside the list are
  dropped.
- ``dueDate``: the first 10 characters must be ``YYYY-MM-DD`` and a real calendar date
  (``2026-04-15T23:59:59Z`` -> 2026-04-15); anything else non-null becomes ``None`` and is
  counted in ``tasks.attrs["bad_due_dates"]``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

TASK_COLUMNS = (
    "task_id", "title", "description", "status", "priority", "project_id", "team_id",
    "customer_id", "assignee_ids", "due_date", "billable_status",
)
PROJECT_COLUMNS = ("project_id", "project_number", "project_title", "team_id", "customer_id")
CUSTOMER_COLUMNS = ("customer_id", "customer_name")
MEMBER_COLUMNS = ("member_id", "display_name", "email", "status", "team_ids")

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)


@dataclass(frozen=True)
class Frames:
    """The four listings of one workspace as typed frames (see the ``*_frame`` functions)."""

    tasks: pd.DataFrame
    projects: pd.DataFrame
    customers: pd.DataFrame
    members: pd.DataFrame


# --- helpers ------------------------------------------------------------------------------


def _raw(records: Iterable[Mapping[str, Any]] | None, fields: Sequence[str]) -> pd.DataFrame:
    """The wanted API fields as object columns (missing fields -> all None)."""
    records = [r for r in (records or []) if isinstance(r, Mapping)]
    # dtype=object: a numeric id next to a null must stay 7, not become the float 7.0
    raw = pd.DataFrame(records, dtype=object) if records else pd.DataFrame(index=pd.RangeIndex(0))
    out = {}
    for name in fields:
        if name in raw.columns:
            out[name] = _nullable(raw[name])
        else:
            out[name] = pd.Series([None] * len(raw), index=raw.index, dtype=object)
    return pd.DataFrame(out, index=raw.index)


def _nullable(column: pd.Series) -> pd.Series:
    """Object column with ``None`` for every null (NaN, NaT, None, pd.NA)."""
    column = column.astype(object)
    return column.where(column.notna(), None)


def _text(column: pd.Series) -> pd.Series:
    """Object column of ``str`` or ``None``; other scalars become ``str(value)``."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("string", "empty"):
        return column
    mask = column.notna()
    converted = column.copy()
    converted[mask] = column[mask].map(lambda v: v if isinstance(v, str) else str(v))
    return converted


def _ids(column: pd.Series) -> pd.Series:
    """Id column: ``str`` or None, where an empty string is no id (``teamId: ""`` means no team)."""
    text = _text(column)
    return text.where(text.notna() & (text != ""), None)


def _first_by_id(frame: pd.DataFrame, id_column: str, keep_null_ids: bool) -> pd.DataFrame:
    ids = frame[id_column]
    present = ids.notna()
    drop = present & ids.duplicated(keep="first")
    if not keep_null_ids:
        drop |= ~present
    return frame[~drop].reset_index(drop=True)


def _distinct_lists(column: pd.Series) -> pd.Series:
    """Each cell as a list of distinct non-null ids (first occurrence order); others -> []."""
    n = len(column)
    is_list = column.map(type).isin([list, tuple])  # a builtin, not a lambda: C-speed map
    lists = column.where(is_list, None)
    flat = lists.reset_index(drop=True).explode()
    flat = flat[flat.notna()]
    flat = _ids(flat.astype(object))
    flat = flat[flat.notna()]
    pairs = pd.DataFrame({"row": flat.index.to_numpy(), "value": flat.to_numpy()})
    pairs = pairs[~pairs.duplicated(keep="first")]
    return pd.Series(regroup(pairs["row"].to_numpy(), pairs["value"].to_numpy(), n),
                     index=column.index, dtype=object)


def regroup(rows: np.ndarray, values: np.ndarray, n: int) -> list[list]:
    """Values of an exploded column back into one list per row ``0..n-1``.

    ``rows`` must be ascending (``explode`` keeps that order); a row with no value gets [].
    Slicing one Python list is the cheap way to make n small lists (np.split is 10x slower).
    The garbage collector is paused meanwhile: n new lists would otherwise trigger collections
    that re-scan every parsed API record still in memory (MEASURED.md), 5x the work itself.
    """
    rows = np.asarray(rows, dtype=np.int64)
    ends = np.cumsum(np.bincount(rows, minlength=n)[:n]).tolist() if n else []
    starts = [0, *ends[:-1]]
    flat = np.asarray(values, dtype=object).tolist()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [flat[a:b] for a, b in zip(starts, ends)]
    finally:
        if was_enabled:
            gc.enable()


def _parse_due(column: pd.Series) -> tuple[pd.Series, int]:
    """``dueDate`` -> ``datetime.date`` or None, and how many non-null values did not parse."""
    present = column.notna()
    texts = column[present]
    heads = texts[texts.map(type) == str].str.slice(0, 10)
    parsed = {}
    for head in pd.unique(heads):  # distinct dates only: a few thousand at most
        parsed[head] = _parse_day(head)
    days = heads.map(parsed)
    out = pd.Series([None] * len(column), index=column.index, dtype=object)
    good = days[days.notna()]
    out[good.index] = good
    bad = int(present.sum()) - len(good)
    return out, bad


def _parse_day(text: str) -> date | None:
    if not _ISO_DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- the four frames ------------------------------------------------------------------------


def tasks_frame(records: Iterable[Mapping[str, Any]] | None) -> pd.DataFrame:
    """``/tasks`` records -> one row per task.

    Columns: ``task_id, title, description, status, priority, project_id, team_id, customer_id``
    (str or None), ``assignee_ids`` (list[str], distinct, API order, [] for null/missing),
    ``due_date`` (``datetime.date`` or None), ``billable_status`` (str or None).
    ``attrs["bad_due_dates"]``: non-null ``dueDate`` values that were not a ``YYYY-MM-DD`` date.
    """
    fields = ("id", "title", "description", "status", "priority", "projectId", "teamId",
              "customerId", "assigneeIds", "dueDate", "billableStatus")
    raw = _raw(records, fields)
    raw = _first_by_id(raw.assign(id=_text(raw["id"])), "id", keep_null_ids=True)
    due, bad = _parse_due(raw["dueDate"])
    frame = pd.DataFrame({
        "task_id": raw["id"],
        "title": _text(raw["title"]),
        "description": _text(raw["description"]),
        "status": raw["status"],
        "priority": raw["priority"],
        "project_id": _ids(raw["projectId"]),
        "team_id": _ids(raw["teamId"]),
        "customer_id": _ids(raw["customerId"]),
        "assignee_ids": _distinct_lists(raw["assigneeIds"]),
        "due_date": due,
        "billable_status": raw["billableStatus"],
    }, columns=list(TASK_COLUMNS))
    frame.attrs["bad_due_dates"] = bad
    return frame


def projects_frame(records: Iterable[Mapping[str, Any]] | None) -> pd.DataFrame:
    """``/projects`` records -> ``project_id, project_number, project_title, team_id, customer_id``
    (str or None; records without an id dropped, first of a repeated id kept)."""
    raw = _raw(records, ("id", "projectNumber", "title", "teamId", "customerId"))
    raw = _first_by_id(raw.assign(id=_ids(raw["id"])), "id", keep_null_ids=False)
    return pd.DataFrame({
        "project_id": raw["id"],
        "project_number": _text(raw["projectNumber"]),
        "project_title": _text(raw["title"]),
        "team_id": _ids(raw["teamId"]),
        "customer_id": _ids(raw["customerId"]),
    }, columns=list(PROJECT_COLUMNS))


def customers_frame(records: Iterable[Mapping[str, Any]] | None) -> pd.DataFrame:
    """``/customers`` records -> ``customer_id, customer_name`` (str or None)."""
    raw = _raw(records, ("id", "customerName"))
    raw = _first_by_id(raw.assign(id=_ids(raw["id"])), "id", keep_null_ids=False)
    return pd.DataFrame({"customer_id": raw["id"], "customer_name": _text(raw["customerName"])},
                        columns=list(CUSTOMER_COLUMNS))


def members_frame(records: Iterable[Mapping[str, Any]] | None) -> pd.DataFrame:
    """``/members`` records -> ``member_id, display_name, email, status`` (str or None) and
    ``team_ids`` (list[str], [] for null/missing)."""
    raw = _raw(records, ("id", "displayName", "email", "status", "teamIds"))
    raw = _first_by_id(raw.assign(id=_ids(raw["id"])), "id", keep_null_ids=False)
    return pd.DataFrame({
        "member_id": raw["id"],
        "display_name": _text(raw["displayName"]),
        "email": _text(raw["email"]),
        "status": raw["status"],
        "team_ids": _distinct_lists(raw["teamIds"]),
    }, columns=list(MEMBER_COLUMNS))


def build_frames(projects, tasks, customers, members) -> Frames:
    """The four listings (lists of API records) -> :class:`Frames`."""
    return Frames(
        tasks=tasks_frame(tasks),
        projects=projects_frame(projects),
        customers=customers_frame(customers),
        members=members_frame(members),
    )
