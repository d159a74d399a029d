"""The client-side request rate, found rather than guessed, shared per (base URL, secret) in the process.

Pike limits requests "per secret and workspace" and does not publish the number. So the client
starts without a limit of its own and learns the workspace's limit from its 429 answers, as
TCP and the AWS SDKs' "adaptive" retry mode do (botocore ``retries/adaptive.py``: a token bucket
off until the first throttle, then a CUBIC rate):

* **Decrease** on a 429 (once per congestion event: a 429 for a request sent before the last
  cut is the same event). The new limit estimate is the rate of *accepted* requests since the
  previous cut, when that was less than ``ESTIMATE_WINDOW`` ago: between two 429s the server's
  bucket was empty both times, so what it let through in between is exactly its refill, a lower
  bound of its rate and a tight one while we kept it busy. It is never less than ``BETA`` times
  our own send rate of the last second (the classic multiplicative cut, and the only one
  available at the first 429, when the server's initial burst hides its rate), and never more
  than the rate that was just refused. Sending resumes ``PROBE_MARGIN`` under that estimate.
* **Increase** while requests succeed: a cubic in the time since the cut (CUBIC), scaled to the
  estimate so it behaves the same at 5 and at 500 requests/s: back at the estimate after
  ``PROBE_SECONDS``, flat around it for a while (few probing 429s: at most one every ~9 s
  against a server with a one-second burst), then growing fast, so a limit that was raised is
  found again in seconds (3x in about 11 s). Like botocore, the rate never runs ahead of twice
  what the client actually sends, so an idle client does not bank an unchecked rate.
* ``Retry-After`` of a 429 holds back every request of the shared limiter, not only the retried
  one: the whole secret is throttled, and the other threads would only collect more 429s.

``PIKE_API_RATE_LIMIT`` (``ApiSettings.rate_limit_per_sec``) is a ceiling on top of this for
operators who know their limit; 0 turns the limiter off (429s are still retried as always).

The limiters live in a module-level registry keyed by a keyed hash of the secret (a random
per-process key), so the secret itself is never stored or compared outside the client.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable

BETA = 0.5  # multiplicative cut of our own send rate when no better estimate exists (TCP Reno's 1/2)
ESTIMATE_WINDOW = 30.0  # s; accepted-since-the-last-cut is an estimate only over a recent interval
PROBE_MARGIN = 0.1  # resume 10% under the estimated limit ...
PROBE_SECONDS = 3.0  # ... and be back at it after this long (CUBIC's K), then probe beyond it
SEND_WINDOW = 1.0  # s of sends over which our own send rate is measured
MIN_ADAPTIVE_RATE = 0.5  # requests/s; the adaptive rate never goes lower (botocore's floor too)

_PROCESS_KEY = os.urandom(32)
_registry: dict[tuple[str, str], AdaptiveRateLimiter] = {}
_registry_lock = threading.Lock()


class AimdRate:
    """The rate controller alone: pure, every method takes the time (``time.monotonic`` seconds).

    Not thread-safe by itself; ``AdaptiveRateLimiter`` calls it under its lock.

    Args:
        ceiling: Never allow more than this many requests/s; None for no ceiling.
    """

    def __init__(self, ceiling: float | None = None) -> None:
        self.ceiling = ceiling
        self.limit: float | None = None  # the estimated server limit; None until the first 429
        self.cut_at: float | None = None  # when the last decrease happened
        self.throttled = 0  # 429 answers seen
        self.cuts = 0  # decreases made (congestion events)
        self._accepted = 0  # non-429 answers since the last cut
        self._sends: collections.deque[float] = collections.deque()
        self._first_send: float | None = None

    def rate(self, now: float) -> float | None:
        """Requests/s allowed at ``now``; None means no limit (no 429 yet and no ceiling)."""
        if self.limit is None:
            return self.ceiling
        if self.cut_at is None:  # set together with limit (the first 429)
            raise RuntimeError("rate limiter: a limit without the time it was cut")
        x = (now - self.cut_at - PROBE_SECONDS) / PROBE_SECONDS
        grown = self.limit * (1.0 + PROBE_MARGIN * x * x * x)
        rate = max(MIN_ADAPTIVE_RATE, min(grown, max(self.limit, 2.0 * self.send_rate(now))))
        return min(rate, self.ceiling) if self.ceiling is not None else rate

    def send_rate(self, now: float) -> float:
        """Our own requests/s over the last ``SEND_WINDOW`` (or since the first send, if shorter)."""
        sends = self._sends
        while sends and sends[0] <= now - SEND_WINDOW:
            sends.popleft()
        if self._first_send is None:
            return 0.0
        window = min(SEND_WINDOW, max(0.1, now - self._first_send))
        return len(sends) / window

    def on_sent(self, at: float) -> None:
        if self._first_send is None:
            self._first_send = at
        sends = self._sends
        sends.append(at)
        while sends[0] <= at - SEND_WINDOW:  # only the last second is ever read: keep no more
            sends.popleft()

    def on_accepted(self, now: float) -> None:
        """A request got an answer other than 429 (the server counted it against its limit)."""
        self._accepted += 1

    def on_throttled(self, now: float, sent_at: float) -> bool:
        """A request sent at ``sent_at`` got a 429 at ``now``; True if this cut the rate."""
        self.throttled += 1
        if self.cut_at is not None and sent_at < self.cut_at:
            return False  # in flight before the last cut: that cut already answered this event
        estimate = BETA * self.send_rate(now)
        if self.cut_at is not None and 0 < now - self.cut_at <= ESTIMATE_WINDOW:
            estimate = max(estimate, self._accepted / (now - self.cut_at))
        refused = self.rate(now)
        if refused is not None:
            estimate = min(estimate, refused)
        self.limit = max(MIN_ADAPTIVE_RATE, estimate)
        if self.ceiling is not None:
            self.limit = min(self.limit, self.ceiling)
        self.cut_at = now
        self._accepted = 0
        self.cuts += 1
        return True


class AdaptiveRateLimiter:
    """A token bucket whose rate ``AimdRate`` sets, plus the hold of a ``Retry-After``; thread-safe.

    ``acquire`` reserves a slot at once (the balance may go negative) and sleeps outside the
    lock, so concurrent callers queue fairly, each for its own slot. The bucket holds at most
    one second of requests (``max(1, rate)``).

    Args:
        ceiling: Requests/s never to exceed (``PIKE_API_RATE_LIMIT``); None for none.
        clock, sleep: ``time.monotonic`` and ``time.sleep``, or fakes.
    """

    def __init__(self, ceiling: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._control = AimdRate(ceiling)
        self._tokens = 0.0
        self._last = clock()
        self._hold_until = 0.0
        self._full = True  # the bucket starts full, whatever rate it gets later

    @property
    def ceiling(self) -> float | None:
        return self._control.ceiling

    def set_ceiling(self, ceiling: float | None) -> None:
        with self._lock:
            self._control.ceiling = ceiling
            if ceiling is not None and self._control.limit is not None:
                self._control.limit = min(self._control.limit, ceiling)

    def acquire(self, deadline: float | None = None, *, waited_retry_after: bool = False) -> float:
        """Wait for a slot; returns the time (clock) the request goes.

        Args:
            deadline: Never wait past this clock value (the caller then raises its deadline error).
            waited_retry_after: This is the retry of a request that got a 429 and has already
                waited its ``Retry-After``: the hold that answer put on everyone does not apply.
        """
        with self._lock:
            now = self._clock()
            start = now if waited_retry_after else max(now, self._hold_until)
            rate = self._control.rate(start)
            if rate is None:
                send_at = start
            else:
                burst = max(1.0, rate)
                if self._full:
                    self._tokens, self._full = burst, False
                elif start > self._last:
                    self._tokens = min(burst, self._tokens + (start - self._last) * rate)
                self._last = max(self._last, start)
                self._tokens -= 1.0
                send_at = self._last - self._tokens / rate if self._tokens < 0 else start
            self._control.on_sent(send_at)
        wait = send_at - now
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - now))
        if wait > 0:
            self._sleep(wait)
        return send_at

    def record(self, sent_at: float, status: int, retry_after: float | None = None) -> None:
        """The answer to a request sent at ``sent_at``: its HTTP status and, for a 429, its
        ``Retry-After`` in seconds (None if it had none)."""
        with self._lock:
            now = self._clock()
            if status != 429:
                self._control.on_accepted(now)
                return
            if retry_after:
                self._hold_until = max(self._hold_until, now + retry_after)
            if self._control.on_throttled(now, sent_at):
                self._tokens = min(self._tokens, 0.0)  # the server's bucket is empty: no burst into it
                self._full = False
                self._last = max(self._last, now)

    def rate(self) -> float | None:
        """Requests/s allowed now (None: no limit)."""
        with self._lock:
            return self._control.rate(self._clock())

    @property
    def throttled(self) -> int:
        return self._control.throttled

    def describe(self) -> str:
        """One phrase for the log: the limit it settled on (the estimate of the last cut) and
        what it allows now (around it, or beyond it while probing); or that none was needed."""
        with self._lock:
            control, now = self._control, self._clock()
            rate = control.rate(now)
            if control.limit is None:
                return "no 429 seen, " + (f"rate at its ceiling of {rate:g} req/s" if rate else "no rate limit needed")
            answers = "answer" if control.throttled == 1 else "answers"
            return (f"rate settled at {control.limit:.1f} req/s after {control.throttled} {answers} 429 "
                    f"({rate:.1f} req/s allowed now)")


def secret_key(secret: str) -> str:
    """A per-process keyed hash of the secret: stable within this process, useless outside it."""
    return hmac.new(_PROCESS_KEY, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def shared_limiter(base_url: str, secret: str, rate_limit: float | None) -> AdaptiveRateLimiter | None:
    """The process-wide limiter for (base_url, secret); None when ``rate_limit`` is 0 (off).

    ``rate_limit`` None: adaptive, no ceiling; a number: adaptive under that ceiling. A later
    client with another ceiling re-configures the shared limiter (the newest wins), so there is
    only ever one budget, and one learned limit, per workspace secret.
    """
    if rate_limit is not None and rate_limit <= 0:
        return None
    key = (base_url, secret_key(secret))
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = AdaptiveRateLimiter(rate_limit)
        elif limiter.ceiling != rate_limit:
            limiter.set_ceiling(rate_limit)
    return limiter
