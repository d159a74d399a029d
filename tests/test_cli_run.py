"""`pike-reports run` rejects bad input with one line on stderr, before Prefect starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from smtp_server import RecordingSmtpServer  # noqa: E402 - after sys.path.insert (a tests/ helper)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_TEAMS = REPO / "teams.example.yaml"
EXAMPLE_MANAGERS = ["data.lead@example.com", "delivery.lead@example.com", "design.lead@example.com",
                    "platform.lead@example.com"]  # teams.example.yaml


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
    # no env secret and no Prefect Secret block (looking one up would start Prefect); in this
    # process, not in a supervised child, so the patch applies
    monkeypatch.setattr("pike_tasks.settings.load_secret_block", lambda: None)
    monkeypatch.setattr("pike_tasks.supervise.available", lambda: False)
    monkeypatch.setenv("PIKE_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("PIKE_API_SECRET", raising=False)
    assert main(["run", "overdue"]) == 2
    error = _one_line_error(capsys)
    assert "PIKE_API_SECRET" in error and "--sandbox" in error


def test_the_store_is_out_then_pike_reports_store_then_dot_out(monkeypatch, tmp_path):
    from argparse import Namespace

    from flows.runner import open_cli_store

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIKE_REPORTS_STORE", raising=False)
    assert open_cli_store(Namespace(out=None)).location == str(tmp_path / "out")
    monkeypatch.setenv("PIKE_REPORTS_STORE", str(tmp_path / "shared"))
    store = open_cli_store(Namespace(out=None))
    assert (store.location, store.setting) == (str(tmp_path / "shared"), "PIKE_REPORTS_STORE")
    store = open_cli_store(Namespace(out="mine"))
    assert (store.location, store.setting) == (str(tmp_path / "mine"), "--out")


def test_a_bad_pike_reports_store_is_named_in_one_line(api_env, monkeypatch, capsys):
    monkeypatch.setenv("PIKE_REPORTS_STORE", "ftp://example.com/reports")
    assert main(["run", "overdue"]) == 2
    error = _one_line_error(capsys)
    assert "PIKE_REPORTS_STORE 'ftp://example.com/reports': unknown store scheme 'ftp'" in error


def test_unknown_report_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "everything"])
    assert info.value.code == 2


# -- the real command, in its own process (Prefect's temporary local API: ~15 s each) ----------

FIXTURE = Path(__file__).parent / "fixtures" / "small"


def _run_cli(args, env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false", **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], env=env, capture_output=True, text=True, timeout=240,
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
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["overdue", "workload", "store home"]
    assert done.stdout.splitlines()[-1] == f"store home: {out / 'index.html'}"  # issue 23, item 6
    assert (out / "index.html").is_file() and (out / "overdue" / "latest.html").is_file()
    assert "Traceback" not in done.stderr
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


def _smtp_env(port: int, **extra) -> dict[str, str]:
    return {"PIKE_REPORTS_SMTP_HOST": "127.0.0.1", "PIKE_REPORTS_SMTP_PORT": str(port),
            "PIKE_REPORTS_SMTP_SECURITY": "none", "PIKE_REPORTS_EMAIL_FROM": "reports@example.com", **extra}


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_a_secret_run_stops_in_one_line_and_mails_nobody(tmp_path):
    """It used to fall back to the sandbox silently and email invented numbers to real managers."""
    with RecordingSmtpServer() as smtp:
        done = _run_cli(
            ["run", "digest", "--teams-config", str(EXAMPLE_TEAMS), "--out", str(tmp_path / "out")],
            # no Secret block either: the Prefect API it would be looked up in is not there
            {**_smtp_env(smtp.port), "PREFECT_API_URL": f"http://127.0.0.1:{_closed_port()}/api",
             "PREFECT_CLIENT_MAX_RETRIES": "0"}, tmp_path,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pike-reports: error: no Pike API secret")
    assert "PIKE_API_SECRET" in line and "--sandbox" in line
    assert smtp.messages == [] and done.stdout == ""


def test_sandbox_flag_wins_over_env_says_so_and_lists_each_folder_once(tmp_path):
    secret = "real-workspace-secret-5d1e"
    with RecordingSmtpServer() as smtp:
        done = _run_cli(
            ["run", "digest", "--sandbox", "--teams-config", str(EXAMPLE_TEAMS), "--out", str(tmp_path / "out")],
            {**_smtp_env(smtp.port), "PIKE_API_BASE_URL": "https://pike.example.com", "PIKE_API_SECRET": secret},
            tmp_path,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("--sandbox: ignoring PIKE_API_BASE_URL and PIKE_API_SECRET from the environment; "
            "using the built-in sandbox") in done.stderr
    assert "Traceback" not in done.stderr
    # each folder once (digest was printed twice); the digest run stores the overdue page it links
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["overdue", "digest", "store home"]
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == EXAMPLE_MANAGERS
    assert secret not in done.stdout + done.stderr


def test_broken_smtp_stops_a_digest_run_before_prefect_starts(tmp_path):
    wrong = "wrong-pw-c0ffee"
    with RecordingSmtpServer(auth=True) as smtp:
        cases = [
            ({}, "PIKE_REPORTS_SMTP_HOST is not set"),
            (_smtp_env(_closed_port()), "unavailable: connection refused"),
            (_smtp_env(smtp.port, PIKE_REPORTS_SMTP_USER="digest", PIKE_REPORTS_SMTP_PASSWORD=wrong),
             f"SMTP server 127.0.0.1:{smtp.port} refused the login as digest: 535"),
        ]
        for env, expected in cases:
            started = time.monotonic()
            done = _run_cli(["run", "digest", "--sandbox", "--teams-config", str(EXAMPLE_TEAMS),
                             "--out", str(tmp_path / "out")], env, tmp_path)
            assert done.returncode == 2, done.stderr[-2000:]
            [line] = done.stderr.strip().splitlines()  # not even the sandbox line: nothing started
            assert line.startswith("pike-reports: error: ") and expected in line, line
            assert wrong not in line and time.monotonic() - started < 30
    assert len(smtp.auth_commands) == 1 and smtp.messages == []


def test_prefect_failing_to_start_is_one_line(tmp_path):
    done = _run_cli(["run", "overdue", "--sandbox", "--out", str(tmp_path / "out")],
                    {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}, tmp_path)  # it needs 10 s or more
    assert done.returncode == 1
    reasons = [line for line in done.stderr.splitlines() if line.startswith("pike-reports: error:")]
    assert reasons == ["pike-reports: error: Prefect could not run the flow: RuntimeError: Timed out while "
                       "attempting to connect to ephemeral Prefect API server."], done.stderr[-2000:]
