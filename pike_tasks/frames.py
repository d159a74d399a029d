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
- Text that UTF-8 cannot hold (a lone UTF-16 surrogate such as JSON's ``"\\ud800"``, in any
  text or id cell) becomes U+FFFD, so one bad character never stops a report; each frame names
  the records it changed in ``attrs["text_replaced"]`` (see :func:`text_replaced`).
"""

from __future__ import annotations

import gc
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from pike_tasks.records import Customer, Member, Project, Task
from pike_tasks.surrogates import has_surrogates, repair

TASK_COLUMNS = (
    "task_id", "title", "description", "status", "priority", "project_id", "team_id",
    "customer_id", "assignee_ids", "due_date", "billable_status",
)
PROJECT_COLUMNS = ("project_id", "project_number", "project_title", "team_id", "customer_id")
CUSTOMER_COLUMNS = ("customer_id", "customer_name")
MEMBER_COLUMNS = ("member_id", "display_name", "email", "status", "team_ids")

LIST_COLUMNS = frozenset({"assignee_ids", "team_ids"})
TEXT_REPLACED_IDS_SHOWN = 20  # ids named per listing in the run log and summary.json; the count is exact
_SURROGATE_CHUNK = 4096  # cells joined per check: one C-level pass, bounded memory

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_UNSEEN = object()


@dataclass(frozen=True)
class Frames:
    """The four listings of one workspace as typed frames (see the ``*_frame`` functions)."""

    tasks: pd.DataFrame
    projects: pd.DataFrame
    customers: pd.DataFrame
    members: pd.DataFrame
    # the tasks already joined to the three small listings, page by page while the tasks were
    # fetched (TasksFrameBuilder.join_with); None: transforms.resolve_tasks joins them itself
    tasks_joined: pd.DataFrame | None = None


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many small lists are made.

    Every new container counts towards a collection, and collections re-scan the objects still
    alive, including every parsed API record (1.6M objects at 500k tasks; a full collection
    took 1.1-1.4 s on the benchmark machine). Transposing 500k task records measured 3.8 s with
    the collector on and 0.66 s with it paused. The containers made meanwhile form no cycles,
    so nothing is lost by the pause.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _raw(records: Iterable[Mapping[str, Any]] | None, fields: Sequence[str]) -> pd.DataFrame:
    """The wanted API fields (two or more) as object columns (missing fields -> all None).

    Records are read one by one, all wanted fields at once by a C-level ``itemgetter``, and
    the rows then transposed into columns. Reading field by field (1.5 s for 500k tasks on the
    benchmark machine) or ``pd.DataFrame(records)`` (2.5 s; it copies all 16 fields of a task)
    walks the scattered record dicts many times over; this way took 0.7 s. A record lacking a
    field sends the whole listing the slower ``dict.get`` way; any other mapping is first
    copied to a ``dict`` (as ``pd.DataFrame`` does).
    """
    records = [r if type(r) is dict else dict(r)
               for r in (records or []) if type(r) is dict or isinstance(r, Mapping)]
    n = len(records)
    with gc_paused():  # n short-lived tuples
        try:
            rows = list(map(operator.itemgetter(*fields), records))
        except KeyError:
            rows = [tuple(map(r.get, fields)) for r in records]
        columns = list(zip(*rows, strict=True)) if n else [() for _ in fields]
        del rows
    index = pd.RangeIndex(n)
    # dtype=object: a numeric id next to a null must stay 7, not become the float 7.0.
    # fromiter stores each value as it is (a list stays one cell, never a nested array).
    return pd.DataFrame({name: _nullable(np.fromiter(values, dtype=object, count=n), index)
                         for name, values in zip(fields, columns, strict=True)}, index=index)


def _nullable(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A new object array as a column with ``None`` for every null (NaN, NaT, None, pd.NA)."""
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None
    return pd.Series(values, index=index, dtype=object, copy=False)


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
    if not drop.any():
        return frame.reset_index(drop=True)
    return frame[~drop].reset_index(drop=True)


def _id_lists_mask(cells: list[Any]) -> np.ndarray:
    """Which cells are already a ``list`` of distinct non-empty ``str`` (what the frames hold).

    Checked with C-level passes over all the cells at once (a Python check per cell costs about
    1 us, 0.5 s at 500k tasks); a listing with any other kind of cell or value anywhere is
    checked cell by cell.
    """
    n = len(cells)
    if set(map(type, cells)) <= {list}:
        values = list(chain.from_iterable(cells))
        if set(map(type, values)) <= {str} and "" not in values:
            lengths = np.fromiter(map(len, cells), dtype=np.int64, count=n)
            distinct = np.fromiter(map(len, map(set, cells)), dtype=np.int64, count=n)
            same: np.ndarray = lengths == distinct
            return same
    return np.fromiter(map(_is_id_list, cells), dtype=bool, count=n)


def _is_id_list(cell: Any) -> bool:
    """:func:`_id_lists_mask` for one cell."""
    if type(cell) is not list or any(type(v) is not str or not v for v in cell):
        return False
    return len(set(cell)) == len(cell)


def _distinct_lists(column: pd.Series) -> pd.Series:
    """Each cell as a list of distinct non-null ids (first occurrence order); others -> [].

    Almost every cell from the API is already such a list (:func:`_id_lists_mask`): it is
    copied as it is. Only the other cells (tuples, nulls, numbers or ``""`` inside, repeats,
    non-lists) take the general path, :func:`_distinct_lists_general`.
    """
    cells = column.tolist()
    clean = _id_lists_mask(cells)
    with gc_paused():
        lists = [cell.copy() if ok else None for cell, ok in zip(cells, clean.tolist(), strict=True)]
    others = np.flatnonzero(~clean).tolist()
    if others:
        for i, ids in zip(others, _distinct_lists_general(column.iloc[others]), strict=True):
            lists[i] = ids
    return pd.Series(lists, index=column.index, dtype=object)


def _distinct_lists_general(column: pd.Series) -> list[list[Any]]:
    """:func:`_distinct_lists` for any cells, vectorised: explode, clean, dedupe, regroup."""
    n = len(column)
    is_list = column.map(type).isin([list, tuple])  # a builtin, not a lambda: C-speed map
    lists = column.where(is_list, None)
    flat = lists.reset_index(drop=True).explode()
    flat = flat[flat.notna()]
    flat = _ids(flat.astype(object))
    flat = flat[flat.notna()]
    pairs = pd.DataFrame({"row": flat.index.to_numpy(), "value": flat.to_numpy()})
    pairs = pairs[~pairs.duplicated(keep="first")]
    return regroup(pairs["row"].to_numpy(), pairs["value"].to_numpy(), n)


def regroup(rows: np.ndarray, values: np.ndarray | list[Any], n: int) -> list[list[Any]]:
    """Values of an exploded column back into one list per row ``0..n-1``.

    ``rows`` must be ascending (``explode`` keeps that order); a row with no value gets [].
    Slicing one Python list is the cheap way to make n small lists (np.split is 10x slower).
    The garbage collector is paused meanwhile (:func:`gc_paused`).
    """
    rows = np.asarray(rows, dtype=np.int64)
    ends = np.cumsum(np.bincount(rows, minlength=n)[:n]).tolist() if n else []
    starts = [0, *ends[:-1]]
    flat = np.asarray(values, dtype=object).tolist()
    with gc_paused():
        # strict=False: for n == 0, starts is [0] and ends is [] (no rows, nothing to slice).
        return [flat[a:b] for a, b in zip(starts, ends, strict=False)]


def _parse_due(column: pd.Series) -> tuple[pd.Series, int]:
    """``dueDate`` -> ``datetime.date`` or None, and how many non-null values did not parse.

    One pass; each distinct first-10-characters is parsed once (a few thousand at most).
    Only ``str`` values can parse.
    """
    parsed: dict[str, date | None] = {}
    days = []
    for value in column.tolist():
        if type(value) is str:
            head = value[:10]
            day = parsed.get(head, _UNSEEN)
            if day is _UNSEEN:
                day = parsed[head] = _parse_day(head)
            days.append(day)
        else:
            days.append(None)
    good = len(days) - days.count(None)
    bad = int(column.notna().sum()) - good
    return pd.Series(days, index=column.index, dtype=object), bad


def _parse_day(text: str) -> date | None:
    if not _ISO_DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _replace_surrogates(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Repair (:func:`pike_tasks.surrogates.repair`) every text and id cell, in place, and name
    the changed records' ids in ``frame.attrs["text_replaced"]`` (row order, ``None`` for no id).

    Checking each cell would cost about 1 us a cell (0.5 s a column at 500k tasks); instead the
    cells are checked a chunk at a time as one joined string, and only a chunk that holds a
    surrogate (or a cell that is not text) is looked at cell by cell. Only ``str`` cells can
    break a UTF-8 write: any other value is written as ``str(value)``, which escapes surrogates.
    """
    changed = _repair_cells(frame)
    ids = frame[id_column]
    frame.attrs["text_replaced"] = [ids.iat[i] for i in changed]
    return frame


def _repair_cells(frame: pd.DataFrame) -> list[int]:
    """:func:`_replace_surrogates`' repair, in place; the positions of the rows it changed."""
    changed: set[int] = set()
    for name in frame.columns:
        if name == "due_date":  # datetime.date or None: never text
            continue
        cells = frame[name].tolist()
        is_list = name in LIST_COLUMNS  # always list[str] here (_distinct_lists)
        rows = _rows_with_surrogates(cells, is_list)
        if not rows:
            continue
        for i in rows:
            cells[i] = _repaired_ids(cells[i]) if is_list else repair(cells[i])
        frame[name] = pd.Series(cells, index=frame.index, dtype=object)
        changed.update(rows)
    return sorted(changed)


def _rows_with_surrogates(cells: list[Any], is_list: bool) -> list[int]:
    rows = []
    for start in range(0, len(cells), _SURROGATE_CHUNK):
        chunk = cells[start:start + _SURROGATE_CHUNK]
        try:
            # filter(None, ...) drops None and "" at C speed; a non-str cell raises TypeError
            joined = "".join(chain.from_iterable(chunk)) if is_list else "".join(filter(None, chunk))
        except TypeError:
            joined = None
        if joined is not None and not has_surrogates(joined):
            continue
        for offset, cell in enumerate(chunk):
            if any(map(has_surrogates, cell)) if is_list else (type(cell) is str and has_surrogates(cell)):
                rows.append(start + offset)
    return rows


def _repaired_ids(ids: list[str]) -> list[str]:
    """Repaired ids, still distinct (two ids may differ only in a bad character)."""
    return list(dict.fromkeys(map(repair, ids)))


def text_replaced(workspace: Frames) -> dict[str, dict[str, Any]]:
    """For the run log and summary.json: per listing with repaired text, how many records and
    (the first :data:`TEXT_REPLACED_IDS_SHOWN`) their ids; ``{}`` when no text was repaired."""
    found = {}
    for listing in ("tasks", "projects", "customers", "members"):
        ids = getattr(workspace, listing).attrs.get("text_replaced") or []
        if ids:
            found[listing] = {"count": len(ids), "ids": list(ids[:TEXT_REPLACED_IDS_SHOWN])}
    return found


# --- the four frames ------------------------------------------------------------------------


def tasks_frame(records: Iterable[Task] | None) -> pd.DataFrame:
    """``/tasks`` records -> one row per task.

    Columns: ``task_id, title, description, status, priority, project_id, team_id, customer_id``
    (str or None), ``assignee_ids`` (list[str], distinct, API order, [] for null/missing),
    ``due_date`` (``datetime.date`` or None), ``billable_status`` (str or None).
    ``attrs["bad_due_dates"]``: non-null ``dueDate`` values that were not a ``YYYY-MM-DD`` date;
    ``attrs["text_replaced"]``: ids of the tasks whose text had a surrogate replaced.
    """
    raw = _raw(records, _TASK_FIELDS)
    raw = _first_by_id(raw.assign(id=_text(raw["id"])), "id", keep_null_ids=True)
    due, bad = _parse_due(raw["dueDate"])
    frame = _task_columns(raw, raw["id"], due, _distinct_lists(raw["assigneeIds"]))
    frame.attrs["bad_due_dates"] = bad
    return _replace_surrogates(frame, "task_id")


_TASK_FIELDS = ("id", "title", "description", "status", "priority", "projectId", "teamId", "customerId",
                "assigneeIds", "dueDate", "billableStatus")


def _task_columns(raw: pd.DataFrame, task_ids: pd.Series, due: pd.Series, assignee_ids: pd.Series) -> pd.DataFrame:
    """The tasks frame's columns of ``raw`` (/tasks records, a column per API field): one home for
    :func:`tasks_frame` and :class:`TasksFrameBuilder`; ids, due dates and assignee lists as the
    caller made them (text ids; parsed dates; distinct lists, shared or not)."""
    return pd.DataFrame({
        "task_id": task_ids,
        "title": _text(raw["title"]),
        "description": _text(raw["description"]),
        "status": raw["status"],
        "priority": raw["priority"],
        "project_id": _ids(raw["projectId"]),
        "team_id": _ids(raw["teamId"]),
        "customer_id": _ids(raw["customerId"]),
        "assignee_ids": assignee_ids,
        "due_date": due,
        "billable_status": raw["billableStatus"],
    }, columns=list(TASK_COLUMNS))


_SHARED_TASK_COLUMNS = ("status", "priority", "project_id", "team_id", "customer_id", "billable_status")
_KEY, _BAD, _REPLACED = "_key", "_bad_due", "_replaced"


class TasksFrameBuilder:
    """:func:`tasks_frame`, built a batch of records at a time (pages, as they arrive).

    ``add`` turns a batch into typed columns at once, so the caller can drop the batch's
    record dicts (about 2 KB a task, most of it fields no report reads); ``finish`` concatenates
    the batches and applies what needs the whole listing: first-by-id over every batch,
    ``attrs["bad_due_dates"]`` and ``attrs["text_replaced"]`` counted on the rows kept. The
    result equals ``tasks_frame`` of all the records at once (``tests/test_frames.py``).

    Equal values of the repeating columns (status, priority, the ids, each assignee id, due
    dates) share one ``str`` object across the whole listing: a column then costs 8 bytes a
    row instead of about 90 (a 36-character id each). Not thread-safe: one thread adds.
    """

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._pool: dict[Any, Any] = {}  # value -> the one object every cell equal to it holds
        self._join: Callable[[pd.DataFrame], pd.DataFrame] | None = None
        self._joined_parts: list[pd.DataFrame] = []
        self.joined: pd.DataFrame | None = None  # set by finish when a join was given in time

    def join_with(self, join: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        """Also join every batch with ``join`` (a row-wise function of a batch of task rows, such
        as ``transforms.TaskJoiner.join``): the batches added so far at the next ``add`` or at
        ``finish``, later ones as they are added. ``finish`` then sets ``joined``: ``join`` of
        the finished frame. May be called from another thread than the one adding."""
        self._join = join

    def reset(self) -> None:
        """Forget every batch (a listing started again from its first page); keeps the join."""
        self._parts, self._joined_parts, self._pool, self.joined = [], [], {}, None

    def take_joined(self) -> pd.DataFrame | None:
        """``joined``, handed over once (the builder keeps no reference)."""
        joined, self.joined = self.joined, None
        return joined

    def add(self, records: Iterable[Task] | Iterable[dict[str, Any]]) -> None:
        """Turn one batch into columns (every per-row rule of :func:`tasks_frame`, no dedup)."""
        raw = _raw(records, _TASK_FIELDS)
        if not len(raw):
            return
        key = _text(raw["id"])
        due, _ = _parse_due(raw["dueDate"])
        part = _task_columns(raw, key, due, self._shared_lists(_distinct_lists(raw["assigneeIds"])))
        for name in _SHARED_TASK_COLUMNS:
            part[name] = self._shared(part[name])
        bad = raw["dueDate"].notna().to_numpy() & due.isna().to_numpy()
        # Columns taken from ``raw`` as they are may be views of its one block of every field the
        # batch had (the record's own lists, date strings, ...): copied, the part keeps only its cells.
        part = part.copy(deep=True)
        del raw, key
        ids = part["task_id"].to_numpy(dtype=object, copy=True)
        replaced = np.zeros(len(part), dtype=bool)
        replaced[_repair_cells(part)] = True
        part[_KEY], part[_BAD], part[_REPLACED] = ids, bad, replaced  # _KEY: the id before any repair
        self._parts.append(part)
        self._catch_up()

    def _catch_up(self) -> None:
        join = self._join
        if join is None:
            return
        while len(self._joined_parts) < len(self._parts):
            self._joined_parts.append(join(self._parts[len(self._joined_parts)]))

    def finish(self) -> pd.DataFrame:
        """The tasks frame of every batch added (then the builder is empty again), and
        ``joined`` when a join was given."""
        self._catch_up()
        parts, joined, self._parts, self._joined_parts, self._pool = self._parts, self._joined_parts, [], [], {}
        if not parts:
            return tasks_frame([])
        whole = pd.concat(parts, ignore_index=True)
        del parts
        ids = whole[_KEY]
        keep = ~(ids.notna() & ids.duplicated(keep="first")).to_numpy()  # first by id, as tasks_frame
        if self._join is not None:
            self.joined = _rows_kept(pd.concat(joined, ignore_index=True), keep)
        del joined
        kept = _rows_kept(whole, keep)
        del whole
        frame = kept[list(TASK_COLUMNS)]
        frame.attrs["bad_due_dates"] = int(kept[_BAD].sum())
        frame.attrs["text_replaced"] = frame["task_id"][kept[_REPLACED].to_numpy()].tolist()
        return frame

    def _shared(self, column: pd.Series) -> pd.Series:
        """``column`` with each distinct value replaced by the pool's object equal to it."""
        if pd.api.types.infer_dtype(column, skipna=True) != "string":
            return column  # factorize would take 1, 1.0 and True for one value: only text is shared
        codes, distinct = pd.factorize(column.to_numpy(dtype=object))  # nulls -> -1
        pool = self._pool
        objects = np.array([*(pool.setdefault(v, v) for v in distinct), None], dtype=object)
        return pd.Series(objects[codes], index=column.index, dtype=object)

    def _shared_lists(self, column: pd.Series) -> pd.Series:
        """Lists of ids, each id the pool's object (new lists: the batch's own are dropped)."""
        cells = column.tolist()
        if not cells:
            return column
        flat = list(chain.from_iterable(cells))
        if not flat:
            return column
        rows = np.repeat(np.arange(len(cells)), np.fromiter(map(len, cells), dtype=np.int64, count=len(cells)))
        shared = self._shared(pd.Series(flat, dtype=object)).tolist()
        return pd.Series(regroup(rows, shared, len(cells)), index=column.index, dtype=object)


def _rows_kept(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    kept = frame if keep.all() else frame[keep]
    return kept.reset_index(drop=True)


def projects_frame(records: Iterable[Project] | None) -> pd.DataFrame:
    """``/projects`` records -> ``project_id, project_number, project_title, team_id, customer_id``
    (str or None; records without an id dropped, first of a repeated id kept)."""
    raw = _raw(records, ("id", "projectNumber", "title", "teamId", "customerId"))
    raw = _first_by_id(raw.assign(id=_ids(raw["id"])), "id", keep_null_ids=False)
    return _replace_surrogates(pd.DataFrame({
        "project_id": raw["id"],
        "project_number": _text(raw["projectNumber"]),
        "project_title": _text(raw["title"]),
        "team_id": _ids(raw["teamId"]),
        "customer_id": _ids(raw["customerId"]),
    }, columns=list(PROJECT_COLUMNS)), "project_id")


def customers_frame(records: Iterable[Customer] | None) -> pd.DataFrame:
    """``/customers`` records -> ``customer_id, customer_name`` (str or None)."""
    raw = _raw(records, ("id", "customerName"))
    raw = _first_by_id(raw.assign(id=_ids(raw["id"])), "id", keep_null_ids=False)
    frame = pd.DataFrame({"customer_id": raw["id"], "customer_name": _text(raw["customerName"])},
                         columns=list(CUSTOMER_COLUMNS))
    return _replace_surrogates(frame, "customer_id")


def members_frame(records: Iterable[Member] | None) -> pd.DataFrame:
    """``/members`` records -> ``member_id, display_name, email, status`` (str or None) and
    ``team_ids`` (list[str], [] for null/missing)."""
    raw = _raw(records, ("id", "displayName", "email", "status", "teamIds"))
    raw = _first_by_id(raw.assign(id=_ids(raw["id"])), "id", keep_null_ids=False)
    return _replace_surrogates(pd.DataFrame({
        "member_id": raw["id"],
        "display_name": _text(raw["displayName"]),
        "email": _text(raw["email"]),
        "status": raw["status"],
        "team_ids": _distinct_lists(raw["teamIds"]),
    }, columns=list(MEMBER_COLUMNS)), "member_id")


def build_frames(
    projects: Iterable[Project] | None,
    tasks: Iterable[Task] | None,
    customers: Iterable[Customer] | None,
    members: Iterable[Member] | None,
) -> Frames:
    """The four listings (lists of API records) -> :class:`Frames`."""
    return Frames(
        tasks=tasks_frame(tasks),
        projects=projects_frame(projects),
        customers=customers_frame(customers),
        members=members_frame(members),
    )
