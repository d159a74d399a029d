"""build_digests (REPORTS.md Report 3) with tiny frames and hand-computed expectations, and
the send-manager-digests flow end to end against the sandbox and a loopback SMTP server.

Needs ``pike_tasks.transforms`` (resolve/overdue/workload); skipped until it exists.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

transforms = pytest.importorskip("pike_tasks.transforms")

from pike_tasks.digest import build_digests  # noqa: E402 - after the importorskip above

sys.path.insert(0, str(Path(__file__).parent))
from smtp_server import RecordingSmtpServer  # noqa: E402 - after sys.path.insert (a tests/ helper)

AS_OF = date(2026, 4, 9)
TEAMS = {
    "T1": {"name": "Delivery", "managers": ["Lead@Example.com"]},
    "T2": {"name": "Platform", "managers": ["p@example.com", "lead@example.com"]},
    "T3": {"name": "Design", "managers": ["d@example.com"]},
}
RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


def task(task_id, team, status, due, assignees, billable, priority="high"):
    return {
        "task_id": task_id, "title": f"Task {task_id}", "description": None, "status": status,
        "priority": priority, "priority_rank": RANK.get(priority, 4),
        "is_open": status not in ("done", "cancelled", "duplicate"),
        "due_date": due, "project_id": None, "project": "No project", "team_id": team,
        "team": TEAMS[team]["name"], "customer_id": None, "customer": "No customer",
        "assignee_ids": assignees, "assignees": [f"Member {a}" for a in assignees] or ["Unassigned"],
        "assignees_text": "; ".join(f"Member {a}" for a in assignees) or "Unassigned", "billable_status": billable,
    }


@pytest.fixture
def frames():
    resolved = pd.DataFrame([
        task("a", "T1", "toDo", date(2026, 4, 1), ["m1"], "billable"),        # 8 days overdue
        task("b", "T3", "inProgress", None, ["m1"], "nonBillable"),           # m1's work in another team
        task("c", "T2", "toDo", date(2026, 4, 8), ["m2"], "billable"),         # 1 day overdue
        task("d", "T3", "toDo", date(2026, 3, 1), ["m3"], None, "urgent"),     # 39 days overdue
        task("e", "T1", "done", date(2026, 1, 1), ["m1"], "billable"),         # closed
    ])
    members = pd.DataFrame([
        {"member_id": "m1", "display_name": "Member m1", "email": "m1@example.com", "status": "active",
         "team_ids": ["T1"]},
        {"member_id": "m2", "display_name": "Member m2", "email": "m2@example.com", "status": "active",
         "team_ids": ["T2"]},
        {"member_id": "m3", "display_name": "Member m3", "email": "m3@example.com", "status": "active",
         "team_ids": ["T3"]},
        {"member_id": "m4", "display_name": "Member m4", "email": "m4@example.com", "status": "inactive",
         "team_ids": ["T1"]},
    ])
    return resolved, members


def test_one_digest_per_manager_address_casefolded_and_sorted(frames):
    resolved, members = frames
    rows = transforms.overdue_tasks(resolved, AS_OF)
    digests = build_digests(resolved, members, rows, TEAMS, AS_OF)
    assert [d.recipient.casefold() for d in digests] == ["d@example.com", "lead@example.com", "p@example.com"]
    lead = digests[1]
    assert lead.recipient == "Lead@Example.com"  # as first written in the config
    assert lead.team_ids == ("T1", "T2") and lead.team_names == ("Delivery", "Platform")
    assert list(lead.overdue_rows["task_id"]) == ["a", "c"] and lead.overdue_count == 2
    assert list(lead.team_summary["team"]) == ["Delivery", "Platform"]
    assert lead.subject == "Pike digest 2026-04-09: 2 overdue tasks (Delivery, Platform)"
    design = digests[0]
    assert list(design.overdue_rows["task_id"]) == ["d"]
    assert design.subject == "Pike digest 2026-04-09: 1 overdue task (Design)"


def test_workload_counts_members_tasks_in_every_team(frames):
    resolved, members = frames
    built = build_digests(resolved, members, transforms.overdue_tasks(resolved, AS_OF), TEAMS, AS_OF)
    digests = {d.recipient.casefold(): d for d in built}
    lead = digests["lead@example.com"].workload.set_index("member_id")
    # m1 (Delivery) holds a (T1, billable) and b (T3, non-billable); m4 is inactive with no open task: no row
    assert sorted(lead.index) == ["m1", "m2"]
    assert (lead.loc["m1", "open"], lead.loc["m1", "billable"], lead.loc["m1", "non_billable"]) == (2, 1, 1)
    assert lead.loc["m1", "overdue"] == 1 and lead.loc["m2", "open"] == 1
    design = digests["d@example.com"].workload
    assert list(design["member_id"]) == ["m3"]  # b is in Design but m1 is not a member of Design


def test_team_filter_limits_digests(frames):
    resolved, members = frames
    digests = build_digests(resolved, members, transforms.overdue_tasks(resolved, AS_OF), TEAMS, AS_OF, team_ids=["T2"])
    assert [(d.recipient.casefold(), d.team_ids) for d in digests] == [
        ("lead@example.com", ("T2",)), ("p@example.com", ("T2",))]
    assert digests[0].team_filter == ("T2",)


@pytest.fixture
def flow_env(sandbox, tmp_path, monkeypatch, prefect_harness):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    monkeypatch.setenv("PIKE_REPORTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PIKE_REPORTS_EMAIL_FROM", "reports@example.com")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        yield tmp_path


def test_flow_sends_one_digest_per_manager_once(flow_env, monkeypatch):
    from flows.digest import send_manager_digests

    teams = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    with RecordingSmtpServer() as smtp:
        monkeypatch.setenv("PIKE_REPORTS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("PIKE_REPORTS_SMTP_SECURITY", "none")
        out = send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"))
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
            "data.lead@example.com", "delivery.lead@example.com", "design.lead@example.com",
            "platform.lead@example.com"]
        platform = smtp.to("platform.lead@example.com")[0].message
        assert "(Data, Platform)" in platform["Subject"]
        send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"))
        assert len(smtp.messages) == 4
    assert (Path(out["digest"]) / "summary.json").is_file()


def test_flow_dry_run_writes_eml(flow_env):
    from flows.digest import send_manager_digests

    teams = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    out = send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"), dry_run=True)
    assert len(list(Path(out["digest"]).glob("*.eml"))) == 4


# --- the phone-first digest: what changed, due soon, reassign, budget (issue #12) -----------

import re  # noqa: E402 - the imports of this part of the file (issue #12)

import digest_sample  # noqa: E402 - the imports of this part of the file (issue #12)

from pike_tasks import views, wording  # noqa: E402 - the imports of this part of the file (issue #12)
from pike_tasks.digest import Limits, digest_subject, digest_view, render_digest  # noqa: E402 - the imports of this part of the file (issue #12)


def sample_digests(**overrides):
    inputs = {**digest_sample.inputs(), **overrides}
    return {d.recipient: d for d in build_digests(
        inputs["resolved"], inputs["members"], inputs["overdue_rows"], inputs["teams_config_teams"], inputs["as_of"],
        changes=inputs["changes"], due_soon_rows=inputs["due_soon_rows"], baseline_as_of=inputs["baseline_as_of"])}


def test_subject_with_and_without_baseline_as_reports_md_words_it():
    teams = ["Delivery", "Platform"]
    assert digest_subject(AS_OF, 7, teams) == "Pike digest 2026-04-09: 7 overdue tasks (Delivery, Platform)"
    assert digest_subject(AS_OF, 7, teams, new=2, resolved=3) == \
        "Pike digest 2026-04-09: 7 overdue tasks, 2 new, 3 resolved (Delivery, Platform)"
    assert digest_subject(AS_OF, 1, ["Delivery"], new=1, resolved=0) == \
        "Pike digest 2026-04-09: 1 overdue task, 1 new, 0 resolved (Delivery)"
    lead = sample_digests()["lead@example.com"]
    assert lead.subject == "Pike digest 2026-04-09: 6 overdue tasks, 2 new, 3 resolved (Delivery, Platform)"
    without = sample_digests(changes=None, baseline_as_of=None)["lead@example.com"]
    assert without.subject == "Pike digest 2026-04-09: 6 overdue tasks (Delivery, Platform)"
    assert without.changes is None and "No earlier report to compare with yet." in render_digest(without).text


def test_changes_restricted_to_the_managers_teams_resolved_rows_by_baseline_team():
    changes = digest_sample.inputs()["changes"]
    # r5 was overdue in Design (T3) in the baseline and is closed today after moving to Delivery:
    # it is Design's news, not Delivery's.
    moved = {"change": "resolved", "reason": "closed", "task_id": "r5", "team_id": "T3", "team": "Design",
             "title": "Moved then closed", "priority": "high", "status": "done", "due_date": "2026-03-30",
             "days_overdue": 3}
    changes = pd.concat([changes, pd.DataFrame([moved])], ignore_index=True)
    digests = sample_digests(changes=changes)
    lead, design = digests["lead@example.com"], digests["design@example.com"]
    assert list(lead.changes["task_id"]) == ["n2", "n1", "r1", "r3", "r2"]
    assert set(lead.changes["team_id"]) == {"T1", "T2"}
    assert list(design.changes["task_id"]) == ["r4", "r5"]
    assert (lead.new_count, lead.resolved_count, design.resolved_count) == (2, 3, 2)
    # due soon likewise: s3 is Design's
    assert list(lead.due_soon_rows["task_id"]) == ["s1", "s2"]
    assert "Moved then closed" not in render_digest(lead).text


def test_changes_without_a_baseline_date_are_refused():
    inputs = digest_sample.inputs()
    with pytest.raises(ValueError, match="baseline_as_of"):
        build_digests(inputs["resolved"], inputs["members"], inputs["overdue_rows"], TEAMS, AS_OF,
                      changes=inputs["changes"])


def test_text_part_says_what_changed_first_with_resolved_compact_then_what_is_due():
    """REPORTS.md Report 3: what changed comes first (the new overdue tasks, then what was resolved
    and why), then due soon, then the rest; resolved is one compact line per team (issue 23 item 4),
    so it takes less room than the new tasks it follows."""
    text = render_digest(sample_digests()["lead@example.com"]).text
    order = ["6 OVERDUE TASKS", "+2 new, 3 resolved since Thu 2 Apr", "Platform: 4 overdue, +1 new, 1 resolved",
             "Reassign 2 open tasks from Sam Inactive (inactive)", "NEW OVERDUE SINCE THU 2 APR (2)",
             "RESOLVED SINCE THU 2 APR (3)", "DUE IN THE NEXT 7 DAYS (2)", "STILL OVERDUE (4)",
             "YOUR TEAMS' PEOPLE (3)"]
    at = [text.index(part) for part in order]
    assert at == sorted(at), order
    # resolved with why, in a few words, one line per team (the baseline's team)
    assert "  Platform (1): Clean up feature flags (no longer in Pike)\n" in text
    assert "  Delivery (2): Ship release notes (closed), Plan the offsite (due date moved)\n" in text
    # the still-overdue list does not repeat the new ones
    still = text[text.index("STILL OVERDUE"):]
    assert "Renew TLS certificate" not in still and "Rotate API keys" not in still


def test_new_rows_say_why_they_are_new_in_both_parts():
    """REPORTS.md Report 4's reason of a new row, in words: fell due, or already past due and
    newly on the list (a task 36 days overdue listed as "new" must not read as a bug)."""
    inputs = digest_sample.inputs()
    changes = inputs["changes"].copy()
    changes.loc[changes["task_id"] == "n1", "reason"] = "added"
    lead = sample_digests(changes=changes)["lead@example.com"]
    rendered = render_digest(lead)
    text = rendered.text
    assert re.search(r"Rotate API keys\n    [^\n]*fell due since the last report", text)
    assert re.search(r"Renew TLS certificate\n    [^\n]*already past due, newly on the list", text)
    assert "fell due since the last report" in rendered.html and "already past due, newly on the list" in rendered.html
    still = text[text.index("STILL OVERDUE"):]
    assert "fell due" not in still and "newly on the list" not in still


def test_html_part_has_the_same_sections_in_the_same_order():
    html = render_digest(sample_digests()["lead@example.com"],
                         report_url="https://reports.example.com/overdue/2026-04-09/").html
    html = html[html.index("<body"):]
    order = ["6 overdue tasks", "+2 new", "3 resolved", "Reassign 2 open tasks", "New overdue since",
             "Resolved since", "Due in the next 7 days", "Still overdue", "Your teams' people"]
    at = [html.index(part) for part in order]
    assert at == sorted(at)
    # team sections link the overdue page's anchors (by team id, stable from day to day)
    assert re.search(r'href="https://reports.example.com/overdue/2026-04-09/#team-T2"[^>]*>(<strong>)?Platform<', html)
    assert "role=" not in html


def test_inactive_holder_gets_a_reassign_line():
    view = digest_view(sample_digests()["lead@example.com"])
    assert view["reassign"] == ["Reassign 2 open tasks from Sam Inactive (inactive)"]
    assert wording.reassign("Kim", 1, "invited") == "Reassign 1 open task from Kim (invited)"
    assert wording.reassign("Kim", 3, "unknown") == "Reassign 3 open tasks from Kim (status unknown)"


def test_singular_and_plural_days_everywhere():
    text = render_digest(sample_digests()["lead@example.com"]).text
    assert "1 day overdue" in text and "2 days overdue" in text and "1 days" not in text
    assert [wording.days(n) for n in (1, 2, 1000)] == ["1 day", "2 days", "1,000 days"]
    assert [wording.due_in(n) for n in (0, 1, 3)] == ["due today", "due tomorrow", "due in 3 days"]
    # the pages take the same words from the same place
    assert views.PRIORITIES is wording.PRIORITIES and views.AGE_BUCKETS is wording.AGE_BUCKETS
    assert views.humanize_status is wording.humanize_status and views.share_pct is wording.share_pct
    assert wording.humanize_status("inReview") == "In review" and wording.humanize_status("toDo") == "To do"


def test_report_location_without_url_is_words_never_a_file_link():
    lead = sample_digests()["lead@example.com"]
    html = render_digest(lead, report_url="file:///srv/out/overdue/2026-04-09/index.html").html
    assert "file:" not in html and "/srv/out/overdue/2026-04-09/index.html" in html


def test_budget_cuts_the_rest_first_and_keeps_new_and_the_most_urgent_across_teams():
    inputs = digest_sample.inputs()
    resolved = inputs["resolved"]
    # 300 low-priority overdue tasks in Delivery, and one urgent one in Platform
    filler = [digest_sample.task(f"f{i}", "T1", "toDo", digest_sample.day(-40), ["m1"], "low",
                                 f"Filler task number {i} with a fairly long title to take up room")
              for i in range(300)]
    urgent = [digest_sample.task("u1", "T2", "toDo", digest_sample.day(-3), ["m2"], "urgent", "Urgent platform outage")]
    resolved = pd.concat([resolved, pd.DataFrame(filler + urgent)], ignore_index=True)
    overdue = transforms.overdue_tasks(resolved, AS_OF)
    baseline = pd.concat([digest_sample.baseline_rows(), overdue[overdue["task_id"].str.match(r"^(f\d+|u1)$")]
                          [list(digest_sample.baseline_rows().columns)]], ignore_index=True)
    from pike_tasks.changes import compute_changes

    changes = compute_changes(overdue, baseline, resolved, AS_OF, baseline_as_of=digest_sample.BASELINE)
    lead = sample_digests(resolved=resolved, overdue_rows=overdue, changes=changes)["lead@example.com"]
    big = Limits(rest_per_team=1000, rest_total=1000)
    full = render_digest(lead, limits=big, budget_bytes=10**9)
    budget = len(full.html.encode()) // 3
    cut = render_digest(lead, limits=big, budget_bytes=budget)
    assert len(cut.html.encode()) <= budget < len(full.html.encode())
    for kept in ("Renew TLS certificate", "Rotate API keys", "Urgent platform outage"):  # new, and most urgent
        assert kept in cut.html and kept in cut.text
    assert cut.limits.new == big.new  # nothing new was cut
    shown_filler = cut.text.count("Filler task number")
    assert 0 < shown_filler < 300
    assert "Fix invoice rounding" in cut.text  # high priority: kept before any low filler
    hidden = 300 - shown_filler
    # said per team: Delivery's fillers, and Platform's low/no-priority tasks (less urgent than
    # a low one 40 days overdue) that were cut for them
    for part in (cut.text, cut.html):
        assert f"and {hidden} more in Delivery" in part and "and 2 more in Platform" in part


# --- issue 23: the digest says what changed the way the pages do --------------------------------

import email as email_lib  # noqa: E402 - the imports of this part of the file (issue 23)
from email.policy import default as default_policy  # noqa: E402 - the imports of this part of the file (issue 23)

# (id, team, priority, days overdue, title): new since the baseline, in the teams' report order
# Platform first (more overdue), so listing them by team would put Platform's low task first.
MORE_NEW = [
    ("w1", "T2", "low", 3, "Weekly status report"),
    ("z1", "T2", "urgent", 5, "Alpha cutover plan"),
    ("d1", "T1", "urgent", 5, "Migrate internal DNS records"),
    ("q1", "T1", None, 10, "Quarterly cleanup"),
    ("h1", "T2", "high", 1, "Harden the VPN"),
    ("h2", "T1", "high", 4, "Hire a contractor"),
]
# priority urgent -> none, then days overdue (most first), then title, then id
EXPECTED_NEW = ["Alpha cutover plan", "Migrate internal DNS records", "Renew TLS certificate", "Hire a contractor",
                "Harden the VPN", "Rotate API keys", "Weekly status report", "Quarterly cleanup"]


def _two_team_digest(descriptions: dict[str, str] | None = None):
    """The sample's lead (Delivery and Platform) with six more new tasks across both teams."""
    from pike_tasks.changes import compute_changes

    inputs = digest_sample.inputs()
    more = [digest_sample.task(i, team, "toDo", digest_sample.day(-days), ["m1" if team == "T1" else "m2"], prio,
                               title, description=(descriptions or {}).get(i))
            for i, team, prio, days, title in MORE_NEW]
    resolved = pd.concat([inputs["resolved"], pd.DataFrame(more)], ignore_index=True)
    overdue = transforms.overdue_tasks(resolved, AS_OF)
    changes = compute_changes(overdue, digest_sample.baseline_rows(), resolved, AS_OF,
                              baseline_as_of=digest_sample.BASELINE)
    return sample_digests(resolved=resolved, overdue_rows=overdue, changes=changes,
                          due_soon_rows=transforms.due_soon_tasks(resolved, AS_OF))["lead@example.com"]


def _in_order(text: str, titles: list[str]) -> list[str]:
    return sorted(titles, key=text.index)


def test_new_tasks_are_listed_by_urgency_across_teams_in_every_channel():
    """Issue 23 item 2: urgent -> none, then days overdue, then title, id; never grouped by team."""
    from pike_tasks.slack_blocks import digest_message

    lead = _two_team_digest()
    view = digest_view(lead, app_url_template="https://app.pike.example/tasks/{id}")
    assert [t["title"] for t in view["new"]["rows"]] == EXPECTED_NEW
    rendered = render_digest(lead, app_url_template="https://app.pike.example/tasks/{id}")
    new_text = rendered.text[rendered.text.index("NEW OVERDUE"):rendered.text.index("DUE IN THE NEXT")]
    assert _in_order(new_text, EXPECTED_NEW) == EXPECTED_NEW
    html = rendered.html[rendered.html.index("New overdue since"):rendered.html.index("Due in the next 7 days")]
    assert _in_order(html, EXPECTED_NEW) == EXPECTED_NEW
    slack = "\n".join(b["text"]["text"] for b in digest_message(view)["blocks"]
                      if b["type"] == "section" and "text" in b and "New overdue" in b["text"]["text"])
    assert _in_order(slack, EXPECTED_NEW) == EXPECTED_NEW


def test_a_cut_new_list_keeps_the_most_urgent_in_urgency_order():
    lead = _two_team_digest()
    view = digest_view(lead, limits=Limits(new=3))
    assert [t["title"] for t in view["new"]["rows"]] == EXPECTED_NEW[:3]
    assert view["new"]["more"] == "and 5 more (Platform 3, Delivery 2)"


def test_resolved_is_one_compact_block_right_after_the_new_tasks():
    """Issue 23 item 4: no full cards; per team a few titles with why, 'and N more' linking the team
    page; where REPORTS.md Report 3 puts it: after the new overdue tasks, before due soon."""
    from pike_tasks.changes import compute_changes

    inputs = digest_sample.inputs()
    gone = [{**digest_sample.baseline_rows().iloc[0].to_dict(), "task_id": f"g{i}", "team_id": "T1",
             "team": "Delivery", "title": f"Old chore {i:02d}", "days_overdue": 2} for i in range(14)]
    baseline = pd.concat([digest_sample.baseline_rows(), pd.DataFrame(gone)], ignore_index=True)
    changes = compute_changes(inputs["overdue_rows"], baseline, inputs["resolved"], AS_OF,
                              baseline_as_of=digest_sample.BASELINE)
    lead = sample_digests(changes=changes)["lead@example.com"]
    pages = {"T1": "https://reports.example.com/overdue/2026-04-09/team-T1.html",
             "T2": "https://reports.example.com/overdue/2026-04-09/team-T2.html"}
    rendered = render_digest(lead, team_pages=pages, report_url="https://reports.example.com/overdue/2026-04-09/")
    text, html = rendered.text, rendered.html
    block = text[text.index("RESOLVED SINCE THU 2 APR (17)"):text.index("DUE IN THE NEXT 7 DAYS")]
    assert text.index("NEW OVERDUE SINCE") < text.index("RESOLVED SINCE")
    lines = [line for line in block.split("\n")[1:] if line.strip() and not line.startswith("--")][:2]
    assert lines[0] == "  Platform (1): Clean up feature flags (no longer in Pike)"
    assert lines[1].startswith("  Delivery (16): Ship release notes (closed), Plan the offsite (due date moved), "
                               "Old chore 00 (no longer in Pike)")
    assert lines[1].endswith(f" and 7 more: {pages['T1']}")  # 10 titles across the teams, the rest on the page
    body = html[html.index("Resolved since Thu 2 Apr (17)"):html.index("Due in the next 7 days")]
    assert html.index("New overdue since") < html.index("Resolved since")
    assert body.count('class="item"') == 0  # no cards: one compact paragraph per team
    assert re.search(r'<a href="https://reports.example.com/overdue/2026-04-09/team-T1.html"[^>]*>and 7 more</a>', body)


DESCRIPTION = "<ul><li>Collect logs</li><li>Reproduce</li><li>Fix</li></ul>"


@pytest.mark.parametrize("description, text_lines, html_has", [
    (DESCRIPTION, ["    - Collect logs", "    - Reproduce", "    - Fix"],
     '<ul class="ex"[^>]*><li[^>]*>Collect logs</li><li[^>]*>Reproduce</li><li[^>]*>Fix</li></ul>'),
    ("<ol><li>Collect logs</li><li>Reproduce</li></ol>", ["    1. Collect logs", "    2. Reproduce"],
     '<ol class="ex"[^>]*><li[^>]*>Collect logs</li><li[^>]*>Reproduce</li></ol>'),
    ("<p>First <b>para</b></p><p>Second<br>line</p>", ["    First para", "    Second", "    line"],
     r'<p class="ex"[^>]*>First para</p><p class="ex"[^>]*>Second<br>line</p>'),
    ('<ul><li onclick="x()">Collect <script>alert(1)</script>logs</li><li><a href="javascript:x">Fix</a> it</li></ul>',
     ["    - Collect logs", "    - Fix it"], '<ul class="ex"[^>]*><li[^>]*>Collect logs</li><li[^>]*>Fix it</li></ul>'),
])
def test_lists_and_paragraphs_in_descriptions_read_as_separate_lines(description, text_lines, html_has):
    """Issue 23 item 5: never "Collect logs Reproduce Fix"; the HTML keeps the list, sanitised."""
    lead = _two_team_digest({"d1": description})
    rendered = render_digest(lead)
    start = rendered.text.index("Migrate internal DNS records")
    lines = rendered.text[start:].split("\n")[2:2 + len(text_lines)]
    assert lines == text_lines
    assert re.search(html_has, rendered.html), rendered.html[rendered.html.index("Migrate internal DNS"):][:900]
    assert "script" not in rendered.html.split("<body", 1)[1] and "onclick" not in rendered.html
    assert "javascript:" not in rendered.html


def test_no_zero_part_is_printed_anywhere():
    """Issue 23 item 5: "+0 new" (or "0 resolved") is left out, in the email, Slack and Teams."""
    from pike_tasks.slack_blocks import digest_message, team_message
    from pike_tasks.team_digest import team_digest
    from pike_tasks.teams_card import card_bytes, team_card

    inputs = digest_sample.inputs()
    only_resolved = inputs["changes"][inputs["changes"]["change"] == "resolved"]
    lead = sample_digests(changes=only_resolved)["lead@example.com"]
    rendered = render_digest(lead)
    view = digest_view(lead)
    one_team = digest_view(team_digest(lead, "T2", "T2"))
    # the subject keeps REPORTS.md's "N new, M resolved" (its <title> too); the body leaves zeros out
    outputs = {"text": rendered.text, "html": rendered.html.split("<body", 1)[1],
               "slack": json_dump(digest_message(view)), "slack team": json_dump(team_message(one_team)),
               "teams": card_bytes(team_card(one_team)).decode()}
    for name, out in outputs.items():
        assert not re.search(r"\+0\b|\b0 new|\b0 resolved", out), name
    assert "3 resolved since Thu 2 Apr" in rendered.text and "Delivery: 2 overdue, 2 resolved" in rendered.text
    assert "Platform: 4 overdue, 1 resolved" in rendered.text
    nothing = sample_digests(changes=only_resolved.iloc[0:0])["lead@example.com"]
    text = render_digest(nothing).text
    assert "No change since Thu 2 Apr" in text and "Platform: 4 overdue, no change" in text


def json_dump(payload) -> str:
    import json

    return json.dumps(payload, ensure_ascii=False)


def _digest_parts(folder: Path, address: str) -> tuple[str, str]:
    from pike_tasks.delivery.email import eml_name

    message = email_lib.message_from_bytes((folder / eml_name(address)).read_bytes(), policy=default_policy)
    parts = {p.get_content_type(): p.get_content() for p in message.walk() if not p.is_multipart()}
    return parts["text/plain"], parts["text/html"]


def test_the_workload_section_links_the_workload_report_of_its_day(flow_env, monkeypatch):
    """Issue 23 item 5: the digest's people section links the workload report (the store's link,
    as the team pages are linked), when the store has one for the day; else it names none."""
    from flows.all_reports import run_all_reports
    from flows.digest import send_manager_digests
    from flows.workload import report_billable_workload

    monkeypatch.setenv("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike")
    teams = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    store = str(flow_env / "out")
    out = send_manager_digests(teams_config=teams, output_dir=store, dry_run=True)
    text, html = _digest_parts(Path(out["digest"]), "platform.lead@example.com")
    assert "workload report" not in text and "workload report" not in html  # none stored for the day yet

    workload = report_billable_workload(teams_config=teams, output_dir=store)
    as_of = Path(workload["workload"]).name
    url = f"https://reports.example.com/pike/workload/{as_of}/index.html"
    out = send_manager_digests(teams_config=teams, output_dir=store, dry_run=True)
    text, html = _digest_parts(Path(out["digest"]), "platform.lead@example.com")
    people = html[html.index("Your teams&#39; people") if "Your teams&#39; people" in html else html.index("people ("):]
    assert f'<a href="{url}"' in people and f"workload report: {url}" in text

    out = run_all_reports(teams_config=teams, output_dir=str(flow_env / "all"), digests="dry-run")
    text, _ = _digest_parts(Path(out["digest"]), "platform.lead@example.com")
    stored = next(line for line in text.split("\n") if "workload report" in line)
    assert "/workload/" in stored and stored.rstrip().endswith("index.html")


def test_the_digest_flow_takes_the_forms_empty_values_as_the_defaults(flow_env):
    """Issue 23 item 7: what the Custom run form sends for fields left empty ([] and "") means the
    default: every team, no resend (not "resend to nobody"), no preview, the environment's SMTP."""
    from flows.digest import send_manager_digests

    teams = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    out = send_manager_digests(teams_config=teams, output_dir=str(flow_env / "out"), dry_run=True, team_ids=[],
                               resend_to=[], preview_to="", smtp_block="", channels=[])
    assert sorted(p.name for p in Path(out["digest"]).glob("*.eml")) == [
        "data.lead@example.com.eml", "delivery.lead@example.com.eml", "design.lead@example.com.eml",
        "platform.lead@example.com.eml"]


def test_slack_and_teams_put_what_was_resolved_last_in_one_compact_line():
    """Issue 23 item 4 in the other channels: after the lists of what needs action, one line."""
    from pike_tasks.slack_blocks import check_limits, digest_message, team_message
    from pike_tasks.team_digest import team_digest
    from pike_tasks.teams_card import team_card

    lead = sample_digests()["lead@example.com"]
    dm = digest_message(digest_view(lead))
    texts = [json_dump(b) for b in dm["blocks"]]
    resolved_at = [i for i, t in enumerate(texts) if "Resolved since Thu 2 Apr (3)" in t]
    lists_at = [i for i, t in enumerate(texts) if "New overdue since" in t or "Most urgent of the rest" in t]
    assert len(resolved_at) == 1 and lists_at and resolved_at[0] > max(lists_at)
    assert ("Clean up feature flags (no longer in Pike), Ship release notes (closed), "
            "Plan the offsite (due date moved)") in texts[resolved_at[0]]
    assert check_limits(dm) == []
    delivery = digest_view(team_digest(lead, "T1", "T1"))
    post = [json_dump(b) for b in team_message(delivery)["blocks"]]
    line = [i for i, t in enumerate(post) if "Resolved since Thu 2 Apr (2)" in t]
    assert line and line[0] > max(i for i, t in enumerate(post) if "Most urgent" in t or "New overdue" in t)
    body = [json_dump(b) for b in team_card(delivery)["attachments"][0]["content"]["body"]]
    assert "Resolved since Thu 2 Apr (2): Ship release notes (closed), Plan the offsite (due date moved)" in body[-1]


def test_the_compact_resolved_block_shares_its_titles_out_between_the_teams():
    from pike_tasks.changes import compute_changes

    inputs = digest_sample.inputs()
    base = digest_sample.baseline_rows()
    gone = [{**base.iloc[0].to_dict(), "task_id": f"g{i}", "team_id": "T1", "team": "Delivery",
             "title": f"Old chore {i:02d}", "days_overdue": 2} for i in range(12)]
    gone += [{**base.iloc[0].to_dict(), "task_id": f"p{i}", "team_id": "T2", "team": "Platform",
              "title": f"Platform chore {i:02d}", "days_overdue": 2} for i in range(12)]
    changes = compute_changes(inputs["overdue_rows"], pd.concat([base, pd.DataFrame(gone)], ignore_index=True),
                              inputs["resolved"], AS_OF, baseline_as_of=digest_sample.BASELINE)
    view = digest_view(sample_digests(changes=changes)["lead@example.com"], limits=Limits(resolved=10))
    shown = {g["team"]: (len(g["titles"]), g["more"]) for g in view["resolved"]["groups"]}
    assert shown == {"Platform": (5, 8), "Delivery": (5, 9)}


def test_the_age_squares_have_a_legend_in_the_pages_words_and_colours():
    """Issue 23 item 5: the coloured squares before "N days overdue" say what they mean."""
    html = render_digest(sample_digests()["lead@example.com"]).html
    legend = html[html.index("How long overdue:"):]
    legend = legend[:legend.index("</p>")]
    for _, label, css in wording.AGE_BUCKETS:
        assert f'color:{wording.AGE_COLOURS[css][0]};' in legend and label in legend
    assert "31+ days in bold" in legend
    assert html.index("How long overdue:") < html.index("New overdue since")  # before the first squares
