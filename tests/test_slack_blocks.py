"""pike_tasks.slack_blocks: a digest as a Slack DM and a team channel's post, always within Slack's
limits, with nothing from the data able to ping, link or restyle."""

from __future__ import annotations

import re
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pike_tasks import slack_blocks as sb
from pike_tasks import transforms
from pike_tasks.digest import build_digests, digest_view
from pike_tasks.team_digest import team_digest

sys.path.insert(0, str(Path(__file__).parent))
import digest_sample as sample  # noqa: E402 - a tests/ helper

APP = "https://app.pike.example/tasks/{id}"
REPORT = "https://reports.example.com/2026-04-09/overdue/index.html"
NASTY = "Fix <!channel> & <@U01> now *bold* _it_ ~s~ `code`"
LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>|]*)>")


def texts(payload):
    """Every string Slack reads as text in a payload."""
    yield payload["text"]
    for block in payload["blocks"]:
        if "text" in block:
            yield block["text"]["text"]
        for item in block.get("fields", []) + block.get("elements", []):
            yield item["text"]


def assert_inert(payload):
    """No mention, no link but ours, no `<` or `>` outside our links, and Slack accepts it."""
    assert sb.check_limits(payload) == []
    for text in texts(payload):
        bare = LINK.sub("", text)
        assert "<" not in bare and ">" not in bare, text
        assert "<!" not in text and "<@" not in text and "<#" not in text


def slack_sdk_accepts(payload):
    """slack_sdk's Block Kit models agree (when the `slack` extra is installed)."""
    try:
        from slack_sdk.models import blocks
    except ImportError:
        return
    for block in payload["blocks"]:
        blocks.Block.parse(block).validate_json()  # the SDK's own length checks


def lead_view(**kw):
    digest = build_digests(**sample.inputs())[1]
    return digest_view(digest, report_url=REPORT, app_url_template=APP, **kw)


# --- the sample digest --------------------------------------------------------------------------


def test_the_lead_dm_reads_header_changes_callouts_then_lists():
    payload = sb.digest_message(lead_view())
    assert_inert(payload)
    slack_sdk_accepts(payload)
    blocks = payload["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "6 overdue tasks", "emoji": False}}
    assert blocks[1]["elements"][0]["text"] == "Pike digest, Thursday 9 April 2026 \u00b7 Delivery, Platform"
    assert blocks[2]["text"]["text"] == "+2 new \u00b7 3 resolved since Thu 2 Apr"
    body = "\n".join(texts(payload))
    assert body.index("Your teams") < body.index("Reassign 2 open tasks from Sam Inactive") < body.index(
        "New overdue since Thu 2 Apr") < body.index("Due in the next 7 days") < body.index("Most urgent of the rest")
    line = "\u2022 *Urgent* \u00b7 <https://app.pike.example/tasks/n1|Renew TLS certificate> \u00b7 2 days overdue"
    assert line in body
    assert blocks[-1]["elements"][0]["text"] == f"Every overdue task: <{REPORT}|the full report>"


def test_the_text_fallback_names_the_overdue_count():
    assert sb.digest_message(lead_view())["text"] == "6 overdue tasks (+2 new \u00b7 3 resolved since Thu 2 Apr)"


def test_zero_parts_of_the_changes_are_left_out():
    view = {**lead_view(), "new_count": 0}
    assert sb.changes_line(view) == "3 resolved since Thu 2 Apr"
    assert sb.changes_line({**view, "resolved_count": 0}) == "No change since Thu 2 Apr"
    assert sb.changes_line({**view, "has_baseline": False}) == ""


def test_the_rest_is_most_urgent_first_across_teams():
    payload = sb.digest_message(lead_view())
    rest = next(t for t in texts(payload) if t.startswith("*Most urgent of the rest*"))
    lines = [line for line in rest.split("\n") if line.startswith("\u2022")]
    assert [line.split(" \u00b7 ")[0] for line in lines] == ["\u2022 *High*", "\u2022 *High*", "\u2022 *Low*",
                                                           "\u2022 *No priority*"]
    assert "12 days overdue" in lines[0] and "8 days overdue" in lines[1]


def test_a_cut_list_says_how_many_more_and_links_the_full_report():
    payload = sb.digest_message(lead_view(), sb.SlackLimits(urgent=1, due_soon=1))
    body = "\n".join(texts(payload))
    assert "_and 3 more_" in body and "_and 1 more_" in body
    assert f"3 more: <{REPORT}|the full report>" in body


def test_without_links_the_titles_are_plain_and_the_footer_unlinked():
    digest = build_digests(**sample.inputs())[1]
    payload = sb.digest_message(digest_view(digest), sb.SlackLimits(urgent=1))
    body = "\n".join(texts(payload))
    assert "http" not in body and "Renew TLS certificate" in body and "3 more: the full report" in body


def test_a_team_channel_post_has_counts_lists_and_the_team_page():
    digest = team_digest(build_digests(**sample.inputs())[1], "T2", "#platform")
    pages = {"T2": "https://reports.example.com/2026-04-09/overdue/platform.html"}
    payload = sb.team_message(digest_view(digest, report_url=REPORT, app_url_template=APP, team_pages=pages))
    assert_inert(payload)
    slack_sdk_accepts(payload)
    assert payload["text"].startswith("Platform: 4 overdue tasks")
    assert payload["blocks"][0]["text"]["text"] == "Platform: 4 overdue tasks"
    fields = [f["text"] for f in payload["blocks"][2]["fields"]]
    assert fields == ["*Overdue*\n4", "*New*\n+1", "*Resolved*\n1", "*Due in 7 days*\n1"]
    body = "\n".join(texts(payload))
    assert "Delivery" not in body and "Sam Inactive" not in body  # another team; no people lines
    assert f"Every overdue task: <{pages['T2']}|the team page>" in body
    assert "*Most urgent* (3)" in body


def test_team_digest_refuses_a_team_the_digest_does_not_cover():
    with pytest.raises(ValueError, match="T3"):
        team_digest(build_digests(**sample.inputs())[1], "T3")


# --- escaping ---------------------------------------------------------------------------------------


def test_a_title_can_neither_ping_nor_link_nor_restyle():
    line = sb.task_line({"title": NASTY, "url": "https://app.pike.example/tasks/1", "priority": {"key": "high",
                         "label": "High"}}, "2 days overdue")
    label = LINK.search(line).group(2)
    assert label == ("Fix &lt;!channel&gt; &amp; &lt;@U01&gt; now \u2217bold\u2217 \u02cdit\u02cd "
                     "\u223cs\u223c \u02cbcode\u02cb")
    assert not set("*_~`") & set(label)
    plain = sb.task_line({"title": NASTY, "priority": {"key": "high", "label": "High"}}, "")
    assert "<" not in plain and "&lt;!channel&gt;" in plain


def test_link_labels_escape_the_pipe_and_the_angle_bracket_and_urls_are_encoded():
    assert sb.link("https://x.example/a", "a|b>c") == "<https://x.example/a|a\u2223b&gt;c>"
    assert sb.link("https://x.example/a|b>c<d e", "t") == "<https://x.example/a%7Cb%3Ec%3Cd%20e|t>"
    assert sb.link("https://x.example/?a=1&b=2", "t") == "<https://x.example/?a=1&amp;b=2|t>"
    assert sb.link("javascript:alert(1)", "t") == "t" and sb.link("file:///etc/passwd", "t") == "t"


def test_every_field_from_the_data_is_escaped():
    teams = {tid: {"name": f"{NASTY} {tid}", "managers": ["lead@example.com"]} for tid in ("T1", "T2")}
    resolved = sample.resolved_tasks()
    resolved["title"] = NASTY
    resolved["team"] = resolved["team_id"].map(lambda t: teams.get(t, {"name": "x"})["name"])
    resolved["status"] = "<!here>"
    members = sample.members()
    members["display_name"] = "<@U999> *boss*"
    overdue = transforms.overdue_tasks(resolved, sample.AS_OF)
    from pike_tasks.changes import compute_changes

    changes = compute_changes(overdue, sample.baseline_rows(), resolved, sample.AS_OF, baseline_as_of=sample.BASELINE)
    [lead] = [d for d in build_digests(resolved, members, overdue, teams, sample.AS_OF, changes=changes,
                                       due_soon_rows=transforms.due_soon_tasks(resolved, sample.AS_OF),
                                       baseline_as_of=sample.BASELINE)]
    view = digest_view(lead, report_url=REPORT, app_url_template=APP)
    payload = sb.digest_message(view)
    assert_inert(payload)
    body = "\n".join(texts(payload))
    assert "&lt;!channel&gt;" in body and "\u2217bold\u2217" in body
    team = sb.team_message(digest_view(team_digest(lead, "T1"), report_url=REPORT, app_url_template=APP))
    assert_inert(team)
    assert team["blocks"][0]["text"]["text"].startswith("Fix &lt;!channel&gt; &amp; &lt;@U01&gt; now *bold*")
    assert team["text"].startswith("Fix &lt;!channel&gt; &amp; &lt;@U01&gt; now \u2217bold\u2217")  # mrkdwn


# --- Slack's limits, always ---------------------------------------------------------------------------


def big_workspace(tasks: int, teams: int, title: str) -> dict:
    as_of = sample.AS_OF
    team_ids = [f"T{i:03d}" for i in range(teams)]
    config = {t: {"name": f"Team {t} " + "x" * 200, "managers": ["boss@example.com"]} for t in team_ids}
    rows = []
    for i in range(tasks):
        team = team_ids[i % teams]
        rows.append({
            "task_id": f"task-{i}", "title": f"{title} {i}", "description": None, "status": "toDo",
            "priority": ("urgent", "high", "medium", "low", None)[i % 5], "priority_rank": i % 5, "is_open": True,
            "due_date": as_of - timedelta(days=1 + i % 60) if i % 7 else as_of + timedelta(days=i % 5),
            "project_id": None, "project": "No project", "team_id": team, "team": config[team]["name"],
            "customer_id": None, "customer": "No customer", "assignee_ids": ["m1"], "assignees": ["Ada"],
            "assignees_text": "Ada", "billable_status": "billable",
        })
    resolved = pd.DataFrame(rows)
    members = pd.DataFrame([{"member_id": "m1", "display_name": "Ada", "email": "a@example.com",
                             "status": "inactive", "team_ids": team_ids}])
    overdue = transforms.overdue_tasks(resolved, as_of)
    baseline = overdue.iloc[::3].copy()  # a third were overdue before: the rest is new
    baseline["days_overdue"] = baseline["days_overdue"].astype("int64")
    from pike_tasks.changes import compute_changes

    changes = compute_changes(overdue, baseline.astype({c: str for c in baseline.columns if c != "days_overdue"}),
                              resolved, as_of, baseline_as_of=date(2026, 4, 8))
    return {"resolved": resolved, "members": members, "overdue_rows": overdue, "teams_config_teams": config,
            "as_of": as_of, "changes": changes, "due_soon_rows": transforms.due_soon_tasks(resolved, as_of),
            "baseline_as_of": date(2026, 4, 8)}


@pytest.fixture(scope="module")
def huge():
    """10,000 tasks in 200 teams of one manager, every title 5,000 characters of markup."""
    [digest] = build_digests(**big_workspace(10_000, 200, (NASTY + " & ") * 100))
    return digest


@pytest.fixture(scope="module")
def huge_view(huge):
    return digest_view(huge, report_url=REPORT, app_url_template=APP)


def test_10000_tasks_200_teams_and_5000_character_titles_give_a_valid_dm(huge_view):
    payload = sb.digest_message(huge_view)
    assert_inert(payload)
    slack_sdk_accepts(payload)
    body = "\n".join(texts(payload))
    assert "_and 190 more teams_" in body
    assert re.search(r"_and [\d,]+ more_", body) and "more: <" in body


def uncut(view: dict, n: int) -> dict:
    """``view`` with every list ``n`` rows long (digest_view itself caps them for the email)."""
    out = dict(view)
    out["new"] = {**view["new"], "rows": (view["new"]["rows"] * n)[:n]}
    out["new_count"] = n
    out["due_soon"] = {**view["due_soon"], "rows": (view["due_soon"]["rows"] * n)[:n], "count": n}
    section = view["rest"]["sections"][0]
    out["rest"] = {"count": n, "hidden": 0, "sections": [{**section, "rows": (section["rows"] * n)[:n]}]}
    out["reassign"] = (view["reassign"] * n)[:n]
    out["team_rows"] = (view["team_rows"] * n)[:n]
    return out


def test_even_uncut_views_and_no_caps_stay_within_the_limits(huge, huge_view):
    no_caps = sb.SlackLimits(teams=10_000, reassign=10_000, new=10_000, due_soon=10_000, urgent=10_000)
    view = uncut(huge_view, 10_000)
    team = uncut(digest_view(team_digest(huge, "T007"), report_url=REPORT, app_url_template=APP), 10_000)
    for payload in (sb.digest_message(view, no_caps), sb.team_message(team, no_caps)):
        assert_inert(payload)
        slack_sdk_accepts(payload)
        assert len(payload["blocks"]) <= sb.MAX_BLOCKS
        assert "_and 9,9" in "\n".join(texts(payload))


def test_long_urls_are_dropped_rather_than_cut():
    url = "https://app.pike.example/" + "a" * 2000
    assert sb.link(url, "title") == "title"


def test_check_limits_names_each_problem():
    payload = {"text": "x" * 40_001, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]},
        {"type": "header", "text": {"type": "mrkdwn", "text": "h"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": ""}},
        {"type": "video"},
    ] + [{"type": "divider"}] * 44}
    codes = [p.code for p in sb.check_limits(payload)]
    assert codes[0] == "msg_too_long" and codes.count("invalid_blocks") == 8
    assert sb.check_limits({}) == [sb.Problem("no_text", "neither text nor blocks")]
    assert sb.check_limits({"text": "ok"}) == []


def test_a_one_team_dm_links_its_team_page_and_a_preview_says_so():
    design = build_digests(**sample.inputs())[0]
    page = "https://reports.example.com/2026-04-09/overdue/design.html"
    view = digest_view(design, report_url=REPORT, app_url_template=APP, team_pages={"T3": page},
                       preview_for="design@example.com")
    payload = sb.digest_message(view)
    assert_inert(payload)
    body = "\n".join(texts(payload))
    assert f"<{page}|the team page>" in body and "Your teams" not in body
    assert "Preview: this would go to design@example.com; not recorded as sent." in body
    team = sb.team_message(digest_view(team_digest(design, "T3"), preview_for="#design"))
    assert "Preview: this would go to #design" in "\n".join(texts(team))
