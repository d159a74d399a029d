"""Progress lines for the phases that can take more than a few seconds (no Prefect, no pandas).

A long listing, building hundreds of digests and sending them each say where they are every
``every_seconds`` (2 s) on the logger they are given: the CLI shows the Prefect run logger on
the console, the Prefect UI shows the same lines in the run's log. A phase that ends sooner
says nothing extra; its usual one-line summary is enough.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pike_tasks.client import ListingStats

PROGRESS_EVERY_SECONDS = 2.0

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


class ProgressLog:
    """``<what>: 120 of 400 (30%), 48/s after 3 s, about 6 s left`` at most every ``every_seconds``.

    Args:
        log: Where the lines go.
        what: What is counted (``digests built``).
        total: How many there will be, when known (then the line has a percentage and an estimate).
        every_seconds: The least time between two lines.
        clock: ``time.monotonic`` (injected in tests).
    """

    def __init__(self, log: Log, what: str, total: int | None = None, *, unit: str = "",
                 every_seconds: float = PROGRESS_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self.what, self.total, self.unit = log, what, total, unit
        self._every, self._clock = every_seconds, clock
        self._started = self._last = clock()
        self.lines = 0

    def update(self, done: int, detail: str = "") -> bool:
        """Log a line if ``every_seconds`` have passed since the last one; True if it did."""
        now = self._clock()
        if now - self._last < self._every:
            return False
        self._last = now
        self.lines += 1
        self._log.info("%s", self.line(done, now, detail))
        return True

    def line(self, done: int, now: float | None = None, detail: str = "") -> str:
        elapsed = max((self._clock() if now is None else now) - self._started, 1e-9)
        rate = done / elapsed
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.what}: {done:,}"
        if self.total:
            text += f" of {self.total:,}"
        text += unit
        if self.total:
            text += f" ({100 * done // self.total}%)"
        if detail:
            text += f", {detail}"
        text += f", {_rate(rate)}{unit}/s after {elapsed:.0f} s"
        if self.total and 0 < done < self.total and rate > 0:
            text += f", about {_duration((self.total - done) / rate)} left"
        return text


def listing_progress(log: Log, *, every_seconds: float = PROGRESS_EVERY_SECONDS,
                     clock: Callable[[], float] = time.monotonic) -> Callable[[ListingStats], None]:
    """A ``PikeClient(progress=...)`` callback: pages and records so far, and the page rate.

    The API does not say how many pages a listing has, so the line gives the rate, not a
    percentage: ``fetching tasks: 120 pages, 24,000 records so far, 48 pages/s after 3 s``.
    """
    lines: dict[str, ProgressLog] = {}

    def report(stats: ListingStats) -> None:
        progress = lines.get(stats.resource)
        if progress is None or stats.pages == 1:  # a new listing (or a retried one) starts the clock again
            progress = lines[stats.resource] = ProgressLog(log, f"fetching {stats.resource}", unit="pages",
                                                           every_seconds=every_seconds, clock=clock)
        progress.update(stats.pages, f"{stats.records:,} records so far")

    return report


def _rate(per_second: float) -> str:
    return f"{per_second:.1f}" if per_second < 10 else f"{per_second:.0f}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
