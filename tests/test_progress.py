"""Progress lines for long phases: a 30+ page listing says where it is, a short one stays quiet."""

from __future__ import annotations

import datetime
import logging

import pytest

from pike_tasks.client import PikeClient
from pike_tasks.progress import ProgressLog, listing_progress
from pike_tasks.settings import ApiSettings


class Clock:
    """Half a second passes every time the clock is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


@pytest.fixture(scope="module")
def workspace():
    from pike_tasks.sandbox import generate_workspace

    return generate_workspace(7, datetime.date(2026, 4, 9), tasks=400, projects=20, members=10, customers=5)


def test_a_listing_of_40_pages_logs_pages_records_and_rate(sandbox_factory, workspace, caplog):
    server = sandbox_factory(workspace)
    log = logging.getLogger("test-progress")
    settings = ApiSettings(server.url, server.secret, rate_limit_per_sec=0)
    with (
        caplog.at_level(logging.INFO, logger="test-progress"),
        PikeClient(settings, page_limit=10, log=log, progress=listing_progress(log, clock=Clock())) as client,
    ):
        records = client.list_all("tasks")
    assert len(records) == 400 and client.stats["tasks"].pages == 40
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fetching tasks:")]
    assert 8 <= len(lines) <= 12  # every 2 s of (fake) time, not every page
    assert lines[0].startswith("fetching tasks: 4 pages, 40 records so far, ") and "pages/s after 2 s" in lines[0]
    assert caplog.records[-1].getMessage().startswith("fetched 400 tasks in 40 pages")  # the summary still ends it


def test_a_short_listing_logs_only_its_summary(sandbox_factory, workspace, caplog):
    server = sandbox_factory(workspace)
    log = logging.getLogger("test-progress")
    with (
        caplog.at_level(logging.INFO, logger="test-progress"),
        PikeClient(ApiSettings(server.url, server.secret, rate_limit_per_sec=0), log=log,
                   progress=listing_progress(log)) as client,
    ):
        client.list_all("members")
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == ["fetched 10 members"]


def test_a_known_total_gives_a_percentage_and_an_estimate():
    ticks = iter([0.0, 1.0, 2.5, 3.0, 5.0])
    lines = []

    class Log:
        def info(self, fmt, text):
            lines.append(text)

    progress = ProgressLog(Log(), "digests built", 400, clock=lambda: next(ticks))
    assert not progress.update(10)  # 1 s: too soon
    assert progress.update(100)  # 2.5 s
    assert not progress.update(120)  # 0.5 s after the last line
    assert progress.update(200)
    assert lines == ["digests built: 100 of 400 (25%), 40/s after 2 s, about 8 s left",
                     "digests built: 200 of 400 (50%), 40/s after 5 s, about 5 s left"]
