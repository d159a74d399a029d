"""The digest's attachment stays under a stated size (issue 16): ``PIKE_REPORTS_ATTACHMENT_MAX_BYTES``.

The rule (pure, plain bytes): the CSV up to the limit; over it the CSV zipped, if the zip fits;
else nothing, and the digest links (or locates) the stored overdue.csv instead. Then the flow
end to end against the sandbox and a real SMTP server on 127.0.0.1, and the CLI refusing a
malformed setting in one line before any API call.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from pike_tasks.email_message import build_message, choose_attachment
from pike_tasks.errors import PikeConfigError
from pike_tasks.mailer import DEFAULT_ATTACHMENT_MAX_BYTES, ENV_ATTACHMENT_MAX_BYTES, attachment_max_bytes

sys.path.insert(0, str(Path(__file__).parent))
from smtp_server import RecordingSmtpServer  # noqa: E402 - after sys.path.insert (a tests/ helper)
from test_email import SENDER, make_digest  # noqa: E402 - after sys.path.insert (a tests/ helper)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_TEAMS = str(REPO / "teams.example.yaml")
AS_OF = date(2026, 4, 9)
# 400 rows that repeat themselves: deflate takes them to a small fraction of their size
CSV = ("task_id,team,title\r\n"
       + "".join(f"t{i:04d},Delivery,Write the quarterly report\r\n" for i in range(400))).encode()


def choose(csv: bytes, limit: int, **kw):
    return choose_attachment(csv, limit, csv_name="overdue.csv", **kw)


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


# --- the rule, on plain bytes ---------------------------------------------------------------


def test_a_csv_exactly_at_the_limit_is_attached_as_it_is():
    chosen = choose(CSV, len(CSV))
    assert (chosen.kind, chosen.filename, chosen.mimetype) == ("csv", "overdue.csv", "text/csv")
    assert chosen.data == CSV and chosen.parts == [("overdue.csv", CSV, "text/csv")]


def test_one_byte_over_the_limit_is_zipped_and_the_zip_holds_the_same_bytes():
    chosen = choose(CSV, len(CSV) - 1, stamp=AS_OF)
    assert (chosen.kind, chosen.filename, chosen.mimetype) == ("zip", "overdue.csv.zip", "application/zip")
    assert len(chosen.data) < len(CSV) // 5  # deflated, not stored
    assert _unzip(chosen.data) == {"overdue.csv": CSV}
    with zipfile.ZipFile(io.BytesIO(chosen.data)) as archive:
        [info] = archive.infolist()
    assert info.compress_type == zipfile.ZIP_DEFLATED and info.date_time[:3] == (2026, 4, 9)
    assert choose(CSV, len(CSV) - 1, stamp=AS_OF).data == chosen.data  # same CSV, same bytes


def test_a_zip_exactly_at_the_limit_is_attached_one_byte_over_is_not():
    zipped = choose(CSV, len(CSV) - 1).data
    fits = choose(CSV, len(zipped))
    assert fits.kind == "zip" and fits.data == zipped
    over = choose(CSV, len(zipped) - 1)
    assert (over.kind, over.filename, over.data, over.parts) == ("none", None, b"", [])
    assert over.csv_size == len(CSV) and over.limit == len(zipped) - 1


def test_a_limit_of_zero_attaches_nothing():
    assert choose(CSV, 0).kind == "none"
    assert choose(b"", 0).kind == "csv"  # nothing at all fits a limit of nothing


def test_the_setting_defaults_to_a_million_bytes_and_takes_whole_numbers():
    assert attachment_max_bytes({}) == DEFAULT_ATTACHMENT_MAX_BYTES == 1_000_000
    assert attachment_max_bytes({ENV_ATTACHMENT_MAX_BYTES: " "}) == 1_000_000
    assert attachment_max_bytes({ENV_ATTACHMENT_MAX_BYTES: "250000"}) == 250_000
    assert attachment_max_bytes({ENV_ATTACHMENT_MAX_BYTES: "0"}) == 0


@pytest.mark.parametrize("value", ["1MB", "-1", "1.5", "1e6", "18000001", "lots"])
def test_a_malformed_setting_is_one_line_naming_it(value):
    with pytest.raises(PikeConfigError) as info:
        attachment_max_bytes({ENV_ATTACHMENT_MAX_BYTES: value})
    message = str(info.value)
    assert message.startswith(ENV_ATTACHMENT_MAX_BYTES) and repr(value) in message and "\n" not in message


# --- what the digest says matches what is attached -------------------------------------------


def _parts(msg) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk()
            if not p.is_multipart() and p.get_content_disposition() != "attachment"}


def _message(chosen, csv_url=None, report_url="https://reports.example.com/overdue/2026-04-09/"):
    from pike_tasks.digest import render_digest

    digest = make_digest(n=25)
    rendered = render_digest(digest, report_url=report_url, attachment=chosen, csv_url=csv_url)
    return build_message(digest, rendered.html, rendered.text, sender=SENDER, attachments=chosen.parts)


def test_each_kind_of_attachment_is_named_in_both_parts():
    csv = _message(choose(CSV, len(CSV)))
    zipped = _message(choose(CSV, len(CSV) - 1))
    none = _message(choose(CSV, 10), csv_url="https://reports.example.com/overdue/2026-04-09/overdue.csv")
    assert [a.get_filename() for a in csv.iter_attachments()] == ["overdue.csv"]
    assert [a.get_filename() for a in zipped.iter_attachments()] == ["overdue.csv.zip"]
    assert list(none.iter_attachments()) == []
    for part in _parts(csv).values():
        assert "the attached overdue.csv" in part.replace("<strong>", "").replace("</strong>", "")
        assert "zip" not in part and "too large" not in part
    for part in _parts(zipped).values():
        plain = part.replace("<strong>", "").replace("</strong>", "")
        assert "the attached overdue.csv.zip (overdue.csv, zipped to keep this email small)" in plain
        assert "see overdue.csv in overdue.csv.zip" in plain  # the "and N more" line
        assert "the attached overdue.csv " not in plain and "too large" not in plain
    body = _parts(none)
    assert "too large to attach to this email, even zipped" in body["text/plain"]
    assert "Download overdue.csv: https://reports.example.com/overdue/2026-04-09/overdue.csv" in body["text/plain"]
    assert re.search(r'<a href="https://reports\.example\.com/overdue/2026-04-09/overdue\.csv"[^>]*>'
                     r"download overdue\.csv</a>", body["text/html"])
    for part in body.values():
        assert "attached overdue.csv" not in part and "see overdue.csv (not attached: see above)" in part


def test_a_limit_of_zero_says_attachments_are_off_not_that_the_list_is_too_large():
    message = _message(choose(CSV, 0), csv_url="https://reports.example.com/overdue/2026-04-09/overdue.csv")
    assert list(message.iter_attachments()) == []
    for part in _parts(message).values():
        assert "not attached to these emails" in part
        assert "too large" not in part and "zipped" not in part


def test_without_a_link_the_stored_csv_is_located_in_words_never_a_file_link():
    message = _message(choose(CSV, 10), csv_url="/srv/out/overdue/2026-04-09/overdue.csv",
                       report_url="/srv/out/overdue/2026-04-09")
    for part in _parts(message).values():
        assert "It is in the report store at /srv/out/overdue/2026-04-09/overdue.csv".lower() in part.lower()
        assert "file:" not in part and "href=\"/srv" not in part


# --- the flow end to end: sandbox, a real SMTP server, the store -----------------------------


@pytest.fixture
def flow_env(sandbox, tmp_path, monkeypatch, prefect_harness):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    monkeypatch.setenv("PIKE_REPORTS_EMAIL_FROM", "reports@example.com")
    monkeypatch.setenv("PIKE_REPORTS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PIKE_REPORTS_SMTP_SECURITY", "none")
    monkeypatch.delenv("PIKE_REPORTS_PUBLIC_URL", raising=False)
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        yield tmp_path


def _send(out: Path, monkeypatch, limit: str | None) -> tuple[dict, dict]:
    """Send every digest of the example teams to a fresh SMTP server; (received by address, flow output)."""
    from flows.digest import send_manager_digests

    if limit is None:
        monkeypatch.delenv(ENV_ATTACHMENT_MAX_BYTES, raising=False)
    else:
        monkeypatch.setenv(ENV_ATTACHMENT_MAX_BYTES, limit)
    with RecordingSmtpServer() as smtp:
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        result = send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=str(out))
    return {m.rcpt_tos[0]: m.message for m in smtp.messages}, result


def _attachments(msg) -> dict[str, bytes]:
    return {a.get_filename(): a.get_payload(decode=True) for a in msg.iter_attachments()}


def test_flow_zips_what_passes_a_small_limit_and_the_zip_holds_the_csv_byte_for_byte(flow_env, monkeypatch):
    plain, _ = _send(flow_env / "plain", monkeypatch, None)
    csvs = {to: _attachments(msg)["overdue.csv"] for to, msg in plain.items()}
    assert len(csvs) == 4 and all(csvs.values())
    limit = min(len(c) for c in csvs.values()) - 1  # every CSV is over it; the sandbox's CSVs deflate ~4x
    zipped, result = _send(flow_env / "zipped", monkeypatch, str(limit))
    assert sorted(zipped) == sorted(csvs)
    for to, msg in zipped.items():
        files = _attachments(msg)
        assert list(files) == ["overdue.csv.zip"], to
        assert len(files["overdue.csv.zip"]) <= limit
        assert _unzip(files["overdue.csv.zip"]) == {"overdue.csv": csvs[to]}
        for part in _parts(msg).values():
            assert "overdue.csv.zip (overdue.csv, zipped to keep this email small)" in part.replace("</strong>", "")
    log = json.loads((Path(result["digest"]) / "summary.json").read_text(encoding="utf-8"))
    assert {d["recipient"]: d["attachment"] for d in log["digests"]} == dict.fromkeys(csvs, "overdue.csv.zip")
    assert all(d["status"] == "sent" and 0 < d["attachment_bytes"] <= limit for d in log["digests"])


def test_flow_with_a_tiny_limit_attaches_nothing_and_says_where_the_full_list_is(flow_env, monkeypatch):
    received, result = _send(flow_env / "out", monkeypatch, "100")
    assert len(received) == 4
    stored = Path(result["overdue"]) / "overdue.csv"
    assert stored.is_file()
    for msg in received.values():
        assert list(msg.iter_attachments()) == [] and msg.get_content_type() == "multipart/alternative"
        body = _parts(msg)
        assert f"It is in the report store at {stored}" in body["text/plain"]
        assert f"it is in the report store at {stored}" in body["text/html"]
        for part in body.values():
            assert "too large to attach to this email, even zipped" in part
            assert "the attached" not in part and "file:" not in part
    log = json.loads((Path(result["digest"]) / "summary.json").read_text(encoding="utf-8"))
    assert [(d["attachment"], d["attachment_bytes"]) for d in log["digests"]] == [(None, 0)] * 4


def test_flow_with_a_malformed_limit_stops_before_any_api_call(flow_env, monkeypatch, sandbox):
    from flows.digest import send_manager_digests

    monkeypatch.setenv(ENV_ATTACHMENT_MAX_BYTES, "2 MB")
    with pytest.raises(PikeConfigError, match=ENV_ATTACHMENT_MAX_BYTES):
        send_manager_digests(teams_config=EXAMPLE_TEAMS, output_dir=str(flow_env / "out"), dry_run=True)
    assert sandbox.requests == []


# --- the CLI --------------------------------------------------------------------------------


def test_cli_refuses_a_malformed_limit_in_one_line_exit_2_no_api_call_no_mail(sandbox_factory, tmp_path):
    server = sandbox_factory({"tasks": []})
    with RecordingSmtpServer() as smtp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
        env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PIKE_API_BASE_URL=server.url, PIKE_API_SECRET=server.secret,
                   PIKE_REPORTS_SMTP_HOST="127.0.0.1", PIKE_REPORTS_SMTP_PORT=str(smtp.port),
                   PIKE_REPORTS_SMTP_SECURITY="none", PIKE_REPORTS_EMAIL_FROM="reports@example.com",
                   PIKE_REPORTS_ATTACHMENT_MAX_BYTES="1MB")
        for extra in ([], ["--dry-run"]):
            done = subprocess.run(
                [sys.executable, "-m", "flows.cli", "run", "digest", "--teams-config", EXAMPLE_TEAMS,
                 "--out", str(tmp_path / "out"), *extra], env=env, capture_output=True, text=True, timeout=240,
            )
            assert done.returncode == 2, done.stderr[-2000:]
            [line] = done.stderr.strip().splitlines()
            assert line == ("pike-reports: error: PIKE_REPORTS_ATTACHMENT_MAX_BYTES must be a whole number of bytes "
                            "from 0 to 18,000,000 (the largest digest attachment), not '1MB'")
            assert done.stdout == ""
    assert server.requests == [] and smtp.messages == []


def test_cli_refuses_a_malformed_connection_count_before_prefect_starts(sandbox_factory, tmp_path):
    server = sandbox_factory({"tasks": []})
    with RecordingSmtpServer() as smtp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
        env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PIKE_API_BASE_URL=server.url,
                   PIKE_API_SECRET=server.secret, PIKE_REPORTS_SMTP_HOST="127.0.0.1",
                   PIKE_REPORTS_SMTP_PORT=str(smtp.port), PIKE_REPORTS_SMTP_SECURITY="none",
                   PIKE_REPORTS_EMAIL_FROM="reports@example.com", PIKE_REPORTS_SMTP_CONNECTIONS="many")
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run", "digest", "--teams-config", EXAMPLE_TEAMS,
             "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=240,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pike-reports: error: PIKE_REPORTS_SMTP_CONNECTIONS must be a whole number")
    assert not (tmp_path / "prefect-home").exists()  # refused before Prefect started
    assert server.requests == [] and smtp.messages == []


def test_sizes_read_in_decimal_units_never_overstated():
    from pike_tasks.wording import byte_size

    assert [byte_size(n) for n in (1, 999, 1000, 9_999, 48_999, 999_999, 2_149_999)] == [
        "1 byte", "999 bytes", "1.0 KB", "9.9 KB", "48 KB", "999 KB", "2.1 MB"]
