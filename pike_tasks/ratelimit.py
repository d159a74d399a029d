"""A client-side token bucket, shared by every client of one (base URL, secret) in the process.

Pike limits requests per secret and workspace. Four listings fetched in parallel threads (or
several clients in one flow run) must share one budget, so the buckets live in a module-level
registry. The registry is keyed by a keyed hash of the secret (a random per-process key), so
the secret itself is never stored or compared anywhere outside the client.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable

_PROCESS_KEY = os.urandom(32)
_registry: dict[tuple[str, str], TokenBucket] = {}
_registry_lock = threading.Lock()


class TokenBucket:
    """Thread-safe token bucket: ``rate`` tokens per second, up to ``burst`` (default ``max(1, rate)``).

    ``acquire`` reserves a token at once (the balance may go negative) and then sleeps outside
    the lock, so concurrent callers queue fairly, each for its own slot.
    """

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last = clock()
        self.configure(rate, burst)
        self._tokens = self.burst

    def configure(self, rate: float, burst: float | None = None) -> None:
        """Change the rate (and burst); the current balance is kept, capped at the new burst."""
        with self._lock:
            self.rate = float(rate)
            self.burst = float(burst) if burst is not None else max(1.0, self.rate)
            if hasattr(self, "_tokens"):
                self._tokens = min(self._tokens, self.burst)

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


def secret_key(secret: str) -> str:
    """A per-process keyed hash of the secret: stable within this process, useless outside it."""
    return hmac.new(_PROCESS_KEY, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def shared_bucket(base_url: str, secret: str, rate: float) -> TokenBucket | None:
    """The process-wide bucket for (base_url, secret) at ``rate`` req/s; None when ``rate`` is 0.

    A later client asking for another rate re-configures the shared bucket (the newest
    configuration wins), so there is only ever one budget per workspace secret.
    """
    if rate <= 0:
        return None
    key = (base_url, secret_key(secret))
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = _registry[key] = TokenBucket(rate)
        elif bucket.rate != rate:
            bucket.configure(rate)
    return bucket
