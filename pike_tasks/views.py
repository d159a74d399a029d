"""Report DataFrames -> plain dicts of pre-formatted values for the HTML templates.

Pure: no Prefect, no HTTP. Templates get strings, ints, lists and dicts only (the one
``Markup`` value is a sanitised task description), so formatting rules live here and are
tested here, and a template never sees a DataFrame or a NaN.

Also the headline totals (:func:`overdue_totals`, :func:`workload_totals`), which are what
``summary.json`` holds: plain JSON types only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import pandas as pd

from pike_tasks import __version__, rules, wording
from pike_tasks.render import sanitize_description, task_url
from pike_tasks.wording import (  # noqa: F401 (long_date, short_date, share_pct: part of this module's API)
    AGE_BUCKETS,
    PRIORITIES,
    css_custom_properties,
    fmt_int,
    humanize_status,
    long_date,
    priority_rank,
    share_pct,
    short_date,
    team_anchors,
    team_page_names,
)
from pike_tasks.wording import age_bucket as _age_bucket
from pike_tasks.wording import plural as _plural

# Rows on a team's own overdue page; the rest are counted ("and N more") and are in overdue.csv.
# Without a cap a 500k-task workspace made a 152 MB page (benchmarks, figure 4). 500 rows are
# about 0.6 MB and took Chromium 0.6-1.1 s on a loaded 2-core machine; 1,000 took 1-2.9 s.
MAX_TASKS_PER_TEAM = 500
# Task rows index.html shows over all teams: a workspace with at most this many overdue tasks sees
# every one on the index; a bigger one sees each team's most urgent few and links to its page.
# At 65 teams x 250 overdue tasks the index was 14.8 MB and took Chromium 14 s with every row.
INDEX_ROW_BUDGET = 800
MIN_INDEX_ROWS_PER_TEAM = 3  # however many teams there are, each shows its most urgent few


# (file name, anchor or None) -> the href to that file of the report folder (ReportStore.page_link).
PageLink = Callable[[str, str | None], str]


def relative_link(name: str, anchor: str | None = None) -> str:
    """The default :data:`PageLink`: ``name#anchor``, relative to the page."""
    return name + ("#" + anchor if anchor else "")


def index_rows_per_team(counts: Iterable[int], *, budget: int | None = None, minimum: int | None = None) -> int | None:
    """K, the most rows of one team that index.html shows; None when every row fits.

    All rows fit when their total is within ``budget`` (:data:`INDEX_ROW_BUDGET`). Otherwise K is
    the largest number with ``sum(min(count, K)) <= budget`` (small teams leave their share to the
    big ones), at least ``minimum`` (:data:`MIN_INDEX_ROWS_PER_TEAM`).
    """
    budget = INDEX_ROW_BUDGET if budget is None else budget
    minimum = MIN_INDEX_ROWS_PER_TEAM if minimum is None else minimum
    counts = [c for c in counts if c > 0]
    if sum(counts) <= budget:
        return None
    low, high = minimum, max(counts)  # sum(min(c, high)) > budget, so the answer is below high
    while high - low > 1:
        mid = (low + high) // 2
        if sum(min(c, mid) for c in counts) <= budget:
            low = mid
        else:
            high = mid
    return low


_SUMMARY_AGE_COLUMNS = {"1-7": "age_1_7", "8-30": "age_8_30", "31+": "age_31_plus"}
_FILTER_LABELS = {"teams": "Teams", "projects": "Projects", "customers": "Customers"}
# A segment narrower than this share of the chart width shows its number only in the legend/tooltip.
_MIN_LABELLED_PCT = 6.0


# --- totals (summary.json) ------------------------------------------------------------------


def overdue_totals(rows: pd.DataFrame, summary: pd.DataFrame) -> dict[str, Any]:
    """Headline numbers of the overdue report (also ``summary.json``'s ``totals``).

    Args:
        rows: overdue rows (``priority_rank``, ``age_bucket``, ``days_overdue`` used).
        summary: the team summary, one row per team.

    Returns:
        ``overdue_tasks``, ``teams`` (real teams with overdue work: "No team" is where tasks
        without a team go, not a team a lead can chase), ``no_team_tasks`` (overdue tasks under
        "No team"), ``by_priority`` (urgent..none), ``by_age`` (``1-7``, ``8-30``, ``31+``) and
        ``oldest_days`` (None when nothing is overdue).
    """
    ranks = _ranks(rows["priority_rank"]) if len(rows) else pd.Series([], dtype=int)
    buckets = rows["age_bucket"].astype("string") if len(rows) else pd.Series([], dtype="string")
    # "No team" is the summary row with an empty team id (a team the config does not name still
    # has its id, so it counts).
    no_team = [r for r in _records(summary) if not _text(r["team_id"])]
    return {
        "overdue_tasks": int(len(rows)),
        "teams": int(len(summary)) - len(no_team),
        "no_team_tasks": sum(_int(r["count"]) for r in no_team),
        "by_priority": {key: int((ranks == rank).sum()) for rank, (key, _) in enumerate(PRIORITIES)},
        "by_age": {bucket: int((buckets == bucket).sum()) for bucket, _, _ in AGE_BUCKETS},
        "oldest_days": int(rows["days_overdue"].max()) if len(rows) else None,
    }


def workload_totals(members: pd.DataFrame, customers: pd.DataFrame) -> dict[str, Any]:
    """Headline numbers of the workload report (also ``summary.json``'s ``totals``).

    ``members`` counts rows that are people (known or unknown ids), not "Unassigned";
    ``billable_share`` is billable / open assignments as a percentage, rounded half-up to one
    decimal (0.0 when there are none), the rule REPORTS.md gives per member.
    """
    open_total = _sum(members, "open")
    billable = _sum(members, "billable")
    ids = members["member_id"].map(_text) if len(members) else pd.Series([], dtype=object)
    flags = members["flag"].map(_text) if len(members) else pd.Series([], dtype=object)
    return {
        "open_assignments": open_total,
        "billable": billable,
        "non_billable": _sum(members, "non_billable"),
        "unclassified": _sum(members, "unclassified"),
        "billable_share": share_pct(billable, open_total),
        "members": int((ids != "").sum()),
        "flagged_members": int((flags != "").sum()),
        "customers": int(len(customers)),
    }


# --- overdue page ---------------------------------------------------------------------------


def overdue_view(
    rows: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    as_of: date,
    generated_at: str,
    filters: Mapping[str, Any],
    app_url_template: str | None,
    source: str,
    change: ChangeInputs | None = None,
    link: PageLink = relative_link,
) -> dict[str, Any]:
    """Everything ``overdue.html.j2`` (index.html) shows, pre-formatted.

    Each team's section shows all its rows when the whole report fits :data:`INDEX_ROW_BUDGET`,
    else its first K (:func:`index_rows_per_team`) and a link to the team's own page
    (:func:`overdue_team_views`).

    Args:
        rows: overdue rows in report order (transforms.overdue_tasks).
        summary: one row per team in report order (transforms.overdue_team_summary).
        as_of: the report date.
        generated_at: when the run made the page, already formatted.
        filters: ``{"teams": [ids], ...}``; empty for the whole workspace.
        app_url_template: ``https://.../tasks/{id}`` or None (titles stay plain text).
        source: where the data came from (``sandbox`` or the API host), for the footer.
        change: what changed since the baseline, what is due soon and what has no due date
            (REPORTS.md Report 4 and Report 1); None shows none of it.
        link: the href of another file of the report folder (the team pages, overdue.csv);
            relative by default, presigned URLs where the store signs links.
    """
    totals = overdue_totals(rows, summary)
    team_labels = {_text(r["team_id"]): _text(r["team"]) for r in _records(summary)}
    k = index_rows_per_team(_int(r["count"]) for r in _records(summary))
    limit = MAX_TASKS_PER_TEAM if k is None else min(k, MAX_TASKS_PER_TEAM)
    teams = _team_sections(rows, summary, limit=limit, app_url_template=app_url_template, as_of=as_of,
                           change=change, link=link)
    max_count = max((_int(r["count"]) for r in _records(summary)), default=0)
    chart_rows = [_overdue_chart_row(record, team["anchor"], max_count)
                  for record, team in zip(_records(summary), teams, strict=True)]

    oldest = totals["oldest_days"]
    return {
        **_page_header(
            title="Overdue tasks by team", as_of=as_of, generated_at=generated_at, source=source,
            filters=filters, labels={"teams": team_labels},
        ),
        "empty": not teams,
        "empty_message": f"No overdue tasks as of {long_date(as_of)}.",
        "headline": [
            _stat("Overdue tasks", totals["overdue_tasks"], _plural(totals["overdue_tasks"], "open task", "open tasks")
                  + " past due"),
            *_change_stats(change),
            _stat("Teams affected", totals["teams"], _teams_note(totals["teams"], totals["no_team_tasks"])),
            _stat("Oldest", "—" if oldest is None else fmt_int(oldest),
                  "no overdue task" if oldest is None else _plural(oldest, "day", "days") + " past due"),
        ],
        "priority_totals": [
            {"key": key, "label": label, "count": fmt_int(totals["by_priority"][key])}
            for key, label in PRIORITIES
        ],
        "age_totals": [
            {"key": css, "label": label, "count": fmt_int(totals["by_age"][bucket])}
            for bucket, label, css in AGE_BUCKETS
        ],
        "chart": {
            "rows": chart_rows,
            "legend": [{"key": css, "label": label} for _, label, css in AGE_BUCKETS],
            "scale_max": fmt_int(max_count),
        },
        "teams": teams,
        "index_rows_per_team": k,
        **change_sections(change, as_of, app_url_template),
    }


def overdue_team_views(
    rows: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    as_of: date,
    generated_at: str,
    filters: Mapping[str, Any],
    app_url_template: str | None,
    source: str,
    change: ChangeInputs | None = None,
    link: PageLink = relative_link,
) -> dict[str, dict[str, Any]]:
    """Each team's own page (``overdue_team.html.j2``): file name -> view, one per team of ``summary``.

    The team's section as index.html has it, with up to :data:`MAX_TASKS_PER_TEAM` rows (the rest
    are counted and are in overdue.csv), and a link back to the team's section of index.html.
    File names are :func:`pike_tasks.wording.team_page_names`, the links
    ``team["page_url"]`` of :func:`overdue_view`. Arguments as for :func:`overdue_view`.
    """
    team_labels = {_text(r["team_id"]): _text(r["team"]) for r in _records(summary)}
    by_team = _by_team(change)  # once: at 65 teams, filtering every list per team took seconds
    pages: dict[str, dict[str, Any]] = {}
    for team in _team_sections(rows, summary, limit=MAX_TASKS_PER_TEAM, app_url_template=app_url_template,
                               as_of=as_of, change=change, link=link):
        pages[team["page_name"]] = {
            **_page_header(
                title=f"Overdue tasks of {team['team']}", as_of=as_of, generated_at=generated_at,
                source=source, filters=filters, labels={"teams": team_labels},
            ),
            "team": team,
            "team_change": team_change(change, team["team_id"], as_of, app_url_template, by_team),
            "age_legend": [{"key": css, "label": label} for _, label, css in AGE_BUCKETS],
            "index_url": link("index.html", team["anchor"]),
            "csv_url": link(rules.OVERDUE_CSV, None),
        }
    return pages


def _team_sections(
    rows: pd.DataFrame, summary: pd.DataFrame, *, limit: int, app_url_template: str | None, as_of: date,
    change: ChangeInputs | None, link: PageLink,
) -> list[dict[str, Any]]:
    """One team section per row of ``summary`` (report order), each with its first ``limit`` rows."""
    tasks_by_team: dict[str, list[dict[str, Any]]] = {}
    shown = rows.groupby("team_id", sort=False).head(limit) if len(rows) else rows
    new_reasons = _new_reasons(change)
    for record in _records(shown):
        task = _overdue_task(record, app_url_template, as_of)
        task["new"] = new_reasons.get(task["task_id"])  # None, or why it is new ("" without a known reason)
        tasks_by_team.setdefault(_text(record["team_id"]), []).append(task)
    summaries = _records(summary)
    anchors = team_anchors(_text(r["team_id"]) for r in summaries)
    names = team_page_names(anchors)
    per_team_changes = _changes_per_team(change)
    teams = []
    for record in summaries:
        tid = _text(record["team_id"])
        team = _overdue_team(record, anchors[tid], tasks_by_team.get(tid, []))
        team["changes"] = per_team_changes.get(tid, "")
        team["team_id"] = tid
        team["page_name"] = names[tid]
        team["page_url"] = link(names[tid], None)
        teams.append(team)
    return teams


@dataclass(frozen=True)
class ChangeInputs:
    """The change view's inputs, from the pure modules (transforms, changes)."""

    baseline_as_of: date | None
    changes: pd.DataFrame  # changes.compute_changes
    counts: Mapping[str, Any]  # changes.change_counts
    history: list[dict[str, Any]]  # changes.history
    due_soon: pd.DataFrame  # transforms.due_soon_tasks
    undated: Mapping[str, Any]  # transforms.open_without_due_date


MAX_CHANGE_ROWS = 250  # per list on the page; the rest are in changes.csv / due_soon.csv
FIRST_CHANGE_ROWS = 8  # shown open; the others behind "Show N more", so the team sections stay near the top


def _change_stats(change: ChangeInputs | None) -> list[dict[str, str]]:
    """"New" and "Resolved" next to the overdue count, when there is a baseline to compare with."""
    if change is None or change.baseline_as_of is None:
        return []
    since = "since " + short_date(change.baseline_as_of.isoformat())
    return [
        _stat("New", "+" + fmt_int(int(change.counts.get("new", 0))), "newly overdue " + since, "warn"),
        _stat("Resolved", fmt_int(int(change.counts.get("resolved", 0))), "no longer overdue " + since),
    ]


def _new_reasons(change: ChangeInputs | None) -> dict[str, str]:
    """task id -> why it is new since the baseline (wording.new_reason), for the "New" marks."""
    if change is None or change.baseline_as_of is None or not len(change.changes):
        return {}
    new = change.changes[change.changes["change"] == rules.NEW]
    return {_text(r["task_id"]): wording.new_reason(_text(r.get("reason"))) for r in _records(new)}


def _changes_per_team(change: ChangeInputs | None) -> dict[str, str]:
    if change is None or change.baseline_as_of is None:
        return {}
    since = short_date(change.baseline_as_of.isoformat())
    lines = {}
    for t in change.counts.get("teams", []):
        parts = ([f"+{fmt_int(t['new'])} new"] if t["new"] else []) + (
            [f"{fmt_int(t['resolved'])} resolved"] if t["resolved"] else [])
        lines[str(t["team_id"])] = (", ".join(parts) if parts else "no change") + f" since {since}"
    return lines


def change_sections(change: ChangeInputs | None, as_of: date, app_url_template: str | None) -> dict[str, Any]:
    """The page's "what changed", trend, due-soon and not-counted parts (empty without inputs)."""
    if change is None:
        return {"change": None}
    baseline = change.baseline_as_of
    since = long_date(baseline) if baseline else ""
    rows = _records(change.changes)
    new = sorted((r for r in rows if r["change"] == "new"), key=_urgency)
    resolved = [r for r in rows if r["change"] == "resolved"]
    trend_max = max((int(p["overdue_tasks"]) for p in change.history), default=0)
    due = _records(change.due_soon.head(MAX_CHANGE_ROWS))
    due_rows = [_due_row(r, app_url_template, as_of) for r in due]
    return {"change": {
        "baseline": baseline.isoformat() if baseline else "",
        "since": since,
        "summary": (
            f"{_plural(len(new), 'new overdue task', 'new overdue tasks')} and {fmt_int(len(resolved))} resolved "
            f"since {since}." if baseline else
            "This is the first report of this scope in the store: from the next one on, it shows what changed."
        ),
        "new": [_change_row(r, app_url_template, as_of) for r in new[:FIRST_CHANGE_ROWS]],
        "new_rest": [_change_row(r, app_url_template, as_of) for r in new[FIRST_CHANGE_ROWS:MAX_CHANGE_ROWS]],
        "new_count": fmt_int(len(new)),
        "new_more": fmt_int(len(new) - MAX_CHANGE_ROWS) if len(new) > MAX_CHANGE_ROWS else "",
        "resolved": [_change_row(r, app_url_template, as_of) for r in resolved[:FIRST_CHANGE_ROWS]],
        "resolved_rest": [_change_row(r, app_url_template, as_of) for r in resolved[FIRST_CHANGE_ROWS:MAX_CHANGE_ROWS]],
        "resolved_count": fmt_int(len(resolved)),
        "resolved_more": fmt_int(len(resolved) - MAX_CHANGE_ROWS) if len(resolved) > MAX_CHANGE_ROWS else "",
        "trend": [
            {"as_of": p["as_of"], "label": short_date(p["as_of"], current_year=as_of.year),
             "count": fmt_int(int(p["overdue_tasks"])),
             "height": _pct(100.0 * int(p["overdue_tasks"]) / trend_max if trend_max else 0.0)}
            for p in change.history
        ] if len(change.history) > 1 else [],
        "due_soon": due_rows[:FIRST_CHANGE_ROWS],
        "due_soon_rest": due_rows[FIRST_CHANGE_ROWS:],
        "due_soon_count": fmt_int(len(change.due_soon)),
        "due_soon_more": fmt_int(len(change.due_soon) - len(due)) if len(change.due_soon) > len(due) else "",
        "undated_total": fmt_int(int(change.undated.get("total", 0))),
        "undated_note": _plural(int(change.undated.get("total", 0)), "open task has", "open tasks have")
                        + " no due date, so they can never be overdue",
        "undated_teams": [
            {"team": str(t["team"]), "count": fmt_int(int(t["count"]))} for t in change.undated.get("teams", [])
        ],
    }}


def _urgency(record: Mapping[str, Any]) -> tuple[int, int, str, str]:
    """A change row's place in a list across teams (rules.urgency_key)."""
    return rules.urgency_key(_text(record["priority"]) or None, _int(record["days_overdue"]),
                             _text(record["title"]), _text(record["task_id"]))


# team id -> (its change rows, its due-soon rows), each in the order of its input
TeamLists = dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]


def _by_team(change: ChangeInputs | None) -> TeamLists:
    grouped: TeamLists = {}
    if change is None:
        return grouped
    for record in _records(change.changes):
        grouped.setdefault(_text(record["team_id"]), ([], []))[0].append(record)
    for record in _records(change.due_soon):
        grouped.setdefault(_text(record["team_id"]), ([], []))[1].append(record)
    return grouped


def team_change(change: ChangeInputs | None, team_id: str, as_of: date, app_url_template: str | None,
                by_team: TeamLists | None = None) -> dict[str, Any] | None:
    """A team page's "what changed": the team's new tasks (urgency order, with why), its due-soon
    tasks and, compactly, its resolved ones (the team the baseline gave them); None without inputs.
    ``by_team``: :func:`_by_team` of ``change``, when the caller builds many team pages."""
    if change is None:
        return None
    baseline = change.baseline_as_of
    rows, due = (by_team if by_team is not None else _by_team(change)).get(team_id, ([], []))
    new = sorted((r for r in rows if r["change"] == rules.NEW), key=_urgency)
    resolved = [r for r in rows if r["change"] == rules.RESOLVED]
    due_rows = [_due_row(r, app_url_template, as_of) for r in due[:MAX_CHANGE_ROWS]]
    since = long_date(baseline) if baseline else ""
    return {
        "baseline": baseline.isoformat() if baseline else "",
        "since": since,
        "summary": _team_change_summary(len(new), len(resolved), since) if baseline else (
            "This is the first report of this scope in the store: from the next one on, it shows what changed."
        ),
        "new": [_change_row(r, app_url_template, as_of) for r in new[:MAX_CHANGE_ROWS]],
        "new_count": fmt_int(len(new)),
        "new_more": fmt_int(len(new) - MAX_CHANGE_ROWS) if len(new) > MAX_CHANGE_ROWS else "",
        "resolved": [_change_row(r, app_url_template, as_of) for r in resolved[:MAX_CHANGE_ROWS]],
        "resolved_count": fmt_int(len(resolved)),
        "resolved_more": fmt_int(len(resolved) - MAX_CHANGE_ROWS) if len(resolved) > MAX_CHANGE_ROWS else "",
        "due_soon": due_rows,
        "due_soon_count": fmt_int(len(due)),
        "due_soon_more": fmt_int(len(due) - len(due_rows)) if len(due) > len(due_rows) else "",
    }


def _team_change_summary(new: int, resolved: int, since: str) -> str:
    """``2 new overdue tasks and 1 resolved since ...``; no "0 new" when nothing is."""
    if not new and not resolved:
        return f"Nothing new and nothing resolved since {since}."
    parts = ([_plural(new, "new overdue task", "new overdue tasks")] if new else []) + (
        [f"{fmt_int(resolved)} resolved"] if resolved else [])
    return " and ".join(parts) + f" since {since}."


def _change_row(record: Mapping[str, Any], app_url_template: str | None, as_of: date) -> dict[str, Any]:
    rank = priority_rank(_text(record["priority"]) or None)
    code = _text(record.get("reason"))
    return {
        "title": _text(record["title"]) or "(untitled)",
        "url": task_url(app_url_template, _text(record["task_id"])) if code != "gone" else None,
        "team": _text(record["team"]),
        "priority": {"key": PRIORITIES[rank][0], "label": PRIORITIES[rank][1]},
        "days_label": wording.overdue_days(_int(record["days_overdue"])),
        "reason": (wording.new_reason(code) or wording.reason(code, _text(record["status"]))) if code else "",
    }


def _due_row(record: Mapping[str, Any], app_url_template: str | None, as_of: date) -> dict[str, Any]:
    rank = _rank(record["priority_rank"])
    left = _int(record["days_left"])
    return {
        "title": _text(record["title"]) or "(untitled)",
        "url": task_url(app_url_template, _text(record["task_id"])),
        "team": _text(record["team"]),
        "assignees": _text(record["assignees"]),
        "priority": {"key": PRIORITIES[rank][0], "label": PRIORITIES[rank][1]},
        "when": wording.due_in(left),
        "due_date_label": short_date(_text(record["due_date"]), current_year=as_of.year),
    }


def _teams_note(teams: int, no_team_tasks: int) -> str:
    """The note under "Teams affected": tasks without a team are not a team, but must not vanish."""
    note = _plural(teams, "team", "teams") + " with overdue work"
    if no_team_tasks:
        note += ", plus " + _plural(no_team_tasks, "task", "tasks") + " with no team"
    return note


def _overdue_task(record: Mapping[str, Any], app_url_template: str | None, as_of: date) -> dict[str, Any]:
    rank = _rank(record["priority_rank"])
    days = _int(record["days_overdue"])
    bucket_key, bucket_label = _age_bucket(_text(record["age_bucket"]), days)
    description = sanitize_description(_text(record.get("description")) or None)
    return {
        "task_id": _text(record["task_id"]),
        "title": _text(record["title"]) or "(untitled)",
        "url": task_url(app_url_template, _text(record["task_id"])),
        "project": _text(record["project"]),
        "customer": _text(record["customer"]),
        "assignees": _text(record["assignees"]),
        "priority": {"key": PRIORITIES[rank][0], "label": PRIORITIES[rank][1]},
        "status": humanize_status(_text(record["status"])),
        "due_date": _text(record["due_date"]),
        "due_date_label": short_date(_text(record["due_date"]), current_year=as_of.year),
        "days_overdue": fmt_int(days),
        "days_label": _plural(days, "day", "days"),
        "age": {"key": bucket_key, "label": bucket_label},
        "description": description,
        "has_description": bool(str(description).strip()),
    }


def _overdue_team(record: Mapping[str, Any], anchor: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    count = _int(record["count"])
    on_team_page = min(count, MAX_TASKS_PER_TEAM)
    team = _text(record["team"])
    priorities = [
        {"key": key, "label": label, "count": fmt_int(_int(record[key]))}
        for key, label in PRIORITIES
    ]
    return {
        "anchor": anchor,
        "team": _text(record["team"]),
        "count": fmt_int(count),
        "count_label": _plural(count, "overdue task", "overdue tasks"),
        "priorities": priorities,
        "oldest_days": fmt_int(_int(record["oldest_days"])),
        "oldest_label": _plural(_int(record["oldest_days"]), "day", "days"),
        "ages": [
            {"key": css, "label": label, "count": fmt_int(_int(record[_SUMMARY_AGE_COLUMNS[bucket]]))}
            for bucket, label, css in AGE_BUCKETS
        ],
        "tasks": tasks,
        # rows beyond this page: on the team's page (index.html), or only in overdue.csv (team page)
        "more": fmt_int(count - len(tasks)) if count > len(tasks) else "",
        "shown_label": f"the {fmt_int(len(tasks))} most urgent of {fmt_int(count)}" if count > len(tasks) else "",
        # index.html: the team's page shows rows this one does not
        "page_has_more": len(tasks) < on_team_page,
        "see_all": (f"See all {_plural(count, 'overdue task', 'overdue tasks')} of {team}"
                    if on_team_page == count else
                    f"See the {fmt_int(on_team_page)} most urgent of {fmt_int(count)} overdue tasks of {team}"),
    }


def _overdue_chart_row(record: Mapping[str, Any], anchor: str, max_count: int) -> dict[str, Any]:
    count = _int(record["count"])
    segments = []
    for bucket, label, css in AGE_BUCKETS:
        n = _int(record[_SUMMARY_AGE_COLUMNS[bucket]])
        if n:
            segments.append(_segment(css, label, n, of_bar=count, of_chart=max_count))
    described = ", ".join(f"{s['count']} aged {s['label']}" for s in segments)
    return {
        "anchor": anchor,
        "team": _text(record["team"]),
        "count": fmt_int(count),
        "width": _pct(100.0 * count / max_count if max_count else 0.0),
        "segments": segments,
        "description": f"{_text(record['team'])}: {_plural(count, 'overdue task', 'overdue tasks')}"
                       + (f" ({described})" if described else ""),
    }


# --- workload page --------------------------------------------------------------------------


# The workload page shows what a person reads; workload.csv and workload_by_customer.csv hold every
# row. At agency size (16k customers) a page of every row took minutes to open on a phone.
WORKLOAD_PAGE_ROWS = 300  # people, and customers, in the tables (plus everyone flagged)
WORKLOAD_CHART_ROWS = 40  # people in the bar chart


def workload_view(
    members: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of: date,
    generated_at: str,
    filters: Mapping[str, Any],
    source: str,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything ``workload.html.j2`` shows, pre-formatted.

    The tables show the first ``WORKLOAD_PAGE_ROWS`` people (most open work first) and everyone
    flagged or "Unassigned" wherever they rank, and the first ``WORKLOAD_PAGE_ROWS`` customers
    (most billable first); the chart the first ``WORKLOAD_CHART_ROWS`` people. What is left out
    is counted and linked to its CSV.

    Args:
        members: workload per member in report order (transforms.workload_by_member).
        customers: workload per customer in report order (transforms.workload_by_customer).
        as_of, generated_at, filters, source: as for :func:`overdue_view`.
        links: hrefs of ``workload.csv`` and ``workload_by_customer.csv`` from the page
            (default: relative, the page's own folder).
    """
    totals = workload_totals(members, customers)
    member_records = _records(members)
    customer_records = _records(customers)
    shown = _members_shown(member_records)
    max_open = max((_int(r["open"]) for r in member_records), default=0)
    rows = [_workload_member(member_records[i], max_open) for i in shown]
    customer_labels = {_text(r["customer_id"]): _text(r["customer"]) for r in customer_records}
    flagged = totals["flagged_members"]
    hrefs = {"workload_csv": rules.WORKLOAD_CSV, "customers_csv": rules.WORKLOAD_BY_CUSTOMER_CSV, **(links or {})}
    return {
        **_page_header(
            title="Billable workload", as_of=as_of, generated_at=generated_at, source=source,
            filters=filters, labels={"customers": customer_labels},
        ),
        "empty": not totals["open_assignments"],
        "empty_message": f"No open assignments as of {long_date(as_of)}.",
        "headline": [
            _stat("Open assignments", totals["open_assignments"],
                  f"{fmt_int(totals['billable'])} billable · {fmt_int(totals['non_billable'])} non-billable · "
                  f"{fmt_int(totals['unclassified'])} unclassified"),
            _stat("Billable share", f"{totals['billable_share']:.1f}%", "of open assignments"),
            _stat("People", totals["members"], "active, or holding open tasks"),
            _stat("Need reassigning", flagged,
                  "nobody to reassign" if not flagged else _plural(flagged, "person", "people")
                  + " not active, still holding tasks", tone="warn" if flagged else ""),
            _stat("Customers", totals["customers"], "with open tasks"),
        ],
        "legend": [
            {"key": "billable", "label": "Billable"},
            {"key": "non-billable", "label": "Non-billable"},
            {"key": "unclassified", "label": "Unclassified"},
        ],
        "members": rows,
        "chart": [_workload_member(r, max_open) for r in member_records[:WORKLOAD_CHART_ROWS]],
        "chart_more": _more(len(member_records) - WORKLOAD_CHART_ROWS, "person", "people"),
        "members_more": _more(len(member_records) - len(rows), "person", "people"),
        "customers": [_workload_customer(r) for r in customer_records[:WORKLOAD_PAGE_ROWS]],
        "customers_more": _more(len(customer_records) - WORKLOAD_PAGE_ROWS, "customer", "customers"),
        "links": hrefs,
    }


def _members_shown(records: list[dict[str, Any]]) -> list[int]:
    """Indexes of the people rows the page shows, in report order: the first
    ``WORKLOAD_PAGE_ROWS``, and every flagged person and "Unassigned" (work to hand out)."""
    needs_owner = [i for i, r in enumerate(records) if _text(r["flag"]) or not _text(r["member_id"])]
    return sorted(set(range(min(len(records), WORKLOAD_PAGE_ROWS))) | set(needs_owner))


def _more(hidden: int, one: str, many: str) -> str:
    """``1,234 more people`` (what a capped list leaves out), or "" when nothing is."""
    return f"{fmt_int(hidden)} more {one if hidden == 1 else many}" if hidden > 0 else ""


def _workload_member(record: Mapping[str, Any], max_open: int) -> dict[str, Any]:
    open_ = _int(record["open"])
    parts = (("billable", "Billable", "billable"), ("non-billable", "Non-billable", "non_billable"),
             ("unclassified", "Unclassified", "unclassified"))
    segments = []
    for key, label, column in parts:
        n = _int(record[column])
        if n:
            segments.append(_segment(key, label, n, of_bar=open_, of_chart=max_open))
    flag = _text(record["flag"])
    member = _text(record["member"])
    share = _float(record["billable_share"])
    described = ", ".join(f"{s['count']} {s['label'].lower()}" for s in segments)
    return {
        "member": member,
        "unassigned": not _text(record["member_id"]),
        "status": humanize_status(_text(record["status"])) or "—",
        "open": fmt_int(open_),
        "billable": fmt_int(_int(record["billable"])),
        "non_billable": fmt_int(_int(record["non_billable"])),
        "unclassified": fmt_int(_int(record["unclassified"])),
        "billable_share": f"{share:.1f}%",
        "overdue": fmt_int(_int(record["overdue"])),
        "flag": f"{flag} — reassign work" if flag else "",
        "width": _pct(100.0 * open_ / max_open if max_open else 0.0),
        "segments": segments,
        "idle": open_ == 0,
        "description": f"{member}: {_plural(open_, 'open assignment', 'open assignments')}"
                       + (f" ({described})" if described else ""),
    }


def _workload_customer(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "customer": _text(record["customer"]),
        "open_tasks": fmt_int(_int(record["open_tasks"])),
        "billable_tasks": fmt_int(_int(record["billable_tasks"])),
        "assignees": fmt_int(_int(record["assignees"])),
        "projects": fmt_int(_int(record["projects"])),
    }


# --- shared formatting ----------------------------------------------------------------------


def _page_header(
    *, title: str, as_of: date, generated_at: str, source: str, filters: Mapping[str, Any],
    labels: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    shown = format_filters(filters, labels)
    return {
        "page_title": f"{title} · {as_of.isoformat()}",
        "title": title,
        "as_of": as_of.isoformat(),
        "as_of_long": long_date(as_of),
        "generated_at": generated_at,
        "source": source,
        "filters": shown,
        "scope": "Whole workspace" if not shown else "Filtered",
        "version": __version__,
        "palette_css": css_custom_properties(),
    }


def format_filters(
    filters: Mapping[str, Any], labels: Mapping[str, Mapping[str, str]] | None = None
) -> list[dict[str, str]]:
    """``{"teams": ["91ab…"]}`` -> ``[{"label": "Teams", "value": "Delivery"}]``; ids without a
    known label are shown as they are."""
    labels = labels or {}
    shown = []
    for key, value in filters.items():
        if value is None or value == [] or value == "":
            continue
        values = [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)
        names = [labels.get(key, {}).get(str(v)) or str(v) for v in values]
        shown.append({"label": _FILTER_LABELS.get(key, str(key).replace("_", " ").capitalize()),
                      "value": ", ".join(names)})
    return shown










def _stat(label: str, value: int | str, note: str, tone: str = "") -> dict[str, str]:
    return {"label": label, "value": fmt_int(value) if isinstance(value, int) else value, "note": note, "tone": tone}




def _segment(key: str, label: str, n: int, *, of_bar: int, of_chart: int) -> dict[str, Any]:
    """One stacked-bar segment: its width within its bar, and whether it is wide enough on
    the chart to print its number inside (narrow ones keep it in the tooltip and text)."""
    return {
        "key": key,
        "label": label,
        "count": fmt_int(n),
        "width": _pct(100.0 * n / of_bar if of_bar else 0.0),
        "show_count": bool(of_chart) and 100.0 * n / of_chart >= _MIN_LABELLED_PCT,
    }


def _pct(value: float) -> str:
    return f"{max(0.0, min(100.0, value)):.2f}"






def _rank(value: Any) -> int:
    return priority_rank(value if not _missing(value) else None)


def _ranks(series: pd.Series) -> pd.Series:
    ranks = pd.to_numeric(series, errors="coerce").fillna(len(PRIORITIES) - 1).astype(int)
    return ranks.where(ranks.between(0, len(PRIORITIES) - 1), len(PRIORITIES) - 1)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", df.to_dict(orient="records"))  # the column labels are str


def _sum(df: pd.DataFrame, column: str) -> int:
    if not len(df):
        return 0
    return int(pd.to_numeric(df[column], errors="coerce").fillna(0).sum())


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _int(value: Any) -> int:
    return 0 if _missing(value) else int(value)


def _float(value: Any) -> float:
    return 0.0 if _missing(value) else float(value)
