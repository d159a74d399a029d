"""The overdue report's pages at agency size: index.html stays small, every team has its own page.

At 65 teams x 250 overdue tasks the single page was 14.8 MB and took Chromium 14 s (issue 16).
Now index.html shows each team's most urgent rows (all of them in a small workspace) and links to
one page per team; the pages are built by the overdue report's own Prefect task into a real
local store, and every link between them must name a file the store published.
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pandas as pd
import pytest
from agency_frames import AGENCY_ROWS_PER_TEAM, AGENCY_TEAMS, HOSTILE_TEAM, agency_tasks, team_id
from prefect.logging import disable_run_logger

from pike_tasks import frames, transforms, views, wording
from pike_tasks.prefect_tasks import Resolved, build_overdue_report
from pike_tasks.render import render_overdue_html
from pike_tasks.sandbox import DEMO_TEAMS, generate_workspace
from pike_tasks.store import FolderRef, open_store
from pike_tasks.teams_config import parse_teams_config

AS_OF = date(2026, 12, 1)
MAX_INDEX_BYTES = 2_000_000
CONFIG = parse_teams_config({"teams": {}, "app_url_template": "https://app.example.com/tasks/{id}"})


def build_in(store_location: str, tasks: pd.DataFrame):
    """The overdue report's Prefect task (its function, no engine) into the store at ``store_location``."""
    store = open_store(store_location)
    resolved = Resolved(tasks=tasks, members=pd.DataFrame(), data_quality={})
    with disable_run_logger():
        result = build_overdue_report.fn(resolved, as_of=AS_OF, config=CONFIG, store=store, source="sandbox")
    return store, FolderRef("overdue", AS_OF), result


def hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*)"', html)]


def body_rows(html: str) -> list[str]:
    return re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</th>", html, flags=re.S)


# --- the rule for K ---------------------------------------------------------------------------


def test_a_report_within_the_budget_shows_every_row_on_the_index():
    assert views.index_rows_per_team([300, 200, 100], budget=800) is None
    assert views.index_rows_per_team([], budget=800) is None


def test_k_splits_the_budget_and_small_teams_leave_their_share_to_big_ones():
    assert views.index_rows_per_team([250] * 65, budget=800, minimum=3) == 12  # 65 x 12 = 780
    # two small teams show all they have; the other rows go to the big ones
    assert views.index_rows_per_team([500, 500, 2, 1], budget=100, minimum=3) == 48
    assert sum(min(c, 48) for c in (500, 500, 2, 1)) <= 100 < sum(min(c, 49) for c in (500, 500, 2, 1))


def test_k_never_goes_below_the_minimum_however_many_teams():
    assert views.index_rows_per_team([50] * 1000, budget=800, minimum=3) == 3


def test_the_demo_index_shows_every_overdue_task():
    workspace = generate_workspace(today=AS_OF)
    built = frames.build_frames(workspace["projects"], workspace["tasks"], workspace["customers"], workspace["members"])
    resolved = transforms.resolve_tasks(built, parse_teams_config({"teams": DEMO_TEAMS}).team_names())
    rows = transforms.overdue_tasks(resolved, AS_OF)
    view = views.overdue_view(rows, transforms.overdue_team_summary(rows), as_of=AS_OF, generated_at="now",
                              filters={}, app_url_template=None, source="sandbox")
    assert view["index_rows_per_team"] is None
    assert sum(len(t["tasks"]) for t in view["teams"]) == len(rows) > 0
    html = render_overdue_html(view)
    assert len(body_rows(html)) == len(rows) and "Showing the " not in html
    assert all(f'href="{t["page_name"]}"' in html for t in view["teams"])  # still one page per team


# --- the pages at agency size, published by the report's task --------------------------------


@pytest.fixture(scope="module")
def agency(tmp_path_factory):
    store, ref, result = build_in(str(tmp_path_factory.mktemp("store")), agency_tasks(AS_OF))
    return store, ref, result


def titles_in_report_order(result, t: int) -> list[str]:
    """Team ``t``'s overdue titles as overdue.csv has them: the most urgent first."""
    rows = result.frames.rows
    return rows.loc[rows["team_id"] == team_id(t), "title"].tolist()


def titles_on(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", r)).split("Description")[0].strip() for r in body_rows(html)]


def test_agency_index_is_under_2_mb_and_shows_each_teams_most_urgent_rows(agency):
    store, ref, result = agency
    index = store.read(ref, "index.html")
    assert index is not None and len(index) < MAX_INDEX_BYTES, len(index or b"")
    html = index.decode("utf-8")
    k = views.index_rows_per_team([AGENCY_ROWS_PER_TEAM] * AGENCY_TEAMS)
    assert k is not None and len(body_rows(html)) == k * AGENCY_TEAMS <= views.INDEX_ROW_BUDGET
    # the most urgent first: each team's first k rows, as in overdue.csv
    shown = titles_on(html)
    for t in range(AGENCY_TEAMS):
        ordered = titles_in_report_order(result, t)
        assert ordered[:k] == [title for title in shown if title in set(ordered)]
    assert html.count("Showing the ") == AGENCY_TEAMS
    assert f"See all {AGENCY_ROWS_PER_TEAM} overdue tasks of Team 07 Delivery" in html
    # the sections keep their stable anchors (digests link index.html#<anchor>)
    for t in range(AGENCY_TEAMS):
        assert f'id="{wording.team_anchor(team_id(t))}"' in html
    assert result.totals["overdue_tasks"] == AGENCY_TEAMS * AGENCY_ROWS_PER_TEAM


def test_every_team_has_a_page_and_every_link_of_the_index_names_a_published_file(agency):
    store, ref, _ = agency
    published = set(store.list_files(ref))
    team_pages = {f"{wording.team_anchor(team_id(t))}.html" for t in range(AGENCY_TEAMS)}
    assert team_pages <= published
    html = store.read(ref, "index.html").decode("utf-8")
    local = {h.split("#")[0] for h in hrefs(html) if not h.startswith(("https://", "#"))}
    assert "../../index.html" in local  # "All reports": the store's home, two folders up
    local.discard("../../index.html")
    assert team_pages <= local and local <= published, local - published


def test_each_team_page_holds_all_the_teams_rows_and_links_back(agency):
    store, ref, result = agency
    index = store.read(ref, "index.html").decode("utf-8")
    sizes = []
    for t in range(AGENCY_TEAMS):
        anchor = wording.team_anchor(team_id(t))
        page = store.read(ref, f"{anchor}.html")
        assert page is not None
        sizes.append(len(page))
        html = page.decode("utf-8")
        assert titles_on(html) == titles_in_report_order(result, t)
        assert len(titles_on(html)) == AGENCY_ROWS_PER_TEAM
        assert f'href="index.html#{anchor}"' in html and f'id="{anchor}"' in index
        assert "<script" not in html.lower() and "and 0 more" not in html
    assert max(sizes) < MAX_INDEX_BYTES


def test_the_hostile_team_name_is_escaped_in_its_page_title_and_links(agency):
    store, ref, _ = agency
    html = store.read(ref, f"{wording.team_anchor(team_id(0))}.html").decode("utf-8")
    assert "<script" not in html.lower()
    escaped = HOSTILE_TEAM.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    assert f"<title>Overdue tasks of {escaped} · {AS_OF.isoformat()}</title>" in html
    index = store.read(ref, "index.html").decode("utf-8")
    assert "<script" not in index.lower() and f"See all {AGENCY_ROWS_PER_TEAM} overdue tasks of {escaped}" in index


def test_a_team_past_the_team_page_cap_points_to_overdue_csv(tmp_path):
    n = views.MAX_TASKS_PER_TEAM + 7
    store, ref, _ = build_in(str(tmp_path), agency_tasks(AS_OF, teams=2, rows_per_team=n))
    page = store.read(ref, f"{wording.team_anchor(team_id(1))}.html").decode("utf-8")
    assert len(body_rows(page)) == views.MAX_TASKS_PER_TEAM
    assert 'the full list is in <a href="overdue.csv">overdue.csv</a>' in page and "and 7 more overdue tasks" in page
    # 2 x 507 rows are over the budget: index.html shows 400 of each and links to the team pages
    index = store.read(ref, "index.html").decode("utf-8")
    assert len(body_rows(index)) == views.INDEX_ROW_BUDGET
    assert f"Showing the 400 most urgent of {n}." in index
    assert (f'<a href="{wording.team_anchor(team_id(1))}.html">See the {views.MAX_TASKS_PER_TEAM:,} most urgent '
            f"of {n:,} overdue tasks of Team 01 Delivery</a>") in index


def test_rendering_the_team_pages_says_how_far_it_has_got(tmp_path, monkeypatch, caplog):
    """At agency size rendering the team pages is the longest quiet phase of a run: it reports
    progress like the fetch and the digests do (here every page, with the 2 s spacing taken out)."""
    import functools
    import logging

    from pike_tasks import prefect_tasks
    from pike_tasks.progress import ProgressLog

    logger = logging.getLogger("test-overdue-progress")
    monkeypatch.setattr(prefect_tasks, "ProgressLog", functools.partial(ProgressLog, every_seconds=0))
    monkeypatch.setattr(prefect_tasks, "get_run_logger", lambda: logger)
    tasks = agency_tasks(AS_OF)
    teams = tasks["team_id"].nunique()
    with caplog.at_level(logging.INFO, logger=logger.name):
        build_overdue_report.fn(Resolved(tasks=tasks, members=pd.DataFrame(), data_quality={}), as_of=AS_OF,
                                config=CONFIG, store=open_store(str(tmp_path)), source="sandbox")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("overdue team pages rendered")]
    assert len(lines) == teams >= AGENCY_TEAMS
    assert lines[-1].startswith(f"overdue team pages rendered: {teams} of {teams} (100%)")


# --- the footer's source (issue 23, item 10) ---------------------------------------------------


def test_the_footer_names_the_sandbox_in_a_sandbox_run_and_the_api_host_otherwise(monkeypatch):
    from pike_tasks.once import ENV_SANDBOX_RUN
    from pike_tasks.prefect_tasks import api_source_label

    monkeypatch.setenv("PIKE_API_SECRET", "pk_test_0123456789abcdef")
    monkeypatch.setenv("PIKE_API_BASE_URL", "http://127.0.0.1:43259")
    monkeypatch.setenv("PIKE_API_ALLOW_INSECURE_HTTP", "1")
    monkeypatch.setenv(ENV_SANDBOX_RUN, "1")
    assert api_source_label() == "built-in sandbox (demo data)"
    monkeypatch.delenv(ENV_SANDBOX_RUN)
    monkeypatch.setenv("PIKE_API_BASE_URL", "https://pike.example.com")
    assert api_source_label() == "pike.example.com"
