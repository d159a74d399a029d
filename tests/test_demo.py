"""`make demo` (`python -m pike_tasks.demo`) works for a new user: a new Prefect home, no settings."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(400)
def test_demo_writes_both_reports_and_mails_every_manager_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    # a Prefect home that does not exist yet: the temporary API creates its database first,
    # the slowest start there is (it outlasted Prefect's default 20 s on a busy machine)
    env.update(PREFECT_HOME=str(tmp_path / "new-prefect-home"), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "pike_tasks.demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=380)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr

    day = date.today().isoformat()
    out = tmp_path / "demo-out"
    for report in ("overdue", "workload"):
        page = out / report / day / "index.html"
        assert page.is_file() and "<script" not in page.read_text(encoding="utf-8").lower()
    mails = sorted((out / "digest" / day / "inbox").glob("*.eml"))
    recipients = [email.message_from_bytes(m.read_bytes(), policy=email.policy.default)["To"] for m in mails]
    managers = {"delivery.lead@example.com", "platform.lead@example.com", "design.lead@example.com",
                "data.lead@example.com"}  # teams.example.yaml
    assert sorted(recipients) == sorted(managers)  # every manager once, nobody twice
    assert f"Digests: {len(managers)} emails received" in done.stdout
