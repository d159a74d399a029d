"""The store's home, rewritten at the end of each publish: ``<store>/index.html`` (every stored report
by date, newest first, with the overdue count, its change and the day's digests) and
``<store>/<report>/latest.html`` (a redirect to the newest complete whole-workspace report).

Built from a listing of the store, never from this run's memory: several workers publish to one
store. Each page is written whole (``pike_tasks.store.home.write_pages``). Of two publishes racing,
each rewrites from its own listing; a writer then lists again and rewrites while the store holds
something its pages do not show (at most ``ROUNDS`` times), so the last pages written include
both reports. A failure here never fails the publish that called it (``refresh_home``: one
warning line).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from pike_tasks import rules
from pike_tasks.home_view import HomeDay, HomeScope, home_view, latest_view
from pike_tasks.once import MANAGER_DIGEST, day_delivery_counts, ledger_dates
from pike_tasks.store import ReportStore, describe_error
from pike_tasks.store.home import (
    HOME_PAGE,
    PAGE_REPORTS,
    StoredFolder,
    changed_since,
    home_address,
    latest_key,
    parallel,
    read_small,
    scan,
    summary_of,
    write_pages,
)

ROUNDS = 3  # rewrites while racing publishes keep adding folders (each one lists the store again)

__all__ = ["ROUNDS", "home_address", "rebuild_home", "refresh_home"]


def rebuild_home(store: ReportStore, labels: Mapping[str, str] | None = None) -> list[str]:
    """Rewrite the home and every latest.html from what the store holds; returns the keys written.

    ``labels``: team id -> name, for the names of filtered scopes (ids without one are shown as they are).

    Raises:
        StoreError: the store could not be listed, read or written.
    """
    written: list[str] = []
    for _ in range(ROUNDS):
        found = scan(store)
        pages = _pages(store, found.folders, labels or {})
        write_pages(store, pages)
        written = list(pages)
        if not changed_since(store, found):
            break
    return written


def refresh_home(store: ReportStore, logger: Any, labels: Mapping[str, str] | None = None) -> None:
    """``rebuild_home`` after a publish: a failure is one warning line, never the publish's failure
    (the report itself is published already)."""
    try:
        rebuild_home(store, labels)
    except Exception as exc:  # noqa: BLE001 - the report is committed; the home is rewritten by the next publish
        logger.warning("store home not rewritten (the report is published; the next publish tries again): %s",
                       describe_error(exc))
        return
    logger.info("store home: %s", home_address(store))


def _pages(store: ReportStore, folders: list[StoredFolder], labels: Mapping[str, str]) -> dict[str, bytes]:
    from pike_tasks.render import render_latest_html, render_store_home_html

    by_scope: dict[str, list[StoredFolder]] = defaultdict(list)
    for folder in folders:
        by_scope[folder.scope].append(folder)
    by_scope.setdefault("", [])
    scopes = [_scope(store, prefix, found) for prefix, found in sorted(by_scope.items())]
    pages: dict[str, bytes] = {}
    latest: dict[str, str] = {}
    for report in PAGE_REPORTS:
        newest = max((f for f in by_scope[""] if f.report == report), key=lambda f: f.as_of, default=None)
        if newest is None:
            continue
        # relative to <report>/: the folder's key without the report's own name
        target = newest.href(rules.INDEX_HTML).split("/", 1)[1]
        pages[latest_key(report)] = render_latest_html(latest_view(report, target, newest.as_of)).encode("utf-8")
        latest[report] = latest_key(report)
    view = home_view(scopes, generated_at=rules.generated_at(), labels=labels, latest=latest)
    pages[HOME_PAGE] = render_store_home_html(view).encode("utf-8")  # last: it links the latest pages
    return pages


def _scope(store: ReportStore, prefix: str, folders: list[StoredFolder]) -> HomeScope:
    """One scope's days: its pages, the overdue count of each day (summary.json, a small file) and
    the day's digests (the delivery log)."""
    days: dict[date, dict[str, StoredFolder]] = defaultdict(dict)
    for folder in folders:
        days[folder.as_of][folder.report] = folder
    overdue = [f for f in folders if f.report == "overdue"]
    counts = dict(zip([f.as_of for f in overdue], parallel(overdue, lambda f: _overdue_count(store, f)),
                      strict=True))
    slug = "whole" if not prefix else prefix.strip("/").rsplit("/", 1)[-1]
    logged = set(ledger_dates(store, MANAGER_DIGEST)) & set(days)
    delivered = dict(zip(sorted(logged), parallel(sorted(logged), lambda day: _deliveries(store, day, slug)),
                         strict=True))
    newest = max(folders, key=lambda f: f.as_of, default=None)
    filters = summary_of(store, newest).get("filters") if newest is not None and prefix else None
    return HomeScope(prefix, [
        HomeDay(day, {r: f.href(rules.INDEX_HTML) for r, f in found.items() if r in PAGE_REPORTS},
                counts.get(day), delivered.get(day) or None)
        for day, found in days.items()
    ], filters if isinstance(filters, dict) else {})


def _overdue_count(store: ReportStore, folder: StoredFolder) -> int | None:
    try:
        return int(summary_of(store, folder)["totals"]["overdue_tasks"])
    except (KeyError, TypeError, ValueError):
        return None  # a summary we cannot read: no count that day, nothing worse


def _deliveries(store: ReportStore, day: date, slug: str) -> dict[str, int]:
    # delivery log objects are create-only: what was read of them stays true
    return day_delivery_counts(store, MANAGER_DIGEST, day, slug, read=lambda key: read_small(store, key, fixed=True))
