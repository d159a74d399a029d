"""pike_tasks.teams_webhook against the local Workflows webhook stand-in (tests/teams_fake.py)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from pike_tasks import teams_webhook as tw
from pike_tasks.teams_card import team_card

sys.path.insert(0, str(Path(__file__).parent))
from teams_fake import TeamsFake  # noqa: E402 - a tests/ helper

CARD = team_card({"teams": ["Platform"], "team_rows": [], "overdue_count": 0, "overdue_headline": "0 overdue tasks",
                  "has_baseline": False, "new_count": 0, "resolved_count": 0, "new": {"rows": []},
                  "due_soon": {"shown": False}, "rest": {"count": 0, "sections": []}, "as_of_long": "Thursday"})
SIG = "fake-signature-0123"


@pytest.fixture
def teams():
    with TeamsFake() as fake:
        yield fake


def test_a_card_is_posted(teams):
    assert tw.post_card(teams.url, CARD) == 202 and teams.cards == [CARD]


def test_429_is_waited_out(teams):
    waits = []
    teams.rate_limit(times=2, retry_after=4)
    assert tw.post_card(teams.url, CARD, sleep=waits.append) == 202
    assert waits == [4, 4] and len(teams.cards) == 1
    teams.rate_limit(times=3, retry_after=500)
    with pytest.raises(tw.TeamsRateLimited):
        tw.post_card(teams.url, CARD, sleep=waits.append, rate_limit_retries=2, max_wait=9)
    assert waits[2:] == [9, 9] and len(teams.cards) == 1


def test_a_dropped_answer_is_an_unknown_outcome_not_resent(teams):
    teams.drop_reply_after_accept()
    with pytest.raises(tw.TeamsOutcomeUnknown) as err:
        tw.post_card(teams.url, CARD)
    assert len(teams.cards) == 1 and SIG not in str(err.value) and "127.0.0.1" in str(err.value)


def test_refusals_name_the_host_never_the_secret_url(teams):
    with pytest.raises(tw.TeamsRejected) as err:
        tw.post_card(teams.url.replace(SIG, "wrong"), CARD)
    assert err.value.status == 404 and "wrong" not in str(err.value)
    with pytest.raises(tw.TeamsRejected) as err:
        tw.post_card(teams.url, {"type": "message", "attachments": [{"contentType": "x", "content": {}}]})
    assert err.value.status == 400 and SIG not in str(err.value)


def test_plain_http_elsewhere_is_refused_and_unreachable_is_typed():
    with pytest.raises(tw.TeamsConfigError) as err:
        tw.post_card(f"http://example.com/workflows?sig={SIG}", CARD)
    assert SIG not in str(err.value)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(tw.TeamsUnreachable) as err:
        tw.post_card(f"http://127.0.0.1:{port}/workflows?sig={SIG}", CARD)
    assert SIG not in str(err.value)
