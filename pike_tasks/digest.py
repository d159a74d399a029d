"""Per-manager digest contents (REPORTS.md, Report 3), its template view and rendering.

Pure: DataFrames in, a frozen ``Digest`` per manager address out; then plain dicts of
pre-formatted values for the templates, and the rendered HTML/text parts. No Prefect,
no requests, no SMTP here. Every word and colour comes from ``pike_tasks.wording``, the
same place the report pages take theirs from.

What one manager's digest covers (the teams that list the address):

- what changed since the baseline (Report 4's ``changes`` rows of those teams: a new row by
  today's team, a resolved row by the team the baseline gave it), first;
- the tasks due soon in those teams;
- the overdue rows of Report 1 restricted to those teams, in report order;
- the workload of the members of those teams (``team_ids`` includes one of them), counting
  each such member's open tasks in *every* team, since that is the load the person carries;
  a member who is not active and still holds work gets a "reassign" line.

The body is read on a phone first: the counts (overdue, new, resolved, per team) and the
people to reassign come before any list, then the new overdue tasks, what was resolved and
why, what is due soon, and a short rest of the overdue list ("and N more" points at the
attached CSV and the linked page). What the body says of the attachment follows what is
attached (``email_message.choose_attachment``): the CSV, the CSV zipped, or nothing, and then
where the stored CSV is. When the HTML would pass Gmail's clipping size, the rest
of the overdue list is cut first, keeping the most urgent tasks across all the teams.
"""

from __future__ import annotations

import html as html_lib
import re
import urllib.parse
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd

from pike_tasks import rules, wording
from pike_tasks.email_message import Attachment, single_line

DEFAULT_MAX_ROWS_PER_TEAM = 10
DEFAULT_MAX_MEMBERS = 30
HTML_LIMIT_BYTES = 100_000
# Headroom under Gmail's ~102 KB clipping point for transfer-encoding differences.
HTML_BUDGET_BYTES = 90_000
CSV_NAME = rules.OVERDUE_CSV
CHANGE_COLUMNS = rules.CHANGES_COLUMNS


@dataclass(frozen=True)
class Limits:
    """How many rows of each list the body shows (the CSV and the page have every row).

    ``rest_total`` caps the rest of the overdue list across all teams (the most urgent are
    kept), ``rest_per_team`` caps it per team.
    """

    new: int = 50
    resolved: int = 30
    due_soon: int = 20
    rest_per_team: int = DEFAULT_MAX_ROWS_PER_TEAM
    rest_total: int = 40
    members: int = DEFAULT_MAX_MEMBERS
    reassign: int = 5

    def shrunk(self) -> Limits | None:
        """The next smaller body, cutting the rest of the overdue list first and what is new
        last; None when nothing is left to cut."""
        if self.rest_total > 0:
            return replace(self, rest_total=self.rest_total // 2,
                           rest_per_team=max(0, min(self.rest_per_team, self.rest_total // 2)))
        for name, floor in (("members", 5), ("due_soon", 3), ("resolved", 5), ("new", 5), ("members", 0),
                            ("due_soon", 0), ("resolved", 0), ("new", 1)):
            value = getattr(self, name)
            if value > floor:
                return replace(self, **{name: max(floor, value // 2)})
        return None


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in CHANGE_COLUMNS})


@dataclass(frozen=True)
class Digest:
    """One manager's digest. The frames are full (the CSV gets every overdue row); the view
    decides how many rows the body shows.

    ``changes`` holds the ``changes.csv`` rows of the manager's teams (empty without a
    baseline); ``baseline_as_of`` is None when there was no earlier report to compare with.
    ``page_anchors`` maps a team id to its section on the overdue page (``team-2``).
    """

    recipient: str
    team_ids: tuple[str, ...]
    team_names: tuple[str, ...]
    as_of: date
    overdue_rows: pd.DataFrame = field(repr=False, compare=False)
    team_summary: pd.DataFrame = field(repr=False, compare=False)
    workload: pd.DataFrame = field(repr=False, compare=False)
    overdue_count: int = 0
    subject: str = ""
    team_filter: tuple[str, ...] | None = None
    max_rows_per_team: int = DEFAULT_MAX_ROWS_PER_TEAM
    changes: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    due_soon_rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    baseline_as_of: date | None = None
    page_anchors: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_empty(self) -> bool:
        """Nothing overdue (what ``skip_if_empty`` looks at)."""
        return self.overdue_count == 0

    @property
    def new_count(self) -> int:
        return _count(self.changes, "new")

    @property
    def resolved_count(self) -> int:
        return _count(self.changes, "resolved")


def _count(changes: pd.DataFrame | None, kind: str) -> int:
    if changes is None or not len(changes):
        return 0
    return int((changes["change"] == kind).sum())


SUBJECT_MAX_CHARS = 120  # a subject longer than this is cut by most mail clients (and 212 teams made 8.4 KB)


def digest_subject(
    as_of: date,
    overdue_count: int,
    team_names: Sequence[str],
    new: int | None = None,
    resolved: int | None = None,
) -> str:
    """The subject, always one line of at most ``SUBJECT_MAX_CHARS`` characters (REPORTS.md Report 3).

    ``Pike digest 2026-04-09: 7 overdue tasks (Delivery, Platform)``; with a baseline (``new``
    and ``resolved`` given) ``Pike digest 2026-04-09: 7 overdue tasks, 2 new, 3 resolved (Delivery, Platform)``.
    Too many teams to fit: as many names as fit, then ``& 210 more teams``.
    """
    names = [single_line(n) for n in team_names]
    subject = f"Pike digest {as_of.isoformat()}: {wording.plural(overdue_count, 'overdue task', 'overdue tasks')}"
    if new is not None and resolved is not None:
        subject += f", {wording.fmt_int(new)} new, {wording.fmt_int(resolved)} resolved"
    subject = single_line(subject)
    if not names:
        return subject
    for shown in range(len(names), 0, -1):
        rest = len(names) - shown
        more = f" & {wording.plural(rest, 'more team', 'more teams')}" if rest else ""
        candidate = f"{subject} ({', '.join(names[:shown])}{more})"
        if len(candidate) <= SUBJECT_MAX_CHARS:
            return candidate
    room = SUBJECT_MAX_CHARS - len(subject) - 3  # " (" and ")"
    if len(names) == 1 and room > 1:  # one team with a very long name: the start of it
        return f"{subject} ({names[0][:room - 1]}…)"
    return f"{subject} ({wording.plural(len(names), 'team', 'teams')})"


def team_label(team_id: str, name: str | None) -> str:
    """The config name, else ``Team <first 8 characters of the id>`` (REPORTS.md)."""
    return wording.team_label(team_id, name)


def manager_teams(
    teams_config_teams: Mapping[str, Any], team_ids: Collection[str] | None = None
) -> dict[str, tuple[str, list[str]]]:
    """``{address_key: (address as first written, [team ids])}`` with addresses compared casefolded."""
    wanted = set(team_ids) if team_ids else None
    out: dict[str, tuple[str, list[str]]] = {}
    for tid, team in teams_config_teams.items():
        if wanted is not None and tid not in wanted:
            continue
        for address in _get(team, "managers") or ():
            address = str(address).strip()
            if not address:
                continue
            key = address.casefold()
            first, tids = out.setdefault(key, (address, []))
            if tid not in tids:
                tids.append(tid)
    return out


def build_digests(
    resolved: pd.DataFrame,
    members: pd.DataFrame,
    overdue_rows: pd.DataFrame,
    teams_config_teams: Mapping[str, Any],
    as_of: date,
    *,
    team_ids: Collection[str] | None = None,
    max_rows_per_team: int = DEFAULT_MAX_ROWS_PER_TEAM,
    changes: pd.DataFrame | None = None,
    due_soon_rows: pd.DataFrame | None = None,
    baseline_as_of: date | None = None,
) -> list[Digest]:
    """One ``Digest`` per manager address in the teams config, sorted by address (casefolded).

    Args:
        resolved: ``transforms.resolve_tasks`` output (every task).
        members: the members frame (``member_id, ..., team_ids`` as a list per member).
        overdue_rows: ``transforms.overdue_tasks`` output for as_of, the rows of the overdue
            page the digest links (with or without the team filter: rows are restricted to
            each manager's teams here).
        teams_config_teams: team id -> ``{"name", "managers"}`` (a mapping or ``TeamConfig``).
        as_of: the report date.
        team_ids: only digest these teams (a team filter, shown in the digest); None means all.
        max_rows_per_team: rows per team of the rest of the overdue list in the body.
        changes: ``changes.compute_changes`` for this run (``change, reason, task_id, team_id,
            team, title, priority, status, due_date, days_overdue``), any scope; None or no
            ``baseline_as_of``: no "what changed" section and the subject without it.
        due_soon_rows: ``transforms.due_soon_tasks`` output for as_of (any scope); None: no
            due-soon section.
        baseline_as_of: the as_of of the baseline report the changes compare with.

    Raises:
        ValueError: ``changes`` with rows but no ``baseline_as_of``.
    """
    from pike_tasks import changes as changes_mod
    from pike_tasks import transforms

    if baseline_as_of is None and changes is not None and len(changes):
        raise ValueError("changes were given without baseline_as_of (the date they compare with)")
    by_manager = manager_teams(teams_config_teams, team_ids)
    if not by_manager:
        return []
    workload_all = transforms.workload_by_member(resolved, members, as_of)
    member_teams = _member_team_sets(members)
    team_filter = tuple(sorted(team_ids)) if team_ids else None
    # The page's team order gives its section anchors (views.overdue_view): the page shows the
    # overdue rows of the run's scope.
    page_rows = overdue_rows if not team_ids else overdue_rows[overdue_rows["team_id"].isin(list(team_ids))]
    anchors = wording.team_anchors(transforms.overdue_team_summary(page_rows)["team_id"].map(str))
    digests = []
    for key in sorted(by_manager):
        address, tids = by_manager[key]
        labels = {tid: team_label(tid, _get(teams_config_teams[tid], "name")) for tid in tids}
        ordered = sorted(tids, key=lambda t: (labels[t].casefold(), t))
        names = tuple(labels[t] for t in ordered)
        rows = overdue_rows[overdue_rows["team_id"].isin(ordered)].reset_index(drop=True)
        summary = transforms.overdue_team_summary(rows)
        wanted = set(ordered)
        in_teams = {mid for mid, teams in member_teams.items() if teams & wanted}
        workload = workload_all[workload_all["member_id"].isin(in_teams)].reset_index(drop=True)
        mine = None
        if baseline_as_of is not None:
            mine = changes_mod.changes_for_teams(changes if changes is not None else _empty_changes(), ordered)
        soon = None
        if due_soon_rows is not None:
            soon = due_soon_rows[due_soon_rows["team_id"].isin(ordered)].reset_index(drop=True)
        count = len(rows)
        digests.append(
            Digest(
                recipient=address,
                team_ids=tuple(ordered),
                team_names=names,
                as_of=as_of,
                overdue_rows=rows,
                team_summary=summary,
                workload=workload,
                overdue_count=count,
                subject=digest_subject(as_of, count, names, _count(mine, "new") if mine is not None else None,
                                       _count(mine, "resolved") if mine is not None else None),
                team_filter=team_filter,
                max_rows_per_team=max_rows_per_team,
                changes=mine,
                due_soon_rows=soon,
                baseline_as_of=baseline_as_of,
                page_anchors={t: anchors[t] for t in ordered if t in anchors},
            )
        )
    return digests


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _member_team_sets(members: pd.DataFrame) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mid, teams in zip(members["member_id"], members["team_ids"], strict=True):
        if mid is None:
            continue
        out[mid] = set(teams) if isinstance(teams, (list, tuple, set)) else set()
    return out


# --- view: plain dicts of pre-formatted values for the templates -------------------------


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    return str(value)


def _int(value: Any) -> int:
    text = _text(value)
    return int(float(text)) if text else 0


_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(?:p|li|div|h[1-6]|tr|td|th|blockquote|pre)\s*>")


def _plain_excerpt(description: Any, limit: int = 140) -> str:
    """Task description (untrusted HTML) as a short plain-text excerpt.

    Every tag is removed by nh3's allow-list cleaner (script/style contents dropped), then
    entities are decoded: the result is text, escaped again by the template on output.
    """
    raw = _text(description)
    if not raw:
        return ""
    import nh3

    # a space where a block or line break ended, so "<li>a</li><li>b</li>" reads "a b", not "ab"
    spaced = _BLOCK_END.sub(" ", raw)
    text = html_lib.unescape(nh3.clean(spaced, tags=set(), attributes={}))
    text = " ".join(single_line(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _links(report_url: str | None) -> tuple[str | None, str | None]:
    """(http(s) link of the overdue page, or where it is in words); never a ``file://`` link."""
    if not report_url:
        return None, None
    url = report_url.strip()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return url.split("#", 1)[0], None
    if scheme == "file":
        return None, urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return None, single_line(url)


def _urgency(rows: pd.DataFrame) -> pd.Index:
    """Row labels most urgent first (priority, then days overdue, then report order)."""
    keys = pd.DataFrame({
        "rank": [wording.priority_rank(_rank_or_priority(r)) for r in rows.to_dict(orient="records")],
        "days": -pd.to_numeric(rows["days_overdue"], errors="coerce").fillna(0).to_numpy(),
        "at": range(len(rows)),
    }, index=rows.index)
    return keys.sort_values(["rank", "days", "at"], kind="stable").index


def _rank_or_priority(record: Mapping[Hashable, Any]) -> Any:
    rank = record.get("priority_rank")
    return rank if _text(rank) else (_text(record.get("priority")) or None)


def _more_by_team(hidden: pd.DataFrame, team_order: Sequence[str]) -> list[dict[str, Any]]:
    """How many rows each team has that the body does not show, in the digest's team order."""
    if not len(hidden):
        return []
    counts = hidden.groupby(hidden["team_id"].map(_text), sort=False).size()
    labels = hidden.groupby(hidden["team_id"].map(_text), sort=False)["team"].first()
    order = {t: i for i, t in enumerate(team_order)}
    return [{"team_id": t, "team": single_line(_text(labels[t])), "count": int(counts[t])}
            for t in sorted(counts.index, key=lambda t: (order.get(t, len(order)), t))]


def _more_text(more: list[dict[str, Any]], single_team: bool) -> str:
    total = sum(m["count"] for m in more)
    if not total:
        return ""
    if single_team or len(more) == 1:
        return f"and {wording.fmt_int(total)} more" + ("" if single_team else f" in {more[0]['team']}")
    per_team = ", ".join(f"{m['team']} {wording.fmt_int(m['count'])}" for m in more)
    return f"and {wording.fmt_int(total)} more (" + per_team + ")"


def _task(record: Mapping[Hashable, Any], app_url_template: str | None, as_of: date, *, team: bool,
          excerpt: bool = False) -> dict[str, Any]:
    from pike_tasks.render import task_url

    prio = wording.priority(_rank_or_priority(record))
    days = _int(record.get("days_overdue"))
    return {
        "title": single_line(_text(record["title"])) or "(untitled)",
        "url": task_url(app_url_template, _text(record["task_id"])),
        "priority": prio,
        "days_overdue": days,
        "overdue": wording.overdue_days(days) if days else "",
        "age": wording.age(days, _text(record.get("age_bucket"))) if days else None,
        "oldest_age": bool(days) and rules.age_bucket(days) == rules.AGE_BUCKETS[-1],  # shown in bold
        "due": wording.short_date(_text(record["due_date"]), current_year=as_of.year),
        "assignees": single_line(_text(record.get("assignees"))),
        "status": wording.humanize_status(single_line(_text(record.get("status")))),
        "team": single_line(_text(record["team"])) if team else "",
        "excerpt": _plain_excerpt(record.get("description")) if excerpt else "",
        "why": wording.new_reason(_text(record.get("reason"))),
    }


def digest_view(
    digest: Digest,
    *,
    report_url: str | None = None,
    app_url_template: str | None = None,
    generated_at: str = "",
    max_rows_per_team: int | None = None,
    max_members: int | None = None,
    preview_for: str | None = None,
    limits: Limits | None = None,
    attachment: Attachment | None = None,
    csv_url: str | None = None,
    team_pages: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The template context of one digest: strings, ints, lists and dicts; rows already cut.

    Args:
        digest: from :func:`build_digests`.
        report_url: the overdue page: an http(s) link (its team sections are linked as
            ``report_url#team-N``), or where it is, shown in words (never linked).
        app_url_template: task links (``render.task_url``).
        generated_at: when, already formatted, for the footer.
        max_rows_per_team, max_members: shorthands for those ``limits``.
        preview_for: the real recipient of a preview.
        limits: how many rows each list shows (default :class:`Limits`).
        attachment: what the message attaches (``email_message.choose_attachment``); None:
            the CSV as it is.
        csv_url: the stored overdue.csv, linked (http(s)) or located in words when nothing
            is attached.
        team_pages: team id -> the http(s) link of that team's own overdue page (every one of
            its overdue tasks, where the overview shows the most urgent few); a team without
            one links its section of ``report_url``.
    """
    limits = limits or Limits(rest_per_team=digest.max_rows_per_team)
    if max_rows_per_team is not None:
        limits = replace(limits, rest_per_team=max_rows_per_team)
    if max_members is not None:
        limits = replace(limits, members=max_members)
    link, location = _links(report_url)
    list_link, list_location = _links(csv_url)
    as_of = digest.as_of
    multi = len(digest.team_ids) > 1
    rows = digest.overdue_rows
    has_baseline = digest.baseline_as_of is not None
    changes = digest.changes if (has_baseline and digest.changes is not None) else _empty_changes()
    new_rows = changes[changes["change"] == "new"]
    resolved_rows = changes[changes["change"] == "resolved"]
    new_ids = set(new_rows["task_id"].map(_text))

    def team_url(team_id: str) -> str | None:
        page = (team_pages or {}).get(team_id)
        if page and _links(page)[0]:  # only an http(s) link: a path is not a link
            return page
        anchor = digest.page_anchors.get(team_id)
        return f"{link}#{anchor}" if link and anchor else link

    # Per team: today's overdue count and what changed (every team the manager has).
    summary = {_text(r["team_id"]): r for r in digest.team_summary.to_dict(orient="records")}
    labels = dict(zip(digest.team_ids, digest.team_names, strict=True))
    team_order = [t for t in summary if t in labels] + [t for t in digest.team_ids if t not in summary]
    teams = []
    for tid in team_order:
        rec = summary.get(tid)
        count = _int(rec["count"]) if rec else 0
        new = int((new_rows["team_id"].map(_text) == tid).sum())
        gone = int((resolved_rows["team_id"].map(_text) == tid).sum())
        teams.append({
            "team": single_line(labels[tid]),
            "url": team_url(tid) if count else link,
            "count": count,
            "overdue": wording.plural(count, "overdue", "overdue"),
            "new": new,
            "resolved": gone,
            "oldest": wording.days(_int(rec["oldest_days"])) if rec else "",
        })

    # Full-row values of new tasks come from today's overdue rows (assignees, description).
    by_id = {(_text(r["task_id"])): r for r in rows.to_dict(orient="records")}
    new_full = pd.DataFrame([{**r, **by_id.get(_text(r["task_id"]), {})} for r in new_rows.to_dict(orient="records")],
                            columns=[*rows.columns, "reason"]) if len(new_rows) else new_rows
    new_shown = new_full.loc[_urgency(new_full)[: limits.new]].sort_index() if len(new_full) else new_full
    new_hidden = new_full.drop(index=new_shown.index) if len(new_full) else new_full

    resolved_shown = resolved_rows.head(limits.resolved)
    resolved_hidden = resolved_rows.iloc[len(resolved_shown):]

    soon = digest.due_soon_rows
    soon_list: list[dict[str, Any]] = []
    soon_hidden = soon.iloc[0:0] if soon is not None else None
    if soon is not None and len(soon):
        keys = pd.DataFrame({"left": soon["days_left"].to_numpy(),
                             "rank": [wording.priority_rank(_rank_or_priority(r))
                                      for r in soon.to_dict(orient="records")],
                             "at": range(len(soon))}, index=soon.index)
        ordered = soon.loc[keys.sort_values(["left", "rank", "at"], kind="stable").index]
        shown = ordered.head(limits.due_soon)
        soon_hidden = ordered.iloc[len(shown):]
        for r in shown.to_dict(orient="records"):
            item = _task(r, app_url_template, as_of, team=multi)
            item["due_in"] = wording.due_in(_int(r["days_left"]))
            soon_list.append(item)

    # The rest of the overdue list: today's rows that are not new, most urgent kept when cut.
    rest = rows[~rows["task_id"].map(_text).isin(new_ids)] if len(rows) else rows
    keep = rest.groupby(rest["team_id"].map(_text), sort=False).head(limits.rest_per_team) if len(rest) else rest
    keep = keep.loc[_urgency(keep)[: limits.rest_total]] if len(keep) else keep
    rest_sections = []
    rest_hidden_all = rest.drop(index=keep.index) if len(rest) else rest
    for tid in team_order:
        team_rest = rest[rest["team_id"].map(_text) == tid] if len(rest) else rest
        if not len(team_rest):
            continue
        shown = keep[keep["team_id"].map(_text) == tid].sort_index()
        hidden = len(team_rest) - len(shown)
        rest_sections.append({
            "team": single_line(labels.get(tid, _text(team_rest["team"].iloc[0]))),
            "url": team_url(tid),
            "count": len(team_rest),
            "count_label": wording.plural(len(team_rest), "task", "tasks"),
            "rows": [_task(r, app_url_template, as_of, team=False) for r in shown.to_dict(orient="records")],
            "more": hidden,
            "more_label": f"and {wording.fmt_int(hidden)} more in {single_line(labels.get(tid, ''))}" if hidden else "",
        })

    workload = digest.workload
    flagged = workload[workload["flag"].map(_text) != ""] if len(workload) else workload
    reassign = [wording.reassign(single_line(_text(m["member"])), _int(m["open"]), _text(m["flag"]))
                for m in flagged.head(limits.reassign).to_dict(orient="records")]
    members = []
    for m in workload.head(limits.members).to_dict(orient="records"):
        open_ = _int(m["open"])
        members.append({
            "member": single_line(_text(m["member"])),
            "open": wording.plural(open_, "open task", "open tasks"),
            "billable": f"{wording.fmt_int(_int(m['billable']))} billable "
                        f"({wording.pct_text(float(m['billable_share']))})",
            "overdue": wording.plural(_int(m["overdue"]), "overdue", "overdue") if _int(m["overdue"]) else "",
            "flag": wording.member_flag(_text(m["flag"])) if _text(m["flag"]) else "",
        })

    since = wording.weekday_date(digest.baseline_as_of) if digest.baseline_as_of is not None else ""
    filters = "teams " + ", ".join(digest.team_filter) if digest.team_filter else ""
    total_hidden = (len(rest_hidden_all) + len(new_hidden))
    return {
        "subject": digest.subject,
        "recipient": digest.recipient,
        "preview_for": preview_for,
        "as_of": as_of.isoformat(),
        "as_of_long": wording.long_date(as_of),
        "teams": [single_line(n) for n in digest.team_names],
        "filters": filters,
        "overdue_count": digest.overdue_count,
        "overdue_headline": wording.plural(digest.overdue_count, "overdue task", "overdue tasks"),
        "has_baseline": has_baseline,
        "since": since,
        "baseline_as_of": digest.baseline_as_of.isoformat() if digest.baseline_as_of is not None else "",
        "new_count": len(new_rows),
        "resolved_count": len(resolved_rows),
        "team_rows": teams,
        "multi_team": multi,
        "reassign": reassign,
        "reassign_more": max(0, len(flagged) - len(reassign)),
        "new": {"rows": [_task(r, app_url_template, as_of, team=multi, excerpt=True)
                         for r in new_shown.to_dict(orient="records")],
                "more": _more_text(_more_by_team(new_hidden, team_order), not multi)},
        "resolved": {"rows": [{**_task(r, app_url_template, as_of, team=multi),
                               **({"url": None} if _text(r["reason"]) == "gone" else {}),  # no page to open
                               "reason": wording.reason(_text(r["reason"]), _text(r["status"])),
                               "was": "was " + wording.overdue_days(_int(r["days_overdue"]))}
                              for r in resolved_shown.to_dict(orient="records")],
                     "more": _more_text(_more_by_team(resolved_hidden, team_order), not multi)},
        "due_soon": {"shown": soon is not None, "count": 0 if soon is None else len(soon), "rows": soon_list,
                     "more": _more_text(_more_by_team(soon_hidden, team_order), not multi)
                     if soon_hidden is not None else ""},
        "rest": {"count": len(rest), "sections": rest_sections, "hidden": len(rest_hidden_all)},
        "any_hidden": bool(total_hidden),
        "members": members,
        "members_total": len(workload),
        "members_more": max(0, len(workload) - len(members)),
        "csv_name": CSV_NAME,
        "attachment": _attachment_view(attachment),
        "list_ref": wording.full_list_ref(*_attachment_kind(attachment)),
        "list_url": list_link,
        "list_path": list_location,
        "report_url": link,
        "report_path": location,
        "generated_at": generated_at,
        "colours": {"new": wording.PRIORITY_COLOURS["urgent"], "resolved": ("#067647", "#ecfdf3", "#abefc6"),
                    "warn": wording.WARN_COLOURS},
    }


def _attachment_kind(attachment: Attachment | None) -> tuple[str, str, str | None]:
    if attachment is None:
        return "csv", CSV_NAME, CSV_NAME
    return attachment.kind, attachment.csv_name, attachment.filename


def _attachment_view(attachment: Attachment | None) -> dict[str, str]:
    """What the templates say of the attachment: ``kind`` (csv, zip, none), the attached file's
    ``name`` (empty for none), the CSV's name and size, and ``why`` none is attached (too large,
    or attachments turned off with a limit of 0)."""
    kind, csv_name, filename = _attachment_kind(attachment)
    turned_off = attachment is not None and attachment.limit == 0
    return {"kind": kind, "name": filename or "", "csv_name": csv_name,
            "size": wording.byte_size(attachment.csv_size) if attachment is not None else "",
            "why": "not attached to these emails" if turned_off else "too large to attach to this email, even zipped"}


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedDigest:
    html: str
    text: str
    rows_per_team: int
    limits: Limits = field(default_factory=Limits)


def render_digest(
    digest: Digest,
    *,
    report_url: str | None = None,
    app_url_template: str | None = None,
    generated_at: str = "",
    preview_for: str | None = None,
    budget_bytes: int = HTML_BUDGET_BYTES,
    limits: Limits | None = None,
    attachment: Attachment | None = None,
    csv_url: str | None = None,
    team_pages: Mapping[str, str] | None = None,
) -> RenderedDigest:
    """Render the HTML (CSS inlined) and text parts, cutting rows until the HTML part fits
    ``budget_bytes`` (Gmail clips messages over ~102 KB): the rest of the overdue list goes
    first (the most urgent across the teams stay), new overdue tasks last.

    ``attachment``, ``csv_url`` and ``team_pages``: see :func:`digest_view` (the words about
    the attachment follow what ``attachment`` says is attached)."""
    import css_inline

    from pike_tasks.render import make_environment

    env = make_environment()
    html_template = env.get_template("digest.html.j2")
    text_template = env.get_template("digest.txt.j2")
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    current = limits or Limits(rest_per_team=max(0, digest.max_rows_per_team))
    while True:
        view = digest_view(digest, report_url=report_url, app_url_template=app_url_template,
                           generated_at=generated_at, preview_for=preview_for, limits=current,
                           attachment=attachment, csv_url=csv_url, team_pages=team_pages)
        html = inliner.inline(html_template.render(**view))
        smaller = current.shrunk()
        if len(html.encode("utf-8")) <= budget_bytes or smaller is None:
            break
        current = smaller
    text = text_template.render(**view)
    return RenderedDigest(html=html, text=text, rows_per_team=current.rest_per_team, limits=current)
