"""Each flow's Custom run form as the Prefect UI draws it, in headless Chromium (issue 23 item 7).

A real ``prefect server`` with its UI, the four flows registered as deployments (``to_deployment``
``.apply()``, the schema ``prefect deploy`` would send), and each deployment's Custom run page
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
COMMON = ["Report date", "Teams", "Report store", "Teams config"]
COMMON_RAW = ["as_of", "team_ids", "output_dir", "teams_config"]
FORMS = {  # flow: (its module and function, the titles the form must show, the raw names it must not)
    "digest": ("flows.digest:send_manager_digests",
               [*COMMON, "Dry run", "Send again to everyone", "Resend to", "Preview to", "Skip if nothing is overdue",
                "Skip if nothing changed", "SMTP credentials block", "Digest channels"],
               [*COMMON_RAW, "preview_to", "resend_to", "smtp_block", "report_url", "skip_if_empty", "dry_run"]),
    "overdue": ("flows.overdue:report_overdue_tasks", COMMON, COMMON_RAW),
    "workload": ("flows.workload:report_billable_workload", [*COMMON, "Projects", "Customers"],
                 [*COMMON_RAW, "project_ids", "customer_ids"]),
    "all": ("flows.all_reports:run_all_reports",
            [*COMMON, "Manager digests", "Send the digests again", "Resend to", "Digest channels"],
            [*COMMON_RAW, "force_digests", "resend_to"]),
}
REGISTER = """
import importlib
for key, target in {targets!r}.items():
    module, name = target.split(":")
    flow = getattr(importlib.import_module(module), name)
    print(key, flow.to_deployment(name="form-check").apply())
"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """(the UI's base URL, {flow: deployment id}) of a Prefect server with its UI on."""
    home = tmp_path_factory.mktemp("prefect-ui") / "home"
    home.mkdir(parents=True)
    port = free_port()
    env = {**clean_env(home, f"http://127.0.0.1:{port}/api"), "PREFECT_SERVER_UI_ENABLED": "true"}
    proc = start("prefect server (ui)", [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                         "--no-scheduler", "--analytics-off"], log=home / "server.log", env=env)
    try:
        wait_ready(proc, lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), timeout=120, interval=0.25)
        register = REGISTER.format(targets={key: form[0] for key, form in FORMS.items()})
        made = subprocess.run([sys.executable, "-c", register], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=180)
        assert made.returncode == 0, made.stderr[-3000:]
        ids = dict(line.split(" ", 1) for line in made.stdout.strip().splitlines() if line.split(" ", 1)[0] in FORMS)
        yield f"http://127.0.0.1:{port}", ids
    finally:
        proc.stop()


@pytest.mark.parametrize("flow", list(FORMS))
def test_the_custom_run_form_shows_titles_people_read_and_no_none_switch(ui, flow, tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed: `make browsers` installs it (as root, on Debian)")
    base, deployments = ui
    _target_flow, titles, raw_names = FORMS[flow]
    browser = Chromium(executable, tmp_path / "profile", timeout=60)
    try:
        _target, session = browser.load(f"{base}/deployments/deployment/{deployments[flow]}/run", 1280, 4000)
        text, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and not all(title in text for title in titles):
            time.sleep(0.5)  # the UI is a single-page app: the form appears after its API calls
            text = browser.evaluate("document.body.innerText", session) or ""
    finally:
        browser.close()
    missing = [title for title in titles if title not in text]
    assert not missing, text[:3000]
    assert 'type "None"' not in text and "None" not in text.split(), text[:3000]
    shown_raw = [name for name in raw_names if name in text]
    assert not shown_raw, text[:3000]
