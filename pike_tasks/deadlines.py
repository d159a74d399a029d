"""A total deadline per HTTP request, enforced by shutting down the socket of a request that overruns it.

The read timeout of ``requests`` bounds each socket read, not the request: a server (or a proxy)
that sends one byte every few seconds keeps a request alive forever, in the headers or the body.
So every request of ``PikeClient`` runs under a ``guard``: one watchdog thread for the process
keeps the guards' deadlines, and at a deadline shuts the guarded request's socket down. The
blocked read then returns, urllib3 raises (or the body comes back short), and the client sees
``guard.expired`` and reports the deadline instead of a network error.

The socket is found through the connection pool: sessions made by the client mount
``TrackingAdapter``, whose pools record in the guard the connection each request checks out.
Requests are made on the thread that armed the guard (``PikeClient`` never shares its session
between threads), so a thread-local links the two.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests.adapters
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

RECHECK_SECONDS = 0.05  # a guard that expired before its connection had a socket looks again this often
_MAX_WAIT = 3600.0  # Condition.wait overflows on huge timeouts; wake up and look again instead

_current = threading.local()


class RequestGuard:
    """The deadline of one request, and the connection it is using (set by the pool)."""

    __slots__ = ("deadline", "conn", "expired", "done")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conn: Any = None
        self.expired = False
        self.done = False

    def _fire(self) -> bool:
        """Called by the watchdog at the deadline: shut the socket down; True to look again later."""
        if self.done:
            return False
        self.expired = True
        sock = getattr(self.conn, "sock", None)
        if sock is None:  # not connected yet (the connect timeout bounds that); the socket comes soon
            return True
        with contextlib.suppress(OSError):
            # wakes a blocked recv on this socket (close() would not); socket.socket's own method,
            # since SSLSocket.shutdown also drops the TLS object the reading thread is still using
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return False


@contextmanager
def guard(deadline: float) -> Iterator[RequestGuard]:
    """Run the request made inside this block under ``deadline`` (a ``time.monotonic`` value)."""
    request_guard = RequestGuard(deadline)
    _current.guard = request_guard
    _watchdog.arm(request_guard)
    try:
        yield request_guard
    finally:
        request_guard.done = True  # the watchdog drops it lazily
        _current.guard = None


class _Watchdog:
    """One daemon thread firing guards at their deadlines (a heap; finished guards dropped lazily)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, RequestGuard]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, request_guard: RequestGuard) -> None:
        with self._cond:
            while self._heap and self._heap[0][2].done:  # keep the top meaningful without a wake-up
                heapq.heappop(self._heap)
            heapq.heappush(self._heap, (request_guard.deadline, next(self._order), request_guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pike-request-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is request_guard:  # earlier than what the thread waits for
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(_MAX_WAIT)
                    continue
                now = time.monotonic()
                when = self._heap[0][0]
                if when > now:
                    self._cond.wait(min(when - now, _MAX_WAIT))
                    continue
                _, _, due = heapq.heappop(self._heap)
                if due._fire():
                    heapq.heappush(self._heap, (now + RECHECK_SECONDS, next(self._order), due))


_watchdog = _Watchdog()


def _record_connection(conn: Any) -> Any:
    request_guard = getattr(_current, "guard", None)
    if request_guard is not None:
        request_guard.conn = conn
    return conn


class _TrackedHTTPConnectionPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _record_connection(super()._get_conn(timeout))


class _TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _record_connection(super()._get_conn(timeout))


_TRACKED_POOLS = {"http": _TrackedHTTPConnectionPool, "https": _TrackedHTTPSConnectionPool}


class TrackingAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose connection pools (direct or through a proxy) tell the current
    guard which connection its request uses, so the watchdog can shut that one down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _TRACKED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # SOCKS managers bring pool classes of their own; there the client falls back to the
        # connection of the response (body phase only)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _TRACKED_POOLS
        return manager
