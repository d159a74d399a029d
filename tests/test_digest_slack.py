"""Digests in Slack and Microsoft Teams through the real flow (issue 22): the delivery engine with
the Slack and Teams channels against local fakes (tests/slack_fake.py, tests/teams_fake.py), the
email beside them, the once-only ledger per channel."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml
from slack_fake import TOKEN, SlackFake
from smtp_server import RecordingSmtpServer

pytest.importorskip("slack_sdk")

DELIVERY = "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"
PLATFORM = "e5f6a7b8-c9d0-4123-e456-789abcdef012"
DESIGN = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
DATA = "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d"
USERS = {"delivery.lead@example.com": "U0DELIVERY", "platform.lead@example.com": "U0PLATFORM",
         "design.lead@example.com": "U0DESIGN"}  # data.lead@ is not in Slack
MANAGERS = ["data.lead@example.com", "delivery.lead@example.com", "design.lead@example.com",
            "platform.lead@example.com"]


def _teams_config(tmp_path: Path, channels: dict[str, str], webhooks: dict[str, str] | None = None) -> str:
    example = yaml.safe_load((Path(__file__).resolve().parents[1] / "teams.example.yaml").read_text())
    example["slack"] = {"direct_messages": True}
    for tid, channel in channels.items():
        example["teams"][tid]["slack_channel"] = channel
    for tid, block in (webhooks or {}).items():
        example["teams"][tid]["teams_webhook_secret"] = block
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(example), encoding="utf-8")
    return str(path)


@pytest.fixture
def slack_env(sandbox, tmp_path, monkeypatch, prefect_harness):
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    monkeypatch.setenv("PIKE_REPORTS_EMAIL_FROM", "reports@example.com")
    monkeypatch.setenv("PIKE_REPORTS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PIKE_REPORTS_SMTP_SECURITY", "none")
    monkeypatch.setenv("PIKE_REPORTS_SLACK_TOKEN", TOKEN)
    for name in ("PIKE_REPORTS_WORKSPACE", "PIKE_REPORTS_SMTP_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)
    with SlackFake() as slack, RecordingSmtpServer() as smtp, \
            temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        monkeypatch.setenv("PIKE_REPORTS_SLACK_API_URL", slack.url)
        monkeypatch.setenv("PIKE_REPORTS_SMTP_PORT", str(smtp.port))
        for address, user in USERS.items():
            slack.add_user(address, user)
        slack.add_channel("C0DELIVERY", "delivery")
        slack.add_channel("C0PLATFORM", "platform")
        yield slack, smtp, tmp_path


def _summary(out: dict) -> dict:
    return json.loads((Path(out["digest"]) / "summary.json").read_text())


def test_two_racing_workers_send_one_dm_per_manager_and_one_post_per_team_channel(slack_env):
    """Two flow runs at once against one store: every manager Slack knows gets one DM, each team
    channel one post, everyone one email; a manager Slack does not know is not-in-slack and still
    gets the email; the delivery log lists every channel's outcome per recipient."""
    from flows.digest import send_manager_digests

    slack, smtp, tmp_path = slack_env
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY", PLATFORM: "#platform"})
    store = str(tmp_path / "store")
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(send_manager_digests(teams_config=teams, output_dir=store, channels=["email", "slack"]))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(isinstance(r, dict) for r in results), results
    dms = sorted(m.channel for m in slack.messages if m.channel.startswith("D"))
    assert dms == sorted("D" + u[1:] for u in USERS.values())  # one DM each
    assert sorted(m.channel for m in slack.messages if m.channel.startswith("C")) == ["C0DELIVERY", "C0PLATFORM"]
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == MANAGERS  # one email each, data.lead@ too
    for message in slack.messages:
        assert message.metadata and message.metadata["event_type"] == "pike_digest_posted"
        assert "overdue" in message.text
    summary = _summary(results[0])  # type: ignore[arg-type]
    assert {r["recipient"] for r in summary["digests"]} == set(MANAGERS)
    slack_rows = {r["recipient"]: r for r in summary["channels"]["slack"]}
    assert slack_rows["data.lead@example.com"]["status"] == "not-in-slack"
    assert {slack_rows[a]["status"] for a in USERS} == {"sent"}
    assert slack_rows["C0DELIVERY"]["status"] == slack_rows["#platform"]["status"] == "sent"
    # per run: once before the fetch, once more just before the sends (as SMTP's login check)
    assert len(slack.calls_of("auth.test")) == 4
    assert len(slack.calls_of("users.lookupByEmail")) == 2 * 4  # cached within a run

    from pike_tasks.once import MANAGER_DIGEST, day_deliveries
    from pike_tasks.store import open_store

    rows = day_deliveries(open_store(store), MANAGER_DIGEST, _as_of(results[0]), "default")
    channels = {(d.channel, d.status) for d in rows}
    assert ("slack", "sent") in channels and ("email", "sent") in channels


def _as_of(out: object):
    from datetime import date

    return date.fromisoformat(Path(out["digest"]).name)  # type: ignore[index]


def test_a_dropped_reply_is_unknown_then_settled_from_history_on_the_next_run(slack_env):
    from flows.digest import send_manager_digests

    slack, _smtp, tmp_path = slack_env
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY"})
    store = str(tmp_path / "store")
    slack.drop_reply_after_post(1)  # the first accepted post: recorded, then the connection closes
    first = send_manager_digests(teams_config=teams, output_dir=store, channels=["slack"])
    statuses = [r["status"] for r in _summary(first)["channels"]["slack"]]
    assert statuses.count("unknown") == 1 and statuses.count("sent") == 3
    posted = len(slack.messages)
    assert posted == 4  # 3 DMs and the channel post: the dropped one arrived
    second = send_manager_digests(teams_config=teams, output_dir=store, channels=["slack"])
    assert len(slack.messages) == posted  # never resent
    rows = _summary(second)["channels"]["slack"]
    assert {r["status"] for r in rows if r["recipient"] != "data.lead@example.com"} == {"sent"}
    assert slack.calls_of("conversations.history")  # read back to settle it


def test_not_in_channel_is_one_clear_line_for_that_team_and_nobody_else_is_held_up(slack_env):
    from flows.digest import send_manager_digests
    from pike_tasks.delivery.engine import DigestSendFailed

    slack, smtp, tmp_path = slack_env
    slack.add_channel("C0DESIGN", "design", member=False)
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY", DESIGN: "C0DESIGN"})
    with pytest.raises(DigestSendFailed, match="not_in_channel"):
        send_manager_digests(teams_config=teams, output_dir=str(tmp_path / "store"), channels=["email", "slack"])
    assert len(smtp.messages) == 4 and len([m for m in slack.messages if m.channel.startswith("D")]) == 3
    [summary] = (tmp_path / "store" / "digest").glob("*/summary.json")
    rows = {r["recipient"]: r for r in json.loads(summary.read_text())["channels"]["slack"]}
    assert rows["C0DESIGN"]["status"] == "failed" and "invite it" in rows["C0DESIGN"]["reason"]
    assert "\n" not in rows["C0DESIGN"]["reason"]


def test_a_dry_run_writes_slack_json_beside_the_eml_files(slack_env):
    from flows.digest import send_manager_digests

    slack, smtp, tmp_path = slack_env
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY"})
    out = send_manager_digests(teams_config=teams, output_dir=str(tmp_path / "store"), channels=["email", "slack"],
                               dry_run=True)
    folder = Path(out["digest"])
    assert len(list(folder.glob("*.eml"))) == 4 and len(list(folder.glob("*.slack.json"))) == 5
    payload = json.loads(next(folder.glob("*.slack.json")).read_text())
    assert payload["block_kit_builder"].startswith("https://app.slack.com/block-kit-builder#")
    assert slack.messages == [] and smtp.messages == []


def test_slack_asked_for_but_not_configured_or_a_bad_token_is_one_line_before_any_api_call(
        slack_env, sandbox, monkeypatch):
    from flows.digest import send_manager_digests
    from pike_tasks.errors import PikeConfigError

    slack, _smtp, tmp_path = slack_env
    plain = str(Path(__file__).resolve().parents[1] / "teams.example.yaml")
    with pytest.raises(PikeConfigError, match="slack: nothing to post to") as info:
        send_manager_digests(teams_config=plain, output_dir=str(tmp_path / "a"), channels=["slack"])
    assert "\n" not in str(info.value)
    monkeypatch.setenv("PIKE_REPORTS_SLACK_TOKEN", "xoxb-wrong")
    with pytest.raises(PikeConfigError, match="PIKE_REPORTS_SLACK_TOKEN") as info:
        send_manager_digests(teams_config=_teams_config(tmp_path, {}), output_dir=str(tmp_path / "b"),
                             channels=["slack"])
    assert "xoxb-wrong" not in str(info.value)
    assert not any("/tasks" in r for r in sandbox.request_paths()) if hasattr(sandbox, "request_paths") else True


def test_a_manager_of_100_teams_still_gets_a_valid_slack_message():
    """The Slack channel's DM of a 100-team digest is within every Block Kit limit."""
    from datetime import date

    import pandas as pd

    from pike_tasks.delivery.channel import DigestSet
    from pike_tasks.delivery.digest import build_digests
    from pike_tasks.delivery.slack import SlackChannel, SlackLinks
    from pike_tasks.slack_blocks import check_limits

    as_of = date(2026, 4, 9)
    teams = {f"T{i:03d}": {"name": f"Team <!channel> *{i}* " + "x" * 200, "managers": ["lead@example.com"]}
             for i in range(100)}
    rows = pd.DataFrame([{
        "task_id": f"t{i}", "team_id": f"T{i % 100:03d}", "team": f"Team {i % 100}", "title": f"Fix <@U01> {i}",
        "project": "P", "customer": "C", "assignees": "A", "priority": "high", "status": "open",
        "due_date": "2026-04-01", "days_overdue": 8, "priority_rank": 1, "age_bucket": "8-30", "description": "",
    } for i in range(1000)])
    import digest_sample as sample

    resolved = sample.resolved_tasks().iloc[0:0]
    members = sample.members()
    [digest] = build_digests(resolved, members, rows, teams, as_of)
    assert len(digest.team_ids) == 100
    channel = SlackChannel(None, direct_messages=True, team_channels={}, key_prefix="w/2026-04-09/whole",
                           links=SlackLinks("https://reports.example.com/overdue/"))
    [item] = channel.prepare(DigestSet([digest]))
    payload = item.payload["message"]
    assert check_limits(payload) == []
    assert "<!channel>" not in json.dumps(payload) and "<@U01>" not in json.dumps(payload)


def test_each_real_send_emits_one_event_per_recipient_and_channel(slack_env, monkeypatch):
    """pike.digest.delivered per recipient and channel after a real send; none for a dry run, a
    not-in-slack manager, or a digest already sent."""
    from flows.digest import send_manager_digests
    from pike_tasks import events

    slack, _smtp, tmp_path = slack_env
    emitted: list[tuple[str, dict, dict]] = []
    monkeypatch.setattr(events, "_emit", lambda event, resource, payload: event.startswith("pike.digest.")
                        and emitted.append((event, resource, payload)))
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY"})
    store = str(tmp_path / "store")
    send_manager_digests(teams_config=teams, output_dir=store, channels=["email", "slack"], dry_run=True)
    assert emitted == []
    send_manager_digests(teams_config=teams, output_dir=store, channels=["email", "slack"])
    by_channel: dict[str, list[str]] = {}
    for event, resource, payload in emitted:
        assert event == events.DIGEST_DELIVERED and payload["status"] == "sent"
        assert "@" not in resource["prefect.resource.id"]  # the ledger's key, never an address
        by_channel.setdefault(payload["channel"], []).append(payload["recipient"])
    assert sorted(by_channel["email"]) == MANAGERS
    assert sorted(by_channel["slack"]) == sorted([*USERS.values(), f"C0DELIVERY:{DELIVERY}"])
    emitted.clear()
    send_manager_digests(teams_config=teams, output_dir=store, channels=["email", "slack"])
    assert emitted == []  # already sent: nothing happened, nothing to tell


def test_teams_cards_go_once_per_team_webhook_from_its_secret_block_and_the_url_is_never_shown(slack_env,
                                                                                                 caplog):
    from prefect.blocks.system import Secret
    from teams_fake import SECRET_PATH, TeamsFake

    from flows.digest import send_manager_digests
    from pike_tasks.errors import PikeConfigError

    _slack, _smtp, tmp_path = slack_env
    teams = _teams_config(tmp_path, {}, webhooks={DELIVERY: "delivery-teams-webhook", DESIGN: "design-teams-webhook"})
    store = str(tmp_path / "store")
    with pytest.raises(PikeConfigError, match="design-teams-webhook") as info:  # no such block yet
        send_manager_digests(teams_config=teams, output_dir=store, channels=["teams"])
    assert "\n" not in str(info.value)
    with TeamsFake() as receiver, caplog.at_level("INFO"):
        Secret(value=receiver.url).save("delivery-teams-webhook", overwrite=True)
        Secret(value=receiver.url).save("design-teams-webhook", overwrite=True)
        first = send_manager_digests(teams_config=teams, output_dir=store, channels=["teams"])
        again = send_manager_digests(teams_config=teams, output_dir=store, channels=["teams"])
        assert len(receiver.cards) == 2  # one per team, once
    rows = {r["recipient"]: r["status"] for r in _summary(first)["channels"]["teams"]}
    assert rows == {DELIVERY: "sent", DESIGN: "sent"}
    assert {r["run_status"] for r in _summary(again)["channels"]["teams"]} == {"already-sent"}
    assert "sig=" not in caplog.text and SECRET_PATH not in json.dumps(_summary(first))


def test_a_slack_channel_is_a_valid_resend_to_and_preview_to(slack_env):
    from flows.digest import send_manager_digests

    slack, smtp, tmp_path = slack_env
    slack.add_channel("C0PREVIEW", "digest-previews")
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY"})
    store = str(tmp_path / "store")
    send_manager_digests(teams_config=teams, output_dir=store, channels=["email", "slack"],
                         preview_to="#digest-previews")
    assert smtp.messages == [] and {m.channel for m in slack.messages} == {"C0PREVIEW"}
    assert len(slack.messages) == 5  # 4 DMs (a preview looks nobody up: data.lead@ too) and the channel post
    before = len(slack.messages)
    send_manager_digests(teams_config=teams, output_dir=store, channels=["slack"])
    send_manager_digests(teams_config=teams, output_dir=store, channels=["slack"], resend_to=["C0DELIVERY"])
    posts = [m for m in slack.messages[before:] if m.channel == "C0DELIVERY"]
    assert len(posts) == 2  # sent, then resent on purpose; the DMs were left alone
    assert len([m for m in slack.messages[before:] if m.channel.startswith("D")]) == 3


def test_cli_channels_option_checks_its_list_before_anything_starts(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIKE_", "PREFECT_"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "digest", "--sandbox", "--dry-run",
                           "--channels", "email,sms", "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line == "pike-reports: error: unknown channel 'sms': choose from email, slack, teams"


def test_parse_channels():
    from pike_tasks.delivery.options import parse_channels

    assert parse_channels(None) == ("email",) and parse_channels("") == ("email",)
    assert parse_channels(" Slack , email,slack") == ("slack", "email")
    assert parse_channels(["teams"]) == ("teams",)


def test_slack_lookups_failing_hold_nobody_else_up(slack_env):
    """users.lookupByEmail still rate limited after its retries: those DMs are 'not tried' (a later
    run sends them), while the emails and the team channel's post go out."""
    from flows.digest import send_manager_digests
    from pike_tasks.delivery.engine import DigestSendFailed

    slack, smtp, tmp_path = slack_env
    slack.rate_limit("users.lookupByEmail", times=100, retry_after=0)
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY"})
    with pytest.raises(DigestSendFailed, match="users.lookupByEmail"):
        send_manager_digests(teams_config=teams, output_dir=str(tmp_path / "store"), channels=["email", "slack"])
    assert len(smtp.messages) == 4
    assert [m.channel for m in slack.messages] == ["C0DELIVERY"]


def test_two_worker_processes_racing_send_one_dm_and_one_post_each(slack_env):
    """Two processes (two workers) run the flow at once against one store: each manager one DM and
    one email, each team channel one post, whichever process wins each claim."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    slack, smtp, tmp_path = slack_env
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY", PLATFORM: "C0PLATFORM"})
    code = ("from flows.digest import send_manager_digests\n"
            f"print(send_manager_digests(teams_config={teams!r}, output_dir={str(tmp_path / 'store')!r}, "
            "channels=['email', 'slack']))\n")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    assert sorted(m.channel for m in slack.messages) == sorted(
        ["C0DELIVERY", "C0PLATFORM", *("D" + u[1:] for u in USERS.values())])
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == MANAGERS


def test_the_token_from_the_setup_block_when_the_environment_has_none(slack_env, monkeypatch, capsys, caplog):
    """`pike-reports setup` saves PIKE_REPORTS_SLACK_TOKEN as the Secret block
    pike-reports-slack-token; a flow run with no token in its environment posts with the block's,
    and the token is in no log line, output or error (a refused one included)."""
    import logging

    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL

    from flows.digest import send_manager_digests
    from pike_tasks.errors import PikeConfigError
    from pike_tasks.setup_blocks import run_setup

    slack, smtp, tmp_path = slack_env
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))  # as on a worker: the block is looked up
    caplog.set_level(logging.DEBUG)
    lines = run_setup(None, env={"PIKE_REPORTS_SLACK_TOKEN": TOKEN}, echo=lambda line: None)
    assert "saved Secret block 'pike-reports-slack-token' (from PIKE_REPORTS_SLACK_TOKEN)" in lines
    assert Secret.load("pike-reports-slack-token").get() == TOKEN

    monkeypatch.delenv("PIKE_REPORTS_SLACK_TOKEN")
    teams = _teams_config(tmp_path, {DELIVERY: "C0DELIVERY"})
    send_manager_digests(teams_config=teams, output_dir=str(tmp_path / "store"), channels=["email", "slack"])
    assert len([m for m in slack.messages if m.channel.startswith("D")]) == 3
    assert [m.channel for m in slack.messages if m.channel.startswith("C")] == ["C0DELIVERY"]

    Secret(value="xoxb-refused-by-slack-999").save("pike-reports-slack-token", overwrite=True)  # type: ignore[arg-type]
    with pytest.raises(PikeConfigError, match="PIKE_REPORTS_SLACK_TOKEN") as info:
        send_manager_digests(teams_config=teams, output_dir=str(tmp_path / "other"), channels=["slack"])
    seen = capsys.readouterr().out + capsys.readouterr().err + caplog.text + str(info.value) + "\n".join(lines)
    seen += "".join(p.read_text(errors="replace") for p in (tmp_path / "store").rglob("*") if p.is_file()
                    and p.suffix in (".json", ".jsonl", ".log", ".txt", ".csv"))
    assert TOKEN not in seen and "xoxb-refused-by-slack-999" not in seen


def test_no_token_anywhere_names_the_setting_and_the_block(monkeypatch):
    from pike_tasks.slack_client import SlackConfigError, resolve_settings

    with pytest.raises(SlackConfigError, match="PIKE_REPORTS_SLACK_TOKEN is not set and there is no Prefect "
                                               "Secret block 'pike-reports-slack-token'"):
        resolve_settings({}, load_block=lambda: None)
    assert resolve_settings({}, load_block=lambda: "xoxb-from-block").token == "xoxb-from-block"  # noqa: S105
    assert resolve_settings({"PIKE_REPORTS_SLACK_TOKEN": "xoxb-env"},
                            load_block=lambda: "xoxb-from-block").token == "xoxb-env"
