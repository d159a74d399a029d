"""The store's home page and its latest.html pages as plain dicts for the templates (pure: no store,
no Prefect, no pandas). What goes in is what ``pike_tasks.home`` read from the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from pike_tasks import __version__
from pike_tasks.wording import css_custom_properties, fmt_int, long_date, short_date

REPORT_TITLES = {"overdue": "Overdue", "workload": "Workload"}
TREND_POINTS = 14  # on a phone the newest 7 (report.css)
FILTER_TITLES = {"teams": "Teams", "projects": "Projects", "customers": "Customers"}


@dataclass(frozen=True)
class HomeDay:
    """One date of one scope: the pages stored for it (report -> key from the store root), its overdue
    count (None: no overdue report, or its summary unreadable) and its digests (None: none sent)."""

    as_of: date
    pages: Mapping[str, str] = field(default_factory=dict)
    overdue: int | None = None
    deliveries: Mapping[str, int] | None = None


@dataclass(frozen=True)
class HomeScope:
    """The whole workspace (``prefix`` ``""``) or one filtered set of teams, with its stored days."""

    prefix: str
    days: Sequence[HomeDay]
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)


def href(key: str) -> str:
    """A store key as a relative link (from the store root or from a folder under it)."""
    return quote(key)


def home_view(scopes: Sequence[HomeScope], *, generated_at: str, labels: Mapping[str, str] | None = None,
              latest: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The home: the whole workspace's newest reports, trend and days (newest first), then each filtered scope.

    ``labels``: team id -> name (ids without one are shown as they are); ``latest``: report -> the key of
    its latest.html (only where one was written).
    """
    whole = next((s for s in scopes if not s.prefix), HomeScope("", []))
    days = sorted(whole.days, key=lambda d: d.as_of, reverse=True)
    newest = days[0].as_of if days else None
    this_year = newest.year if newest else None
    counted = [d for d in days if d.overdue is not None]
    filtered = sorted((s for s in scopes if s.prefix), key=lambda s: (_scope_label(s, labels or {}).casefold(),
                                                                      s.prefix))
    return {
        "page_title": "Pike reports" + (f" · {newest.isoformat()}" if newest else ""),
        "title": "Pike reports",
        "newest": newest.isoformat() if newest else "",
        "newest_long": long_date(newest) if newest else "",
        "generated_at": generated_at,
        "version": __version__,
        "palette_css": css_custom_properties(),
        "stats": _stats(counted, len(days)),
        "latest": _latest(days, latest or {}, this_year),
        "trend": _trend(counted[:TREND_POINTS], this_year),
        "whole_rows": _rows(days, this_year),
        "filtered": [{"label": _scope_label(s, labels or {}), "slug": s.prefix.strip("/").rsplit("/", 1)[-1],
                      "rows": _rows(sorted(s.days, key=lambda d: d.as_of, reverse=True), this_year)}
                     for s in filtered],
    }


def latest_view(report: str, target: str, as_of: date) -> dict[str, Any]:
    """latest.html of ``report``: ``target`` is the newest page's link relative to ``<report>/``."""
    title = REPORT_TITLES.get(report, report.title())
    return {"title": f"Latest {title.lower()} report", "report": title, "href": href(target),
            "as_of": as_of.isoformat(), "as_of_long": long_date(as_of), "version": __version__}


def _scope_label(scope: HomeScope, labels: Mapping[str, str]) -> str:
    parts = []
    for key, ids in scope.filters.items():
        names = [labels.get(str(i)) or str(i) for i in ids] if key == "teams" else [str(i) for i in ids]
        if names:
            parts.append(f"{FILTER_TITLES.get(key, str(key).title())}: {', '.join(names)}")
    return "; ".join(parts) or scope.prefix.strip("/").rsplit("/", 1)[-1]


def _stats(counted: list[HomeDay], stored: int) -> list[dict[str, str]]:
    if not counted:
        return [{"label": "Days stored", "value": fmt_int(stored), "note": "no overdue report yet", "tone": ""}]
    now = counted[0]
    change = _change(now, counted[1] if len(counted) > 1 else None)
    return [
        {"label": "Overdue tasks", "value": fmt_int(now.overdue or 0), "note": f"as of {short_date(now.as_of)}",
         "tone": ""},
        {"label": "Change", "value": change["text"], "note": change["note"],
         "tone": "warn" if change["tone"] == "up" else ""},
        {"label": "Days stored", "value": fmt_int(stored), "note": "newest first below", "tone": ""},
    ]


def _latest(days: list[HomeDay], latest: Mapping[str, str], this_year: int | None) -> list[dict[str, str]]:
    out = []
    for report, title in REPORT_TITLES.items():
        day = next((d for d in days if report in d.pages), None)
        if day is None:
            continue
        out.append({"report": title, "href": href(day.pages[report]), "date": short_date(day.as_of, this_year),
                    "as_of": day.as_of.isoformat(), "latest": href(latest[report]) if report in latest else ""})
    return out


def _trend(counted: list[HomeDay], this_year: int | None) -> list[dict[str, str]]:
    if len(counted) < 2:
        return []
    top = max(d.overdue or 0 for d in counted)
    return [{"as_of": d.as_of.isoformat(), "label": short_date(d.as_of, this_year), "count": fmt_int(d.overdue or 0),
             "height": f"{100.0 * (d.overdue or 0) / top:.1f}" if top else "0"} for d in reversed(counted)]


def _change(day: HomeDay, before: HomeDay | None) -> dict[str, str]:
    """The overdue count against the previous stored day that has one."""
    if day.overdue is None:
        return {"text": "", "note": "", "tone": ""}
    if before is None or before.overdue is None:
        return {"text": "—", "note": "first stored day", "tone": ""}
    diff = day.overdue - before.overdue
    text = f"+{fmt_int(diff)}" if diff > 0 else (f"−{fmt_int(-diff)}" if diff < 0 else "0")
    return {"text": text, "note": f"since {short_date(before.as_of)}", "tone": "up" if diff > 0 else
            ("down" if diff < 0 else "")}


def _rows(days: list[HomeDay], this_year: int | None) -> list[dict[str, Any]]:
    """Newest first; the change is against the next older day with an overdue count."""
    rows = []
    for i, day in enumerate(days):
        before = next((d for d in days[i + 1:] if d.overdue is not None), None)
        rows.append({
            "as_of": day.as_of.isoformat(), "label": short_date(day.as_of, this_year),
            "links": [{"title": title, "href": href(day.pages[report])}
                      for report, title in REPORT_TITLES.items() if report in day.pages],
            "overdue": fmt_int(day.overdue) if day.overdue is not None else "",
            "change": _change(day, before),
            "deliveries": _deliveries(day.deliveries),
        })
    return rows


def _deliveries(counts: Mapping[str, int] | None) -> str:
    if not counts:
        return ""
    text = " · ".join(f"{fmt_int(counts.get(k, 0))} {k}" for k in ("sent", "failed", "unknown"))
    return text + (f" · {fmt_int(counts['other'])} other" if counts.get("other") else "")  # skipped, in progress
