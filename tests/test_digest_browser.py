"""The digest's HTML part, as sent, in a real browser: no sideways scrolling on a phone or a
desktop, and the first screen of a phone answers "what needs me today".

Renders the sample manager's digest (tests/digest_sample.py: new, resolved, due soon, still
overdue and an inactive holder), builds the message with ``email_message.build_message`` and
takes its text/html part, then opens it in headless Chromium (the DevTools-over-pipe harness
of tests/chromium.py) at 390 px and 1280 px. Screenshots of both widths are written to
the test's tmp folder; ``PIKE_DIGEST_SCREENSHOTS=docs/screenshots`` writes them there instead
(``digest-phone.png``, ``digest.png``).
"""

from __future__ import annotations

import base64
import email
import os
import sys
from email.policy import default
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import digest_sample  # noqa: E402 - after sys.path.insert (a tests/ helper)
from chromium import Chromium, find_chromium  # noqa: E402 - after sys.path.insert (a tests/ helper)

from pike_tasks.digest import build_digests, render_digest  # noqa: E402 - after sys.path.insert, as the imports above
from pike_tasks.email_message import build_message  # noqa: E402 - after sys.path.insert, as the imports above

WIDTHS = (390, 1280)
FIRST_SCREEN = 700  # CSS px of a phone's first screen under the mail app's header

# The page's width, and the text laid out in the first FIRST_SCREEN pixels.
MEASURE = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  firstScreen: (() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const box = range.getBoundingClientRect();
      if (box.height && box.top < %d) seen.push(node.textContent);
    }
    return seen.join(' ').replace(/\\s+/g, ' ');
  })(),
  height: document.documentElement.scrollHeight,
})""" % FIRST_SCREEN  # noqa: UP031 - a JavaScript source full of braces: str.format/f-string would double them all


class Browser(Chromium):
    def open(self, url: str, width: int, shot: Path) -> dict:
        """Measure ``url`` at ``width`` CSS px and save a full-length screenshot to ``shot``."""
        import json

        target, session = self.load(url, width)
        result = self.send("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True}, session=session)
        seen = json.loads(result["result"]["value"])
        image = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(seen["height"], 4000), "scale": 1},
        }, session=session)
        shot.write_bytes(base64.b64decode(image["data"]))
        self.send("Target.closeTarget", {"targetId": target})
        return seen


def sample_html_as_sent() -> str:
    inputs = digest_sample.inputs()
    digests = build_digests(
        inputs["resolved"], inputs["members"], inputs["overdue_rows"], inputs["teams_config_teams"], inputs["as_of"],
        changes=inputs["changes"], due_soon_rows=inputs["due_soon_rows"], baseline_as_of=inputs["baseline_as_of"],
    )
    [lead] = [d for d in digests if d.recipient == "lead@example.com"]
    rendered = render_digest(lead, report_url="https://reports.example.com/overdue/2026-04-09/",
                             app_url_template="https://app.pike.example/tasks/{id}",
                             generated_at="2026-04-09 07:00 UTC")
    message = build_message(lead, rendered.html, rendered.text, sender="Pike reports <reports@example.com>",
                            attachments=[("overdue.csv", b"task_id\n", "text/csv")])
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)
    [html] = [p.get_content() for p in parsed.walk() if p.get_content_type() == "text/html"]
    return html


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict[int, dict]:
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed: `make browsers` installs it (as root, on Debian)")
    folder = tmp_path_factory.mktemp("digest")
    page = folder / "digest.html"
    page.write_text(sample_html_as_sent(), encoding="utf-8")
    shots = Path(os.environ.get("PIKE_DIGEST_SCREENSHOTS") or folder)
    shots.mkdir(parents=True, exist_ok=True)
    names = {390: "digest-phone.png", 1280: "digest.png"}
    browser = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        return {width: browser.open(page.as_uri(), width, shots / names[width]) for width in WIDTHS}
    finally:
        browser.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_digest_never_scrolls_sideways(measured, width):
    seen = measured[width]
    assert seen["innerWidth"] == width
    assert seen["scrollWidth"] <= seen["innerWidth"], seen


def test_first_phone_screen_has_overdue_new_and_resolved_counts(measured):
    first = measured[390]["firstScreen"]
    assert "6 overdue tasks" in first
    assert "+2 new" in first and "3 resolved" in first and "since Thu 2 Apr" in first
    # per team, and the person whose work needs a new owner
    assert "Platform" in first and "Delivery" in first
    assert "Reassign 2 open tasks from Sam Inactive (inactive)" in first
    # and the first new overdue task starts on it
    assert "New overdue since Thu 2 Apr (2)" in first


# --- issue 23 item 4: what was resolved takes less room than what is new, and comes last ----------

SECTIONS = """JSON.stringify(Array.from(document.querySelectorAll('h2')).map(h => {
  const box = h.closest('td').getBoundingClientRect();
  return {title: h.textContent, top: box.top + window.scrollY, height: box.height};
}).concat([{title: 'page', top: 0, height: document.documentElement.scrollHeight}]))"""


def eighteen_resolved_html() -> str:
    """The sample lead's digest with 18 resolved tasks across both teams (the demo's two-team
    digest had 18), rendered and built as sent."""
    import pandas as pd

    from pike_tasks.changes import compute_changes

    inputs = digest_sample.inputs()
    base = digest_sample.baseline_rows()
    gone = [{**base.iloc[0].to_dict(), "task_id": f"g{i}", "team_id": "T1" if i % 2 else "T2",
             "team": "Delivery" if i % 2 else "Platform", "title": f"Retired chore number {i:02d}",
             "days_overdue": 2 + i} for i in range(15)]
    changes = compute_changes(inputs["overdue_rows"], pd.concat([base, pd.DataFrame(gone)], ignore_index=True),
                              inputs["resolved"], inputs["as_of"], baseline_as_of=inputs["baseline_as_of"])
    [lead] = [d for d in build_digests(
        inputs["resolved"], inputs["members"], inputs["overdue_rows"], inputs["teams_config_teams"], inputs["as_of"],
        changes=changes, due_soon_rows=inputs["due_soon_rows"], baseline_as_of=inputs["baseline_as_of"],
    ) if d.recipient == "lead@example.com"]
    assert lead.resolved_count == 18
    rendered = render_digest(lead, report_url="https://reports.example.com/overdue/2026-04-09/",
                             app_url_template="https://app.pike.example/tasks/{id}")
    message = build_message(lead, rendered.html, rendered.text, sender="Pike reports <reports@example.com>")
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)
    return next(p.get_content() for p in parsed.walk() if p.get_content_type() == "text/html")


def test_eighteen_resolved_tasks_take_one_compact_block_after_the_new_ones(tmp_path):
    import json

    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed: `make browsers` installs it (as root, on Debian)")
    page = tmp_path / "digest.html"
    page.write_text(eighteen_resolved_html(), encoding="utf-8")
    browser = Browser(executable, tmp_path / "profile")
    try:
        target, session = browser.load(page.as_uri(), 1280)
        result = browser.send("Runtime.evaluate", {"expression": SECTIONS, "returnByValue": True}, session=session)
    finally:
        browser.close()
    sections = {s["title"].split(" (")[0]: s for s in json.loads(result["result"]["value"])}
    resolved, new = sections["Resolved since Thu 2 Apr"], sections["New overdue since Thu 2 Apr"]
    # REPORTS.md Report 3's order: the new tasks, then what was resolved, then due soon and the rest
    assert new["top"] < resolved["top"] < sections["Due in the next 7 days"]["top"], sections
    # 18 resolved tasks take less room than the 2 new ones (18 cards were ~1,000 px at 1280)
    assert resolved["height"] < new["height"], sections
    assert sections["page"]["height"] < 2000, sections
