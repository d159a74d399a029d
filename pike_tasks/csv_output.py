"""Pure: the CSV dialect of REPORTS.md "Machine-readable outputs".

UTF-8 without BOM, a header row, Python's ``csv`` default dialect (quoted only where needed),
integers plain, ``billable_share`` with one decimal, dates ``YYYY-MM-DD``, text raw (no HTML
escaping) except the formula guard: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading ``'``. The guard is applied here, when a cell is written,
never to the labels the reports sort on.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from pike_tasks.outputs import atomic_writer
from pike_tasks.rules import (  # noqa: F401 - REPORTS.md's columns, re-exported for the writers' callers
    CHANGES_COLUMNS,
    DUE_SOON_COLUMNS,
    FORMULA_STARTS,
    OVERDUE_COLUMNS,
    SHARE_COLUMNS,
    WORKLOAD_BY_CUSTOMER_COLUMNS,
    WORKLOAD_COLUMNS,
)


def guard_cell(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unguard_cell(cell: str) -> str:
    """The value a written cell stands for: ``cell`` without the ``'`` that ``guard_cell`` added.

    The quote is removed only when what follows it starts with a guarded character, which is
    exactly when ``guard_cell`` adds one. ``guard_cell(unguard_cell(c)) == c`` for every cell
    ``guard_cell`` can write, so a value read back and written again gives the same bytes. The
    dialect cannot tell a value that itself began with ``'=`` from a guarded ``=``: both read
    back as the ``=`` value (and are written back identically).
    """
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


_GUARDED_FIRST = frozenset(FORMULA_STARTS)  # every guarded start is one character


def guard_column(values: pd.Series) -> pd.Series:
    """``guard_cell`` of every cell of a column of ``str`` (same result, one cheap test a cell)."""
    cells = ["'" + c if c[:1] in _GUARDED_FIRST else c for c in values.tolist()]
    return pd.Series(cells, index=values.index, dtype=object)


def unguard_column(values: pd.Series) -> pd.Series:
    """``unguard_cell`` of every cell of a column of ``str`` (same result, one cheap test a cell)."""
    cells = [c[1:] if c[:1] == "'" and c[1:2] in _GUARDED_FIRST else c for c in values.tolist()]
    return pd.Series(cells, index=values.index, dtype=object)


def format_share(x: float) -> str:
    """A percentage already rounded to one decimal, as ``80.0`` / ``6.3`` / ``0.0`` (no ``%``)."""
    return f"{float(x):.1f}"


def _cell(value: Any) -> Any:
    """One cell as csv should write it: "" for null, guarded text, plain ints, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, str):
        return guard_cell(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return int(value) if float(value).is_integer() else repr(float(value))
    if value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return guard_cell(str(value))


def _share_cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format_share(value)


def _rows(df: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Header check, then the cells of ``df[columns]`` row by row, as csv should write them."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in frame: {missing}")
    cells: list[list[Any]] = []
    for column in columns:
        values = df[column].astype(object).tolist()
        if column in SHARE_COLUMNS:
            cells.append([_share_cell(v) for v in values])
        else:
            cells.append(_column_cells(values))
    return zip(*cells, strict=True)  # one list per column, all len(df)


def _column_cells(values: list[Any]) -> list[Any]:
    """``[_cell(v) for v in values]``, with one cheap test a cell for the usual columns (all text,
    text or null, all ints, dates or null), which are most of a big report's cells."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        guarded = _GUARDED_FIRST
        if type(None) not in kinds:
            return ["'" + c if c[:1] in guarded else c for c in values]
        return ["" if c is None else "'" + c if c[:1] in guarded else c for c in values]
    if kinds <= {int}:
        return values  # _cell gives each int itself
    if kinds <= {date, type(None)}:  # exactly date (a datetime is a date too, but written as its date)
        iso: dict[date, str] = {}
        return ["" if d is None else iso.get(d) or iso.setdefault(d, d.isoformat()) for d in values]
    return [_cell(v) for v in values]


def write_csv(df: pd.DataFrame, columns: Sequence[str], path: str | os.PathLike[str]) -> None:
    """Write ``df[columns]`` as a report CSV (REPORTS.md dialect), atomically.

    The file is written to a temporary name in the same folder and moved into place with
    ``os.replace``, so a reader never sees half a file. Missing parent folders are created.

    Args:
        df: report rows in report order (must hold every name in ``columns``).
        columns: the exact header, in order.
        path: where the CSV goes.
    """
    columns = list(columns)
    rows = _rows(df, columns)
    with atomic_writer(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)


def csv_bytes(df: pd.DataFrame, columns: Sequence[str]) -> bytes:
    """The bytes ``write_csv`` would write for ``df[columns]`` (for folders built in memory)."""
    columns = list(columns)
    rows = _rows(df, columns)
    # Encoded as it is written: a StringIO holding one emoji keeps 4 bytes a character (its whole
    # text in UCS-4, then a copy of it), 150 MB for the overdue.csv of 500k tasks instead of 38.
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    writer.writerows(rows)
    text.flush()
    data = buffer.getvalue()
    text.detach()
    return data
