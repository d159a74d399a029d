"""The store's home: what it holds, read from a listing, and where its two kinds of page go.

    <store>/index.html               every stored report by date (pike_tasks.home builds it)
    <store>/<report>/latest.html     a small page that redirects to the newest complete
                                     whole-workspace report of that kind

Both are plain files beside the report folders: never a date folder (retention lists only
``YYYY-MM-DD`` folders, so it neither parses nor removes them), each written in one step (a
temporary file renamed into place on a folder, one PUT on an object store), so a reader sees the
old page or the new one and a publish killed mid-way leaves the previous page.

Everything here is read from the store itself, never from one run's memory: several workers
publish to the same store, so each rewrite lists what is complete now.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pike_tasks.store.base import ReportStore
from pike_tasks.store.settings import public_url_of

HOME_PAGE = "index.html"
LATEST_PAGE = "latest.html"
HOME_REPORTS = ("overdue", "workload", "digest")  # the report folders the home lists
PAGE_REPORTS = ("overdue", "workload")  # those with a page (index.html) to open: each gets a latest.html
FILTERED = "filtered/"  # Scope.prefix of a filtered run: filtered/<slug>/
SUMMARY = "summary.json"
READERS = 8  # store reads at once while listing (object stores: one request each)
RECHECK_FOLDERS = 7  # the newest folders of each report a second listing reads again (racing publishes)
_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class StoredFolder:
    """One complete report folder as the store holds it now.

    ``scope``: ``""`` (the whole workspace) or ``filtered/<slug>/``; ``files``: the store key of the
    folder its files are in (an object store's run folder); ``version``: what changes when the
    folder is published again (a run id, a marker's time); ``fixed``: the files under ``files``
    never change (a run folder), so what was read from them may be kept.
    """

    scope: str
    report: str
    as_of: date
    files: str
    version: str
    fixed: bool = False

    def href(self, name: str = HOME_PAGE) -> str:
        """The key of one of its files, from the store root (relative: no leading slash)."""
        return f"{self.files}/{name}"


def scopes(store: ReportStore) -> list[str]:
    """``""`` and every ``filtered/<slug>/`` the store holds."""
    return [""] + [f"{FILTERED}{slug}/" for slug in store.list_folders(FILTERED) if not slug.startswith(".")]


@dataclass(frozen=True)
class Scan:
    """What one listing found: every date folder's key (complete or not), the complete folders of
    the reports with pages, and the versions of the newest folders (None: incomplete), which a
    later listing compares with (``changed_since``)."""

    keys: tuple[str, ...]
    folders: list[StoredFolder]
    recent: Mapping[str, str | None]


def listed(store: ReportStore) -> list[str]:
    """The key of every date folder of every report the home reads, in every scope (one listing each)."""
    return [f"{scope}{report}/{name}" for scope in scopes(store) for report in HOME_REPORTS
            for name in store.list_folders(f"{scope}{report}/") if _DATE_NAME.match(name)]


def scan(store: ReportStore) -> Scan:
    """Every complete folder of the reports with pages, as listed now; a digest folder is read only
    among the newest (its outcome comes from the delivery log: it is listed to notice a new publish)."""
    keys = listed(store)
    recent = _recent(keys)
    wanted = [k for k in keys if _report(k) in PAGE_REPORTS or k in recent]
    found = dict(zip(wanted, parallel(wanted, store.complete_folder), strict=True))
    folders = []
    for key, folder in found.items():
        if folder is None or _report(key) not in PAGE_REPORTS:
            continue
        head, day = key.rsplit("/", 1)
        scope, _, report = head.rpartition("/")
        folders.append(StoredFolder(scope + "/" if scope else "", report, date.fromisoformat(day), *folder))
    return Scan(tuple(keys), folders, {k: _version(found[k]) for k in recent})


def changed_since(store: ReportStore, before: Scan) -> bool:
    """Whether the store holds what ``before`` did not: a date folder more or less, or one of the
    newest folders published again (a racing publish is of a new day or a recent one)."""
    keys = listed(store)
    if tuple(keys) != before.keys:
        return True
    recent = sorted(_recent(keys))
    now = parallel(recent, store.complete_folder)
    return any(before.recent.get(key) != _version(found) for key, found in zip(recent, now, strict=True))


def _report(key: str) -> str:
    return key.rsplit("/", 2)[-2]


def _version(found: tuple[str, str, bool] | None) -> str | None:
    return found[1] if found else None


def _recent(keys: list[str]) -> set[str]:
    """The newest ``RECHECK_FOLDERS`` date folders of each report and scope."""
    by_folder: dict[str, list[str]] = {}
    for key in keys:
        by_folder.setdefault(key.rsplit("/", 1)[0], []).append(key)
    return {key for found in by_folder.values() for key in sorted(found)[-RECHECK_FOLDERS:]}


_cache: dict[tuple[str, str], bytes | None] = {}
_cache_lock = threading.Lock()
CACHE_ENTRIES = 4096


def read_small(store: ReportStore, key: str, *, fixed: bool) -> bytes | None:
    """A small file by key (a summary, a delivery log); kept in memory when ``fixed`` (it never changes)."""
    if not fixed:
        return store.read_record(key)
    slot = (store.location, key)
    with _cache_lock:
        if slot in _cache:
            return _cache[slot]
    data = store.read_record(key)
    with _cache_lock:
        if len(_cache) >= CACHE_ENTRIES:
            _cache.clear()
        _cache[slot] = data
    return data


def summary_of(store: ReportStore, folder: StoredFolder) -> dict[str, Any]:
    """The folder's summary.json as a dict ({} when missing or unreadable)."""
    raw = read_small(store, folder.href(SUMMARY), fixed=folder.fixed)
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parallel(items: list[_T], fn: Callable[[_T], _R]) -> list[_R]:
    """``fn`` of each item, in order, up to ``READERS`` at once (each is a store request or two)."""
    if len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(READERS, len(items)), thread_name_prefix="store-home") as pool:
        return list(pool.map(fn, items))


def write_pages(store: ReportStore, pages: Mapping[str, bytes]) -> None:
    """Write each page whole (``put_record``: a temporary file renamed into place, or one PUT)."""
    for key, data in pages.items():
        store.put_record(key, data)


def latest_key(report: str) -> str:
    return f"{report}/{LATEST_PAGE}"


def home_address(store: ReportStore) -> str:
    """Where people open the home: the public URL when ``PIKE_REPORTS_PUBLIC_URL`` is set, else its
    path (a folder) or URL (an object store; its pages link relatively, so serve the bucket over
    HTTP, or set the public URL, to follow them)."""
    public = public_url_of(store)
    return f"{public}/{HOME_PAGE}" if public else f"{store.location}/{HOME_PAGE}"
