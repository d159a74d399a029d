"""pike_tasks.slack_client against the local fake of Slack's Web API (tests/slack_fake.py) over HTTP.

Waits for Retry-After go through a recording ``sleep``, so the rate-limit tests take no time.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import pytest

pytest.importorskip("slack_sdk")

from pike_tasks import slack_client as sc  # noqa: E402 - after the importorskip above
from pike_tasks.slack_blocks import check_limits, digest_message  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from slack_fake import TOKEN, SlackFake  # noqa: E402 - a tests/ helper

KEY = "ws1/2026-04-09/slack/U0ADA"


@pytest.fixture
def slack():
    with SlackFake() as fake:
        fake.add_user("ada@example.com", "U0ADA")
        fake.add_channel("C0PLATFORM", "platform")
        fake.add_channel("C0OUTSIDE", "outside", member=False)
        yield fake


@pytest.fixture
def waits():
    return []


@pytest.fixture
def client(slack, waits):
    return sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=TOKEN), timeout=5, sleep=waits.append)


def small(text="3 overdue tasks"):
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def test_check_auth_names_the_team_and_a_bad_token_is_one_line_naming_the_setting(slack, caplog):
    good = sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=TOKEN))
    assert good.check_auth().team == "Pike Test"
    bad_token = "xoxb-wrong-token-do-not-print"
    bad = sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=bad_token))
    with caplog.at_level(logging.DEBUG), pytest.raises(sc.SlackAuthError) as err:
        bad.check_auth()
    message = str(err.value)
    assert sc.ENV_TOKEN in message and "\n" not in message and err.value.code == "invalid_auth"
    assert bad_token not in message and bad_token not in caplog.text


def test_settings_from_the_environment():
    with pytest.raises(sc.SlackConfigError, match=sc.ENV_TOKEN):
        sc.SlackSettings.from_env({})
    settings = sc.SlackSettings.from_env({sc.ENV_TOKEN: TOKEN})
    assert settings.api_url == "https://slack.com/api/" and TOKEN not in repr(settings)
    local = sc.SlackSettings.from_env({sc.ENV_TOKEN: TOKEN, sc.ENV_API_URL: "http://127.0.0.5:9/api"})
    assert local.api_url == "http://127.0.0.5:9/api/"


@pytest.mark.parametrize("url", ["http://slack.example.com/api/", "http://10.0.0.1/api/", "http://[::2]/api/"])
def test_plain_http_to_a_non_loopback_host_is_refused_in_one_line(url):
    with pytest.raises(sc.SlackConfigError) as err:
        sc.SlackSettings.from_env({sc.ENV_TOKEN: TOKEN, sc.ENV_API_URL: url})
    assert sc.ENV_API_URL in str(err.value) and "\n" not in str(err.value) and TOKEN not in str(err.value)
    with pytest.raises(sc.SlackConfigError):
        sc.SlackClient(sc.SlackSettings(api_url=url, token=TOKEN))


@pytest.mark.parametrize("url", ["http://localhost:1/api/", "http://127.1.2.3/api/", "http://[::1]:8/api/",
                                 "https://slack.example.com/api/"])
def test_loopback_http_and_https_are_accepted(url):
    assert sc.check_api_url(url) == url


def test_lookup_user_finds_caches_and_says_none_for_a_stranger(client, slack):
    assert client.lookup_user("Ada@Example.com ") == "U0ADA"
    assert client.lookup_user("ada@example.com") == "U0ADA"
    assert len(slack.calls_of("users.lookupByEmail")) == 1
    assert client.lookup_user("nobody@example.com") is None
    assert client.lookup_user("nobody@example.com") is None
    assert len(slack.calls_of("users.lookupByEmail")) == 2


def test_a_dm_is_posted_with_its_metadata_and_within_the_limits(client, slack):
    sys.path.insert(0, str(Path(__file__).parent))
    import digest_sample as sample

    from pike_tasks.digest import build_digests, digest_view

    view = digest_view(build_digests(**sample.inputs())[1], app_url_template="https://app.pike.example/t/{id}")
    channel = client.open_dm(client.lookup_user("ada@example.com") or "")
    ts = client.post(channel, digest_message(view), sc.digest_metadata(KEY))
    [message] = slack.messages
    assert message.ts == ts and message.channel == channel == "D0ADA"
    assert message.metadata == {"event_type": sc.EVENT_TYPE, "event_payload": {"digest_key": KEY}}
    assert message.text.startswith("6 overdue tasks")
    assert check_limits({"text": message.text, "blocks": message.blocks}) == []
    posted = slack.calls_of("chat.postMessage")[0]
    assert posted["unfurl_links"] is False and posted["unfurl_media"] is False


def test_429_with_retry_after_is_waited_out_and_posts_once(client, slack, waits):
    slack.rate_limit("chat.postMessage", times=2, retry_after=3)
    client.post("C0PLATFORM", small())
    assert waits == [3, 3]
    assert len(slack.calls_of("chat.postMessage")) == 3 and len(slack.messages) == 1


def test_the_stand_ins_one_post_per_second_per_channel_is_waited_out(slack):
    """limit_posts_per_channel: a second post to a channel within 1 s is a 429 with Retry-After 1;
    the client really waits it out; another channel (a DM) is not held up."""
    import time

    client = sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=TOKEN), timeout=5)
    slack.limit_posts_per_channel(1.0)
    start = time.monotonic()
    client.post("C0PLATFORM", small())
    client.post(client.open_dm("U0ADA"), small())
    assert time.monotonic() - start < 0.9 and slack.state.post_429s == 0
    client.post("C0PLATFORM", small())
    assert time.monotonic() - start >= 1.0
    assert slack.state.post_429s == 1 and len(slack.messages) == 3
    assert len(slack.calls_of("chat.postMessage")) == 4


def test_429_on_a_read_is_retried_too(client, slack, waits):
    slack.rate_limit("users.lookupByEmail", times=1, retry_after=1)
    assert client.lookup_user("ada@example.com") == "U0ADA" and waits == [1]


def test_a_long_retry_after_is_capped_and_the_retries_are_bounded(slack, waits):
    client = sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=TOKEN), rate_limit_retries=2, max_wait=5,
                            sleep=waits.append)
    slack.rate_limit("chat.postMessage", times=5, retry_after=120)
    with pytest.raises(sc.SlackRateLimited) as err:
        client.post("C0PLATFORM", small())
    assert waits == [5, 5] and err.value.retry_after == 120 and slack.messages == []
    assert len(slack.calls_of("chat.postMessage")) == 3


def test_a_reply_dropped_after_the_post_is_an_unknown_outcome_never_resent(client, slack):
    slack.drop_reply_after_post()
    with pytest.raises(sc.SlackOutcomeUnknown) as err:
        client.post("C0PLATFORM", small(), sc.digest_metadata(KEY))
    assert "\n" not in str(err.value) and TOKEN not in str(err.value)
    assert len(slack.calls_of("chat.postMessage")) == 1 and len(slack.messages) == 1


def test_a_read_timeout_after_the_post_is_an_unknown_outcome_never_resent(slack, waits):
    client = sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=TOKEN), timeout=0.3, sleep=waits.append)
    slack.stall_reply_after_post()
    with pytest.raises(sc.SlackOutcomeUnknown) as err:
        client.post("C0PLATFORM", small(), sc.digest_metadata(KEY))
    assert "timed out" in str(err.value).lower() or "timeout" in str(err.value).lower()
    assert len(slack.calls_of("chat.postMessage")) == 1 and len(slack.messages) == 1
    assert client.find_posted("C0PLATFORM", sc.EVENT_TYPE, KEY) is True


def test_find_posted_settles_an_unknown_outcome_by_metadata(client, slack):
    slack.drop_reply_after_post()
    with pytest.raises(sc.SlackOutcomeUnknown):
        client.post("C0PLATFORM", small(), sc.digest_metadata(KEY))
    client.post("C0PLATFORM", small(), sc.digest_metadata("another/key"))
    assert client.find_posted("C0PLATFORM", sc.EVENT_TYPE, KEY) is True
    assert client.find_posted("C0PLATFORM", sc.EVENT_TYPE, "ws1/2026-04-10/slack/U0ADA") is False
    assert client.find_posted("C0PLATFORM", "other_event", KEY) is False
    assert client.find_posted("C0PLATFORM", sc.EVENT_TYPE, KEY, oldest="9999999999.000000") is False
    assert client.find_posted("#platform", sc.EVENT_TYPE, KEY) is None  # history takes channel ids only
    slack.state.history_scope = False
    assert client.find_posted("C0PLATFORM", sc.EVENT_TYPE, KEY) is None


def test_find_posted_pages_through_the_history(client, slack, monkeypatch):
    monkeypatch.setattr(sc, "HISTORY_PAGE", 2)
    client.post("C0PLATFORM", small(), sc.digest_metadata(KEY))
    for i in range(5):
        client.post("C0PLATFORM", small(), sc.digest_metadata(f"later/{i}"))
    assert client.find_posted("C0PLATFORM", sc.EVENT_TYPE, KEY) is True
    assert len(slack.calls_of("conversations.history")) == 3


def test_channel_errors_are_typed_and_one_line(client):
    with pytest.raises(sc.SlackNotInChannel) as err:
        client.post("C0OUTSIDE", small())
    assert "invite" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(sc.SlackChannelNotFound):
        client.post("#no-such-channel", small())
    assert client.find_posted("C0OUTSIDE", sc.EVENT_TYPE, KEY) is None


def test_a_payload_over_the_limits_is_rejected_with_slacks_code(client):
    too_many = {"text": "x", "blocks": [{"type": "divider"}] * 51}
    with pytest.raises(sc.SlackRejected) as err:
        client.post("C0PLATFORM", too_many)
    assert err.value.code == "invalid_blocks"
    with pytest.raises(sc.SlackRejected) as err:
        client.post("C0PLATFORM", {"text": "x" * 40_001})
    assert err.value.code == "msg_too_long"


def test_nothing_sent_when_slack_cannot_be_reached(waits):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = sc.SlackClient(sc.SlackSettings(api_url=f"http://127.0.0.1:{port}/api/", token=TOKEN), timeout=2,
                            sleep=waits.append)
    with pytest.raises(sc.SlackUnreachable) as err:
        client.post("C0PLATFORM", small())
    assert TOKEN not in str(err.value)


def test_the_token_is_in_no_error_and_no_log(slack, caplog):
    client = sc.SlackClient(sc.SlackSettings(api_url=slack.url, token=TOKEN), sleep=lambda s: None)
    errors = []
    slack.drop_reply_after_post()
    slack.rate_limit("chat.postMessage", times=9)
    with caplog.at_level(logging.DEBUG):
        for channel in ("C0PLATFORM", "C0OUTSIDE", "#nope"):
            try:
                client.post(channel, small())
            except sc.SlackError as exc:
                errors.append(exc)
        slack.state.rate_limits.clear()
        for channel in ("C0PLATFORM", "C0OUTSIDE", "#nope"):
            try:
                client.post(channel, small())
            except sc.SlackError as exc:
                errors.append(exc)
    assert {type(e) for e in errors} >= {sc.SlackRateLimited, sc.SlackOutcomeUnknown, sc.SlackNotInChannel}
    assert all(TOKEN not in str(e) and TOKEN not in repr(e.args) for e in errors)
    assert TOKEN not in caplog.text
