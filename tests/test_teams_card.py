"""pike_tasks.teams_card: a team's summary as an Adaptive Card under Teams' 28 KB, data never in
markdown; posted to a local Workflows webhook stand-in (tests/teams_fake.py)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pike_tasks import teams_card as tc
from pike_tasks.digest import build_digests, digest_view
from pike_tasks.team_digest import team_digest

sys.path.insert(0, str(Path(__file__).parent))
import digest_sample as sample  # noqa: E402 - tests/ helpers
from teams_fake import TeamsFake  # noqa: E402

APP = "https://app.pike.example/tasks/{id}"
PAGE = "https://reports.example.com/2026-04-09/overdue/platform.html"
NASTY = "Fix <!channel> & <at>Ada</at> now **bold** _it_ ~s~ `code` [x](https://evil.example)"


def platform_view(**kw):
    digest = team_digest(build_digests(**sample.inputs())[1], "T2")
    return digest_view(digest, app_url_template=APP, team_pages={"T2": PAGE}, **kw)


def card_of(message):
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def text_blocks(card):
    return [b["text"] for b in card["body"] if b["type"] == "TextBlock"]


def runs(card):
    return [r["text"] for b in card["body"] if b["type"] == "RichTextBlock" for r in b["inlines"]]


def post(url, message):
    body = tc.card_bytes(message)
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_platform_card_has_the_counts_the_lists_and_the_team_page():
    card = card_of(tc.team_card(platform_view()))
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert "".join(runs(card)[:2]) == "Platform: 4 overdue tasks"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert [(f["title"], f["value"]) for f in facts] == [("Overdue", "4"), ("New", "+1"), ("Resolved", "1"),
                                                         ("Due in 7 days", "1")]
    assert text_blocks(card) == ["**New overdue** (1)", "**Due soon** (1)", "**Most urgent** (3)"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Team page", "url": PAGE}]
    task = next(b for b in card["body"] if b["type"] == "RichTextBlock" and len(b["inlines"]) > 2)
    assert task["inlines"][2]["selectAction"] == {"type": "Action.OpenUrl", "url": "https://app.pike.example/tasks/n2"}


def test_data_never_enters_markdown():
    resolved = sample.resolved_tasks()
    resolved["title"] = NASTY
    teams = {**sample.TEAMS, "T2": {"name": NASTY, "managers": ["lead@example.com"]}}
    resolved["team"] = resolved["team_id"].map(lambda t: teams[t]["name"])
    inputs = {**sample.inputs(), "resolved": resolved, "teams_config_teams": teams}
    from pike_tasks import transforms
    from pike_tasks.changes import compute_changes

    inputs["overdue_rows"] = transforms.overdue_tasks(resolved, sample.AS_OF)
    inputs["due_soon_rows"] = transforms.due_soon_tasks(resolved, sample.AS_OF)
    inputs["changes"] = compute_changes(inputs["overdue_rows"], sample.baseline_rows(), resolved, sample.AS_OF,
                                        baseline_as_of=sample.BASELINE)
    lead = build_digests(**inputs)[1]
    card = card_of(tc.team_card(digest_view(team_digest(lead, "T2"), app_url_template=APP)))
    assert all("Fix" not in t and "<" not in t for t in text_blocks(card))
    assert any(t.startswith("Fix <!channel> & <at>Ada</at> now **bold**") for t in runs(card))  # as plain text
    assert "Fix" not in json.dumps([b for b in card["body"] if b["type"] != "RichTextBlock"])


def test_urls_are_http_only_and_encoded():
    assert tc.card_url("javascript:alert(1)") is None and tc.card_url("file:///etc/passwd") is None
    assert tc.card_url("https://x.example/a b\"c") == "https://x.example/a%20b%22c"
    assert tc.card_url("https://x.example/" + "a" * 2000) is None


def huge_view(tasks: int, title: str):
    """One team with ``tasks`` overdue tasks, each ``title`` long, and uncut lists."""
    view = platform_view()
    row = {**view["rest"]["sections"][0]["rows"][0], "title": title,
           "url": "https://app.pike.example/tasks/" + "%F0%9F%90%8D" * 70}
    out = dict(view)
    out["new"] = {"rows": [row] * tasks, "more": ""}
    out["new_count"] = tasks
    out["due_soon"] = {**view["due_soon"], "rows": [row] * tasks, "count": tasks}
    out["rest"] = {"count": tasks, "hidden": 0, "sections": [{**view["rest"]["sections"][0], "rows": [row] * tasks}]}
    return out


@pytest.mark.parametrize("title", ["\U0001f40d" * 5000, "&<>\"\\" * 1000, "x" * 5000])
def test_10000_tasks_with_5000_character_titles_fit_under_28_kb(title):
    message = tc.team_card(huge_view(10_000, title), tc.CardLimits(new=300, due_soon=300, urgent=300))
    size = len(tc.card_bytes(message))
    assert size <= tc.BUDGET_BYTES < tc.MAX_MESSAGE_BYTES
    card = card_of(message)
    assert any(t.startswith("_and ") and t.endswith(" more_") for t in text_blocks(card))
    assert sum(1 for b in card["body"] if b["type"] == "RichTextBlock") > 5  # shrunk, not emptied


def test_the_webhook_stand_in_takes_the_card_and_refuses_over_28_kb():
    with TeamsFake() as teams:
        assert post(teams.url, tc.team_card(platform_view())) == 202
        assert len(teams.cards) == 1 and card_of(teams.cards[0])["version"] == "1.5"
        unshrunk = tc.team_card(huge_view(300, "x" * 120), tc.CardLimits(300, 300, 300), budget_bytes=10**9)
        assert len(tc.card_bytes(unshrunk)) > tc.MAX_MESSAGE_BYTES
        assert post(teams.url, unshrunk) == 413
        assert post(teams.url, tc.team_card(huge_view(300, "x" * 120), tc.CardLimits(300, 300, 300))) == 202
        assert post(teams.url, {"type": "message", "text": "hi"}) == 400
        assert post(teams.url.split("?")[0], tc.team_card(platform_view())) == 404
        assert len(teams.cards) == 2 and [s for s, _ in teams.refused] == [413, 400, 404]


def test_no_baseline_no_changes_line():
    digest = build_digests(**{**sample.inputs(), "changes": None, "baseline_as_of": None})[1]
    card = card_of(tc.team_card(digest_view(team_digest(digest, "T1"), app_url_template=APP)))
    assert runs(card)[2].startswith("Pike, Thursday 9 April 2026")
    assert [f["title"] for f in next(b for b in card["body"] if b["type"] == "FactSet")["facts"]] == [
        "Overdue", "Due in 7 days"]
