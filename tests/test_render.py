"""HTML report pages: views from tiny frames, escaping, sanitising, links, totals."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pandas as pd
import pytest
from markupsafe import Markup

from pike_tasks import render, views
from pike_tasks.render import (
    make_environment,
    render_overdue_html,
    render_workload_html,
    sanitize_description,
    task_url,
    templates_dir,
)

AS_OF = date(2026, 4, 9)
URL = "https://pike.example.com/tasks/{id}"
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')

OVERDUE_COLUMNS = [
    "task_id", "team_id", "team", "title", "project", "customer", "assignees", "priority", "status",
    "due_date", "days_overdue", "priority_rank", "age_bucket", "description",
]
SUMMARY_COLUMNS = [
    "team_id", "team", "count", "urgent", "high", "medium", "low", "none", "oldest_days",
    "age_1_7", "age_8_30", "age_31_plus",
]
MEMBER_COLUMNS = [
    "member_id", "member", "status", "open", "billable", "non_billable", "unclassified",
    "billable_share", "overdue", "flag",
]
CUSTOMER_COLUMNS = ["customer_id", "customer", "open_tasks", "billable_tasks", "assignees", "projects"]


def overdue_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = pd.DataFrame(
        [
            ("t1", "team-d", "Delivery", "Configure SSO", "2026-0001 · Acme rollout", "Acme Corporation",
             "Jane Doe; alex@example.com", "high", "inProgress", "2026-04-01", 8, 1, "8-30",
             "<p>Waiting on <strong>IT</strong></p>"),
            ("t2", "team-d", "Delivery", "Apple", "2026-0001 · Acme rollout", "Acme Corporation",
             "Jane Doe", "high", "toDo", "2026-04-02", 7, 1, "1-7", None),
            ("t3", "", "No team", "Tidy drive", "No project", "No customer", "Unassigned", None, "blocked",
             "2026-03-01", 39, 4, "31+", None),
        ],
        columns=OVERDUE_COLUMNS,
    )
    summary = pd.DataFrame(
        [
            ("team-d", "Delivery", 2, 0, 2, 0, 0, 0, 8, 1, 1, 0),
            ("", "No team", 1, 0, 0, 0, 0, 1, 39, 0, 0, 1),
        ],
        columns=SUMMARY_COLUMNS,
    )
    return rows, summary


def workload_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    members = pd.DataFrame(
        [
            ("m1", "Jane Doe", "active", 3, 2, 1, 0, 66.7, 3, ""),
            ("m2", "Zoë Ñ", "inactive", 2, 1, 1, 0, 50.0, 1, "inactive"),
            ("m3", "bob idle", "active", 0, 0, 0, 0, 0.0, 0, ""),
            ("", "Unassigned", "", 1, 0, 0, 1, 0.0, 1, ""),
        ],
        columns=MEMBER_COLUMNS,
    )
    customers = pd.DataFrame(
        [
            ("", "No customer", 3, 2, 2, 2),
            ("c1", "Acme Corporation", 2, 1, 2, 1),
        ],
        columns=CUSTOMER_COLUMNS,
    )
    return members, customers


def overdue_html(rows=None, summary=None, *, app_url_template=None, filters=None) -> str:
    default_rows, default_summary = overdue_frames()
    view = views.overdue_view(
        default_rows if rows is None else rows, default_summary if summary is None else summary,
        as_of=AS_OF, generated_at="2026-04-09 07:00 UTC", filters=filters or {},
        app_url_template=app_url_template, source="sandbox",
    )
    return render_overdue_html(view)


def workload_html(members=None, customers=None) -> str:
    default_members, default_customers = workload_frames()
    view = views.workload_view(
        default_members if members is None else members, default_customers if customers is None else customers,
        as_of=AS_OF, generated_at="2026-04-09 07:00 UTC", filters={}, source="sandbox",
    )
    return render_workload_html(view)


def cells(html: str) -> list[str]:
    """The text of every table cell (th and td), tags stripped, whitespace collapsed."""
    found = re.findall(r"<t([hd])\b[^>]*>(.*?)</t\1>", html, flags=re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split()) for _, body in found]


def row_with(html: str, first_cell: str) -> list[str]:
    """The cell texts of the table row whose first cell starts with ``first_cell``."""
    for body in re.findall(r"<tr\b[^>]*>(.*?)</tr>", html, flags=re.S):
        texts = cells(body)
        if texts and texts[0].startswith(first_cell):
            return texts
    raise AssertionError(f"no row starting with {first_cell!r}")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> None:
    """No script or image element and no event-handler attribute anywhere in the page."""
    assert "<script" not in html.lower() and "<img" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "img", "iframe"), tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)


# --- environment ------------------------------------------------------------------------------


def test_one_cached_environment_with_strict_undefined_and_autoescape():
    env = make_environment()
    assert env is make_environment()
    assert env.undefined is jinja2.StrictUndefined
    assert env.autoescape("overdue.html.j2") and env.autoescape("page.html") and env.autoescape(None)
    assert not env.autoescape("digest.txt.j2")
    assert (templates_dir() / "overdue.html.j2").is_file()


def test_a_view_missing_a_key_raises():
    rows, summary = overdue_frames()
    view = views.overdue_view(rows, summary, as_of=AS_OF, generated_at="now", filters={},
                              app_url_template=None, source="sandbox")
    del view["as_of_long"]
    with pytest.raises(jinja2.UndefinedError):
        render_overdue_html(view)
    members, customers = workload_frames()
    view = views.workload_view(members, customers, as_of=AS_OF, generated_at="now", filters={}, source="x")
    del view["members"][0]["billable_share"]
    with pytest.raises(jinja2.UndefinedError):
        render_workload_html(view)


# --- overdue page -----------------------------------------------------------------------------


def test_overdue_page_is_standalone_and_accessible():
    html = overdue_html()
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html and '<meta charset="utf-8">' in html
    assert '<meta name="viewport"' in html and "<title>Overdue tasks by team · 2026-04-09</title>" in html
    assert '<th scope="col">' in html and '<th scope="row">' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html), "no external assets or links"
    assert "@media print" in html and "@media screen and (max-width: 640px)" in html
    assert (templates_dir() / "report.css").read_text(encoding="utf-8").strip() in html


def test_overdue_task_table_cells():
    html = overdue_html()
    assert row_with(html, "Configure SSO") == [
        "Configure SSO Description Waiting on IT",
        "2026-0001 · Acme rollout", "Acme Corporation", "Jane Doe; alex@example.com",
        "High", "In progress", "8 days due 1 Apr",
    ]
    assert row_with(html, "Tidy drive")[4:] == ["No priority", "Blocked", "39 days due 1 Mar"]
    assert '<time datetime="2026-03-01">1 Mar</time>' in html


def test_overdue_header_team_summaries_and_chart():
    html = overdue_html()
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert "As of Thursday 9 April 2026" in text
    assert "Overdue tasks 3 3 open tasks past due" in text
    assert "Oldest 39 39 days past due" in text
    assert "By priority 0 Urgent 2 High 0 Medium 0 Low 1 No priority" in text
    assert "By age 1 1–7 days 1 8–30 days 1 31+ days" in text
    # a section per team, in the given order, with its summary line
    assert (text.index("Delivery 2 overdue tasks · oldest 8 days")
            < text.index("No team 1 overdue task · oldest 39 days"))
    # the chart: one bar per team, segments by age bucket, widths relative to the largest team
    assert 'href="#team-team-d"' in html and 'id="team-team-d"' in html  # anchored by team id
    assert 'href="#no-team"' in html and 'id="no-team"' in html
    assert 'class="bar" style="width: 100.00%"' in html and 'class="bar" style="width: 50.00%"' in html
    assert "Delivery: 2 overdue tasks (1 aged 1–7 days, 1 aged 8–30 days)" in text


def test_teams_affected_counts_real_teams_and_says_where_no_team_tasks_are():
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", overdue_html())).split())
    assert "Teams affected 1 1 team with overdue work, plus 1 task with no team" in text
    # a team the config does not name is still a team; without No team the note says nothing of it
    rows, summary = overdue_frames()
    summary.loc[1, ["team_id", "team"]] = ["0badc0de-1", "Team 0badc0de"]
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", overdue_html(rows, summary))).split())
    assert "Teams affected 2 2 teams with overdue work Oldest" in text


def test_priority_and_age_use_colour_and_words():
    html = overdue_html()
    assert '<span class="badge p-high">High</span>' in html
    assert '<span class="badge p-none">No priority</span>' in html
    assert re.search(r'<span class="badge age-a3"[^>]*>39 days</span>', html)
    assert re.search(r'<span class="badge age-a2"[^>]*>8 days</span>', html)


def test_empty_overdue_report_says_so():
    rows, summary = overdue_frames()
    html = overdue_html(rows.iloc[0:0], summary.iloc[0:0], filters={"teams": ["team-d"]})
    assert "No overdue tasks as of Thursday 9 April 2026." in html
    assert "<table" not in html
    assert "Teams: <strong>team-d</strong>" in html


def test_filters_show_team_labels():
    html = overdue_html(filters={"teams": ["team-d"]})
    assert "Teams: <strong>Delivery</strong>" in html


# --- links ------------------------------------------------------------------------------------


def test_titles_link_only_when_an_app_url_template_is_set():
    plain = overdue_html()
    assert "<a class=\"task-title\"" not in plain and '<span class="task-title">Configure SSO</span>' in plain
    rows, summary = overdue_frames()
    rows.loc[0, "task_id"] = "a/b c?d"
    linked = overdue_html(rows, summary, app_url_template=URL)
    assert '<a class="task-title" href="https://pike.example.com/tasks/a%2Fb%20c%3Fd"' in linked
    assert 'href="https://pike.example.com/tasks/t2"' in linked


def test_task_url_quotes_the_id_and_allows_only_http():
    assert task_url(None, "t1") is None
    assert task_url("", "t1") is None
    assert task_url(URL, "t1") == "https://pike.example.com/tasks/t1"
    assert task_url(URL, "../x/#?") == "https://pike.example.com/tasks/..%2Fx%2F%23%3F"
    assert task_url("http://pike.local/t/{id}", "é") == "http://pike.local/t/%C3%A9"
    assert task_url("javascript:alert({id})", "1") is None
    assert task_url("/tasks/{id}", "1") is None
    with pytest.raises(ValueError):
        task_url("https://x/{id}/{other}", "1")


# --- untrusted text ---------------------------------------------------------------------------


@pytest.mark.parametrize("evil", HOSTILE)
def test_every_overdue_text_field_is_escaped(evil):
    rows, summary = overdue_frames()
    for column in ("task_id", "team", "title", "project", "customer", "assignees", "priority", "status",
                   "due_date", "age_bucket"):
        rows[column] = evil
    rows["description"] = evil
    summary["team"] = evil
    html = overdue_html(rows, summary, app_url_template=URL, filters={"teams": [evil]})
    assert_inert(html)
    assert html.count("onerror=") == html.count("&lt;img src=x onerror=")  # only ever as escaped text
    escaped = str(Markup.escape(evil))
    assert escaped in html  # the text is shown, escaped
    assert html.count(escaped) >= 5
    pages = views.overdue_team_views(rows, summary, as_of=AS_OF, generated_at="now", filters={"teams": [evil]},
                                     app_url_template=URL, source="sandbox")
    assert list(pages) == ["team-team-d.html", "no-team.html"]
    for view in pages.values():
        page = render.render_overdue_team_html(view)
        assert_inert(page)
        assert f"<title>Overdue tasks of {escaped} · " in page and page.count(escaped) >= 5


@pytest.mark.parametrize("evil", HOSTILE)
def test_every_workload_text_field_is_escaped(evil):
    members, customers = workload_frames()
    for column in ("member_id", "member", "status", "flag"):
        members[column] = evil
    for column in ("customer_id", "customer"):
        customers[column] = evil
    html = workload_html(members, customers)
    assert_inert(html)
    assert str(Markup.escape(evil)) in html


def test_descriptions_are_sanitised_inside_collapsed_details():
    rows, summary = overdue_frames()
    rows.loc[0, "description"] = (
        '<p onclick="x()">Hi <strong>there</strong><script>alert(1)</script>'
        '<img src=x onerror=alert(1)> <a href="javascript:alert(1)">bad</a> '
        '<a href="https://ok.example/doc" target="_blank">ok</a></p>'
    )
    html = overdue_html(rows, summary)
    assert "<details>\n" in html and "<summary>Description</summary>" in html
    block = re.search(r'<div class="desc">(.*?)</div>', html, flags=re.S).group(1)
    assert "<strong>there</strong>" in block
    assert '<a href="https://ok.example/doc" rel="noopener noreferrer">ok</a>' in block
    for bad in ("<script", "onerror", "onclick", "javascript:", "<img", "target="):
        assert bad not in block.lower()


def test_sanitize_description_allow_list():
    assert sanitize_description(None) == "" and isinstance(sanitize_description(None), Markup)
    assert sanitize_description("   ") == ""
    out = sanitize_description(
        "<p>a<br>b</p><ul><li><em>x</em></li></ol><pre><code>y</code></pre>"
        '<a href="mailto:a@b.c">m</a><style>p{}</style><iframe src="https://e"></iframe><h1>t</h1>'
    )
    assert isinstance(out, Markup)
    for kept in ("<p>a<br>b</p>", "<em>x</em>", "<pre><code>y</code></pre>", 'href="mailto:a@b.c"'):
        assert kept in out
    for dropped in ("<style", "<iframe", "<h1", "p{}"):
        assert dropped not in out
    assert "t" in out  # text of a dropped harmless tag is kept


def test_task_without_description_has_no_details():
    rows, summary = overdue_frames()
    rows["description"] = None
    assert "<details" not in overdue_html(rows, summary)


# --- workload page ----------------------------------------------------------------------------


def test_workload_tables_cells_and_flag_badge():
    html = workload_html()
    assert row_with(html, "Jane Doe") == ["Jane Doe", "Active", "3", "2", "1", "0", "66.7%", "3"]
    assert row_with(html, "Zoë Ñ") == ["Zoë Ñ inactive — reassign work", "Inactive", "2", "1", "1", "0", "50.0%", "1"]
    assert '<span class="badge flag">inactive — reassign work</span>' in html
    assert row_with(html, "Unassigned")[1] == "—"
    assert row_with(html, "Acme Corporation") == ["Acme Corporation", "2", "1", "2", "1"]
    assert row_with(html, "No customer") == ["No customer", "3", "2", "2", "2"]
    # each number says what it is (the phone layout shows these labels), and each table marks
    # the column it is ordered by
    assert '<td data-label="Billable share" class="num k-share">66.7%</td>' in html
    assert '<td data-label="Open" class="num sorted k-open">3</td>' in html
    assert '<td data-label="Billable tasks" class="num sorted k-billable">2</td>' in html
    assert html.split("</style>")[1].count('aria-sort="descending"') == 2
    assert '<th scope="col" class="num" aria-sort="descending">Billable tasks</th>' in html
    # the chart: stacked bars per member, idle members say so
    assert 'class="seg seg-billable" style="width: 66.67%"' in html
    assert "no open work" in html


def test_workload_page_is_standalone():
    html = workload_html()
    assert '<meta charset="utf-8">' in html and "<title>Billable workload · 2026-04-09</title>" in html
    assert "<script" not in html.lower()


# --- totals -----------------------------------------------------------------------------------


def test_overdue_totals_by_hand():
    rows, summary = overdue_frames()
    totals = views.overdue_totals(rows, summary)
    assert totals == {
        "overdue_tasks": 3,
        "teams": 1,  # Delivery; "No team" is not a team
        "no_team_tasks": 1,
        "by_priority": {"urgent": 0, "high": 2, "medium": 0, "low": 0, "none": 1},
        "by_age": {"1-7": 1, "8-30": 1, "31+": 1},
        "oldest_days": 39,
    }
    json.dumps(totals)  # plain JSON types only


def test_overdue_totals_of_nothing():
    rows, summary = overdue_frames()
    totals = views.overdue_totals(rows.iloc[0:0], summary.iloc[0:0])
    assert totals["overdue_tasks"] == 0 and totals["oldest_days"] is None
    assert set(totals["by_priority"].values()) == {0}


def test_workload_totals_by_hand():
    members, customers = workload_frames()
    totals = views.workload_totals(members, customers)
    assert totals == {
        "open_assignments": 6,
        "billable": 3,
        "non_billable": 2,
        "unclassified": 1,
        "billable_share": 50.0,
        "members": 3,  # Unassigned is not a person
        "flagged_members": 1,
        "customers": 2,
    }
    json.dumps(totals)
    assert all(type(v) in (int, float) for v in totals.values())


@pytest.mark.parametrize(
    ("part", "whole", "share"),
    [(1, 16, 6.3), (2, 3, 66.7), (1, 3, 33.3), (1, 8, 12.5), (1, 80, 1.3), (0, 0, 0.0), (5, 5, 100.0)],
)
def test_billable_share_rounds_half_up(part, whole, share):
    assert views.share_pct(part, whole) == share


def test_render_and_views_import_neither_prefect_nor_requests():
    for module in (render, views):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert "import prefect" not in source and "from prefect" not in source
        assert "import requests" not in source


def test_overdue_pages_cap_rows_and_say_how_many_more():
    from pike_tasks.views import INDEX_ROW_BUDGET, MAX_TASKS_PER_TEAM

    n = MAX_TASKS_PER_TEAM + 7
    rows = pd.DataFrame({
        "task_id": [f"t{i:04d}" for i in range(n)], "team_id": ["T1"] * n, "team": ["Delivery"] * n,
        "title": [f"Task {i}" for i in range(n)], "project": ["No project"] * n, "customer": ["No customer"] * n,
        "assignees": ["Unassigned"] * n, "priority": ["high"] * n, "status": ["toDo"] * n,
        "due_date": ["2026-04-01"] * n, "days_overdue": [8] * n, "priority_rank": [1] * n,
        "age_bucket": ["8-30"] * n, "description": [None] * n,
    })
    summary = pd.DataFrame([{"team_id": "T1", "team": "Delivery", "count": n, "urgent": 0, "high": n, "medium": 0,
                             "low": 0, "none": 0, "oldest_days": 8, "age_1_7": 0, "age_8_30": n, "age_31_plus": 0}])
    common = {"as_of": date(2026, 4, 9), "generated_at": "now", "filters": {}, "app_url_template": None,
              "source": "sandbox"}
    # index.html: within the row budget, so the rows the team page would show, the rest in overdue.csv
    html = render.render_overdue_html(views.overdue_view(rows, summary, **common))
    assert n < INDEX_ROW_BUDGET
    assert f"Task {MAX_TASKS_PER_TEAM - 1}<" in html and f"Task {MAX_TASKS_PER_TEAM}<" not in html
    assert "and 7 more overdue tasks in Delivery" in html and "Showing the" not in html
    # the team's page: up to MAX_TASKS_PER_TEAM rows, the rest counted and in overdue.csv
    pages = views.overdue_team_views(rows, summary, **common)
    assert list(pages) == ["team-T1.html"]
    page = render.render_overdue_team_html(pages["team-T1.html"])
    assert f"Task {MAX_TASKS_PER_TEAM - 1}<" in page and f"Task {MAX_TASKS_PER_TEAM}<" not in page
    assert "and 7 more overdue tasks in Delivery" in page and '<a href="index.html#team-T1">' in page


def test_team_page_links_come_from_the_link_function():
    rows, summary = overdue_frames()

    def signed(name, anchor):
        return f"https://store.example.com/{name}?sig=1" + (f"#{anchor}" if anchor else "")

    common = {"as_of": AS_OF, "generated_at": "now", "filters": {}, "app_url_template": None, "source": "sandbox",
              "link": signed}
    html = render_overdue_html(views.overdue_view(rows, summary, **common))
    assert 'href="https://store.example.com/team-team-d.html?sig=1"' in html
    assert 'href="https://store.example.com/no-team.html?sig=1"' in html
    assert 'href="#team-team-d"' in html  # the chart still jumps within the page
    page = render.render_overdue_team_html(views.overdue_team_views(rows, summary, **common)["no-team.html"])
    assert 'href="https://store.example.com/index.html?sig=1#no-team"' in page


def test_team_page_names_stay_unique_where_case_is_ignored():
    from pike_tasks.wording import team_anchors, team_page_names

    anchors = team_anchors(["Ab", "ab", "a/b", ""])
    assert team_page_names(anchors) == {"Ab": "team-Ab.html", "ab": "team-ab-2.html", "a/b": "team-a-b.html",
                                        "": "no-team.html"}


# --- the change view on the overdue page (REPORTS.md Report 4, due soon, not counted) -----------


def change_inputs(evil: str = "Ship it") -> views.ChangeInputs:
    from datetime import date as _date

    changes = pd.DataFrame([
        ("new", "added", "t1", "team-d", "Delivery", "Configure SSO", "high", "inProgress", "2026-04-01", 8),
        ("resolved", "closed", "t9", "team-d", "Delivery", evil, "low", "done", "2026-03-30", 9),
        ("resolved", "gone", "t8", "", "No team", "Old thing", "", "", "2026-03-01", 30),
    ], columns=["change", "reason", "task_id", "team_id", "team", "title", "priority", "status", "due_date",
                "days_overdue"])
    counts = {"new": 1, "resolved": 2, "teams": [
        {"team_id": "team-d", "team": "Delivery", "new": 1, "resolved": 1},
        {"team_id": "", "team": "No team", "new": 0, "resolved": 1}]}
    history = [{"as_of": "2026-04-08", "overdue_tasks": 4}, {"as_of": "2026-04-09", "overdue_tasks": 3}]
    due = pd.DataFrame([("t5", "team-d", "Delivery", evil, "No project", "No customer", "Jane Doe", "urgent",
                         "toDo", "2026-04-10", 1, 0)],
                       columns=["task_id", "team_id", "team", "title", "project", "customer", "assignees",
                                "priority", "status", "due_date", "days_left", "priority_rank"])
    undated = {"total": 5, "teams": [{"team_id": "team-d", "team": "Delivery", "count": 5}]}
    return views.ChangeInputs(_date(2026, 4, 8), changes, counts, history, due, undated)


def change_html(change) -> str:
    rows, summary = overdue_frames()
    view = views.overdue_view(rows, summary, as_of=AS_OF, generated_at="2026-04-09 07:00 UTC", filters={},
                              app_url_template="https://app.example.com/tasks/{id}", source="sandbox", change=change)
    return render_overdue_html(view)


def test_the_page_says_what_changed_per_team_and_shows_the_trend_due_soon_and_not_counted():
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", change_html(change_inputs()))).split())
    assert "New +1 newly overdue since 8 Apr" in text and "Resolved 2 no longer overdue since 8 Apr" in text
    assert "What changed since Wednesday 8 April 2026" in text
    assert "+1 new, 1 resolved since 8 Apr" in text  # on Delivery's section
    assert "Configure SSO Delivery · High · 8 days overdue · already past due, newly on the list" in text
    assert "Ship it Delivery · Closed (Done)" in text and "Old thing No team · No longer in Pike" in text
    assert "4 8 Apr 3 9 Apr" in text  # the trend, oldest first
    assert "Due in the next 7 days (1)" in text and "due tomorrow" in text
    assert "Not counted: 5 without a due date" in text and "Delivery: 5" in text


def test_without_a_baseline_the_page_says_changes_start_with_the_next_report():
    first = change_inputs()
    first = views.ChangeInputs(None, first.changes.iloc[0:0], {"new": 0, "resolved": 0, "teams": []},
                               first.history[-1:], first.due_soon, first.undated)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", change_html(first))).split())
    assert "first report of this scope" in text and "newly overdue" not in text


@pytest.mark.parametrize("evil", ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>'])
def test_change_lists_escape_titles(evil):
    html = change_html(change_inputs(evil))
    assert_inert(html)
    assert "&lt;" in html


# --- the workload page at agency size (issue 24): what a person reads, within 2 MB -----------


def test_workload_page_at_agency_size_stays_small_and_shows_who_needs_attention():
    from agency_frames import HOSTILE_TEAM, agency_workload

    members, customers = agency_workload()
    view = views.workload_view(members, customers, as_of=AS_OF, generated_at="now", filters={}, source="x",
                               links={"workload_csv": "https://r.example.com/w.csv?sig=1&x=2"})
    html = render_workload_html(view)
    assert len(html.encode("utf-8")) < 2_000_000
    shown = {row["member"] for row in view["members"]}
    flagged = set(members.loc[members["flag"] != "", "member"])
    assert flagged <= shown  # everyone whose work needs a new owner, however far down
    assert "Unassigned" in shown and "Person 00000 with a long name" in shown
    assert "Person 15998 with a long name" not in shown  # active, little work: only in the CSV
    assert len(view["members"]) == views.WORKLOAD_PAGE_ROWS + len(flagged - {
        r for r in members["member"].head(views.WORKLOAD_PAGE_ROWS)}) + 1
    hidden = len(members) - len(view["members"])
    assert f"and {hidden:,} more people with less open work" in html
    assert 'href="https://r.example.com/w.csv?sig=1&amp;x=2"' in html
    assert f"and {len(customers) - views.WORKLOAD_PAGE_ROWS:,} more customers" in html
    assert 'href="workload_by_customer.csv"' in html  # relative by default
    assert len(view["chart"]) == views.WORKLOAD_CHART_ROWS
    assert HOSTILE_TEAM not in html and "&lt;script&gt;" in html


# --- what changed, on the team pages and in urgency order (issue 23, items 1, 2 and 5) -----------


def _text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def two_team_change() -> tuple[pd.DataFrame, pd.DataFrame, views.ChangeInputs]:
    """Delivery (t1 high 8 d, t2 high 7 d) and Platform (p1 urgent 3 d, p2 low 40 d) overdue; every
    one of them new but t2; Delivery had t9 resolved; Delivery and Platform each have a task due soon."""
    rows = pd.DataFrame([
        ("t1", "team-d", "Delivery", "Configure SSO", "P", "C", "Jane Doe", "high", "toDo", "2026-04-01", 8, 1, "8-30",
         None),
        ("t2", "team-d", "Delivery", "Apple", "P", "C", "Jane Doe", "high", "toDo", "2026-04-02", 7, 1, "1-7", None),
        ("p2", "team-p", "Platform", "Weekly status report", "P", "C", "Sam", "low", "toDo", "2026-02-28", 40, 3,
         "31+", None),
        ("p1", "team-p", "Platform", "Migrate internal DNS records", "P", "C", "Sam", "urgent", "toDo", "2026-04-06",
         3, 0, "1-7", None),
    ], columns=OVERDUE_COLUMNS)
    summary = pd.DataFrame([
        ("team-d", "Delivery", 2, 0, 2, 0, 0, 0, 8, 1, 1, 0),
        ("team-p", "Platform", 2, 1, 0, 0, 1, 0, 40, 1, 0, 1),
    ], columns=SUMMARY_COLUMNS)
    columns = ["change", "reason", "task_id", "team_id", "team", "title", "priority", "status", "due_date",
               "days_overdue"]
    changed = pd.DataFrame([  # report order: Delivery's, then Platform's (by team, as changes.csv has them)
        ("new", "added", "t1", "team-d", "Delivery", "Configure SSO", "high", "toDo", "2026-04-01", 8),
        ("new", "added", "p2", "team-p", "Platform", "Weekly status report", "low", "toDo", "2026-02-28", 40),
        ("new", "became_overdue", "p1", "team-p", "Platform", "Migrate internal DNS records", "urgent", "toDo",
         "2026-04-06", 3),
        ("resolved", "closed", "t9", "team-d", "Delivery", "Close the books", "low", "done", "2026-03-30", 9),
        ("resolved", "rescheduled", "p9", "team-p", "Platform", "Rotate keys", "high", "toDo", "2026-04-01", 7),
    ], columns=columns)
    counts = {"new": 3, "resolved": 2, "teams": [
        {"team_id": "team-d", "team": "Delivery", "new": 1, "resolved": 1},
        {"team_id": "team-p", "team": "Platform", "new": 2, "resolved": 1}]}
    due = pd.DataFrame([
        ("d1", "team-d", "Delivery", "Send the invoice", "P", "C", "Jane Doe", "high", "toDo", "2026-04-10", 1, 1),
        ("d2", "team-p", "Platform", "Renew certificates", "P", "C", "Sam", "urgent", "toDo", "2026-04-09", 0, 0),
    ], columns=["task_id", "team_id", "team", "title", "project", "customer", "assignees", "priority", "status",
                "due_date", "days_left", "priority_rank"])
    history = [{"as_of": "2026-04-08", "overdue_tasks": 2}, {"as_of": "2026-04-09", "overdue_tasks": 4}]
    change = views.ChangeInputs(date(2026, 4, 8), changed, counts, history, due, {"total": 0, "teams": []})
    return rows, summary, change


def _team_pages(rows, summary, change) -> dict[str, str]:
    pages = views.overdue_team_views(rows, summary, as_of=AS_OF, generated_at="now", filters={},
                                     app_url_template=URL, source="sandbox", change=change)
    return {page["team"]["team"]: render.render_overdue_team_html(page) for page in pages.values()}


def test_new_tasks_on_the_index_come_in_urgency_order_across_teams():
    rows, summary, change = two_team_change()
    view = views.overdue_view(rows, summary, as_of=AS_OF, generated_at="now", filters={}, app_url_template=URL,
                              source="sandbox", change=change)
    # urgent first, whatever its team; then high; the low one 40 days overdue last
    assert [t["title"] for t in view["change"]["new"]] == [
        "Migrate internal DNS records", "Configure SSO", "Weekly status report"]
    assert [t["reason"] for t in view["change"]["new"]] == [
        "fell due since the last report", "already past due, newly on the list", "already past due, newly on the list"]


def test_urgency_order_is_priority_then_days_overdue_most_first_then_title_then_id():
    from pike_tasks.rules import urgency_key

    keys = [("low", 90, "a", "1"), ("urgent", 1, "z", "2"), (None, 5, "b", "3"), ("high", 3, "b", "5"),
            ("high", 3, "B", "4"), ("high", 9, "c", "6"), ("bogus", 99, "a", "7")]
    assert [k[3] for k in sorted(keys, key=lambda k: urgency_key(*k))] == ["2", "6", "4", "5", "1", "7", "3"]


def test_the_team_page_lists_its_new_tasks_with_why_its_due_soon_and_then_its_resolved_ones():
    rows, summary, change = two_team_change()
    platform = _team_pages(rows, summary, change)["Platform"]
    text = _text_of(platform)
    assert "What changed in Platform since Wednesday 8 April 2026" in text
    assert "New overdue (2)" in text
    assert ("New Migrate internal DNS records Urgent · 3 days overdue · fell due since the last report "
            "New Weekly status report Low · 40 days overdue · already past due, newly on the list") in text
    assert "Due in the next 7 days in Platform (1)" in text and "Renew certificates Urgent · due today" in text
    assert "Send the invoice" not in text and "Configure SSO" not in text  # Delivery's, not Platform's
    assert "Resolved since Wednesday 8 April 2026 (1)" in text and "Rotate keys Due date moved" in text
    assert "Close the books" not in text
    # what needs action first: new, due soon (short lists, the digest's order), the whole table; resolved
    # last, in one compact block (on a phone the table is thousands of pixels tall)
    order = [text.index(s) for s in ("New overdue (2)", "Due in the next 7 days in Platform",
                                     "Overdue tasks of Platform, most urgent first", "Resolved since")]
    assert order == sorted(order)
    assert platform.count('class="compact-list"') == 1


def test_new_rows_carry_a_visible_new_mark_in_the_team_tables_of_both_pages():
    rows, summary, change = two_team_change()
    index = render_overdue_html(views.overdue_view(rows, summary, as_of=AS_OF, generated_at="now", filters={},
                                                   app_url_template=URL, source="sandbox", change=change))
    delivery = _team_pages(rows, summary, change)["Delivery"]
    for html in (index, delivery):
        table_rows = {re.search(r'class="task-title"[^>]*>([^<]*)<', th).group(1): th
                      for th in re.findall(r'<th scope="row">(.*?)</th>', html, flags=re.S)}
        assert ">New</span>" in table_rows["Configure SSO"]  # a word, not a colour
        assert "already past due, newly on the list" in table_rows["Configure SSO"]
        assert "New" not in table_rows["Apple"]  # on the list last time too
    # no baseline, nothing is new
    first = views.ChangeInputs(None, change.changes.iloc[0:0], {"new": 0, "resolved": 0, "teams": []},
                               change.history[-1:], change.due_soon, change.undated)
    assert ">New</span>" not in _team_pages(rows, summary, first)["Delivery"]


def test_the_team_page_has_a_text_legend_of_the_age_colours():
    rows, summary, change = two_team_change()
    text = _text_of(_team_pages(rows, summary, change)["Delivery"])
    assert "Overdue column, by how long a task is overdue: 1–7 days 8–30 days 31+ days" in text


def test_no_plus_zero_new_on_the_pages():
    rows, summary, change = two_team_change()
    only_resolved = change.changes[change.changes["task_id"] != "t1"]
    counts = {"new": 2, "resolved": 2, "teams": [
        {"team_id": "team-d", "team": "Delivery", "new": 0, "resolved": 1},
        {"team_id": "team-p", "team": "Platform", "new": 2, "resolved": 1}]}
    change = views.ChangeInputs(change.baseline_as_of, only_resolved, counts, change.history, change.due_soon,
                                change.undated)
    index = _text_of(render_overdue_html(views.overdue_view(
        rows, summary, as_of=AS_OF, generated_at="now", filters={}, app_url_template=URL, source="sandbox",
        change=change)))
    assert "+0 new" not in index and "Delivery 2 overdue tasks · oldest 8 days 1 resolved since 8 Apr" in index
    delivery = _text_of(_team_pages(rows, summary, change)["Delivery"])
    assert "0 new" not in delivery and "1 resolved since Wednesday 8 April 2026." in delivery
    nothing = views.ChangeInputs(change.baseline_as_of, change.changes.iloc[0:0], {"new": 0, "resolved": 0,
                                 "teams": []}, change.history, change.due_soon, change.undated)
    assert "Nothing new and nothing resolved since Wednesday 8 April 2026." in _text_of(
        _team_pages(rows, summary, nothing)["Delivery"])
