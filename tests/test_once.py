"""Once-only delivery (issue 20): the identity of a digest record, claims with a lease and stages,
the delivery log, --resend-to and `deliveries`, against a real SMTP server on 127.0.0.1 and real
processes killed mid-send."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from pike_tasks.errors import PikeConfigError

sys.path.insert(0, str(Path(__file__).parent))
from smtp_server import RecordingSmtpServer  # noqa: E402 - after sys.path.insert (a tests/ helper)
from test_email import AS_OF, MANAGERS, SOURCE, _send_flow, _wait_for, make_digest, make_message  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_TEAMS = str(REPO / "teams.example.yaml")
PLATFORM = "e5f6a7b8-c9d0-4123-e456-789abcdef012"  # teams.example.yaml; platform.lead also manages Data
EXAMPLE_MANAGERS = ["data.lead@example.com", "delivery.lead@example.com", "design.lead@example.com",
                    "platform.lead@example.com"]
LEASE = "2"  # seconds: short, so a dead run's claim lapses within the test


@pytest.fixture
def state(tmp_path, prefect_harness, monkeypatch):
    monkeypatch.setenv("PIKE_REPORTS_CLAIM_LEASE_SECONDS", LEASE)
    yield tmp_path


def _ledger(out, workspace: str = SOURCE, team_ids=None):
    from pike_tasks.once import DeliveryLedger
    from pike_tasks.store import Scope, open_store

    return DeliveryLedger(open_store(str(out)), "manager", AS_OF, workspace, Scope.of(team_ids))


# --- identity: scope --------------------------------------------------------------------------


def _scoped_flow():
    from prefect import flow
    from test_email import plain_settings, send_prepared

    from pike_tasks.delivery.email import PreparedDigest
    from pike_tasks.store import open_store

    @flow(name="test-send-scoped")
    def send(recipients: list[str], port: int, out: str, team_ids: list[str] | None = None):
        prepared = []
        for r in recipients:
            d = make_digest(r)
            prepared.append(PreparedDigest(r, d.subject, d.overdue_count, make_message(d)))
        return send_prepared(prepared, as_of=AS_OF, settings=plain_settings(port), store=open_store(out),
                             workspace=SOURCE, team_ids=team_ids)[1]

    return send


def test_a_team_filtered_digest_does_not_use_up_the_whole_one_nor_the_reverse(state):
    send = _scoped_flow()
    with RecordingSmtpServer() as smtp:
        first = send(MANAGERS[:1], smtp.port, str(state), team_ids=["T1"])
        whole = send(MANAGERS[:1], smtp.port, str(state))
        again = send(MANAGERS[:1], smtp.port, str(state), team_ids=["T1"])
    assert first[MANAGERS[0]]["status"] == whole[MANAGERS[0]]["status"] == "sent"
    assert again[MANAGERS[0]]["status"] == "already-sent" and len(smtp.messages) == 2
    assert _ledger(state).standing(MANAGERS[0]).status == "sent"
    assert _ledger(state, team_ids=["T2"]).standing(MANAGERS[0]).status == "free"  # each scope its own record


# --- identity: workspace ----------------------------------------------------------------------


@pytest.fixture
def flow_env(sandbox_factory, tmp_path, monkeypatch, prefect_harness):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from pike_tasks.sandbox.server import ALL_SCOPES

    server = sandbox_factory(secrets={"first-secret-a1": set(ALL_SCOPES), "rotated-secret-b2": set(ALL_SCOPES)})
    monkeypatch.setenv("PIKE_API_BASE_URL", server.url)
    monkeypatch.setenv("PIKE_API_SECRET", "first-secret-a1")
    for name in ("PIKE_REPORTS_WORKSPACE", "PIKE_REPORTS_SANDBOX_RUN", "PIKE_REPORTS_SMTP_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIKE_REPORTS_EMAIL_FROM", "reports@example.com")
    monkeypatch.setenv("PIKE_REPORTS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PIKE_REPORTS_SMTP_SECURITY", "none")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        yield server


def test_url_spellings_and_a_rotated_secret_are_one_workspace_and_filtered_runs_their_own_scope(
        flow_env, tmp_path, monkeypatch):
    """Issue 20 items 1 and 2: 4 spellings of one workspace sent 4 copies; `--team X` then the whole
    digest left a manager of X and Y with X's digest only."""
    from flows.digest import send_manager_digests

    port = flow_env.url.rsplit(":", 1)[1]
    out = str(tmp_path / "store")
    with RecordingSmtpServer() as smtp:
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=out, team_ids=[PLATFORM])
        assert [m.rcpt_tos for m in smtp.messages] == [["platform.lead@example.com"]]
        for url, secret in ((f"http://127.0.0.1:{port}", "first-secret-a1"),
                            (f"HTTP://127.0.0.1:{port}", "first-secret-a1"),
                            (f"http://localhost:{port}", "rotated-secret-b2")):
            monkeypatch.setenv("PIKE_API_BASE_URL", url)
            monkeypatch.setenv("PIKE_API_SECRET", secret)
            send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=out)
    received = sorted(m.rcpt_tos[0] for m in smtp.messages)
    assert received == sorted([*EXAMPLE_MANAGERS, "platform.lead@example.com"])  # whole once each + the filtered one
    whole = [m.message["Subject"] for m in smtp.to("platform.lead@example.com")]
    assert any("(Data, Platform)" in s for s in whole)


def test_the_default_name_is_bound_to_the_teams_it_serves(tmp_path):
    from pike_tasks.once import bind_workspace
    from pike_tasks.store import open_store

    store = open_store(str(tmp_path))
    bind_workspace(store, "default", ["a", "b"])
    bind_workspace(store, "default", ["b", "c"])  # overlapping: the same workspace, a team added
    bound = json.loads((tmp_path / "_ledger" / "workspaces" / "default.json").read_text())
    assert bound["teams"] == ["a", "b", "c"]
    with pytest.raises(PikeConfigError) as info:
        bind_workspace(store, "default", ["x", "y"])
    assert str(info.value) == ("this store already serves another workspace under the name 'default': set "
                               "PIKE_REPORTS_WORKSPACE or workspace: in the teams config")
    bind_workspace(store, "other", ["x", "y"])  # under its own name it is welcome


def test_another_workspaces_config_is_refused_before_any_api_call(flow_env, tmp_path):
    from flows.digest import send_manager_digests

    out = str(tmp_path / "store")
    other = {"teams": {"0b1c2d3e-0000-4000-8000-000000000001": {"name": "Ops", "managers": ["ops@example.com"]}}}
    send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=out, dry_run=True)
    flow_env.requests.clear()
    with pytest.raises(PikeConfigError, match="already serves another workspace under the name 'default'"):
        send_manager_digests(teams_config=other, output_dir=out, dry_run=True)
    assert flow_env.requests == []
    named = send_manager_digests(teams_config={**other, "workspace": "ops"}, output_dir=out, dry_run=True)
    assert named["digest"]


def test_workspace_name_env_config_sandbox_and_bad_names():
    from pike_tasks.once import workspace_name
    from pike_tasks.teams_config import parse_teams_config

    assert workspace_name(None, {}) == "default"
    assert workspace_name("acme", {}) == "acme"
    assert workspace_name(None, {"PIKE_REPORTS_WORKSPACE": " Acme "}) == "acme"
    assert workspace_name("acme", {"PIKE_REPORTS_WORKSPACE": "ACME"}) == "acme"
    assert workspace_name("acme", {"PIKE_REPORTS_WORKSPACE": "x", "PIKE_REPORTS_SANDBOX_RUN": "1"}) == "sandbox"
    with pytest.raises(PikeConfigError, match="differ"):
        workspace_name("acme", {"PIKE_REPORTS_WORKSPACE": "globex"})
    for bad in ("", "a b", "../x", "x" * 41, "sandbox", "é"):
        with pytest.raises(PikeConfigError) as info:
            workspace_name(None, {"PIKE_REPORTS_WORKSPACE": bad}) if bad else parse_teams_config(
                {"workspace": bad, "teams": {}})
        assert len(str(info.value).splitlines()) == 1
    assert parse_teams_config({"workspace": "Acme", "teams": {}}).workspace == "acme"


def test_sandbox_runs_never_mark_a_real_manager_served(flow_env, tmp_path, monkeypatch):
    from flows.digest import send_manager_digests

    out = str(tmp_path / "store")
    with RecordingSmtpServer() as smtp:
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("PIKE_REPORTS_SANDBOX_RUN", "1")  # what `run --sandbox` and the demo set
        monkeypatch.setenv("PIKE_REPORTS_WORKSPACE", "acme")
        send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=out)
        monkeypatch.delenv("PIKE_REPORTS_SANDBOX_RUN")
        send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=out)
    assert len(smtp.messages) == 8
    assert sorted(p.name for p in (tmp_path / "store" / "_ledger" / "manager" / date.today().isoformat()).iterdir()) \
        == ["acme", "sandbox"]


# --- claims: stages, leases, takeover ----------------------------------------------------------

_SENDER_PROCESS = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_email import AS_OF, SOURCE, make_digest, make_message, plain_settings
    from pike_tasks.delivery.email import PreparedDigest
    from pike_tasks.delivery.engine import deliver_once
    from pike_tasks.delivery.smtp import EmailChannel
    from pike_tasks.once import DeliveryLedger
    from pike_tasks.store import open_store

    ledger = DeliveryLedger(open_store({out!r}), "manager", AS_OF, SOURCE)
    item = PreparedDigest({recipient!r}, "s", 2, make_message(make_digest({recipient!r}))).outbound()
    print(deliver_once(EmailChannel(plain_settings({port}, timeout=60, data_timeout=60)), item, ledger))
""")


def _start_sender(out: Path, port: int, recipient: str) -> subprocess.Popen:
    code = _SENDER_PROCESS.format(tests=str(Path(__file__).parent), out=str(out), recipient=recipient, port=port)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIKE_REPORTS_CLAIM_LEASE_SECONDS": LEASE}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_at(proc: subprocess.Popen, ledger, recipient: str, stage: str, seconds: float = 60) -> float:
    """Wait until the sender's claim reaches ``stage``, then SIGKILL it; returns when it died."""
    deadline = time.monotonic() + seconds
    while ledger.standing(recipient).info.get("stage") != stage:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        assert time.monotonic() < deadline, f"the sender never reached {stage}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return time.monotonic()


class SilentServer:
    """Accepts SMTP connections and never greets (a hung relay)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_run_killed_while_waiting_for_the_greeting_is_sent_exactly_once_after_its_lease(state):
    """Issue 20 item 3: it used to stay `unknown` forever although nothing had gone out."""
    silent = SilentServer()
    ledger = _ledger(state)
    try:
        proc = _start_sender(state, silent.port, MANAGERS[0])
        died = _kill_at(proc, ledger, MANAGERS[0], "claimed")
    finally:
        silent.close()
    assert ledger.standing(MANAGERS[0]).status == "in-progress"  # the lease is still live
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        early = send(MANAGERS[:1], smtp.port, str(state))
        _wait_for(lambda: ledger.standing(MANAGERS[0]).status == "lapsed", 10)
        assert time.monotonic() - died <= int(LEASE) + 1
        later = send(MANAGERS[:1], smtp.port, str(state))
        again = send(MANAGERS[:1], smtp.port, str(state))
    assert early[MANAGERS[0]]["status"] == "claimed-elsewhere"
    assert later[MANAGERS[0]]["status"] == "sent" and again[MANAGERS[0]]["status"] == "already-sent"
    assert [m.rcpt_tos for m in smtp.messages] == [MANAGERS[:1]]
    assert ledger.generations(MANAGERS[0]) == [1, 2]


def test_a_run_killed_after_the_message_went_out_is_unknown_not_resent_until_resend_to(state):
    with RecordingSmtpServer() as smtp:
        smtp.handler.delay_for[MANAGERS[0]] = 8.0  # the body arrives; the final reply never does in time
        ledger = _ledger(state)
        proc = _start_sender(state, smtp.port, MANAGERS[0])
        _kill_at(proc, ledger, MANAGERS[0], "handed-over")
        _wait_for(lambda: ledger.standing(MANAGERS[0]).status == "unknown", 10)
        send = _send_flow()
        later = send(MANAGERS[:2], smtp.port, str(state))
        assert later[MANAGERS[0]]["status"] == "unknown" and later[MANAGERS[1]]["status"] == "sent"
        assert smtp.handler.rcpt_attempts.count(MANAGERS[0]) == 1  # not resent
        smtp.handler.delay_for.clear()
        resent = _resend_flow()(MANAGERS[:2], smtp.port, str(state), [MANAGERS[0].upper()])
        assert resent[MANAGERS[0]]["status"] == "sent" and resent[MANAGERS[1]]["status"] == "not-selected"
    assert smtp.handler.rcpt_attempts.count(MANAGERS[0]) == 2 and smtp.handler.rcpt_attempts.count(MANAGERS[1]) == 1


def _resend_flow():
    from prefect import flow
    from test_email import plain_settings, send_prepared

    from pike_tasks.delivery.email import PreparedDigest
    from pike_tasks.store import open_store

    @flow(name="test-resend")
    def resend(recipients: list[str], port: int, out: str, resend_to: list[str]):
        prepared = [PreparedDigest(r, "s", 2, make_message(make_digest(r))) for r in recipients]
        return send_prepared(prepared, as_of=AS_OF, settings=plain_settings(port), store=open_store(out),
                             workspace=SOURCE, resend_to=resend_to)[1]

    return resend


def test_an_empty_claim_is_taken_over_once_old_and_left_alone_while_fresh(state, caplog):
    ledger = _ledger(state)
    folder = state / ledger._folder(MANAGERS[0])
    folder.mkdir(parents=True)
    (folder / "claim.1").write_bytes(b"")  # a full disk under the previous version: an empty claim
    (fresh_folder := state / ledger._folder(MANAGERS[1])).mkdir(parents=True)
    (fresh_folder / "claim.1").write_bytes(b"{")  # being written right now (or corrupt)
    old = time.time() - 3600
    os.utime(folder / "claim.1", (old, old))
    with caplog.at_level("WARNING", logger="pike_tasks.once"):
        assert ledger.standing(MANAGERS[0]).status == "lapsed"
        assert ledger.standing(MANAGERS[0]).status == "lapsed"
    assert len([r for r in caplog.records if "empty or unreadable" in r.getMessage()]) == 1  # logged once
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        out = send(MANAGERS[:2], smtp.port, str(state))
    assert out[MANAGERS[0]]["status"] == "sent" and out[MANAGERS[1]]["status"] == "claimed-elsewhere"
    assert [m.rcpt_tos for m in smtp.messages] == [MANAGERS[:1]]


def test_a_claimed_at_without_a_timezone_is_utc_and_never_a_type_error(state):
    ledger = _ledger(state)
    folder = state / ledger._folder(MANAGERS[0])
    folder.mkdir(parents=True)
    (folder / "claim.1").write_text(json.dumps({"stage": "claimed", "claimed_at": "2026-04-09T07:00:00",
                                                "recipient": MANAGERS[0]}))
    (folder2 := state / ledger._folder(MANAGERS[1])).mkdir(parents=True)
    (folder2 / "claim.1").write_text(json.dumps({"stage": "handed-over", "renewed_at": 12, "claimed_at": None}))
    assert ledger.standing(MANAGERS[0]).status == "lapsed"
    assert ledger.standing(MANAGERS[1]).status == "unknown"


def test_only_one_of_two_racing_takeovers_wins(tmp_path):
    ledger = _ledger(tmp_path)
    first = ledger.claim(MANAGERS[0], {"flow_run": "a"}, after=0)
    assert first is not None
    results = []
    barrier = threading.Barrier(8)

    def take():
        barrier.wait()
        results.append(ledger.claim(MANAGERS[0], {"flow_run": threading.current_thread().name}, after=1))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    from pike_tasks.once import ClaimLost

    with pytest.raises(ClaimLost):  # the old owner finds the newer generation before the end of DATA
        first.stage("handed-over")


def test_local_create_only_records_are_never_seen_half_written(tmp_path, monkeypatch):
    from pike_tasks.store import local as store_module
    from pike_tasks.store import open_store

    store = open_store(str(tmp_path))

    def disk_full(path, data):
        Path(path).write_bytes(data[:1])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "_write_synced", disk_full)
    with pytest.raises(OSError):
        store.create_record("_ledger/x/claim.1", b'{"stage": "claimed"}')
    assert store.read_record("_ledger/x/claim.1") is None and store.list_records("_ledger/x/") == []


@pytest.mark.parametrize("location", ["local", "memory"])
def test_list_records_is_literal(tmp_path, location):
    from pike_tasks.store import open_store

    store = open_store(str(tmp_path) if location == "local" else f"memory://once-{os.getpid()}-{time.time_ns()}")
    for key in ("a[1]/x", "a1/y", "a?/z", "ab/w", "a*/v", "a[1]/sub/u"):
        store.put_record(key, b"1")
    assert store.list_records("a[1]/") == ["a[1]/sub/", "a[1]/x"]
    assert store.list_records("a?/") == ["a?/z"] and store.list_records("a*/") == ["a*/v"]
    assert store.list_records("missing/") == []


# --- SMTP 421, settings before any API call -------------------------------------------------------


def test_a_421_stops_the_sends_and_leaves_the_rest_for_the_next_run(state):
    from pike_tasks.delivery.engine import DigestSendFailed

    people = [f"{c}.lead@example.com" for c in "abcdef"]
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        smtp.handler.rcpt_reply = "421 4.3.2 shutting down"
        failed = send(people, smtp.port, str(state), return_state=True, connections=1)
        with pytest.raises(DigestSendFailed) as info:
            failed.result()
        assert smtp.handler.rcpt_attempts == people[:1]  # not retried, the rest not tried
        assert str(info.value).count("not tried") == 5 and "closing the connection (421" in str(info.value)
        smtp.handler.rcpt_reply = None
        later = send(people, smtp.port, str(state))
    assert {o["status"] for o in later.values()} == {"sent"} and len(smtp.messages) == 6


@pytest.mark.parametrize(("env", "kwargs", "expected"), [
    ({"PIKE_REPORTS_SMTP_CONNECTIONS": "0"}, {}, "PIKE_REPORTS_SMTP_CONNECTIONS"),
    ({"PIKE_REPORTS_CLAIM_LEASE_SECONDS": "600"}, {"dry_run": True}, "PIKE_REPORTS_CLAIM_LEASE_SECONDS"),
    ({"PIKE_REPORTS_WORKSPACE": "no spaces"}, {"dry_run": True}, "PIKE_REPORTS_WORKSPACE"),
    ({}, {"resend_to": ["stranger@example.com"]}, "--resend-to 'stranger@example.com' is not a manager"),
])
def test_digest_settings_fail_before_any_api_call_in_one_line(flow_env, tmp_path, monkeypatch, env, kwargs, expected):
    from flows.all_reports import run_all_reports
    from flows.digest import send_manager_digests

    with RecordingSmtpServer() as smtp:
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        flow_env.requests.clear()
        with pytest.raises(PikeConfigError) as info:
            send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=str(tmp_path / "s"), **kwargs)
        assert expected in str(info.value) and len(str(info.value).splitlines()) == 1
        digests = "dry-run" if kwargs.get("dry_run") else "send"
        with pytest.raises(PikeConfigError, match=expected.split(" ")[0].replace("'", "")):
            run_all_reports(teams_config=EXAMPLE_TEAMS, output_dir=str(tmp_path / "s"), digests=digests,
                            resend_to=kwargs.get("resend_to"))
    assert flow_env.requests == [] and smtp.messages == []


def test_cli_resend_to_a_stranger_is_one_line_before_anything_starts(monkeypatch, capsys, tmp_path):
    from flows.cli import main

    monkeypatch.setenv("PIKE_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PIKE_API_SECRET", "s3cret-value")
    assert main(["run", "digest", "--teams-config", EXAMPLE_TEAMS, "--out", str(tmp_path),
                 "--resend-to", "stranger@example.com"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("pike-reports: error: --resend-to 'stranger@example.com' is not a manager in the teams config; "
                   "nothing was sent")


# --- the delivery log, summary.json and `deliveries` ------------------------------------------------


def test_dry_runs_and_previews_are_logged_but_never_replace_a_real_send(state):
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        send(MANAGERS[:2], smtp.port, str(state))
        send(MANAGERS[:2], smtp.port, str(state), dry_run=True)
        send(MANAGERS[:2], smtp.port, str(state), preview_to="me@example.com")
    summary = json.loads((state / "digest" / AS_OF.isoformat() / "summary.json").read_text())
    assert [(d["status"], d["run_status"]) for d in summary["digests"]] == [("sent", "preview")] * 2
    entries = _ledger(state).log_entries()
    assert [e["mode"] for e in entries] == ["send", "send", "dry-run", "dry-run", "preview", "preview"]
    assert {e["channel"] for e in entries} == {"email"} and len({e["run"] for e in entries}) == 3


def test_racing_runs_keep_each_others_log_lines(state):
    ledger = _ledger(state)
    threads = [threading.Thread(target=ledger.append_log, args=(f"run-{n}", "send",
                                                                [{"recipient": f"{n}@example.com", "status": "sent"}]))
               for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e["run"] for e in ledger.log_entries()) == [f"run-{n}" for n in range(6)]


def test_deliveries_lists_each_recipients_state_read_only(state, monkeypatch, capsys):
    from flows.cli import main

    ledger = _ledger(state)
    ledger.settle_sent(MANAGERS[0], {"flow_run": "run-1"})
    gone = ledger.claim(MANAGERS[1], {"flow_run": "run-2"}, after=0)
    assert gone is not None
    # the run died after handing the message over, long ago
    state.joinpath(gone.key).write_text(json.dumps({**gone.info, "stage": "handed-over",
                                                    "renewed_at": "2026-04-09T07:00:00+00:00"}))
    _ledger(state, team_ids=["T9"]).settle_sent(MANAGERS[0], {"flow_run": "run-3"})
    teams = state / "teams.yaml"
    teams.write_text(f"workspace: {SOURCE}\nteams:\n  T1:\n    managers: [{', '.join(MANAGERS)}]\n", encoding="utf-8")
    before = sorted(str(p) for p in state.rglob("*"))
    assert main(["deliveries", "--as-of", AS_OF.isoformat(), "--out", str(state), "--teams-config", str(teams)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"digest deliveries of {AS_OF.isoformat()}, workspace '{SOURCE}'")
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("whole", "email", MANAGERS[0], "sent"), ("whole", "email", MANAGERS[1], "unknown"),
        ("whole", "email", MANAGERS[2], "not"), (rows[3][0], "email", MANAGERS[0], "sent")]
    assert rows[3][0].startswith("teams-T9") and "--resend-to" in lines[2]
    assert sorted(str(p) for p in state.rglob("*")) == before  # read-only


def test_subject_is_bounded_and_keeps_its_shape_for_short_lists():
    from pike_tasks.digest import digest_subject

    assert digest_subject(AS_OF, 7, ["Delivery", "Platform"], 2, 3) == \
        "Pike digest 2026-04-09: 7 overdue tasks, 2 new, 3 resolved (Delivery, Platform)"
    many = digest_subject(AS_OF, 7, ["Delivery", "Platform", *(f"Team number {n}" for n in range(210))], 2, 3)
    assert len(many) <= 120 and many.startswith("Pike digest 2026-04-09: 7 overdue tasks, 2 new, 3 resolved (Delivery")
    assert many.endswith(" more teams)")
    long_name = digest_subject(AS_OF, 1, ["x" * 5000])
    assert len(long_name) <= 120 and long_name.endswith("\u2026)")


# --- the same protocol on S3 (moto on 127.0.0.1) --------------------------------------------------


@pytest.fixture
def s3_store(tmp_path, monkeypatch):
    import uuid

    import s3fs
    from moto_server import start_moto, use_moto

    from pike_tasks.store import open_store

    server = start_moto(tmp_path / "moto")
    try:
        use_moto(server, monkeypatch)
        bucket = f"pike-{uuid.uuid4().hex[:12]}"
        server.client().create_bucket(Bucket=bucket)
        yield open_store(f"s3://{bucket}/x[1]?")  # a prefix fsspec's glob would misread
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def test_claims_takeover_and_the_log_on_s3(s3_store):
    from pike_tasks.once import DeliveryLedger

    ledger = DeliveryLedger(s3_store, "manager", AS_OF, SOURCE, lease=2)
    claim = ledger.claim(MANAGERS[0], {"flow_run": "a"}, after=0)
    assert claim is not None and ledger.claim(MANAGERS[0], {"flow_run": "b"}, after=0) is None
    assert ledger.standing(MANAGERS[0]).status == "in-progress"
    s3_store.put_record(f"{ledger._folder(MANAGERS[1])}claim.1", b"")  # an empty claim, written now
    assert ledger.standing(MANAGERS[1]).status == "in-progress"  # its age is the object's: not taken yet
    _wait_for(lambda: ledger.standing(MANAGERS[0]).status == "lapsed", 10)
    taken = ledger.claim(MANAGERS[0], {"flow_run": "b"}, after=1)
    assert taken is not None and ledger.generations(MANAGERS[0]) == [1, 2]
    with pytest.raises(Exception, match="taken over"):
        claim.stage("handed-over")
    taken.settle("sent")
    ledger.append_log("r1", "send", [{"recipient": MANAGERS[0], "status": "sent"}])
    ledger.append_log("r2", "dry-run", [{"recipient": MANAGERS[0], "status": "dry-run"}])
    assert ledger.standing(MANAGERS[0]).status == "sent" and [e["run"] for e in ledger.log_entries()] == ["r1", "r2"]


def test_local_create_only_records_without_hard_links_still_create_once(tmp_path, monkeypatch):
    from pike_tasks.store import open_store

    store = open_store(str(tmp_path))

    def no_links(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert store.create_record("_ledger/y/claim.1", b"1") and not store.create_record("_ledger/y/claim.1", b"2")
    assert store.read_record("_ledger/y/claim.1") == b"1" and store.list_records("_ledger/y/") == ["_ledger/y/claim.1"]
