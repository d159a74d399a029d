"""Records -> frames a page at a time (``frames.TasksFrameBuilder``) equals all at once (``tasks_frame``)."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

from pike_tasks import frames as fr


def hostile_tasks() -> list[Any]:
    """Every awkward case the frames must survive, repeated and shuffled into many pages."""
    cases: list[Any] = [
        {"id": "t1", "title": "First t1", "status": "toDo", "priority": "high", "projectId": "p1",
         "teamId": "T1", "customerId": "c1", "assigneeIds": ["m1", "m2"], "dueDate": "2026-04-01",
         "billableStatus": "billable", "description": "<b>d</b>"},
        {"id": "t1", "title": "Second t1 (dropped: first by id wins)", "status": "done"},
        {"id": None, "title": "null id, kept", "dueDate": "2026-02-30"},
        {"id": None, "title": "another null id, kept", "dueDate": "not a date"},
        {"title": "missing id, kept", "assigneeIds": None},
        {"id": "", "title": "empty id is an id for tasks"},
        {"id": "", "title": "second empty id: dropped"},
        {"id": 7, "title": 12345, "projectId": 99, "teamId": "", "customerId": 3.5, "dueDate": 20260401},
        {"id": "7", "title": "string 7 repeats the numeric 7's text: dropped"},
        {"id": "s\ud800", "title": "lone \udfff surrogate", "description": "x\ud83d",
         "assigneeIds": ["m\ud800", "m\ufffd", "m1"], "teamId": "T\udc00"},
        {"id": "s\ufffd", "title": "differs from s\\ud800 only after repair: kept (dedup is on the id as sent)"},
        {"id": "s\ud800", "title": "repeat of a surrogate id: dropped"},
        {"id": "l1", "assigneeIds": ["m1", None, "", 5, "m1", ["nested"], {"x": 1}, "m2"], "dueDate": None},
        {"id": "l2", "assigneeIds": ("m3", "m3"), "dueDate": "2026-04-15T23:59:59Z"},
        {"id": "l3", "assigneeIds": "m1", "dueDate": "2026-4-1"},
        {"id": "l4", "assigneeIds": [], "dueDate": ""},
        {"id": "l5", "assigneeIds": 17, "status": None, "priority": 3, "billableStatus": True},
        {"id": "l6", "status": 1, "priority": True, "billableStatus": 1.0},
        {"id": "l7", "status": ["blocked"], "priority": {"p": 1}},
        "not a record",
        None,
        {"id": "l8", "title": float("nan"), "dueDate": float("nan"), "teamId": float("nan")},
    ]
    rng = random.Random(24)  # noqa: S311 - shuffles test records, not a secret
    plain = [{"id": f"t{i}", "title": f"Task {i}", "status": rng.choice(["toDo", "done", "inProgress"]),
              "priority": rng.choice(["urgent", "low", None]), "projectId": f"p{i % 7}", "teamId": f"T{i % 3}",
              "assigneeIds": [f"m{i % 5}", f"m{i % 4}"], "dueDate": f"2026-03-{1 + i % 28:02d}"}
             for i in range(2, 400)]
    plain += [dict(case) if isinstance(case, dict) else case for case in cases]  # late repeats of early ids
    rng.shuffle(plain)
    return cases + plain


def build_in_pages(records: list[Any], page: int) -> pd.DataFrame:
    builder = fr.TasksFrameBuilder()
    for start in range(0, len(records), page):
        builder.add(records[start:start + page])
    return builder.finish()


@pytest.mark.parametrize("page", [1, 3, 7, 50, 200, 10_000])
def test_tasks_frame_page_by_page_equals_all_at_once_on_hostile_records(page: int) -> None:
    records = hostile_tasks()
    expected = fr.tasks_frame(records)
    got = build_in_pages(records, page)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    assert expected.attrs["bad_due_dates"] > 0 and expected.attrs["text_replaced"]  # the cases are really there
    assert got["task_id"].tolist().count(None) == expected["task_id"].tolist().count(None) >= 3


def test_builder_with_nothing_added_gives_the_empty_tasks_frame() -> None:
    expected = fr.tasks_frame([])
    got = fr.TasksFrameBuilder().finish()
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    builder = fr.TasksFrameBuilder()
    builder.add([])
    pd.testing.assert_frame_equal(builder.finish(), expected)


def test_builder_shares_repeated_ids_and_statuses_between_pages() -> None:
    records = [{"id": f"t{i}", "status": "to" + "Do", "teamId": "T" + str(i % 2), "assigneeIds": ["m" + "1"]}
               for i in range(10)]
    frame = build_in_pages(records, 3)
    assert len({id(v) for v in frame["status"]}) == 1
    assert len({id(v) for v in frame["team_id"]}) == 2
    assert len({id(ids[0]) for ids in frame["assignee_ids"]}) == 1
    pd.testing.assert_frame_equal(frame, fr.tasks_frame(records))


PROJECTS = [{"id": f"p{i}", "projectNumber": f"P-{i}", "title": f"Project {i}", "teamId": f"T{i % 2}",
             "customerId": f"c{i % 3}"} for i in range(1, 6)] + [{"id": "p6", "title": None, "teamId": None}]
CUSTOMERS = [{"id": "c0", "customerName": "Zeta"}, {"id": "c1", "customerName": None},
             {"id": "c2", "customerName": "Ab"}]
MEMBERS = [{"id": "m1", "displayName": "Ada", "status": "active", "teamIds": ["T1"]},
           {"id": "m2", "email": "b@example.com", "status": "inactive"}, {"id": "m4", "status": None}]


@pytest.mark.parametrize(("page", "join_after"), [(1, 0), (7, 3), (50, 1), (200, 5), (10_000, 1)])
def test_tasks_joined_page_by_page_equals_resolve_tasks_at_once(page: int, join_after: int) -> None:
    from pike_tasks import transforms as tf

    # resolve_tasks itself needs hashable statuses and priorities (a dict there raises, joined or not)
    records = [r for r in hostile_tasks()
               if not (isinstance(r, dict) and isinstance(r.get("status"), list | dict))
               and not (isinstance(r, dict) and isinstance(r.get("priority"), list | dict))]
    workspace = fr.build_frames(PROJECTS, records, CUSTOMERS, MEMBERS)
    names = {"T1": "One", "T0": ""}
    expected = tf.resolve_tasks(workspace, names)
    builder = fr.TasksFrameBuilder()
    joiner = tf.TaskJoiner(workspace.projects, workspace.customers, workspace.members)
    for n, start in enumerate(range(0, len(records), page)):
        if n == join_after:  # the small listings arrive after some pages of tasks
            builder.join_with(joiner.join)
        builder.add(records[start:start + page])
    builder.join_with(joiner.join)
    tasks = builder.finish()
    pd.testing.assert_frame_equal(tasks, workspace.tasks)
    joined = builder.take_joined()
    assert joined is not None and builder.joined is None
    pd.testing.assert_frame_equal(tf.with_team_labels(joined, names), expected)
    pre_joined = fr.Frames(tasks, workspace.projects, workspace.customers, workspace.members, tasks_joined=joined)
    pd.testing.assert_frame_equal(tf.resolve_tasks(pre_joined, names), expected)
    assert tf.data_quality(pre_joined, expected) == tf.data_quality(workspace, expected)


def test_overlapping_listings_restore_the_thread_switch_interval_they_found():
    import sys

    from pike_tasks.prefect_tasks import _quick_gil_handoff

    found = sys.getswitchinterval()
    first, second = _quick_gil_handoff(), _quick_gil_handoff()
    first.__enter__()
    second.__enter__()  # a second flow's tasks listing in the same process, begun while the first converts
    assert sys.getswitchinterval() == min(found, 0.001)
    first.__exit__(None, None, None)  # the first ends first: the second still converts
    assert sys.getswitchinterval() == min(found, 0.001)
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == found
