"""The rules of ../shared/REPORTS.md, one tiny workspace per rule.

Frames are built from API-shaped dict records (camelCase, fields missing or null as the API
may send them); every expected value is worked out by hand in the test, never by calling the
code under test.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from records import task_builder

from pike_tasks import frames as fr
from pike_tasks import transforms as tf

AS_OF = date(2026, 4, 9)
TEAM_A = "aaaaaaaa-1111-4000-8000-000000000001"
TEAM_B = "bbbbbbbb-2222-4000-8000-000000000002"
PROJ = "pppppppp-0001-4000-8000-000000000001"
CUST = "cccccccc-0001-4000-8000-000000000001"


def due(days_ago: int) -> str:
    return (AS_OF - timedelta(days=days_ago)).isoformat()


task = task_builder(teamId=TEAM_A)


def member(mid: str, name: str | None = None, *, status="active", email=None, teams=()) -> dict:
    return {"id": mid, "displayName": name, "email": email, "status": status, "teamIds": list(teams)}


def build(tasks, projects=(), customers=(), members=()) -> fr.Frames:
    return fr.build_frames(list(projects), list(tasks), list(customers), list(members))


def resolve(tasks, projects=(), customers=(), members=(), names=None):
    frames = build(tasks, projects, customers, members)
    return frames, tf.resolve_tasks(frames, names if names is not None else {TEAM_A: "Alpha"})


def by_id(resolved: pd.DataFrame) -> dict[str, dict]:
    return {row["task_id"]: row for row in resolved.to_dict(orient="records")}


# --- frames ------------------------------------------------------------------------------------


def test_lone_surrogates_become_replacement_characters_and_are_named_in_data_quality():
    # JSON "\ud800" reaches Python as a lone surrogate, which no UTF-8 write accepts
    frames = build(
        [task(1, title="Fix \ud800 login", description="<p>\udfff</p>"), task(2),
         task(3, assigneeIds=["m\ud800", "m1"])],
        [{"id": "p1", "title": "Roll\udc00out"}],
        [{"id": "c1", "customerName": "Acme"}],
        [member("m1", "Ann \ud83d"), member("m2", "Bob")],
    )
    tasks = frames.tasks
    assert tasks["title"].tolist()[0] == "Fix \ufffd login"
    assert tasks["description"].tolist()[0] == "<p>\ufffd</p>"
    assert tasks["assignee_ids"].tolist()[2] == ["m\ufffd", "m1"]
    assert frames.projects["project_title"].tolist() == ["Roll\ufffdout"]
    assert frames.members["display_name"].tolist() == ["Ann \ufffd", "Bob"]
    for frame in (tasks, frames.projects, frames.members):
        frame.to_csv(index=False).encode("utf-8")  # raised UnicodeEncodeError before the repair
    quality = tf.data_quality(frames, tf.resolve_tasks(frames, {}))
    assert quality["text_replaced"] == {
        "tasks": {"count": 2, "ids": ["t1", "t3"]},
        "projects": {"count": 1, "ids": ["p1"]},
        "members": {"count": 1, "ids": ["m1"]},
    }


def test_text_replaced_names_at_most_twenty_ids_but_counts_all():
    frames = build([task(i, title="\ud800") for i in range(25)])
    assert fr.text_replaced(frames) == {"tasks": {"count": 25, "ids": [f"t{i}" for i in range(20)]}}


def test_surrogate_repair_joins_valid_pairs_and_replaces_lone_ones():
    from pike_tasks.surrogates import repair

    assert repair("\ud83d\ude00") == "\U0001f600"  # a pair YAML left split: the emoji
    assert repair("a\ud800b\ude00") == "a\ufffdb\ufffd"
    assert repair("plain ünïcode 🚀") == "plain ünïcode 🚀"


def test_tasks_frame_normalises_missing_fields_lists_and_due_dates():
    records = [
        {"id": "t1", "assigneeIds": ["m1", "m2", "m1", None, "m2"], "dueDate": "2026-04-15T23:59:59.000Z"},
        {"id": "t2", "assigneeIds": None, "dueDate": "15/04/2026"},
        {"id": "t3", "dueDate": "2026-02-30"},
        {"id": "t1", "title": "second t1 is dropped"},
    ]
    frame = fr.tasks_frame(records)
    assert list(frame.columns) == list(fr.TASK_COLUMNS)
    assert frame["task_id"].tolist() == ["t1", "t2", "t3"]
    assert frame["title"].tolist() == [None, None, None]
    assert frame["assignee_ids"].tolist() == [["m1", "m2"], [], []]
    assert frame["due_date"].tolist() == [date(2026, 4, 15), None, None]
    assert frame.attrs["bad_due_dates"] == 2


def test_empty_listings_give_typed_empty_frames():
    frames = build([])
    resolved = tf.resolve_tasks(frames, {})
    assert len(resolved) == 0 and list(resolved.columns) == list(tf.RESOLVED_COLUMNS)
    rows = tf.overdue_tasks(resolved, AS_OF)
    assert list(rows.columns) == list(tf.OVERDUE_ROW_COLUMNS) and len(rows) == 0
    assert len(tf.overdue_team_summary(rows)) == 0
    assert len(tf.workload_by_member(resolved, frames.members, AS_OF)) == 0
    assert len(tf.workload_by_customer(resolved, AS_OF)) == 0


def test_members_frame_keeps_first_duplicate_and_lists_teams():
    frame = fr.members_frame([member("m1", "Ann", teams=[TEAM_A, TEAM_A]), member("m1", "Other"), {"teamIds": None}])
    assert frame["member_id"].tolist() == ["m1"]
    assert frame["display_name"].tolist() == ["Ann"]
    assert frame["team_ids"].tolist() == [[TEAM_A]]


def test_resolve_does_not_mutate_its_inputs():
    frames = build([task(1, teamId=None, projectId=PROJ, assigneeIds=["m1"])],
                   [{"id": PROJ, "teamId": TEAM_B}], [], [member("m1", "Ann")])
    before = frames.tasks.copy(deep=True)
    tf.resolve_tasks(frames, {})
    pd.testing.assert_frame_equal(frames.tasks, before)


# --- labels ------------------------------------------------------------------------------------


def test_team_falls_back_to_project_team_and_project_not_found_is_no_team():
    projects = [{"id": PROJ, "projectNumber": "2026-0001", "title": "Rollout", "teamId": TEAM_B}]
    _, resolved = resolve([
        task(1, teamId=TEAM_A, projectId=PROJ),          # own team wins
        task(2, teamId=None, projectId=PROJ),            # project's team
        task(3, teamId=None, projectId="missing-proj"),  # project not found: No team
        task(4, teamId=None, projectId=None),            # nothing: No team
    ], projects)
    rows = by_id(resolved)
    assert (rows["t1"]["team_id"], rows["t1"]["team"]) == (TEAM_A, "Alpha")
    assert (rows["t2"]["team_id"], rows["t2"]["team"]) == (TEAM_B, "Team bbbbbbbb")
    assert (rows["t3"]["team_id"], rows["t3"]["team"]) == (None, "No team")
    assert (rows["t4"]["team_id"], rows["t4"]["team"]) == (None, "No team")


def test_empty_string_ids_are_no_ids():
    projects = [{"id": PROJ, "projectNumber": "2026-0001", "title": "Rollout", "teamId": TEAM_B, "customerId": ""}]
    _, resolved = resolve([
        task(1, teamId="", projectId=PROJ, assigneeIds=["", "m1"]),  # "" team: the project's team
        task(2, teamId="", projectId=None, customerId=""),           # nothing left: No team, No customer
    ], projects, members=[member("m1", "Ann")])
    rows = by_id(resolved)
    assert (rows["t1"]["team_id"], rows["t1"]["team"]) == (TEAM_B, "Team bbbbbbbb")
    assert rows["t1"]["assignees"] == ["Ann"]
    assert rows["t1"]["customer"] == "No customer"
    assert (rows["t2"]["team_id"], rows["t2"]["team"], rows["t2"]["customer"]) == (None, "No team", "No customer")


def test_team_label_from_config_else_first_8_characters():
    _, resolved = resolve([task(1, teamId=TEAM_A), task(2, teamId=TEAM_B)], names={TEAM_A: "Delivery", TEAM_B: ""})
    assert by_id(resolved)["t1"]["team"] == "Delivery"
    assert by_id(resolved)["t2"]["team"] == "Team bbbbbbbb"


def test_customer_from_task_then_project_none_and_dangling():
    projects = [{"id": PROJ, "customerId": CUST}]
    customers = [{"id": CUST, "customerName": "Acme"}, {"id": "c-noname", "customerName": None}]
    _, resolved = resolve([
        task(1, customerId="c-noname", projectId=PROJ),  # task's own wins (name null -> "")
        task(2, projectId=PROJ),                         # project's customer
        task(3),                                         # none
        task(4, customerId="c-gone"),                    # dangling
    ], projects, customers)
    rows = by_id(resolved)
    assert (rows["t1"]["customer_id"], rows["t1"]["customer"]) == ("c-noname", "")
    assert (rows["t2"]["customer_id"], rows["t2"]["customer"]) == (CUST, "Acme")
    assert (rows["t3"]["customer_id"], rows["t3"]["customer"]) == (None, "No customer")
    assert (rows["t4"]["customer_id"], rows["t4"]["customer"]) == ("c-gone", "Unknown customer")


def test_project_labels():
    projects = [
        {"id": PROJ, "projectNumber": "2026-0142", "title": "Acme <b>rollout</b>"},
        {"id": "p-null", "projectNumber": None, "title": "Untitled number"},
    ]
    _, resolved = resolve([task(1, projectId=PROJ), task(2, projectId="p-null"), task(3, projectId=None),
                           task(4, projectId="p-gone")], projects)
    rows = by_id(resolved)
    assert rows["t1"]["project"] == "2026-0142 \u00b7 Acme <b>rollout</b>"
    assert rows["t2"]["project"] == " · Untitled number"
    assert rows["t3"]["project"] == "No project"
    assert rows["t4"]["project"] == "Unknown project"
    assert rows["t4"]["project_id"] == "p-gone"


def test_member_labels_in_assignee_order():
    members = [
        member("m1aaaaaaaa", "Jane Doe", email="jane@example.com"),
        member("m2aaaaaaaa", None, email="alex@example.com"),
        member("m3aaaaaaaa", "", email=None),
    ]
    _, resolved = resolve([
        task(1, assigneeIds=["m2aaaaaaaa", "ghost1234567", "m1aaaaaaaa", "m3aaaaaaaa", "m2aaaaaaaa"]),
        task(2, assigneeIds=None),
        task(3, assigneeIds=[]),
    ], members=members)
    rows = by_id(resolved)
    assert rows["t1"]["assignee_ids"] == ["m2aaaaaaaa", "ghost1234567", "m1aaaaaaaa", "m3aaaaaaaa"]
    assert rows["t1"]["assignees"] == ["alex@example.com", "Unknown member ghost123", "Jane Doe", "Member m3aaaaaa"]
    assert rows["t1"]["assignees_text"] == "alex@example.com; Unknown member ghost123; Jane Doe; Member m3aaaaaa"
    assert rows["t2"]["assignees"] == ["Unassigned"] and rows["t2"]["assignees_text"] == "Unassigned"
    assert rows["t3"]["assignee_ids"] == [] and rows["t3"]["assignees_text"] == "Unassigned"


def test_open_statuses_and_priority_rank():
    _, resolved = resolve([
        task(1, status="done"), task(2, status="cancelled"), task(3, status="duplicate"),
        task(4, status="blocked"), task(5, status=None), task(6, status="backlog"),
        task(7, priority="urgent"), task(8, priority=None), task(9, priority="URGENT"), task(10, priority="low"),
    ])
    rows = by_id(resolved)
    assert [rows[f"t{i}"]["is_open"] for i in range(1, 7)] == [False, False, False, True, True, True]
    assert [rows[f"t{i}"]["priority_rank"] for i in (7, 8, 9, 10)] == [0, 4, 4, 3]


def test_data_quality_counts_dangling_ids_unknown_values_and_bad_dates():
    frames = build(
        [task(1, status="blocked", projectId="p-gone", assigneeIds=["ghost", "m1"], priority="critical"),
         task(2, status="blocked", customerId="c-gone", assigneeIds=["ghost"]),
         task(3, status=None, projectId=PROJ, dueDate="soon", priority=None),
         task(4, status="done", projectId="p-gone2")],
        [{"id": PROJ, "customerId": "c-gone-too"}], [], [member("m1", "Ann")],
    )
    quality = tf.data_quality(frames, tf.resolve_tasks(frames, {}))
    assert quality == {
        "dangling_projects": 2,
        "dangling_customers": 2,
        "dangling_members": 1,
        "unknown_statuses": {"blocked": 2, "null": 1},
        "unknown_priorities": {"critical": 1, "null": 1},
        "bad_due_dates": 1,
        "text_replaced": {},
    }


# --- Report 1: overdue -----------------------------------------------------------------------------


def test_overdue_days_and_age_buckets_at_the_boundaries():
    _, resolved = resolve([
        task("d0", dueDate=due(0)), task("d1", dueDate=due(1)), task("d7", dueDate=due(7)),
        task("d8", dueDate=due(8)), task("d30", dueDate=due(30)), task("d31", dueDate=due(31)),
        task("dnull", dueDate=None), task("closed", dueDate=due(9), status="done"),
        task("future", dueDate=(AS_OF + timedelta(days=1)).isoformat()),
        task("stamp", dueDate=due(2) + "T23:59:59.000Z"),
    ])
    rows = tf.overdue_tasks(resolved, AS_OF)
    got = {r["task_id"]: (r["days_overdue"], r["age_bucket"], r["due_date"]) for r in rows.to_dict(orient="records")}
    assert got == {
        "td1": (1, "1-7", "2026-04-08"), "td7": (7, "1-7", "2026-04-02"), "td8": (8, "8-30", "2026-04-01"),
        "td30": (30, "8-30", "2026-03-10"), "td31": (31, "31+", "2026-03-09"), "tstamp": (2, "1-7", "2026-04-07"),
    }


def test_unknown_and_null_statuses_are_overdue_too():
    _, resolved = resolve([task(1, status="blocked", dueDate=due(3)), task(2, status=None, dueDate=due(3))])
    rows = tf.overdue_tasks(resolved, AS_OF)
    assert sorted(rows["task_id"]) == ["t1", "t2"]
    assert rows.set_index("task_id").loc["t2", "status"] is None


def test_team_order_count_then_label_casefold_then_id():
    names = {"t-b": "delivery", "t-a": "Delivery", "t-c": "Zeta", "t-d": "alpha"}
    tasks = [
        task(1, teamId="t-c", dueDate=due(1)), task(2, teamId="t-c", dueDate=due(1)),   # 2 tasks: first
        task(3, teamId="t-b", dueDate=due(1)), task(4, teamId="t-a", dueDate=due(1)),   # tie: label, then id
        task(5, teamId="t-d", dueDate=due(1)),                                          # "alpha" < "delivery"
        task(6, teamId=None, dueDate=due(1)),                                           # "No team" > "delivery"
    ]
    _, resolved = resolve(tasks, names=names)
    rows = tf.overdue_tasks(resolved, AS_OF)
    assert rows["team_id"].tolist() == ["t-c", "t-c", "t-d", "t-a", "t-b", ""]
    assert rows["team"].tolist() == ["Zeta", "Zeta", "alpha", "Delivery", "delivery", "No team"]
    summary = tf.overdue_team_summary(rows)
    assert summary["team_id"].tolist() == ["t-c", "t-d", "t-a", "t-b", ""]
    assert summary["count"].tolist() == [2, 1, 1, 1, 1]


def test_task_order_priority_then_days_then_title_casefold_then_id():
    tasks = [
        task("a", priority="low", dueDate=due(50), title="x"),
        task("b", priority=None, dueDate=due(60), title="x"),       # null sorts as none (last)
        task("c", priority="high", dueDate=due(2), title="b"),
        task("d", priority="high", dueDate=due(5), title="z"),       # more days first
        task("f", priority="high", dueDate=due(2), title="Apple"),
        task("e", priority="high", dueDate=due(2), title="apple"),   # ties "Apple": id e < f
        task("g", priority="bogus", dueDate=due(70), title="x"),     # unknown sorts as none
        task("h", priority="high", dueDate=due(2), title=None),      # None title sorts as ""
        task("i", priority="high", dueDate=due(2), title="Straße"),
        task("j", priority="high", dueDate=due(2), title="STRASSE"),  # casefold tie with i: id order
    ]
    _, resolved = resolve(tasks)
    rows = tf.overdue_tasks(resolved, AS_OF)
    assert rows["task_id"].tolist() == ["td", "th", "te", "tf", "tc", "ti", "tj", "ta", "tg", "tb"]
    raw = rows.set_index("task_id")
    assert raw.loc["tb", "priority"] is None and raw.loc["tg", "priority"] == "bogus"
    assert raw.loc["th", "title"] == ""


def test_overdue_rows_carry_csv_columns_and_extras():
    members = [member("m1", "Jane"), member("m2", None, email="alex@example.com")]
    projects = [{"id": PROJ, "projectNumber": "2026-0001", "title": "Rollout", "customerId": CUST}]
    customers = [{"id": CUST, "customerName": "Acme"}]
    _, resolved = resolve([task(1, projectId=PROJ, assigneeIds=["m1", "m2"], dueDate=due(8), priority="high",
                                status="inProgress", description="<p>x</p>")], projects, customers, members)
    rows = tf.overdue_tasks(resolved, AS_OF)
    assert rows.iloc[0].to_dict() == {
        "task_id": "t1", "team_id": TEAM_A, "team": "Alpha", "title": "Task 1", "project": "2026-0001 · Rollout",
        "customer": "Acme", "assignees": "Jane; alex@example.com", "priority": "high", "status": "inProgress",
        "due_date": "2026-04-01", "days_overdue": 8, "priority_rank": 1, "age_bucket": "8-30",
        "description": "<p>x</p>",
    }


def test_overdue_team_filter_uses_resolved_team():
    projects = [{"id": PROJ, "teamId": TEAM_B}]
    _, resolved = resolve([task(1, teamId=None, projectId=PROJ, dueDate=due(1)), task(2, dueDate=due(1))], projects)
    assert tf.overdue_tasks(resolved, AS_OF, team_ids=[TEAM_B])["task_id"].tolist() == ["t1"]


def test_team_summary_counts_priorities_oldest_and_buckets():
    _, resolved = resolve([
        task(1, priority="urgent", dueDate=due(1)), task(2, priority="high", dueDate=due(7)),
        task(3, priority="high", dueDate=due(8)), task(4, priority=None, dueDate=due(31)),
        task(5, priority="low", dueDate=due(30)), task(6, priority="medium", dueDate=due(45), teamId=TEAM_B),
    ])
    summary = tf.overdue_team_summary(tf.overdue_tasks(resolved, AS_OF))
    assert summary.to_dict(orient="records") == [
        {"team_id": TEAM_A, "team": "Alpha", "count": 5, "urgent": 1, "high": 2, "medium": 0, "low": 1,
         "none": 1, "oldest_days": 31, "age_1_7": 2, "age_8_30": 2, "age_31_plus": 1},
        {"team_id": TEAM_B, "team": "Team bbbbbbbb", "count": 1, "urgent": 0, "high": 0, "medium": 1, "low": 0,
         "none": 0, "oldest_days": 45, "age_1_7": 0, "age_8_30": 0, "age_31_plus": 1},
    ]


# --- Report 2: workload ----------------------------------------------------------------------------


WORKLOAD_MEMBERS = [
    member("m-jane", "Jane", teams=[TEAM_A]),
    member("m-idle", "idle Ivy", teams=[TEAM_B]),                    # active, no open task: zeros
    member("m-gone", "Gone Gary", status="inactive"),                # inactive holding tasks: flagged
    member("m-inv", "Invited Ida", status="invited"),                # invited, nothing open: no row
    member("m-null", "Null Nia", status=None),                       # null status holding a task
    member("m-done", "Done Dan", status="inactive"),                 # only a closed task: no row
]


def workload_tasks():
    return [
        task(1, assigneeIds=["m-jane", "m-gone"], billableStatus="billable", dueDate=due(3)),
        task(2, assigneeIds=["m-jane"], billableStatus="nonBillable"),
        task(3, assigneeIds=["m-jane", "m-jane"], billableStatus=None, dueDate=due(1)),   # counted once
        task(4, assigneeIds=["ghost-12345"], billableStatus="Billable"),                 # not "billable"
        task(5, assigneeIds=[], billableStatus="billable", dueDate=due(2)),
        task(6, assigneeIds=None, billableStatus=None),
        task(7, assigneeIds=["m-null"], billableStatus="billable", teamId=TEAM_B),
        task(8, assigneeIds=["m-done", "m-inv"], status="done", billableStatus="billable", dueDate=due(9)),
    ]


def test_workload_rows_flags_and_order():
    frames, resolved = resolve(workload_tasks(), members=WORKLOAD_MEMBERS)
    table = tf.workload_by_member(resolved, frames.members, AS_OF)
    assert list(table.columns) == list(tf.WORKLOAD_MEMBER_COLUMNS)
    got = [tuple(r) for r in table.itertuples(index=False)]
    assert got == [
        # open desc, then label casefold, then id; Unassigned last
        ("m-jane", "Jane", "active", 3, 1, 1, 1, 33.3, 2, ""),
        ("m-gone", "Gone Gary", "inactive", 1, 1, 0, 0, 100.0, 1, "inactive"),
        ("m-null", "Null Nia", "", 1, 1, 0, 0, 100.0, 0, "unknown"),
        ("ghost-12345", "Unknown member ghost-12", "", 1, 0, 0, 1, 0.0, 0, ""),
        ("m-idle", "idle Ivy", "active", 0, 0, 0, 0, 0.0, 0, ""),
        ("", "Unassigned", "", 2, 1, 0, 1, 50.0, 1, ""),
    ]


def test_workload_team_filter_limits_idle_active_members_to_the_team():
    frames, resolved = resolve(workload_tasks(), members=WORKLOAD_MEMBERS)
    table = tf.workload_by_member(resolved, frames.members, AS_OF, team_ids=[TEAM_B])
    # only t7 is in TEAM_B; idle Ivy is in TEAM_B; Jane (TEAM_A) holds nothing in scope
    assert table[["member_id", "open", "flag"]].values.tolist() == [["m-null", 1, "unknown"], ["m-idle", 0, ""]]


def test_workload_project_and_customer_filters():
    projects = [{"id": PROJ, "customerId": CUST}]
    frames, resolved = resolve(
        [task(1, projectId=PROJ, assigneeIds=["m-jane"]), task(2, assigneeIds=["m-jane"]),
         task(3, customerId="c-other", assigneeIds=["m-jane"])], projects, members=[member("m-jane", "Jane")])
    by_project = tf.workload_by_member(resolved, frames.members, AS_OF, project_ids=[PROJ])
    by_customer = tf.workload_by_member(resolved, frames.members, AS_OF, customer_ids=[CUST, "c-other"])
    assert by_project["open"].tolist() == [1]
    assert by_customer["open"].tolist() == [2]


def test_workload_label_ties_ordered_by_id_and_straße():
    members = [member("m2", "ann"), member("m1", "Ann"), member("m3", "STRASSE"), member("m4", "Straße")]
    frames, resolved = resolve([task(i, assigneeIds=[m]) for i, m in enumerate(["m1", "m2", "m3", "m4"])],
                               members=members)
    table = tf.workload_by_member(resolved, frames.members, AS_OF)
    assert table["member_id"].tolist() == ["m1", "m2", "m3", "m4"]


@pytest.mark.parametrize(("billable", "total", "share"), [
    (1, 16, 6.3), (1, 8, 12.5), (2, 3, 66.7), (1, 6, 16.7), (1, 3, 33.3), (0, 5, 0.0), (4, 5, 80.0), (3, 3, 100.0),
    (1, 40, 2.5), (1, 80, 1.3),
])
def test_billable_share_rounds_half_up(billable, total, share):
    tasks = [task(i, assigneeIds=["m1"], billableStatus="billable" if i < billable else "nonBillable")
             for i in range(total)]
    frames, resolved = resolve(tasks, members=[member("m1", "Ann")])
    table = tf.workload_by_member(resolved, frames.members, AS_OF)
    assert table.loc[0, "billable_share"] == share


def test_round_half_up_directly_and_zero_denominator():
    result = tf.round_half_up_1dp(pd.Series([1, 1, 2, 1, 0, 7]), pd.Series([16, 8, 3, 6, 0, 0]))
    assert result.tolist() == [6.3, 12.5, 66.7, 16.7, 0.0, 0.0]


def test_workload_by_customer_counts_tasks_assignees_projects():
    projects = [{"id": PROJ, "customerId": CUST}, {"id": "p2", "customerId": CUST}]
    customers = [{"id": CUST, "customerName": "acme"}, {"id": "c-big", "customerName": "Big"},
                 {"id": "c-Acme", "customerName": "Acme"}]
    frames, resolved = resolve([
        task(1, projectId=PROJ, assigneeIds=["m1", "ghost"], billableStatus="billable"),
        task(2, projectId="p2", assigneeIds=["m1"], billableStatus="nonBillable"),
        task(3, projectId=PROJ, assigneeIds=[], billableStatus=None),
        task(4, projectId=PROJ, assigneeIds=["m2"], status="done", billableStatus="billable"),  # closed
        task(5, customerId="c-Acme", assigneeIds=["m2"], billableStatus="billable"),
        task(6, customerId="c-big", projectId="p-gone", billableStatus="billable"),
        task(7, customerId="c-big", billableStatus="billable"),
        task(8, customerId="c-lost", assigneeIds=["m1"], billableStatus="billable"),
        task(9, assigneeIds=["m2"], projectId="p-gone2"),
    ], projects, customers, [member("m1", "Ann"), member("m2", "Bo")])
    table = tf.workload_by_customer(resolved, AS_OF)
    assert list(table.columns) == list(tf.WORKLOAD_CUSTOMER_COLUMNS)
    assert [tuple(r) for r in table.itertuples(index=False)] == [
        ("c-big", "Big", 2, 2, 0, 1),
        ("c-Acme", "Acme", 1, 1, 1, 0),     # "acme" ties "Acme": id "c-Acme" < CUST ("cccc...")
        (CUST, "acme", 3, 1, 2, 2),
        ("c-lost", "Unknown customer", 1, 1, 1, 0),
        ("", "No customer", 1, 0, 1, 1),
    ]


def test_workload_by_customer_respects_filters():
    projects = [{"id": PROJ, "customerId": CUST, "teamId": TEAM_B}]
    _, resolved = resolve([task(1, teamId=None, projectId=PROJ), task(2, customerId="c-x")], projects)
    table = tf.workload_by_customer(resolved, AS_OF, team_ids=[TEAM_B])
    assert table["customer_id"].tolist() == [CUST]


def test_non_text_scalars_become_their_text_not_floats():
    frame = fr.tasks_frame([{"id": 1, "projectId": 7, "title": 5, "dueDate": 20260401},
                            {"id": "t2", "projectId": None}])
    assert frame["task_id"].tolist() == ["1", "t2"]
    assert frame["project_id"].tolist() == ["7", None]
    assert frame["title"].tolist() == ["5", None]
    assert frame["due_date"].tolist() == [None, None] and frame.attrs["bad_due_dates"] == 1


# --- Report 1: due soon and not counted --------------------------------------------------------------


def ahead(days: int) -> str:
    return (AS_OF + timedelta(days=days)).isoformat()


def test_due_soon_window_is_today_to_six_days_ahead_and_open_only():
    _, resolved = resolve([
        task("d0", dueDate=ahead(0)), task("d6", dueDate=ahead(6)), task("d7", dueDate=ahead(7)),
        task("past", dueDate=due(1)), task("none", dueDate=None), task("closed", dueDate=ahead(2), status="done"),
        task("blocked", dueDate=ahead(3), status="blocked"), task("stamp", dueDate=ahead(1) + "T00:00:01.000Z"),
    ])
    rows = tf.due_soon_tasks(resolved, AS_OF)
    got = {r["task_id"]: (r["days_left"], r["due_date"]) for r in rows.to_dict(orient="records")}
    assert got == {"td0": (0, "2026-04-09"), "tstamp": (1, "2026-04-10"), "tblocked": (3, "2026-04-12"),
                   "td6": (6, "2026-04-15")}
    assert list(rows.columns) == list(tf.DUE_SOON_ROW_COLUMNS)


def test_due_soon_order_teams_by_count_then_label_tasks_by_days_left_priority_title_id():
    names = {"t-b": "delivery", "t-a": "Delivery", "t-c": "Zeta"}
    tasks = [
        task(1, teamId="t-c", dueDate=ahead(5)), task(2, teamId="t-c", dueDate=ahead(5)),  # 2 tasks: first team
        task(3, teamId="t-b", dueDate=ahead(1)), task(4, teamId="t-a", dueDate=ahead(1)),  # label tie: id order
        task("a", dueDate=ahead(2), priority="urgent", title="x"),
        task("b", dueDate=ahead(1), priority="low", title="x"),        # fewer days left beats priority
        task("c", dueDate=ahead(2), priority="urgent", title="Apple"),
        task("d", dueDate=ahead(2), priority="urgent", title="apple"),  # ties "Apple": id c < d
        task("e", dueDate=ahead(2), priority=None, title="a"),          # null priority after urgent
        task("f", dueDate=ahead(2), priority="urgent", title="STRASSE"),
        task("g", dueDate=ahead(2), priority="urgent", title="Straße"),  # casefold tie with f: id order
    ]
    _, resolved = resolve(tasks, names={**names, TEAM_A: "Alpha"})
    rows = tf.due_soon_tasks(resolved, AS_OF)
    # Alpha has 7, Zeta 2; Delivery (t-a) and delivery (t-b) tie on count and casefolded label
    assert rows["task_id"].tolist() == ["tb", "tc", "td", "tf", "tg", "ta", "te", "t1", "t2", "t4", "t3"]
    assert rows["team"].tolist()[-4:] == ["Zeta", "Zeta", "Delivery", "delivery"]


def test_due_soon_rows_carry_csv_cells_and_team_filter():
    members = [member("m1", "Jane")]
    _, resolved = resolve([task(1, dueDate=ahead(3), assigneeIds=["m1"], priority=None, status=None),
                           task(2, dueDate=ahead(3), teamId=TEAM_B)], members=members)
    rows = tf.due_soon_tasks(resolved, AS_OF, team_ids=[TEAM_A])
    assert rows.iloc[0].to_dict() == {
        "task_id": "t1", "team_id": TEAM_A, "team": "Alpha", "title": "Task 1", "project": "No project",
        "customer": "No customer", "assignees": "Jane", "priority": None, "status": None,
        "due_date": "2026-04-12", "days_left": 3, "priority_rank": 4, "description": None,
    }
    assert len(rows) == 1
    assert len(tf.due_soon_tasks(resolved.iloc[:0], AS_OF)) == 0


def test_open_without_due_date_total_and_per_team():
    names = {TEAM_A: "alpha", TEAM_B: "Alpha"}
    _, resolved = resolve([
        task(1, dueDate=None), task(2, dueDate=None, teamId=TEAM_B), task(3, dueDate="soon"),  # unparsed: none
        task(4, dueDate=None, teamId=None), task(5, dueDate=None, teamId=None), task(6, dueDate=None, teamId=None),
        task(7, dueDate=None, status="done"), task(8, dueDate=due(1)),
    ], names=names)
    assert tf.open_without_due_date(resolved) == {"total": 6, "teams": [
        {"team_id": "", "team": "No team", "count": 3},
        {"team_id": TEAM_A, "team": "alpha", "count": 2},
        {"team_id": TEAM_B, "team": "Alpha", "count": 1},  # label tie with alpha: id order
    ]}
    assert tf.open_without_due_date(resolved, team_ids=[TEAM_B]) == {
        "total": 1, "teams": [{"team_id": TEAM_B, "team": "Alpha", "count": 1}]}
    assert tf.open_without_due_date(resolved.iloc[:0]) == {"total": 0, "teams": []}
