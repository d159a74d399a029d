"""REPORTS.md Report 4 (what changed since the previous report), one tiny workspace per rule.

Day 1 (B) is 2026-04-09, day 2 (D) 2026-04-10. B's rows are always B's ``overdue.csv`` bytes read
back, as the flow will read them from the store; expected values are worked out by hand.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from records import task_builder

from pike_tasks import changes as ch
from pike_tasks import csv_output as co
from pike_tasks import frames as fr
from pike_tasks import transforms as tf

B = date(2026, 4, 9)
D = date(2026, 4, 10)
TEAM_A = "aaaaaaaa-1111-4000-8000-000000000001"
TEAM_B = "bbbbbbbb-2222-4000-8000-000000000002"
NAMES = {TEAM_A: "Alpha", TEAM_B: "Beta"}


def due(days_before_b: int) -> str:
    return (B - timedelta(days=days_before_b)).isoformat()


task = task_builder(teamId=TEAM_A, dueDate=due(2))


def resolved(tasks, names=NAMES) -> pd.DataFrame:
    return tf.resolve_tasks(fr.build_frames([], list(tasks), [], []), names)


def baseline(tasks, team_ids=None, names=NAMES) -> pd.DataFrame:
    rows = tf.overdue_tasks(resolved(tasks, names), B, team_ids)
    return ch.read_report_rows(co.csv_bytes(rows, co.OVERDUE_COLUMNS))


def changes(day1, day2, team_ids=None, names1=NAMES, names2=NAMES) -> pd.DataFrame:
    today = resolved(day2, names2)
    rows = tf.overdue_tasks(today, D, team_ids)
    return ch.compute_changes(rows, baseline(day1, team_ids, names1), today, D, team_ids, baseline_as_of=B)


def table(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame[["change", "reason", "task_id"]].itertuples(index=False)]


# --- reading B back -------------------------------------------------------------------------------


def test_read_report_rows_gives_the_values_without_the_guard_quote():
    titles = ["=SUM(A1)", "-5", "'quoted", "@x", "\tTabbed", "\rCarriage", "+1", "plain", "Line\nbreak, \"q\"",
              "'=literal"]
    day1 = [task(i, title=t, dueDate=due(i + 1)) for i, t in enumerate(titles)]
    day1.append(task("-x", title="id needs a guard", teamId=None, priority=None, status=None, dueDate=due(40)))
    rows = baseline(day1, names={TEAM_A: "@Ops"})
    assert list(rows.columns) == list(co.OVERDUE_COLUMNS)
    by_id = rows.set_index("task_id")
    # "'=literal" is written as "'=literal" like a guarded "=literal": the dialect reads back "=literal"
    assert [by_id.loc[f"t{i}", "title"] for i in range(len(titles))] == [*titles[:-1], "=literal"]
    assert set(by_id.loc[[f"t{i}" for i in range(len(titles))], "team"]) == {"@Ops"}
    assert by_id.loc["t-x"].to_dict() == {
        "team_id": "", "team": "No team", "title": "id needs a guard", "project": "No project",
        "customer": "No customer", "assignees": "Unassigned", "priority": "", "status": "",
        "due_date": "2026-02-28", "days_overdue": 40,
    }
    assert rows["days_overdue"].dtype == "int64"
    # written again, the rows give B's bytes back
    again = co.csv_bytes(rows, co.OVERDUE_COLUMNS)
    assert again == co.csv_bytes(tf.overdue_tasks(resolved(day1, {TEAM_A: "@Ops"}), B), co.OVERDUE_COLUMNS)


def test_read_report_rows_header_only_bom_lf_and_column_order():
    empty = ch.read_report_rows((",".join(co.OVERDUE_COLUMNS) + "\r\n").encode())
    assert len(empty) == 0 and list(empty.columns) == list(co.OVERDUE_COLUMNS)
    shuffled = ("\ufeffdays_overdue," + ",".join(co.OVERDUE_COLUMNS[:-1]) + ",extra\n"
                "3,t1,A,Alpha,'-x,P,C,Ann,high,toDo,2026-04-06,ignored\n").encode()
    row = ch.read_report_rows(shuffled).iloc[0].to_dict()
    assert row["task_id"] == "t1" and row["title"] == "-x" and row["days_overdue"] == 3


@pytest.mark.parametrize("data", [b"", b"task_id,title\r\nt1,x\r\n",
                                  (",".join(co.OVERDUE_COLUMNS) + "\r\nt1,A\r\n").encode(),
                                  (",".join(co.OVERDUE_COLUMNS) + "\r\nt1,,,,,,,,,,x\r\n").encode()])
def test_read_report_rows_rejects_what_is_not_an_overdue_csv(data):
    with pytest.raises(ValueError):
        ch.read_report_rows(data)


# --- the rules ------------------------------------------------------------------------------------------


def test_no_baseline_gives_the_header_only():
    today = resolved([task(1)])
    result = ch.compute_changes(tf.overdue_tasks(today, D), None, today, D)
    assert list(result.columns) == list(co.CHANGES_COLUMNS) and len(result) == 0
    assert co.csv_bytes(result, co.CHANGES_COLUMNS) == (",".join(co.CHANGES_COLUMNS) + "\r\n").encode()


def test_a_baseline_with_no_rows_makes_every_overdue_task_new():
    assert table(changes([task(1, dueDate=None)], [task(1)])) == [("new", "added", "t1")]


def test_nothing_changed_gives_no_rows():
    assert len(changes([task(1), task(2)], [task(1), task(2)])) == 0


def test_each_reason():
    day1 = [task("gone"), task("closed"), task("cancelled"), task("resched_null"), task("resched_later"),
            task("resched_to_d"), task("stays")]
    day2 = [task("closed", status="done"), task("cancelled", status="cancelled"),
            task("resched_null", dueDate=None), task("resched_to_d", dueDate=D.isoformat()),
            task("resched_later", dueDate=(D + timedelta(days=3)).isoformat()), task("stays"),
            task("new", dueDate=due(0))]
    # B's rows tie on team, priority and days: B's order is by title ("Task cancelled", ...)
    assert table(changes(day1, day2)) == [
        ("new", "became_overdue", "tnew"),
        ("resolved", "closed", "tcancelled"),
        ("resolved", "closed", "tclosed"),
        ("resolved", "gone", "tgone"),
        ("resolved", "rescheduled", "tresched_later"),
        ("resolved", "rescheduled", "tresched_null"),
        ("resolved", "rescheduled", "tresched_to_d"),   # due on D itself is not before D
    ]


def test_a_new_row_became_overdue_when_due_on_or_after_b_else_it_was_added():
    """REPORTS.md Report 4: due on or after B fell due since the baseline; earlier was already past
    due on B but not on B's list (reopened, moved in, created since, or given an earlier date)."""
    later = B + timedelta(days=3)
    day1 = [task("reopened", status="done", dueDate=due(5)), task("moved", teamId=TEAM_B, dueDate=due(5))]
    day2 = [task("reopened", dueDate=due(5)), task("moved", dueDate=due(5)),
            task("on_b", dueDate=B.isoformat()), task("before_b", dueDate=due(1)),
            task("after_b", dueDate=(B + timedelta(days=2)).isoformat()), task("created", dueDate=due(30))]
    today = resolved(day2)
    result = ch.compute_changes(tf.overdue_tasks(today, later, [TEAM_A]), baseline(day1, [TEAM_A]), today, later,
                                [TEAM_A], baseline_as_of=B)
    assert result.set_index("task_id")["reason"].to_dict() == {
        "treopened": "added", "tmoved": "added", "ton_b": "became_overdue", "tbefore_b": "added",
        "tafter_b": "became_overdue", "tcreated": "added",
    }
    with pytest.raises(ValueError, match="baseline_as_of"):
        ch.compute_changes(tf.overdue_tasks(today, later), baseline(day1), today, later)


def test_out_of_scope_only_with_a_team_filter_and_only_when_still_overdue():
    day1 = [task(1), task(2), task(3), task(4), task(5)]
    day2 = [task(1, teamId=TEAM_B),                  # moved out of the filter, still overdue
            task(2, teamId=None),                    # No team is outside any filter
            task(3, teamId=TEAM_B, status="done"),   # closed comes first
            task(4, teamId=TEAM_B, dueDate=None),    # rescheduled comes first
            task(5)]
    result = changes(day1, day2, team_ids=[TEAM_A]).set_index("task_id")["reason"].to_dict()
    assert result == {"t1": "out_of_scope", "t2": "out_of_scope", "t3": "closed", "t4": "rescheduled"}
    # moved to another team inside the filter: still overdue and in D's rows, so not resolved
    assert len(changes([task(1)], [task(1, teamId=TEAM_B)], team_ids=[TEAM_A, TEAM_B])) == 0
    # without a filter a moved task is still overdue: not resolved either
    assert len(changes([task(1)], [task(1, teamId=TEAM_B)])) == 0


def test_new_rows_in_d_order_with_d_values_then_resolved_in_b_order_with_b_values():
    day1 = [task("r1", teamId=TEAM_B, priority="low", dueDate=due(10), title="old title"),
            task("r2", priority="urgent", dueDate=due(3)),
            task("r3", priority="urgent", dueDate=due(5)),
            task("keep")]
    day2 = [task("r1", teamId=TEAM_A, priority="urgent", title="new title", status="done", dueDate=due(10)),
            task("r2", status="inReview", dueDate=None), task("keep"),
            task("n1", priority="low", dueDate=due(20), teamId=TEAM_B),
            task("n2", priority="urgent", dueDate=due(0)),
            task("n3", priority="urgent", dueDate=due(0), title="a")]
    result = changes(day1, day2)
    assert table(result) == [
        ("new", "became_overdue", "tn3"), ("new", "became_overdue", "tn2"),  # Alpha (3 overdue), then Beta
        ("new", "added", "tn1"),                                              # title "a" < "Task n2"
        ("resolved", "gone", "tr3"), ("resolved", "rescheduled", "tr2"),  # B: Alpha, urgent, days desc
        ("resolved", "closed", "tr1"),                                    # then Beta
    ]
    rows = result.set_index("task_id")
    assert rows.loc["tn2"].to_dict() == {
        "change": "new", "reason": "became_overdue", "team_id": TEAM_A, "team": "Alpha", "title": "Task n2",
        "priority": "urgent", "status": "toDo", "due_date": "2026-04-09", "days_overdue": 1,
    }
    # B's values (team, title, priority, due date, B's days_overdue), today's status
    assert rows.loc["tr1"].to_dict() == {
        "change": "resolved", "reason": "closed", "team_id": TEAM_B, "team": "Beta", "title": "old title",
        "priority": "low", "status": "done", "due_date": "2026-03-30", "days_overdue": 10,
    }
    assert rows.loc["tr2", "status"] == "inReview" and rows.loc["tr2", "due_date"] == "2026-04-06"
    assert rows.loc["tr3", "status"] == ""                             # gone: empty status
    assert rows["days_overdue"].dtype == "int64"


def test_resolved_status_is_empty_when_null_today():
    result = changes([task(1)], [task(1, status=None, dueDate=None)])
    assert result[["reason", "status"]].values.tolist() == [["rescheduled", ""]]


def test_hostile_values_round_trip_through_b_and_out_again():
    titles = ["=SUM(A1)", "-5", "'quoted", "@x", "\tTab", "\rCR"]
    day1 = [task(i, title=t) for i, t in enumerate(titles)]
    result = changes(day1, [])
    assert result["title"].tolist() == sorted(titles, key=str.casefold)  # same team, priority, days: title order
    lines = co.csv_bytes(result, co.CHANGES_COLUMNS).decode().split("\r\n")
    assert lines[1] == "resolved,gone,t4,aaaaaaaa-1111-4000-8000-000000000001,Alpha,'\tTab,medium,,2026-04-07,2"
    assert lines[2] == 'resolved,gone,t5,aaaaaaaa-1111-4000-8000-000000000001,Alpha,"\'\rCR",medium,,2026-04-07,2'


def test_duplicate_rows_in_b_count_once_at_their_first_row():
    rows = baseline([task(1), task(2)])
    doubled = pd.concat([rows, rows.iloc[[0]].assign(title="second copy")], ignore_index=True)
    today = resolved([])
    result = ch.compute_changes(tf.overdue_tasks(today, D), doubled, today, D, baseline_as_of=B)
    assert table(result) == [("resolved", "gone", "t1"), ("resolved", "gone", "t2")]
    assert result["title"].tolist() == ["Task 1", "Task 2"]


def test_days_overdue_are_as_b_showed_them_whatever_d_is():
    later = D + timedelta(days=7)
    today = resolved([])
    result = ch.compute_changes(tf.overdue_tasks(today, later), baseline([task(1, dueDate=due(2))]), today, later,
                                baseline_as_of=B)
    assert result[["reason", "days_overdue"]].values.tolist() == [["gone", 2]]


def test_rows_that_do_not_belong_together_are_an_error():
    today = resolved([task(1)])
    with pytest.raises(ValueError, match="t1"):
        ch.compute_changes(tf.overdue_tasks(today, D).iloc[:0], baseline([task(1)]), today, D, baseline_as_of=B)


def test_changes_do_not_mutate_inputs():
    today = resolved([task(1, status="done"), task(2)])
    rows = tf.overdue_tasks(today, D)
    base = baseline([task(1), task(3)])
    before = (today.copy(deep=True), rows.copy(deep=True), base.copy(deep=True))
    ch.compute_changes(rows, base, today, D, baseline_as_of=B)
    for frame, copy in zip((today, rows, base), before, strict=True):
        pd.testing.assert_frame_equal(frame, copy)


# --- summary.json --------------------------------------------------------------------------------------


def test_change_counts_new_by_d_team_resolved_by_b_team():
    day1 = [task("moved", teamId=TEAM_B), task("gone", teamId=None)]
    day2 = [task("moved", teamId=TEAM_A, status="done"), task("n1"), task("n2", teamId=TEAM_B)]
    result = changes(day1, day2)
    assert ch.change_counts(result) == {"new": 2, "resolved": 2, "teams": [
        {"team_id": TEAM_A, "team": "Alpha", "new": 1, "resolved": 0},
        {"team_id": TEAM_B, "team": "Beta", "new": 1, "resolved": 1},   # "moved" belongs to B's team
        {"team_id": "", "team": "No team", "new": 0, "resolved": 1},
    ]}
    assert ch.change_counts(ch.empty_changes()) == {"new": 0, "resolved": 0, "teams": []}
    digest = ch.changes_for_teams(result, [TEAM_B])
    assert table(digest) == [("new", "added", "tn2"), ("resolved", "closed", "tmoved")]


def test_change_counts_one_entry_per_team_id_under_its_first_label():
    result = changes([task(1)], [task(2)], names1={TEAM_A: "Old name"}, names2={TEAM_A: "New name"})
    assert ch.change_counts(result)["teams"] == [{"team_id": TEAM_A, "team": "New name", "new": 1, "resolved": 1}]


def test_history_latest_eight_oldest_first_with_today_replacing_a_stored_run():
    stored = [(date(2026, 4, d), d) for d in range(1, 13)] + [("2026-04-10", 99)]
    assert ch.history(stored, D, 7) == [{"as_of": f"2026-04-{d:02d}", "overdue_tasks": d} for d in range(3, 10)] + [
        {"as_of": "2026-04-10", "overdue_tasks": 7}]
    assert ch.history(stored[:2]) == [{"as_of": "2026-04-01", "overdue_tasks": 1},
                                      {"as_of": "2026-04-02", "overdue_tasks": 2}]
    assert ch.history([], D, 0) == [{"as_of": "2026-04-10", "overdue_tasks": 0}]
    assert ch.history([("2026-04-10", 5)], D) == [{"as_of": "2026-04-10", "overdue_tasks": 5}]
