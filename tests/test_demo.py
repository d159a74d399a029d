"""`make demo` (`python -m flows.demo`) works for a new user: a new Prefect home, no settings."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(400)
def test_demo_writes_both_reports_and_mails_every_manager_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    # a Prefect home that does not exist yet: the temporary API creates its database first,
    # the slowest start there is (it outlasted Prefect's default 20 s on a busy machine)
    env.update(PREFECT_HOME=str(tmp_path / "new-prefect-home"), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "flows.demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=380)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr

    day = date.today().isoformat()
    out = tmp_path / "demo-out"
    for report in ("overdue", "workload"):
        page = out / report / day / "index.html"
        assert page.is_file() and "<script" not in page.read_text(encoding="utf-8").lower()
    # the overdue report's pages link each other (index.html -> one page per team -> back): every
    # link between them names a file of the folder, and every team page is linked from index.html
    folder = out / "overdue" / day
    pages = sorted(folder.glob("*.html"))
    team_pages = {p.name for p in pages if p.name != "index.html"}
    assert team_pages and all(re.fullmatch(r"(team-[A-Za-z0-9_-]+|no-team)\.html", n) for n in team_pages)
    linked: set[str] = set()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text.lower()
        local = {h.split("#")[0] for h in re.findall(r'href="([^"]*)"', text) if not re.match(r"[a-z]+:|#", h)}
        assert all((folder / name).is_file() for name in local), local
        if page.name == "index.html":
            linked = local
    assert team_pages <= linked
    mails = sorted((out / "inbox" / day).glob("*.eml"))
    messages = [email.message_from_bytes(m.read_bytes(), policy=email.policy.default) for m in mails]
    recipients = [m["To"] for m in messages]
    managers = {"delivery.lead@example.com", "platform.lead@example.com", "design.lead@example.com",
                "data.lead@example.com"}  # teams.example.yaml
    assert sorted(recipients) == sorted(managers)  # every manager once, nobody twice
    assert f"Digests: {len(managers)} emails received" in done.stdout
    # and in the local Slack stand-in: a DM per manager and the two demo team channels, each saved
    assert "Slack: 6 messages received by the local Slack stand-in" in done.stdout
    assert all(f"DM to {m}" in done.stdout for m in managers) and "#delivery" in done.stdout
    # named by recipient (as the .eml files are), so a second run's names are the same
    assert {p.name for p in (out / "slack" / day).glob("*.html")} == {
        *(f"dm-{m}.html" for m in managers), "delivery.html", "platform.html"}
    assert {m.name for m in mails} == {f"{m}.eml" for m in managers}

    # the change view: yesterday's report is the baseline, and the digests say what changed
    summary = json.loads((out / "overdue" / day / "summary.json").read_text(encoding="utf-8"))
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert summary["baseline_as_of"] == yesterday and summary["new"] > 0 and summary["resolved"] > 0
    assert [p["as_of"] for p in summary["history"]] == [yesterday, day]
    assert any(re.search(r"\d+ new, \d+ resolved", m["Subject"]) for m in messages)
    # links open: they point at the demo's web server for the store, never at a file:// path
    for message in messages:
        html = message.get_body(("html",)).get_content()
        assert "file://" not in html
        links = re.findall(r'href="http://127\.0\.0\.1:\d+/([^"#]+)', html)
        assert f"overdue/{day}/index.html" in links
        assert all((out / link).is_file() for link in links)
        # each of the manager's teams with overdue tasks links its own page (every task), not a
        # section of the overview that shows only the most urgent few at agency size
        assert any(re.fullmatch(rf"overdue/{day}/team-[^/]+\.html", link) for link in links), links
