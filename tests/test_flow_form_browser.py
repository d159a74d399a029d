"""The digest flow's Custom run form as the Prefect UI draws it, in headless Chromium (issue 23 item 7).

A real ``prefect server`` with its UI, the digest flow registered as a deployment (``to_deployment``
``.apply()``, the schema ``prefect deploy`` would send), and the deployment's Custom run page
(``/deployments/deployment/<id>/run``) read in the browser once the UI has drawn the form: every
field has the title people read, none is a raw parameter name, and no field offers a None switch
('Property is type "None"').
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chromium import Chromium, find_chromium  # noqa: E402 - after sys.path.insert (a tests/ helper)
from prefect_server import PREFECT, clean_env  # noqa: E402 - after sys.path.insert (a tests/ helper)
from processes import free_port, http_ok, start, wait_ready  # noqa: E402 - after sys.path.insert (a tests/ helper)

REPO = Path(__file__).resolve().parent.parent
TITLES = ["Report date", "Teams config", "Teams", "Report store", "Dry run", "Send again to everyone", "Resend to",
          "Preview to", "Skip if nothing is overdue", "Skip if nothing changed", "SMTP credentials block",
          "Digest channels"]
RAW_NAMES = ["as_of", "team_ids", "output_dir", "teams_config", "preview_to", "resend_to", "smtp_block", "report_url",
             "skip_if_empty", "dry_run"]
REGISTER = """
from flows.digest import send_manager_digests
print(send_manager_digests.to_deployment(name="form-check").apply())
"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """(the UI's base URL, the deployment id) of a Prefect server with its UI on."""
    home = tmp_path_factory.mktemp("prefect-ui") / "home"
    home.mkdir(parents=True)
    port = free_port()
    env = {**clean_env(home, f"http://127.0.0.1:{port}/api"), "PREFECT_SERVER_UI_ENABLED": "true"}
    proc = start("prefect server (ui)", [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                         "--no-scheduler", "--analytics-off"], log=home / "server.log", env=env)
    try:
        wait_ready(proc, lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), timeout=120, interval=0.25)
        made = subprocess.run([sys.executable, "-c", REGISTER], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)
        assert made.returncode == 0, made.stderr[-3000:]
        yield f"http://127.0.0.1:{port}", made.stdout.strip().splitlines()[-1]
    finally:
        proc.stop()


def test_the_custom_run_form_shows_titles_people_read_and_no_none_switch(ui, tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed: `make browsers` installs it (as root, on Debian)")
    base, deployment = ui
    browser = Chromium(executable, tmp_path / "profile", timeout=60)
    try:
        _target, session = browser.load(f"{base}/deployments/deployment/{deployment}/run", 1280, 4000)
        text, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and not all(title in text for title in TITLES):
            time.sleep(0.5)  # the UI is a single-page app: the form appears after its API calls
            text = browser.evaluate("document.body.innerText", session) or ""
    finally:
        browser.close()
    missing = [title for title in TITLES if title not in text]
    assert not missing, text[:3000]
    assert 'type "None"' not in text and "None" not in text.split(), text[:3000]
    shown_raw = [name for name in RAW_NAMES if name in text]
    assert not shown_raw, text[:3000]
