"""`pike-reports export` end to end: cli.main against the sandbox, output via capsys or a file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pike_tasks import client as client_module
from pike_tasks import settings as settings_module
from pike_tasks.cli import main
from pike_tasks.sandbox import ScriptedResponse

SECRET = "sk-export-secret-42"
TASKS = [
    {"id": "t1", "title": "Ünïcode — <b>bold</b> & \"quotes\"", "status": "done", "dueDate": None,
     "someFutureField": {"nested": [1, 2.5, None, True]}},
    {"id": "t2", "title": "emoji 🚀\nnewline", "status": "inProgress", "assigneeIds": []},
    {"id": "t3", "title": "plain", "status": "done", "projectId": "p1"},
]


def first_request(server):
    """The first logged request (the sandbox logs a request just after answering it)."""
    deadline = time.monotonic() + 2
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.005)
    return server.requests[0]


@pytest.fixture
def env(monkeypatch):
    """Point the CLI at a server: env like a user would set it, no Prefect block lookups."""
    monkeypatch.setattr(settings_module, "load_secret_block", lambda: None)
    monkeypatch.setattr(client_module, "BACKOFF_BASE", 0.001)  # keep the unreachable-API test fast

    def point_at(url, secret=SECRET):
        monkeypatch.setenv("PIKE_API_BASE_URL", url)
        monkeypatch.setenv("PIKE_API_SECRET", secret)
        monkeypatch.setenv("PIKE_API_RATE_LIMIT", "0")

    return point_at


@pytest.fixture
def server(sandbox_factory):
    return sandbox_factory({"tasks": TASKS, "projects": [{"id": "p1"}]},
                           secrets={SECRET: {"tasks:read", "projects:read"}})


def test_json_lines_round_trip_to_stdout(server, env, capsys):
    env(server.url)
    assert main(["export", "tasks"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [json.loads(line) for line in lines] == TASKS  # unknown fields kept, nothing added
    assert lines[0] == json.dumps(TASKS[0], ensure_ascii=False)  # raw UTF-8, not \u escapes
    assert "🚀" in out and "\\n" in lines[1]
    assert "exported 3 tasks in 1 pages (0 retries" in err and "stdout" in err
    assert SECRET not in out + err


def test_out_file_and_filters(server, env, capsys, tmp_path):
    env(server.url)
    target = tmp_path / "done.jsonl"
    assert main(["export", "tasks", "--filter", "status=done", "--filter", "projectId=p1", "--out", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] == [TASKS[2]]
    assert first_request(server).query == {"status": "done", "projectId": "p1", "limit": "200"}
    assert "exported 1 tasks in 1 pages (0 retries, " in err and str(target) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.jsonl"]


def test_failure_mid_listing_leaves_no_file(server, env, capsys, tmp_path):
    env(server.url)
    target = tmp_path / "tasks.jsonl"
    target.write_text("previous export\n", encoding="utf-8")
    # page 1 arrives, then the cursor it points to is refused
    server.enqueue(ScriptedResponse(200, {"items": TASKS[:1], "nextCursor": "bogus", "hasMore": True}, path="/tasks"))
    assert main(["export", "tasks", "--out", str(target)]) == 2
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith("pike-reports: error: The Pike API refused GET /tasks")
    assert target.read_text(encoding="utf-8") == "previous export\n"  # untouched, no partial file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.jsonl"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["export", "tasks", "--filter", "q=acme"], "unknown filter 'q' for tasks; allowed: projectId, status, teamId"),
        (["export", "customers", "--filter", "status=x"], "allowed: q"),
        (["export", "members", "--filter", "teamId=t"], "allowed: status"),
        (["export", "projects", "--filter", "statusdone"], "is not KEY=VALUE"),
        (["export", "projects", "--filter", "status="], "needs a value"),
        (["export", "projects", "--filter", "status=a", "--filter", "status=b"], "more than once"),
    ],
)
def test_bad_filter_is_one_line_and_exit_2(server, env, capsys, args, expected):
    env(server.url)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("pike-reports: error: ") and expected in err
    assert server.requests == []  # rejected before any request


def test_bad_secret_exits_2_with_one_line(server, env, capsys):
    env(server.url, secret="sk-wrong-secret")
    assert main(["export", "tasks"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("pike-reports: error: The Pike API rejected the API secret")
    assert "HTTP 401" in err and "requestId" in err
    assert "sk-wrong-secret" not in err


def test_missing_scope_names_the_scope(server, env, capsys):
    env(server.url)
    assert main(["export", "members"]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert "lacks the members:read scope needed to read members" in err


def test_unreachable_api_exits_2_with_one_line(env, capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env(f"http://127.0.0.1:{port}")
    target = tmp_path / "x.jsonl"
    assert main(["export", "projects", "--out", str(target)]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"pike-reports: error: Nothing answers at the Pike API address http://127.0.0.1:{port}")
    assert not list(tmp_path.iterdir())


def test_no_secret_and_bad_url_are_one_line(env, monkeypatch, capsys):
    monkeypatch.delenv("PIKE_API_SECRET", raising=False)
    monkeypatch.delenv("PIKE_API_BASE_URL", raising=False)
    assert main(["export", "tasks"]) == 2
    assert "set PIKE_API_SECRET or create a Prefect Secret block" in capsys.readouterr().err
    env("https://api.example.com/v1")
    assert main(["export", "tasks"]) == 2
    assert "version segment" in capsys.readouterr().err


def test_unwritable_out_is_one_line(server, env, capsys, tmp_path):
    env(server.url)
    assert main(["export", "tasks", "--out", str(tmp_path / "missing-dir" / "x.jsonl")]) == 1
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "cannot write" in err


# -- the real command, in a subprocess: bad configuration is one line, at once ---------------

CLI = Path(sys.executable).parent / "pike-reports"
LEAKY = "sk-live-7Q2x9Lm4"  # the start of each malformed secret below


def run_export(tmp_path, **env):
    """``pike-reports export tasks`` with only ``env`` configured (no PIKE_*/PREFECT_* inherited,
    a fresh Prefect home: no Prefect API); returns the process and the seconds it took."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    child["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    child.update(env)
    started = time.monotonic()
    proc = subprocess.run([str(CLI), "export", "tasks"], env=child, capture_output=True, text=True,
                          encoding="utf-8", timeout=60)
    return proc, time.monotonic() - started


def assert_one_line_error(proc, expected: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pike-reports: error: ") and expected in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("secret", [LEAKY + "\nAbCdEf", LEAKY + "é", LEAKY + "🚀", LEAKY + " AbCdEf"],
                         ids=["newline", "e-acute", "emoji", "space"])
def test_cli_malformed_secret_is_one_line_without_the_secret(tmp_path, secret):
    proc, _ = run_export(tmp_path, PIKE_API_BASE_URL="http://127.0.0.1:9", PIKE_API_SECRET=secret)
    assert_one_line_error(proc, "PIKE_API_SECRET cannot be used as a Pike API secret")
    for part in (LEAKY, "AbCdEf", "é", "🚀", "Bearer"):
        assert part not in proc.stderr


@pytest.mark.parametrize(("env", "expected"), [
    ({"PIKE_API_BASE_URL": "http://[::1"}, "PIKE_API_BASE_URL 'http://[::1' is not a valid URL"),
    ({"PIKE_API_RATE_LIMIT": "1e-300"}, "PIKE_API_RATE_LIMIT must be 0 (off) or at least 0.1"),
    ({"PIKE_API_RATE_LIMIT": "0.001"}, "PIKE_API_RATE_LIMIT must be 0 (off) or at least 0.1"),
    ({"PIKE_API_REQUEST_DEADLINE": "0"}, "PIKE_API_REQUEST_DEADLINE must be a positive number of seconds"),
    ({"PIKE_API_BASE_URL": "http://api.example.com"}, "set PIKE_API_ALLOW_INSECURE_HTTP=1"),
], ids=["unclosed-ipv6", "rate-1e-300", "rate-0.001", "deadline-0", "plain-http"])
def test_cli_bad_settings_are_one_line_and_exit_2(tmp_path, env, expected):
    # the API port is closed: with a rate of 0.001 the second try would wait 1000 s
    proc, seconds = run_export(tmp_path, **{"PIKE_API_BASE_URL": "http://127.0.0.1:9",
                                            "PIKE_API_SECRET": "sk-fine-secret", **env})
    assert_one_line_error(proc, expected)
    assert "sk-fine-secret" not in proc.stderr
    assert seconds < 10


def test_cli_without_any_configuration_answers_at_once(tmp_path):
    proc, seconds = run_export(tmp_path)  # no PIKE_API_*, no PREFECT_API_URL
    assert_one_line_error(proc, "No Pike API secret: set PIKE_API_SECRET")
    assert seconds < 5  # Prefect's temporary API is never started to look for the block
    assert not (tmp_path / "prefect-home").exists()
