"""`pike-reports run` rejects bad input with one line on stderr, before Prefect starts."""

from __future__ import annotations

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
