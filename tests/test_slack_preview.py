"""pike_tasks.slack_preview: a Block Kit payload as an escaped HTML page, and the Block Kit Builder link."""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

from pike_tasks import slack_blocks as sb
from pike_tasks.digest import build_digests, digest_view
from pike_tasks.slack_preview import block_kit_builder_url, dry_run_json, mrkdwn_html, preview_html

sys.path.insert(0, str(Path(__file__).parent))
import digest_sample as sample  # noqa: E402 - a tests/ helper


def test_mrkdwn_becomes_escaped_html_with_our_tags_only():
    title = "<script>alert(1)</script> & <!channel> *x*"
    line = sb.task_line({"title": title, "url": "https://app.example/t/1?a=1&b=2",
                         "priority": {"key": "urgent", "label": "Urgent"}}, "2 days overdue")
    html = str(mrkdwn_html(line))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;" in html
    assert '<a href="https://app.example/t/1?a=1&amp;b=2">' in html and "<b>Urgent</b>" in html
    assert "<b>x</b>" not in html  # the title's stars were made inert by slack_blocks
    assert str(mrkdwn_html("*<https://x.example/|Team>*: _and 3 more_ ~s~ `c`")) == (
        '<b><a href="https://x.example/">Team</a></b>: <i>and 3 more</i> <s>s</s> <code>c</code>')
    assert "href" not in str(mrkdwn_html("<javascript:alert(1)|click>"))


def test_the_lead_dm_as_a_page():
    view = digest_view(build_digests(**sample.inputs())[1], app_url_template="https://app.example/t/{id}")
    page = preview_html(sb.digest_message(view))
    assert page.startswith("<!doctype html>") and '<div class="header">6 overdue tasks</div>' in page
    assert '<a href="https://app.example/t/n1">Renew TLS certificate</a>' in page and "<hr>" in page


def test_the_builder_link_carries_the_blocks():
    payload = {"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a & b #1"}}]}
    url = block_kit_builder_url(payload)
    assert url.startswith("https://app.slack.com/block-kit-builder#%7B%22blocks%22")
    assert json.loads(urllib.parse.unquote(url.split("#", 1)[1])) == {"blocks": payload["blocks"]}


def test_the_dry_run_file_says_where_what_and_how_to_see_it():
    payload = {"text": "t", "blocks": [{"type": "divider"}]}
    data = json.loads(dry_run_json(payload, "#platform"))
    assert data == {"channel": "#platform", "text": "t", "blocks": [{"type": "divider"}],
                    "block_kit_builder": block_kit_builder_url(payload)}
    assert dry_run_json(payload, "#platform") == dry_run_json(dict(payload), "#platform")
