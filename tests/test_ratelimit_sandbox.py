"""The adaptive rate against the sandbox's real token bucket, over HTTP (no client-side ceiling)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from pike_tasks import ratelimit
from pike_tasks.client import PikeClient
from pike_tasks.sandbox import FaultConfig
from pike_tasks.settings import ApiSettings


def tiny_workspace(tasks: int) -> dict:
    return {"tasks": [{"id": f"t{i}"} for i in range(tasks)], "projects": [{"id": f"p{i}"} for i in range(30)],
            "customers": [{"id": "c"}], "members": [{"id": "m"}]}


def adaptive_client(server, **kwargs) -> PikeClient:
    """A client with default settings (no PIKE_API_RATE_LIMIT): adaptive, really sleeping."""
    return PikeClient(ApiSettings(server.url, server.secret), page_limit=10, **kwargs)


def statuses(server) -> list[int | None]:
    """The status of every request the server saw (it logs a request before its answer leaves,
    so once the client has its answers the log is complete)."""
    return [r.status for r in server.requests]


def test_converges_on_the_server_limit_without_a_storm_of_429s(sandbox_factory, caplog):
    rate = 20
    server = sandbox_factory(tiny_workspace(2000), faults=FaultConfig(rate=rate))  # 200 pages of 10
    caplog.set_level(logging.INFO, logger="pike_tasks.client")
    started = time.monotonic()
    with adaptive_client(server) as client:
        tasks = client.list_all("tasks")
    seconds = time.monotonic() - started
    assert [t["id"] for t in tasks] == [f"t{i}" for i in range(2000)]  # every record once, in order
    seen = statuses(server)
    assert seen.count(200) == 200 and set(seen) <= {200, 429}
    assert seen.count(429) <= 0.05 * len(seen)
    assert seconds <= 1.25 * 200 / rate + 0.5
    assert client.stats["tasks"].throttled == seen.count(429)
    line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fetched 2000 tasks")]
    assert len(line) == 1 and "; rate settled at " in line[0] and "answers 429" in line[0]
    assert ratelimit.shared_limiter(server.url, server.secret, None).rate() == pytest.approx(rate, rel=0.25)


def test_four_listings_share_one_learned_rate(sandbox_factory):
    rate = 25
    server = sandbox_factory(tiny_workspace(1200), faults=FaultConfig(rate=rate))  # 120 + 3 + 1 + 1 pages
    counts: dict[str, int] = {}

    def fetch(resource):
        with adaptive_client(server) as client:
            counts[resource] = len(client.list_all(resource))

    started = time.monotonic()
    threads = [threading.Thread(target=fetch, args=(r,)) for r in ("tasks", "projects", "customers", "members")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    assert counts == {"tasks": 1200, "projects": 30, "customers": 1, "members": 1}
    seen = statuses(server)
    assert seen.count(200) == 125
    assert seen.count(429) <= 0.05 * len(seen) + 2  # the first 429 finds up to four requests in flight
    assert seconds <= 1.25 * 125 / rate + 0.5


def test_recovers_when_the_server_limit_rises(sandbox_factory, monkeypatch):
    # PROBE_SECONDS scaled down from 3 s so the test takes seconds; test_ratelimit.py checks the
    # production constants against a simulated server with a fake clock
    monkeypatch.setattr(ratelimit, "PROBE_SECONDS", 1.0)
    server = sandbox_factory(tiny_workspace(4000), faults=FaultConfig(rate=20))
    limiter = ratelimit.shared_limiter(server.url, server.secret, None)
    page_times: list[float] = []
    with adaptive_client(server) as client:
        for i, _ in enumerate(client.iter_tasks()):
            if i % 10 == 0:
                page_times.append(time.monotonic())
                if len(page_times) == 60:
                    learned = limiter.rate()
                    server.faults.rate = 200  # the workspace's limit rises mid-listing
                    server.faults.burst = 200
    assert learned == pytest.approx(20, rel=0.25)
    last_second = [t for t in page_times if t > page_times[-1] - 1.0]
    assert len(last_second) >= 60  # three times the old limit, found again
    assert limiter.rate() is None or limiter.rate() > 60
    seen = statuses(server)
    assert seen.count(429) <= 0.05 * len(seen)
