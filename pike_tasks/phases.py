"""Where a run's time goes: seconds per phase (fetch, frames, join, each report's build, render,
publish), summed per name and logged in one line at the end of a run.

Pure (no Prefect): a flow opens :func:`collecting`; the code inside marks its phases with
:func:`phase` (or :func:`add` for time measured elsewhere, such as page conversion on a helper
thread). The log travels in a context variable, which Prefect copies into the threads of
submitted tasks; with no log open, :func:`phase` and :func:`add` cost nothing but a lookup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

PREFIX = "phases:"  # the run log line starts with it (benchmarks/big.py reads it)
PEAKS = "peak RSS (MiB) by the end of"


def peak_rss_mib() -> float:
    """This process's peak resident set so far (0.0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux (bytes on macOS: shown as is)
    return kib / 1024


class PhaseLog:
    """Seconds per phase name, in the order phases were first seen; safe to add to from threads."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._peak_mib: dict[str, float] = {}  # the process's peak RSS when the phase (last) ended
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        peak = peak_rss_mib()
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds
            self._peak_mib[name] = peak

    def seconds(self) -> dict[str, float]:
        with self._lock:
            return dict(self._seconds)

    def peaks_mib(self) -> dict[str, float]:
        with self._lock:
            return dict(self._peak_mib)

    def line(self) -> str:
        """E.g. ``phases: fetch 59.1 s, join 1.1 s, ...; peak RSS (MiB) by the end of: fetch 712, ...``."""
        parts = [f"{name} {seconds:.2f} s" for name, seconds in self.seconds().items()]
        peaks = [f"{name} {mib:.0f}" for name, mib in self.peaks_mib().items() if mib]
        memory = f"; {PEAKS}: {', '.join(peaks)}" if peaks else ""
        return f"{PREFIX} {', '.join(parts) or 'none'}{memory}"


_CURRENT: ContextVar[PhaseLog | None] = ContextVar("pike_phase_log", default=None)


@contextmanager
def collecting() -> Iterator[PhaseLog]:
    """A new :class:`PhaseLog` for the code inside (and the tasks it submits)."""
    log = PhaseLog()
    token = _CURRENT.set(log)
    try:
        yield log
    finally:
        _CURRENT.reset(token)


def current() -> PhaseLog | None:
    """The open log, if any (hand it to a helper thread: threads do not inherit context)."""
    return _CURRENT.get()


def add(name: str, seconds: float, log: PhaseLog | None = None) -> None:
    """Add ``seconds`` to phase ``name`` of ``log`` (default: the open one; none open: nothing)."""
    target = log if log is not None else _CURRENT.get()
    if target is not None:
        target.add(name, seconds)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the code inside as (part of) phase ``name``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)
