"""Make docs/screenshots/slack-dm.png and slack-channel.png: the sample digest (tests/digest_sample.py)
as the lead's Slack DM and as the Platform channel's post, rendered by slack_preview and shot with
headless Chromium at a phone's width.

    .venv/bin/python docs/screenshots/slack_screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import digest_sample as sample  # noqa: E402 - after sys.path

from pike_tasks.digest import build_digests, digest_view  # noqa: E402
from pike_tasks.slack_blocks import digest_message, team_message  # noqa: E402
from pike_tasks.slack_preview import preview_html  # noqa: E402
from pike_tasks.team_digest import team_digest  # noqa: E402

REPORT = "https://reports.example.com/2026-04-09/overdue/index.html"
PAGES = {"T1": "https://reports.example.com/2026-04-09/overdue/delivery.html",
         "T2": "https://reports.example.com/2026-04-09/overdue/platform.html"}
APP = "https://app.pike.example/tasks/{id}"


def pages() -> dict[str, str]:
    lead = build_digests(**sample.inputs())[1]
    dm = digest_message(digest_view(lead, report_url=REPORT, app_url_template=APP, team_pages=PAGES))
    channel = team_message(digest_view(team_digest(lead, "T2", "#platform"), report_url=REPORT,
                                       app_url_template=APP, team_pages=PAGES))
    return {"slack-dm": preview_html(dm, conversation="Pike Reports", subtitle="Direct message"),
            "slack-channel": preview_html(channel, conversation="# platform", subtitle="Channel")}


def shoot(html: str, out: Path, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run([browser, "--headless",  # noqa: S603 - our own file, the local chromium "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp}/profile", f"--screenshot={out}", f"--window-size=390,{height}",
                        "--force-device-scale-factor=2", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    heights = {"slack-dm": 960, "slack-channel": 660}
    for name, html in pages().items():
        shoot(html, HERE / f"{name}.png", heights[name])
        print(HERE / f"{name}.png")
