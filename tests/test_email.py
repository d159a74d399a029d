"""Manager digest emails against a real SMTP server on 127.0.0.1 (aiosmtpd, tests/smtp_server.py).

Message shape and safety (pure), SMTP security and failures (mailer), and once-only
sending through the ``send-digest`` Prefect task under the session's test harness,
including a second process sharing the result storage.
"""

from __future__ import annotations

import dataclasses
import email
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from datetime import date
from email.policy import default
from pathlib import Path

import pandas as pd
import pytest
from pydantic import SecretStr

from pike_tasks.digest import Digest, digest_subject, render_digest
from pike_tasks.email_message import build_message
from pike_tasks.errors import PikeConfigError
from pike_tasks.mailer import (
    DigestDeliveryError,
    SmtpAuthFailed,
    SmtpSecurityError,
    SmtpSettings,
    SmtpUnavailable,
    check_smtp,
    send_message,
    write_eml,
)

sys.path.insert(0, str(Path(__file__).parent))
from smtp_server import RecordingSmtpServer  # noqa: E402 - after sys.path.insert (a tests/ helper)

AS_OF = date(2026, 4, 9)
SENDER = "Pike reports <reports@example.com>"
PASSWORD = "s3cret-pw"


def overdue_frame(n: int, team_id: str = "T1", team: str = "Delivery", title: str = "Task {i}",
                  description: str | None = None) -> pd.DataFrame:
    ranks = [i % 5 for i in range(n)]
    names = ["urgent", "high", "medium", "low", None]
    return pd.DataFrame({
        "task_id": [f"{team_id}-t{i}" for i in range(n)], "team_id": [team_id] * n, "team": [team] * n,
        "title": [title.format(i=i) for i in range(n)], "project": ["P-1 · Website"] * n,
        "customer": ["Acme"] * n, "assignees": ["Jane Doe"] * n, "priority": [names[r] for r in ranks],
        "status": ["toDo"] * n, "due_date": ["2026-03-01"] * n, "days_overdue": [39] * n,
        "priority_rank": ranks, "age_bucket": ["31+"] * n, "description": [description] * n,
    })


def summary_frame(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for tid, g in rows.groupby("team_id", sort=False):
        out.append({"team_id": tid, "team": g["team"].iloc[0], "count": len(g),
                    **{p: int((g["priority_rank"] == r).sum())
                       for r, p in enumerate(["urgent", "high", "medium", "low", "none"])},
                    "oldest_days": int(g["days_overdue"].max()),
                    "age_1_7": int((g["age_bucket"] == "1-7").sum()),
                    "age_8_30": int((g["age_bucket"] == "8-30").sum()),
                    "age_31_plus": int((g["age_bucket"] == "31+").sum())})
    cols = ["team_id", "team", "count", "urgent", "high", "medium", "low", "none", "oldest_days",
            "age_1_7", "age_8_30", "age_31_plus"]
    return pd.DataFrame(out, columns=cols)


def workload_frame(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame([{"member_id": f"m{i}", "member": f"Member {i}", "status": "active", "open": 4 + i,
                          "billable": 2, "non_billable": 1, "unclassified": 1 + i, "billable_share": 50.0,
                          "overdue": 1, "flag": ""} for i in range(n)])


def make_digest(recipient: str = "lead@example.com", n: int = 3, team_name: str = "Delivery", **kw) -> Digest:
    rows = overdue_frame(n, team=team_name, **kw)
    return Digest(recipient=recipient, team_ids=("T1",), team_names=(team_name,), as_of=AS_OF,
                  overdue_rows=rows, team_summary=summary_frame(rows), workload=workload_frame(),
                  overdue_count=n, subject=digest_subject(AS_OF, n, [team_name]))


def make_message(digest: Digest, **kw):
    rendered = render_digest(digest, report_url="https://reports.example.com/overdue/2026-04-09/")
    return build_message(digest, rendered.html, rendered.text, sender=SENDER,
                         attachments=[("overdue.csv", b"task_id\nT1-t0\n", "text/csv")], **kw)


def plain_settings(port: int, **kw) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender="reports@example.com", security="none", **kw)


def parts(msg) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


# --- the message ----------------------------------------------------------------------------


def test_message_is_alternative_text_and_html_with_csv_and_utf8_subject():
    digest = make_digest(team_name="Zoë Ångström")
    with RecordingSmtpServer() as smtp:
        send_message(plain_settings(smtp.port), make_message(digest))
    [received] = smtp.messages
    assert received.rcpt_tos == ["lead@example.com"]
    msg = received.message
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert attachment.get_filename() == "overdue.csv" and attachment.get_content_type() == "text/csv"
    assert msg["Subject"] == "Pike digest 2026-04-09: 3 overdue tasks (Zoë Ångström)"
    assert msg["To"] == "lead@example.com" and "reports@example.com" in msg["From"]
    assert msg["Message-ID"].endswith("@example.com>") and msg["Date"]
    body = parts(msg)
    for part in (body["text/plain"], body["text/html"]):
        assert "2026-04-09" in part and "Zoë Ångström" in part and "overdue.csv" in part
        assert "https://reports.example.com/overdue/2026-04-09/" in part


def test_message_without_attachments_is_just_alternative():
    digest = make_digest()
    rendered = render_digest(digest)
    msg = build_message(digest, rendered.html, rendered.text, sender=SENDER)
    assert msg.get_content_type() == "multipart/alternative"


def test_subject_singular():
    assert (digest_subject(AS_OF, 1, ["Delivery", "Platform"])
            == "Pike digest 2026-04-09: 1 overdue task (Delivery, Platform)")


def test_html_is_self_contained_inlined_and_has_table_charts():
    html = render_digest(make_digest(n=12)).html.lower()
    for forbidden in ("<script", "<style", "<link", "<svg", "<img", "data:", "@import", "src="):
        assert forbidden not in html
    # no `role` attribute: Outlook for Windows Mail lacks it (../shared/tools/email-compat)
    assert "role=" not in html and "bgcolor=" in html and "style=" in html
    assert "urgent" in html and "#912018" in html  # priority as text and colour (wording.PRIORITY_COLOURS)


def test_empty_digest_says_no_overdue_tasks():
    rendered = render_digest(make_digest(n=0))
    assert "No overdue tasks" in rendered.html and "No overdue tasks" in rendered.text


def test_html_stays_under_100kb_for_5000_task_team():
    digest = make_digest(n=5000, description="<p>" + "long words " * 50 + "</p>")
    rendered = render_digest(digest)
    assert len(rendered.html.encode("utf-8")) < 100_000
    shown = min(rendered.limits.rest_per_team, rendered.limits.rest_total)
    assert f"and {5000 - shown:,} more in Delivery" in rendered.html
    assert f"and {5000 - shown:,} more in Delivery" in rendered.text
    msg = make_message(digest)
    assert len(parts(email.message_from_bytes(msg.as_bytes(), policy=default))["text/html"].encode()) < 100_000


def test_crlf_in_team_name_cannot_inject_headers():
    hostile = "Delivery\r\nBcc: victim@evil.example\r\nX-Injected: yes"
    digest = make_digest(team_name=hostile)
    with RecordingSmtpServer() as smtp:
        send_message(plain_settings(smtp.port), make_message(digest))
    [received] = smtp.messages
    assert received.rcpt_tos == ["lead@example.com"]
    msg = received.message
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert msg["Subject"] == ("Pike digest 2026-04-09: 3 overdue tasks "
                              "(Delivery Bcc: victim@evil.example X-Injected: yes)")


def test_untrusted_title_escaped_and_description_sanitised():
    digest = make_digest(title="<script>alert('t{i}')</script> & <b>bold</b>",
                         description='<p>Fix <img src=x onerror="steal()"> now<script>evil()</script></p>')
    # the body shows a description excerpt for new overdue tasks: make every task new
    rows = digest.overdue_rows
    changes = rows.assign(change="new", reason="")[
        ["change", "reason", "task_id", "team_id", "team", "title", "priority", "status", "due_date", "days_overdue"]]
    digest = dataclasses.replace(digest, changes=changes, baseline_as_of=date(2026, 4, 2))
    html = render_digest(digest).html
    assert "<script" not in html and "onerror" not in html and "evil()" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "Fix" in html and "now" in html


def test_preview_subject_and_recipient():
    msg = make_message(make_digest(), preview=True, preview_to="me@example.com")
    assert msg["To"] == "me@example.com" and msg["Subject"].startswith("[Preview] Pike digest 2026-04-09")


LONG_SUBJECTS = [
    # 71 characters: Python 3.11's folder put it whole on a second line ("Subject:" CRLF SP "Pike ..."),
    # which a parser returns with a leading space
    "Pike digest 2026-12-06: 35 overdue tasks, 8 new, 4 resolved (Delivery)",
    # several teams and non-ASCII: the folder dropped the spaces around the encoded words
    "Pike digest 2026-04-09: 1,234 overdue tasks, 12 new, 3 resolved (Plattform-Zürich, Délivery Ærø, "
    "Design Øresund, Data & ML)",
    "Pike digest 2026-04-09: 7 overdue tasks, 2 new, 3 resolved (配送チーム, プラットフォーム, デザイン, データ基盤)",
    "Pike digest 2026-04-09: 7 overdue tasks (" + "Team-" * 20 + ")",  # a word longer than a line
]


@pytest.mark.parametrize("preview", [False, True], ids=["digest", "preview"])
@pytest.mark.parametrize("subject", LONG_SUBJECTS, ids=range(len(LONG_SUBJECTS)))
def test_a_long_subject_arrives_exactly_folded_between_words(subject, preview):
    """Issue 23 item 10: the bytes a real SMTP server received parse back to the subject exactly."""
    digest = dataclasses.replace(make_digest(), subject=subject)
    msg = make_message(digest, **({"preview": True, "preview_to": "me@example.com"} if preview else {}))
    with RecordingSmtpServer() as smtp:
        send_message(plain_settings(smtp.port), msg)
    [received] = smtp.messages
    parsed = email.message_from_bytes(received.data, policy=default)
    assert parsed["Subject"] == ("[Preview] " if preview else "") + subject
    head = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject_lines = head.split("Subject:", 1)[1].split("\r\n")
    subject_lines = subject_lines[:1] + [line for line in subject_lines[1:] if line.startswith(" ")]
    assert subject_lines[0].strip(), head  # never folded right after "Subject:"
    assert all(len(line) <= 78 for line in subject_lines[1:]) and len("Subject:" + subject_lines[0]) <= 78


# --- SMTP -----------------------------------------------------------------------------------


def test_starttls_required_but_not_offered_fails_before_auth():
    with RecordingSmtpServer(auth=True, password=PASSWORD) as smtp:
        settings = SmtpSettings(host="127.0.0.1", port=smtp.port, sender="reports@example.com",
                                security="starttls", username="digest", password=SecretStr(PASSWORD))
        with pytest.raises(SmtpSecurityError) as info:
            send_message(settings, make_message(make_digest()))
    assert "STARTTLS" in str(info.value) and PASSWORD not in str(info.value)
    assert smtp.auth_commands == [] and smtp.logins == [] and smtp.messages == []


def test_auth_over_plain_refused_for_non_loopback_host():
    settings = SmtpSettings(host="smtp.example.invalid", port=25, sender="reports@example.com", security="none",
                            username="digest", password=SecretStr(PASSWORD), timeout=2)
    with pytest.raises(DigestDeliveryError) as info:
        send_message(settings, make_message(make_digest()))
    assert PASSWORD not in str(info.value)


def test_auth_on_loopback_and_password_hidden_from_repr():
    with RecordingSmtpServer(auth=True, password=PASSWORD) as smtp:
        settings = plain_settings(smtp.port, username="digest", password=SecretStr(PASSWORD))
        send_message(settings, make_message(make_digest()))
    assert smtp.logins == [("digest", PASSWORD)] and len(smtp.messages) == 1
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_refused_recipient_is_a_typed_error():
    with RecordingSmtpServer(refuse={"gone@example.com"}) as smtp, pytest.raises(DigestDeliveryError) as info:
        send_message(plain_settings(smtp.port), make_message(make_digest("gone@example.com")))
    assert info.value.recipient == "gone@example.com" and info.value.permanent and "550" in info.value.reason


def test_settings_from_env_and_block():
    env = {"PIKE_REPORTS_SMTP_HOST": "smtp.example.com", "PIKE_REPORTS_SMTP_USER": "u",
           "PIKE_REPORTS_SMTP_PASSWORD": PASSWORD, "PIKE_REPORTS_SMTP_SECURITY": "SSL",
           "PIKE_REPORTS_EMAIL_FROM": SENDER}
    s = SmtpSettings.from_env(env)
    assert (s.host, s.port, s.security, s.username, s.sender) == ("smtp.example.com", 465, "ssl", "u", SENDER)
    assert s.password.get_secret_value() == PASSWORD and PASSWORD not in repr(s)
    from prefect_email import EmailServerCredentials

    block = EmailServerCredentials(username="u@example.com", password=PASSWORD, smtp_server="smtp.example.com",
                                   smtp_type="STARTTLS")
    b = SmtpSettings.from_block(block, sender=SENDER)
    assert (b.host, b.port, b.security, b.sender) == ("smtp.example.com", 587, "starttls", SENDER)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_port_is_smtp_unavailable_at_once():
    settings = plain_settings(_closed_port())
    started = time.monotonic()
    with pytest.raises(SmtpUnavailable) as info:
        send_message(settings, make_message(make_digest()))
    assert time.monotonic() - started < 2
    assert info.value.recipient == "lead@example.com" and not info.value.permanent
    assert f"127.0.0.1:{settings.port} unavailable: connection refused" in str(info.value)


def test_silent_server_times_out_as_unavailable_after_the_configured_timeout(monkeypatch):
    import socket

    with socket.socket() as listener:  # accepts TCP (the kernel does) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        monkeypatch.setenv("PIKE_REPORTS_SMTP_TIMEOUT", "0.5")
        settings = SmtpSettings.from_env({**os.environ, "PIKE_REPORTS_SMTP_HOST": "127.0.0.1",
                                          "PIKE_REPORTS_SMTP_PORT": str(listener.getsockname()[1]),
                                          "PIKE_REPORTS_SMTP_SECURITY": "none", "PIKE_REPORTS_EMAIL_FROM": SENDER})
        started = time.monotonic()
        with pytest.raises(SmtpUnavailable) as info:
            check_smtp(settings)
    assert settings.timeout == 0.5 and time.monotonic() - started < 3
    assert "no answer within 0.5 s (PIKE_REPORTS_SMTP_TIMEOUT)" in str(info.value)


def test_smtp_timeout_setting():
    base = {"PIKE_REPORTS_SMTP_HOST": "smtp.example.com", "PIKE_REPORTS_EMAIL_FROM": SENDER}
    assert SmtpSettings.from_env(base).timeout == 30
    assert SmtpSettings.from_env({**base, "PIKE_REPORTS_SMTP_TIMEOUT": "7.5"}).timeout == 7.5
    for bad in ("soon", "0", "-3", "inf"):
        with pytest.raises(PikeConfigError, match="PIKE_REPORTS_SMTP_TIMEOUT"):
            SmtpSettings.from_env({**base, "PIKE_REPORTS_SMTP_TIMEOUT": bad})


def test_wrong_password_is_auth_failed_after_exactly_one_attempt():
    wrong = "wrong-pw-7f3a"
    with RecordingSmtpServer(auth=True, password=PASSWORD) as smtp:
        settings = plain_settings(smtp.port, username="digest", password=SecretStr(wrong))
        with pytest.raises(SmtpAuthFailed) as info:
            send_message(settings, make_message(make_digest()))
    assert info.value.permanent and info.value.recipient == "lead@example.com"
    assert len(smtp.auth_commands) == 1 and smtp.logins == [("digest", wrong)] and smtp.messages == []
    assert "refused the login as digest: 535" in str(info.value)
    assert wrong not in str(info.value) and PASSWORD not in str(info.value)


def test_check_smtp_logs_in_and_sends_nothing():
    with RecordingSmtpServer(auth=True, password=PASSWORD) as smtp:
        check_smtp(plain_settings(smtp.port, username="digest", password=SecretStr(PASSWORD)))
        check_smtp(plain_settings(smtp.port))  # no username: connect and EHLO only
    assert smtp.logins == [("digest", PASSWORD)] and smtp.messages == [] and smtp.handler.rcpt_attempts == []


def test_check_smtp_failures_are_one_typed_line_without_the_password():
    wrong = "wrong-pw-7f3a"
    with RecordingSmtpServer(auth=True, password=PASSWORD) as smtp:
        port = smtp.port
        failures = []
        for settings, expected in [
            (plain_settings(_closed_port(), username="digest", password=SecretStr(wrong)), SmtpUnavailable),
            (plain_settings(port, username="digest", password=SecretStr(wrong)), SmtpAuthFailed),
            (SmtpSettings(host="127.0.0.1", port=port, sender="reports@example.com", security="starttls",
                          username="digest", password=SecretStr(wrong)), SmtpSecurityError),
        ]:
            with pytest.raises(expected) as info:
                check_smtp(settings)
            failures.append(str(info.value))
    assert len(smtp.auth_commands) == 1  # the wrong password was tried once, by the AUTH case only
    for text in failures:
        assert len(text.splitlines()) == 1 and wrong not in text and "digest not delivered" not in text
    assert failures[0].startswith("SMTP server 127.0.0.1:") and "connection refused" in failures[0]


def test_typed_errors_survive_pickling():
    import pickle

    for error in (SmtpUnavailable("a@example.com", "down"), SmtpAuthFailed("", "535 no")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and copy.permanent == error.permanent


def test_write_eml_round_trips(tmp_path):
    path = write_eml(make_message(make_digest()), tmp_path / "lead.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=default)
    assert msg["Subject"].startswith("Pike digest 2026-04-09")


# --- once and only once (the store's ledger) ---------------------------------------------------


@pytest.fixture
def state(tmp_path, prefect_harness):
    """A fresh report store per test, so records never leak between tests."""
    yield tmp_path


SOURCE = "test-workspace"


def send_prepared(prepared, *, as_of, settings, store, workspace, team_ids=None, resend_to=None, **flags):
    """The email channel of the delivery engine over already assembled messages (call inside a flow):
    (the digest folder, the outcomes by address)."""
    from pike_tasks.delivery.engine import DeliveryTarget, deliver
    from pike_tasks.delivery.options import DeliveryOptions
    from pike_tasks.delivery.smtp import EmailChannel

    options = DeliveryOptions(resend_to=tuple(resend_to) if resend_to is not None else None, **flags)
    folder, outcomes = deliver([(EmailChannel(settings), [p.outbound() for p in prepared])],
                               DeliveryTarget(as_of, store, workspace, team_ids), options)
    return folder, outcomes["email"]


def _send_flow():
    from prefect import flow

    from pike_tasks.delivery.email import PreparedDigest
    from pike_tasks.store import open_store

    @flow(name="test-send-digests")
    def send(recipients: list[str], port: int, out: str, force: bool = False, preview_to: str | None = None,
             skip_if_empty: bool = False, counts: dict | None = None, source: str = SOURCE, dry_run: bool = False,
             data_timeout: float = 600.0, connections: int | None = None, changed: dict | None = None,
             skip_if_unchanged: bool = False):
        prepared = []
        for r in recipients:
            d = make_digest(r, n=(counts or {}).get(r, 2))
            new, resolved = (changed or {}).get(r, (1, 0))
            prepared.append(PreparedDigest(r, d.subject, d.overdue_count,
                                           make_message(d, preview=bool(preview_to), preview_to=preview_to),
                                           new_count=new, resolved_count=resolved, has_baseline=changed is not None))
        _, outcomes = send_prepared(
            prepared, as_of=AS_OF, settings=plain_settings(port, data_timeout=data_timeout), store=open_store(out),
            workspace=source,
            force=force, preview_to=preview_to, skip_if_empty=skip_if_empty, dry_run=dry_run, connections=connections,
            skip_if_unchanged=skip_if_unchanged,
        )
        return outcomes

    return send


MANAGERS = ["a.lead@example.com", "b.lead@example.com", "c.lead@example.com"]


def test_retry_and_rerun_send_nothing_twice_and_force_resends(state):
    send = _send_flow()
    with RecordingSmtpServer(defer={"b.lead@example.com": 1}) as smtp:
        first = send(MANAGERS, smtp.port, str(state))  # b: 451 once, task retried, delivered
        assert {r: o["status"] for r, o in first.items()} == dict.fromkeys(MANAGERS, "sent")
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == MANAGERS
        again = send(MANAGERS, smtp.port, str(state))  # a re-run (or a retried flow)
        assert {o["status"] for o in again.values()} == {"already-sent"}
        assert len(smtp.messages) == 3
        send(["B.Lead@Example.com"], smtp.port, str(state))  # address case does not matter
        assert len(smtp.messages) == 3
        forced = send(MANAGERS[:1], smtp.port, str(state), force=True)
        assert forced[MANAGERS[0]]["status"] == "sent" and len(smtp.messages) == 4
        send(MANAGERS[:1], smtp.port, str(state))
        assert len(smtp.messages) == 4
    assert smtp.handler.rcpt_attempts.count("b.lead@example.com") == 2


def test_another_workspace_is_not_blocked_by_this_ones_record(state):
    """The record is keyed by the data source: the demo sandbox never marks real managers served."""
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        send(MANAGERS[:1], smtp.port, str(state), source="sandbox-fingerprint")
        out = send(MANAGERS[:1], smtp.port, str(state), source="real-workspace-fingerprint")
    assert out[MANAGERS[0]]["status"] == "sent" and len(smtp.messages) == 2


def test_addresses_that_differ_only_in_punctuation_or_accents_each_get_their_digest(state):
    """o'brien@ and o_brien@, zoë@ and zoé@ are four people: four emails, four .eml names."""
    from pike_tasks.delivery.email import eml_name

    people = ["o'brien@example.com", "o_brien@example.com", "zoë@example.com", "zoé@example.com"]
    assert len({eml_name(p) for p in people}) == 4
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        out = send(people, smtp.port, str(state))
        assert {o["status"] for o in out.values()} == {"sent"}
        dry = send(people, smtp.port, str(state / "dry"), dry_run=True)
    assert len(smtp.messages) == 4
    assert len({o["eml"] for o in dry.values()}) == 4
    assert len(list((state / "dry" / "digest" / AS_OF.isoformat()).glob("*.eml"))) == 4


def test_a_digest_claimed_by_another_run_is_not_sent_again(state):
    """Two workers racing: the one that finds the other's claim sends nothing and does not fail."""
    from pike_tasks.once import DeliveryLedger
    from pike_tasks.store import open_store

    ledger = DeliveryLedger(open_store(str(state)), "manager", AS_OF, SOURCE)
    assert ledger.claim(MANAGERS[0], {"flow_run": "worker-a-run"}, after=0)
    assert not ledger.claim(MANAGERS[0], {"flow_run": "worker-b-run"}, after=0)  # create-only
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        out = send(MANAGERS[:2], smtp.port, str(state))
    assert out[MANAGERS[0]]["status"] == "claimed-elsewhere" and "worker-a-run" in out[MANAGERS[0]]["reason"]
    assert out[MANAGERS[1]]["status"] == "sent"
    assert [m.rcpt_tos for m in smtp.messages] == [[MANAGERS[1]]]


def test_a_crash_between_the_250_and_the_record_is_unknown_never_resent_until_forced(state, monkeypatch):
    """The store fails right after the server accepted the message: not recorded as sent, not resent."""
    from pike_tasks.once import SENT, Claim, DeliveryLedger
    from pike_tasks.store import StoreError, open_store

    settle = Claim.settle

    def store_gone(self, outcome, **extra):
        if outcome == SENT:
            self._stop.set()  # the run is gone: no more renewals
            raise StoreError("store unreachable")
        settle(self, outcome, **extra)

    monkeypatch.setenv("PIKE_REPORTS_CLAIM_LEASE_SECONDS", "2")
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        with monkeypatch.context() as m:
            m.setattr(Claim, "settle", store_gone)
            crashed = send(MANAGERS[:1], smtp.port, str(state), return_state=True)
        assert crashed.is_failed() and len(smtp.messages) == 1
        ledger = DeliveryLedger(open_store(str(state)), "manager", AS_OF, SOURCE)
        _wait_for(lambda: ledger.standing(MANAGERS[0]).status == "unknown", 10)  # the lease lapsed
        later = send(MANAGERS[:1], smtp.port, str(state))
        assert later[MANAGERS[0]]["status"] == "unknown" and len(smtp.messages) == 1
        assert "--resend-to" in later[MANAGERS[0]]["reason"]
        summary = json.loads((state / "digest" / AS_OF.isoformat() / "summary.json").read_text())
        assert summary["digests"][0]["status"] == "unknown"
        forced = send(MANAGERS[:1], smtp.port, str(state), force=True)
        assert forced[MANAGERS[0]]["status"] == "sent" and len(smtp.messages) == 2


def _wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_preview_goes_only_to_preview_address_and_is_not_recorded(state):
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        send(MANAGERS, smtp.port, str(state), preview_to="me@example.com")
        assert [m.rcpt_tos for m in smtp.messages] == [["me@example.com"]] * 3
        assert all(m.message["Subject"].startswith("[Preview] ") for m in smtp.messages)
        send(MANAGERS, smtp.port, str(state))  # the real send still happens afterwards
    assert sorted(m.rcpt_tos[0] for m in smtp.messages[3:]) == MANAGERS


def test_refused_recipient_does_not_stop_others_and_is_named(state):
    from pike_tasks.delivery.engine import DigestSendFailed

    send = _send_flow()
    with RecordingSmtpServer(refuse={"b.lead@example.com"}) as smtp:
        state_ = send(MANAGERS, smtp.port, str(state), return_state=True)
        assert state_.is_failed()
        with pytest.raises(DigestSendFailed) as info:
            state_.result()
        assert "b.lead@example.com" in str(info.value) and "a.lead" not in str(info.value)
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["a.lead@example.com", "c.lead@example.com"]
        assert smtp.handler.rcpt_attempts.count("b.lead@example.com") == 1  # 550 is permanent: no retry
        send(["a.lead@example.com", "c.lead@example.com"], smtp.port, str(state))  # a re-run
    assert len(smtp.messages) == 2


def test_skip_if_empty(state):
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        out = send(MANAGERS[:2], smtp.port, str(state), skip_if_empty=True, counts={MANAGERS[0]: 0})
    assert out[MANAGERS[0]]["status"] == "skipped-empty" and [m.rcpt_tos for m in smtp.messages] == [[MANAGERS[1]]]


_SECOND_PROCESS = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_email import _send_flow
    out = _send_flow()({recipients!r}, {port}, {out!r})
    print("STATUS", sorted(o["status"] for o in out.values()))
""")


def test_a_second_machine_sharing_only_the_store_does_not_resend(state):
    """Two processes with separate PREFECT_HOMEs (two machines) and one report store: the
    store's record alone stops the second one."""
    from prefect.settings import PREFECT_API_URL

    tests = str(Path(__file__).parent)
    with RecordingSmtpServer() as smtp:
        outputs = []
        for n in (1, 2):
            home = state / f"machine-{n}"
            env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": str(home),
                   "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                   "PYTHONPATH": str(Path(tests).parent)}
            code = _SECOND_PROCESS.format(tests=tests, recipients=MANAGERS[:2], port=smtp.port,
                                          out=str(state / "store"))
            proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr[-2000:]
            outputs.append(proc.stdout)
    assert "STATUS ['sent', 'sent']" in outputs[0]
    assert "STATUS ['already-sent', 'already-sent']" in outputs[1]
    assert len(smtp.messages) == 2


def test_a_final_reply_slower_than_the_data_timeout_is_unknown_and_sent_exactly_once(state):
    """RFC 5321 lets a server take minutes to answer the end of DATA: no reply in time means the
    outcome is unknown, which is recorded and never retried, so the manager gets one copy."""
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        smtp.handler.data_delay = 2.0  # the server accepts the message, but answers after 2 s
        out = send(MANAGERS[:2], smtp.port, str(state), data_timeout=0.5)
        assert {r: o["status"] for r, o in out.items()} == dict.fromkeys(MANAGERS[:2], "unknown")
        assert all("may have been delivered" in o["reason"] for o in out.values())
        again = send(MANAGERS[:2], smtp.port, str(state), data_timeout=0.5)  # a re-run does not resend it
        assert {o["status"] for o in again.values()} == {"unknown"}
        # each message went over the wire once (whether the server kept it is what is unknown)
        assert sorted(smtp.handler.rcpt_attempts) == MANAGERS[:2]
        summary = json.loads((state / "digest" / AS_OF.isoformat() / "summary.json").read_text())
        assert [d["status"] for d in summary["digests"]] == ["unknown", "unknown"]
        smtp.handler.data_delay = 0.0
        forced = send(MANAGERS[:1], smtp.port, str(state), force=True)  # resent on purpose
        assert forced[MANAGERS[0]]["status"] == "sent" and [m.rcpt_tos for m in smtp.messages][-1] == MANAGERS[:1]
        assert smtp.handler.rcpt_attempts.count(MANAGERS[0]) == 2


def test_a_dead_server_fails_the_remaining_recipients_at_once_and_a_later_run_sends_them(state):
    """With one connection at a time, the first failure stops the run (the rest "not tried")."""
    from pike_tasks.delivery.engine import DigestSendFailed

    send = _send_flow()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    failed = send(MANAGERS, dead_port, str(state), return_state=True, connections=1)
    with pytest.raises(DigestSendFailed) as info:
        failed.result()
    assert "3 of 3 digests not delivered" in str(info.value) and str(info.value).count("not tried") == 2


def test_a_dead_server_with_parallel_connections_is_tried_once(state):
    """Several connections at once: one connection and login come first, so an unreachable
    server (or a refused login) is tried once; every digest stays unsent and the next run sends them."""
    from pike_tasks.delivery.engine import DigestSendFailed

    send = _send_flow()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # nothing listens here once the probe closes
    many = [f"{c}.lead@example.com" for c in "abcdefg"]
    started = time.monotonic()
    failed = send(many, dead_port, str(state), return_state=True, connections=2)
    assert failed.is_failed() and time.monotonic() - started < 20
    with pytest.raises(DigestSendFailed) as info:
        failed.result()
    # one connection tried first (not one per connection): every digest is "not tried"
    assert "7 of 7 digests not delivered" in str(info.value) and str(info.value).count("not tried") == 7
    assert "failed before any digest was sent" in str(info.value)
    with RecordingSmtpServer() as smtp:
        later = send(many, smtp.port, str(state))
    assert {o["status"] for o in later.values()} == {"sent"} and len(smtp.messages) == 7


def test_one_stalled_recipient_does_not_hold_up_the_others(state):
    """Four SMTP connections at once (the default): the others are delivered while one server
    answer takes 3 s; each manager gets exactly one message and summary.json stays sorted."""
    from prefect.client.orchestration import get_client

    send = _send_flow()
    people = [f"{c}.lead@example.com" for c in "abcdefgh"]
    with RecordingSmtpServer() as smtp:
        smtp.handler.delay_for["a.lead@example.com"] = 3.0  # the first one, so a serial loop would wait
        started = time.monotonic()
        run = send(people, smtp.port, str(state), return_state=True)
    out = run.result()
    assert {o["status"] for o in out.values()} == {"sent"}
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == people  # exactly one each
    [stalled] = smtp.to("a.lead@example.com")
    others = [m.at for m in smtp.messages if m is not stalled]
    assert max(others) - started < stalled.at - started - 1.5  # the others were done well before it
    summary = json.loads((state / "digest" / AS_OF.isoformat() / "summary.json").read_text())
    assert [d["recipient"] for d in summary["digests"]] == people

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:  # the run's progress artifact ends at 100 %
        [progress] = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.state_details.flow_run_id]), type={"any_": ["progress"]}))
    assert progress.key == "digests-sent" and float(progress.data) == 100.0 and "8 of 8" in progress.description


def test_smtp_connections_setting():
    from pike_tasks.mailer import smtp_connections

    assert smtp_connections({}) == 4 and smtp_connections({"PIKE_REPORTS_SMTP_CONNECTIONS": " 8 "}) == 8
    for bad in ("0", "-1", "two", "1.5", "33"):
        with pytest.raises(PikeConfigError, match="PIKE_REPORTS_SMTP_CONNECTIONS") as info:
            smtp_connections({"PIKE_REPORTS_SMTP_CONNECTIONS": bad})
        assert len(str(info.value).splitlines()) == 1


def test_skip_if_unchanged_skips_only_digests_with_nothing_new_or_resolved(state):
    """With a baseline, a digest with nothing new and nothing resolved is skipped (and logged as
    such); without a baseline nothing can be called unchanged, so it is sent."""
    send = _send_flow()
    with RecordingSmtpServer() as smtp:
        out = send(MANAGERS, smtp.port, str(state), skip_if_unchanged=True,
                   changed={MANAGERS[0]: (0, 0), MANAGERS[1]: (0, 2), MANAGERS[2]: (3, 0)})
        assert {r: o["status"] for r, o in out.items()} == {
            MANAGERS[0]: "skipped-unchanged", MANAGERS[1]: "sent", MANAGERS[2]: "sent"}
        first_day = send(MANAGERS[:1], smtp.port, str(state / "no-baseline"), skip_if_unchanged=True)
        assert first_day[MANAGERS[0]]["status"] == "sent"
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted([MANAGERS[1], MANAGERS[2], MANAGERS[0]])


# --- .eml names (issue 23 item 10) -------------------------------------------------------------

ODD_ADDRESSES = ["platform.lead@example.com", "Delivery.Lead@Example.com", "../x@y.example", "a/b@example.com",
                 ".hidden@example.com", "o'brien@example.com", "o_brien@example.com", "zoë@example.com"]


def test_the_local_smtp_server_names_each_eml_by_its_recipient_the_same_every_run(tmp_path):
    """The demo's inbox: ``platform.lead@example.com.eml``, not a number that changes with the order
    messages arrive in; an odd address never escapes the folder."""
    from pike_tasks.local_smtp import LocalSmtpServer

    def run(folder: Path, order: list[str]) -> list[str]:
        with LocalSmtpServer(folder) as smtp:
            settings = SmtpSettings(host=smtp.host, port=smtp.port, sender="reports@example.com", security="none")
            for address in order:
                send_message(settings, make_message(make_digest(recipient=address)))
        return sorted(p.name for p in folder.iterdir())

    first = run(tmp_path / "inbox" / "one", ODD_ADDRESSES)
    second = run(tmp_path / "inbox" / "two", ODD_ADDRESSES[::-1])
    assert first == second and len(first) == len(ODD_ADDRESSES)
    assert {"platform.lead@example.com.eml", "delivery.lead@example.com.eml", "o_brien@example.com.eml"} <= set(first)
    assert not any(name.startswith(".") or "/" in name for name in first)
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == ["one", "two"]  # nothing written beside
    assert not list(tmp_path.glob("*.eml"))


def test_a_second_message_to_one_recipient_gets_its_own_name(tmp_path):
    from pike_tasks.local_smtp import LocalSmtpServer

    with LocalSmtpServer(tmp_path) as smtp:
        settings = SmtpSettings(host=smtp.host, port=smtp.port, sender="reports@example.com", security="none")
        for _ in range(2):
            send_message(settings, make_message(make_digest(recipient="lead@example.com")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lead@example.com.eml", "lead@example.com~2.eml"]


def test_dry_run_eml_names_are_the_recipient_and_the_same_every_run():
    from pike_tasks.delivery.email import eml_name

    assert eml_name("platform.lead@example.com") == "platform.lead@example.com.eml"
    names = [eml_name(a) for a in ODD_ADDRESSES]
    assert names == [eml_name(a) for a in ODD_ADDRESSES] and len(set(names)) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names)
