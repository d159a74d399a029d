"""`pike-reports run` rejects bad input with one line on stderr, before Prefect starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pike_tasks.cli import main


@pytest.fixture
def api_env(monkeypatch):
    monkeypatch.setenv("PIKE_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PIKE_API_SECRET", "s3cret-value")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_date(api_env, capsys):
    assert main(["run", "overdue", "--as-of", "2026-13-01"]) == 2
    assert "--as-of" in _one_line_error(capsys)


def test_unreadable_teams_config(api_env, capsys, tmp_path):
    assert main(["run", "overdue", "--teams-config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in _one_line_error(capsys)


def test_invalid_teams_config(api_env, capsys, tmp_path):
    bad = tmp_path / "teams.yaml"
    bad.write_text("teams:\n  abc:\n    managers: [not-an-address]\n", encoding="utf-8")
    assert main(["run", "overdue", "--teams-config", str(bad)]) == 2
    assert "not-an-address" in _one_line_error(capsys)


def test_missing_secret(monkeypatch, capsys):
    # no env secret and no Prefect Secret block (looking one up would start Prefect)
    monkeypatch.setattr("pike_tasks.settings.load_secret_block", lambda: None)
    monkeypatch.setenv("PIKE_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("PIKE_API_SECRET", raising=False)
    assert main(["run", "overdue"]) == 2
    assert "PIKE_API_SECRET" in _one_line_error(capsys)


def test_unknown_report_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "everything"])
    assert info.value.code == 2


# -- the real command, in its own process (Prefect's temporary local API: ~15 s each) ----------

FIXTURE = Path(__file__).parent / "fixtures" / "small"


def _run_cli(args, env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "pike_tasks.cli", *args], env=env, capture_output=True, text=True, timeout=240,
    )


def test_run_all_writes_the_reports_and_prints_where(sandbox_factory, tmp_path):
    from pike_tasks.sandbox import load_data_file

    server = sandbox_factory(load_data_file(FIXTURE / "workspace.json"))
    out = tmp_path / "reports"
    done = _run_cli(
        ["run", "all", "--as-of", "2026-04-09", "--out", str(out), "--teams-config", str(FIXTURE / "teams.yaml")],
        {"PIKE_API_BASE_URL": server.url, "PIKE_API_SECRET": server.secret}, tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"overdue: {out / 'overdue' / '2026-04-09'}" in done.stdout
    expected = (FIXTURE / "overdue.csv").read_text(encoding="utf-8")
    written = (out / "overdue" / "2026-04-09" / "overdue.csv").read_bytes().decode("utf-8").replace("\r\n", "\n")
    assert written == expected
    assert server.secret not in done.stdout + done.stderr


def test_rejected_secret_is_one_readable_line_without_traceback(sandbox_factory, tmp_path):
    server = sandbox_factory({"tasks": []})
    done = _run_cli(
        ["run", "overdue", "--as-of", "2026-04-09", "--out", str(tmp_path / "out")],
        {"PIKE_API_BASE_URL": server.url, "PIKE_API_SECRET": "s3cret-but-wrong"}, tmp_path,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    reasons = [line for line in done.stderr.splitlines() if line.startswith("pike-reports: error:")]
    assert len(reasons) == 1 and "401" in reasons[0]
    assert "s3cret-but-wrong" not in done.stdout + done.stderr
