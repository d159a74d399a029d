"""The CSV dialect of REPORTS.md "Machine-readable outputs", checked on the bytes written."""

from __future__ import annotations

import csv
from datetime import date

import pandas as pd
import pytest

from pike_tasks import csv_output as co
from pike_tasks import frames as fr
from pike_tasks import transforms as tf


def test_header_tuples_are_exactly_the_report_columns():
    assert ",".join(co.OVERDUE_COLUMNS) == \
        "task_id,team_id,team,title,project,customer,assignees,priority,status,due_date,days_overdue"
    assert ",".join(co.WORKLOAD_COLUMNS) == \
        "member_id,member,status,open,billable,non_billable,unclassified,billable_share,overdue,flag"
    assert ",".join(co.WORKLOAD_BY_CUSTOMER_COLUMNS) == \
        "customer_id,customer,open_tasks,billable_tasks,assignees,projects"
    assert ",".join(co.DUE_SOON_COLUMNS) == \
        "task_id,team_id,team,title,project,customer,assignees,priority,status,due_date,days_left"
    assert ",".join(co.CHANGES_COLUMNS) == \
        "change,reason,task_id,team_id,team,title,priority,status,due_date,days_overdue"


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+SUM(1)", "'+SUM(1)"), ("-5", "'-5"), ("@handle", "'@handle"),
    ("\tTabbed", "'\tTabbed"), ("\rCR", "'\rCR"), ("plain", "plain"), ("", ""), (" =not first", " =not first"),
    ("'quoted", "'quoted"), ("a=b", "a=b"),
])
def test_guard_cell(value, expected):
    assert co.guard_cell(value) == expected


@pytest.mark.parametrize(("x", "text"), [(80.0, "80.0"), (6.3, "6.3"), (0.0, "0.0"), (100.0, "100.0"), (66.7, "66.7")])
def test_format_share(x, text):
    assert co.format_share(x) == text


def test_workload_csv_bytes(tmp_path):
    frame = pd.DataFrame([
        ("m1", "Zoë <b>Ñ</b>", "inactive", 5, 4, 1, 0, 80.0, 2, "inactive"),
        ("m2", "=HYPERLINK(\"x\")", "active", 16, 1, 0, 15, 6.3, 0, ""),
        ("", "Unassigned", "", 1, 0, 0, 1, 0.0, 1, ""),
    ], columns=list(co.WORKLOAD_COLUMNS))
    path = tmp_path / "out" / "workload.csv"
    co.write_csv(frame, co.WORKLOAD_COLUMNS, path)
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8").splitlines()
    assert lines == [
        "member_id,member,status,open,billable,non_billable,unclassified,billable_share,overdue,flag",
        "m1,Zoë <b>Ñ</b>,inactive,5,4,1,0,80.0,2,inactive",
        "m2,\"'=HYPERLINK(\"\"x\"\")\",active,16,1,0,15,6.3,0,",
        ",Unassigned,,1,0,0,1,0.0,1,",
    ]
    assert [p.name for p in path.parent.iterdir()] == ["workload.csv"]  # no temp file left behind


def test_overdue_csv_from_the_transforms_guards_but_sorts_unguarded(tmp_path):
    """"-b" sorts after "=a" and "a" by code point ("-" 0x2d < "=" 0x3d < "a"), on the raw titles;
    the quote is only in the file. Null priority is an empty cell, text with commas and
    newlines is quoted, ids are guarded too."""
    tasks = [
        {"id": "t1", "title": "a", "teamId": "team1", "status": "toDo", "priority": "high", "dueDate": "2026-04-01"},
        {"id": "t2", "title": "=a", "teamId": "team1", "status": "toDo", "priority": "high", "dueDate": "2026-04-01"},
        {"id": "t3", "title": "-b", "teamId": "team1", "status": "toDo", "priority": "high", "dueDate": "2026-04-01"},
        {"id": "-t4", "title": "Line\nbreak, \"q\"", "status": None, "priority": None, "dueDate": "2026-03-01"},
    ]
    frames = fr.build_frames([], tasks, [], [])
    rows = tf.overdue_tasks(tf.resolve_tasks(frames, {"team1": "@Ops"}), date(2026, 4, 9))
    assert rows["title"].tolist() == ["-b", "=a", "a", "Line\nbreak, \"q\""]
    path = tmp_path / "overdue.csv"
    co.write_csv(rows, co.OVERDUE_COLUMNS, path)
    with open(path, encoding="utf-8", newline="") as fh:
        read = list(csv.reader(fh))
    assert read == [
        list(co.OVERDUE_COLUMNS),
        ["t3", "team1", "'@Ops", "'-b", "No project", "No customer", "Unassigned", "high", "toDo", "2026-04-01", "8"],
        ["t2", "team1", "'@Ops", "'=a", "No project", "No customer", "Unassigned", "high", "toDo", "2026-04-01", "8"],
        ["t1", "team1", "'@Ops", "a", "No project", "No customer", "Unassigned", "high", "toDo", "2026-04-01", "8"],
        ["'-t4", "", "No team", "Line\nbreak, \"q\"", "No project", "No customer", "Unassigned", "", "",
         "2026-03-01", "39"],
    ]
    assert b'"Line\nbreak, ""q"""' in path.read_bytes()


def test_empty_frame_writes_only_the_header(tmp_path):
    path = tmp_path / "by_customer.csv"
    co.write_csv(pd.DataFrame(columns=list(co.WORKLOAD_BY_CUSTOMER_COLUMNS)), co.WORKLOAD_BY_CUSTOMER_COLUMNS, path)
    header = b"customer_id,customer,open_tasks,billable_tasks,assignees,projects\n"
    assert path.read_bytes().replace(b"\r\n", b"\n") == header


def test_missing_column_is_an_error_and_leaves_no_file(tmp_path):
    path = tmp_path / "workload.csv"
    with pytest.raises(KeyError):
        co.write_csv(pd.DataFrame({"member_id": ["m1"]}), co.WORKLOAD_COLUMNS, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("cell", "value"), [
    ("'=1+1", "=1+1"), ("'+SUM(1)", "+SUM(1)"), ("'-5", "-5"), ("'@handle", "@handle"), ("'\tTab", "\tTab"),
    ("'\rCR", "\rCR"), ("'quoted", "'quoted"), ("''=x", "''=x"), ("'", "'"), ("", ""), ("plain", "plain"),
    ("a'=b", "a'=b"),
])
def test_unguard_cell_removes_only_the_quote_the_guard_adds(cell, value):
    assert co.unguard_cell(cell) == value
    assert co.guard_cell(co.unguard_cell(cell)) == cell  # read back and written again: same cell


def test_guard_round_trip_is_exact_except_a_literal_quote_before_a_guarded_character():
    for value in ("=SUM(A1)", "-5", "'quoted", "@x", "\tTab", "'", "''=x", "plain"):
        assert co.unguard_cell(co.guard_cell(value)) == value
    # "'=x" and "=x" are written alike ("'=x"); the dialect reads both back as "=x"
    assert co.unguard_cell(co.guard_cell("'=x")) == "=x"


def test_csv_bytes_are_the_bytes_write_csv_writes(tmp_path):
    frame = pd.DataFrame([
        ("new", "", "t1", "", "No team", "=SUM(A1)", None, "toDo", "2026-04-01", 8),
        ("resolved", "gone", "t2", "team1", "@Ops", "Line\nbreak, \"q\"", "high", "", "2026-03-01", 39),
    ], columns=list(co.CHANGES_COLUMNS))
    path = tmp_path / "changes.csv"
    co.write_csv(frame, co.CHANGES_COLUMNS, path)
    data = co.csv_bytes(frame, co.CHANGES_COLUMNS)
    assert data == path.read_bytes()
    assert data.decode("utf-8").split("\r\n")[:2] == [
        "change,reason,task_id,team_id,team,title,priority,status,due_date,days_overdue",
        "new,,t1,,No team,'=SUM(A1),,toDo,2026-04-01,8",
    ]
    assert co.csv_bytes(frame.iloc[:0], co.CHANGES_COLUMNS) == (",".join(co.CHANGES_COLUMNS) + "\r\n").encode()
    with pytest.raises(KeyError):
        co.csv_bytes(frame, [*co.CHANGES_COLUMNS, "extra"])


def test_column_guards_match_the_cell_guards():
    cells = ["=1", "'=1", "''=1", "'", "", "plain", "-", "'-", "\t", "'\r", "@a", "'quoted", "+", "'+x", "a=b"]
    column = pd.Series(cells, dtype=object)
    assert co.guard_column(column).tolist() == [co.guard_cell(c) for c in cells]
    assert co.unguard_column(column).tolist() == [co.unguard_cell(c) for c in cells]
    assert co.unguard_column(pd.Series(["a", "b"], dtype=object)).tolist() == ["a", "b"]
    assert co.guard_column(pd.Series([], dtype=object)).tolist() == []
