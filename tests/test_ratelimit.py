"""The adaptive rate (pike_tasks.ratelimit) with a fake clock: pure, nothing sleeps."""

from __future__ import annotations

import math

import pytest

from pike_tasks import ratelimit
from pike_tasks.ratelimit import (
    BETA,
    MIN_ADAPTIVE_RATE,
    PROBE_MARGIN,
    PROBE_SECONDS,
    AdaptiveRateLimiter,
    AimdRate,
)

SECRET = "sk-live-0123456789-DO-NOT-LEAK"


class FakeClock:
    """``time.monotonic`` and ``time.sleep`` in one: sleeping moves the clock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class FakeServer:
    """A token bucket per secret, as the sandbox's (``TokenBuckets``): ``rate`` per second, a
    bucket of ``max(1, int(rate))``, a 429's Retry-After in whole seconds, at least 1."""

    def __init__(self, clock: FakeClock, rate: float) -> None:
        self.clock, self.rate = clock, rate
        self.tokens = float(max(1, int(rate)))
        self.last = clock()

    def take(self) -> int | None:
        size = max(1, int(self.rate))
        now = self.clock()
        self.tokens = min(size, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))


def fetch(limiter, clock, server, pages, *, latency=0.02, raise_to=None):
    """One listing page after the other, as ``PikeClient`` does: a slot, the round trip, and on a
    429 the Retry-After, then the same page again. ``raise_to`` = (page, new server rate).
    Returns (seconds, answers 429, requests)."""
    started, throttled, requests, done, retried = clock(), 0, 0, 0, False
    while done < pages:
        if raise_to is not None and done == raise_to[0]:
            server.rate = raise_to[1]
        sent_at = limiter.acquire(waited_retry_after=retried)
        requests += 1
        clock.now += latency / 2
        retry_after = server.take()
        clock.now += latency / 2
        limiter.record(sent_at, 429 if retry_after else 200, retry_after)
        retried = bool(retry_after)
        if retry_after:
            throttled += 1
            clock.sleep(retry_after)
        else:
            done += 1
    return clock() - started, throttled, requests


# -- the controller ----------------------------------------------------------------------------

def test_no_limit_until_the_first_429_unless_there_is_a_ceiling():
    assert AimdRate().rate(0.0) is None
    assert AimdRate(ceiling=7.5).rate(0.0) == 7.5


def test_the_first_429_halves_our_own_send_rate_and_answers_in_flight_do_not_cut_again():
    control = AimdRate()
    for i in range(40):  # 40 requests in the last second
        control.on_sent(10.0 + i / 40)
    assert control.on_throttled(11.0, sent_at=10.98)
    assert control.limit == pytest.approx(BETA * 40, rel=0.03)
    assert control.rate(11.0) == pytest.approx((1 - PROBE_MARGIN) * control.limit)
    # two more answers 429 for requests that were on their way before the cut: the same event
    assert not control.on_throttled(11.01, sent_at=10.99)
    assert not control.on_throttled(11.02, sent_at=10.995)
    assert (control.cuts, control.throttled) == (1, 3)


def test_the_next_429_estimates_the_limit_from_what_the_server_accepted_in_between():
    control = AimdRate()
    for i in range(100):
        control.on_sent(i / 100)
    control.on_throttled(1.0, sent_at=0.99)  # the server's burst hid its rate: a blunt cut to 50
    for i in range(23):  # 23 accepted in the 1.15 s to the next 429: the server refills 20 a second
        control.on_sent(1.0 + i / 20)
        control.on_accepted(1.0 + i / 20)
    assert control.on_throttled(2.15, sent_at=2.14)
    assert control.limit == pytest.approx(20.0)
    assert control.rate(2.15) == pytest.approx(18.0)


def test_an_estimate_is_never_above_the_rate_just_refused_nor_below_the_floor():
    control = AimdRate()
    control.on_sent(0.0)
    control.on_throttled(0.05, sent_at=0.0)  # one request sent, then a 429: 1 per 0.1 s window
    assert control.limit == pytest.approx(BETA * 10)
    for _ in range(1000):  # far more accepted than the rate allowed: a bad count must not raise it
        control.on_accepted(0.1)
    control.on_sent(1.0)
    control.on_throttled(1.0, sent_at=1.0)
    assert control.limit <= BETA * 10
    lonely = AimdRate()
    lonely.on_sent(0.0)
    for t in (30.0, 60.0, 90.0):  # one request now and then, each refused
        lonely.on_sent(t)
        lonely.on_throttled(t + 0.01, sent_at=t)
    assert lonely.limit == MIN_ADAPTIVE_RATE


def test_the_rate_grows_back_as_a_cubic_flat_around_the_estimate_then_fast():
    control = AimdRate()
    control.limit, control.cut_at = 20.0, 0.0
    busy = [t / 100 for t in range(0, 6000)]  # keep the send rate high, so only the cubic limits
    for t in busy:
        control.on_sent(t)

    def at(t):
        return control.rate(t)

    assert at(0.0) == pytest.approx(18.0)
    assert at(PROBE_SECONDS) == pytest.approx(20.0)
    assert 20.0 < at(2 * PROBE_SECONDS) == pytest.approx(22.0)  # 10% above after 2 K
    assert at(3 * PROBE_SECONDS) == pytest.approx(20.0 * (1 + PROBE_MARGIN * 8))
    assert at(PROBE_SECONDS - 1) < at(PROBE_SECONDS) < at(PROBE_SECONDS + 1)


def test_the_rate_never_runs_ahead_of_twice_what_is_sent_nor_past_the_ceiling():
    control = AimdRate()
    control.limit, control.cut_at = 20.0, 0.0
    for i in range(30):  # 30 requests in the second before t=60
        control.on_sent(59.01 + i / 30)
    assert control.send_rate(60.0) == pytest.approx(30, rel=0.02)
    assert control.rate(60.0) == pytest.approx(2 * control.send_rate(60.0))  # the cubic alone: 20 * 273
    idle = AimdRate()
    idle.limit, idle.cut_at = 20.0, 0.0
    assert idle.rate(3600.0) == 20.0  # an idle client keeps what it learned, no more
    capped = AimdRate(ceiling=15.0)
    capped.limit, capped.cut_at = 20.0, 0.0
    assert capped.rate(100.0) == 15.0


# -- against a simulated server bucket ---------------------------------------------------------

@pytest.mark.parametrize("rate", [5, 20, 100])
@pytest.mark.parametrize("pages", [100, 500])
def test_converges_to_the_server_limit_without_a_storm_of_429s(rate, pages):
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    seconds, throttled, requests = fetch(limiter, clock, FakeServer(clock, rate), pages)
    bound = max(pages * 0.02, pages / rate)
    assert seconds <= 1.1 * bound
    assert throttled <= 0.05 * requests
    if rate < 50:  # 100/s is more than one page at a time can use: no 429, no limit
        assert limiter.rate() == pytest.approx(rate, rel=0.2)
    else:
        assert throttled == 0 and limiter.rate() is None


def test_finds_a_raised_limit_again_within_seconds():
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    seconds, throttled, _ = fetch(limiter, clock, FakeServer(clock, 20), 1000, latency=0.001, raise_to=(200, 100))
    # 200 pages at 20/s and 800 at 100/s would take 18 s; at the old limit it would take 50 s
    assert seconds < 25
    assert limiter.rate() > 60
    assert throttled < 10


def test_a_limit_that_drops_is_followed_down():
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    server = FakeServer(clock, 50)
    fetch(limiter, clock, server, 500, latency=0.001)
    server.rate = 10
    seconds, throttled, requests = fetch(limiter, clock, server, 300, latency=0.001)
    assert seconds < 1.15 * 300 / 10
    assert throttled <= 0.05 * requests
    assert limiter.rate() == pytest.approx(10, rel=0.2)


def test_the_ceiling_holds_even_when_the_server_allows_more():
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(8.0, clock=clock, sleep=clock.sleep)
    seconds, throttled, _ = fetch(limiter, clock, FakeServer(clock, 100), 200, latency=0.001)
    assert throttled == 0
    assert seconds == pytest.approx((200 - 8) / 8, rel=0.02)  # after a first second's burst of 8


# -- the limiter ---------------------------------------------------------------------------------

def test_a_ceiling_paces_callers_after_a_burst_of_one_second():
    clock = FakeClock(0.0)
    waits: list[float] = []
    limiter = AdaptiveRateLimiter(4.0, clock=clock, sleep=waits.append)
    sent = [limiter.acquire() for _ in range(6)]
    assert sent == [0.0, 0.0, 0.0, 0.0, pytest.approx(0.25), pytest.approx(0.5)]
    assert waits == [pytest.approx(0.25), pytest.approx(0.5)]
    clock.now = 100.0  # refilled, but never beyond one second's worth
    assert [limiter.acquire() for _ in range(5)][-1] == pytest.approx(100.25)


def test_retry_after_holds_every_caller_and_a_deadline_caps_the_wait():
    clock = FakeClock(0.0)
    waits: list[float] = []
    limiter = AdaptiveRateLimiter(clock=clock, sleep=waits.append)
    limiter.record(limiter.acquire(), 200)
    limiter.record(limiter.acquire(), 429, retry_after=2.0)
    assert limiter.acquire() == pytest.approx(2.0)  # another thread: held too
    assert waits == [pytest.approx(2.0)]
    waits.clear()
    limiter.acquire(deadline=0.5)
    assert waits == [pytest.approx(0.5)]  # the caller then raises its deadline error
    waits.clear()
    clock.now = 1.9  # the retry of the refused request has waited its Retry-After itself (the client's sleep)
    assert limiter.acquire(waited_retry_after=True) == 1.9 and waits == []


def test_describe_says_where_the_rate_settled():
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.describe() == "no 429 seen, no rate limit needed"
    capped = AdaptiveRateLimiter(12.0, clock=clock, sleep=clock.sleep)
    assert capped.describe() == "no 429 seen, rate at its ceiling of 12 req/s"
    fetch(limiter, clock, FakeServer(clock, 20), 300)
    said = limiter.describe()
    assert said.startswith(("rate settled at 19.", "rate settled at 20.")) and " answers 429 (" in said
    assert said.endswith(" req/s allowed now)")


def test_limiter_is_shared_per_base_url_and_secret_without_storing_the_secret():
    a = ratelimit.shared_limiter("http://x", SECRET, None)
    assert ratelimit.shared_limiter("http://x", SECRET, None) is a
    assert ratelimit.shared_limiter("http://x", "other", None) is not a
    assert ratelimit.shared_limiter("http://y", SECRET, None) is not a
    assert ratelimit.shared_limiter("http://x", SECRET, 0) is None
    assert ratelimit.shared_limiter("http://x", SECRET, 5.0) is a and a.ceiling == 5.0  # the newest ceiling wins
    assert not [text for text in _reachable_text(ratelimit) if SECRET in text]


def _reachable_text(module) -> list[str]:
    """Every str (and bytes, decoded) held in ``module``'s globals, through dicts, lists, tuples,
    sets and the attributes of objects of the module's own classes (the shared limiters)."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[object] = list(vars(module).values())
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, bytes):
            found.append(node.decode("latin-1"))
        elif isinstance(node, dict):
            todo += [*node.keys(), *node.values()]
        elif isinstance(node, (list, tuple, set, frozenset)):
            todo += list(node)
        elif type(node).__module__ == module.__name__ and hasattr(node, "__dict__"):
            todo += list(vars(node).values())
    return found
