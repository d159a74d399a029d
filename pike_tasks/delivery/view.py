"""The digest's view: plain dicts of pre-formatted values, the one thing every renderer reads.

Pure: a ``Digest`` in, a dict of strings, ints and lists out (email templates, Slack Block Kit,
Teams cards). Every word and colour comes from ``pike_tasks.wording``, the same place the
report pages take theirs from; task descriptions (untrusted HTML) become short excerpts of
paragraphs and list items through nh3's cleaner (``delivery.description``).

The body is read on a phone first: the counts (overdue, what changed, per team; a zero part is
left out, never "+0 new") and the people to reassign come before any list, then what needs
action: the new overdue tasks (most urgent first across the teams: ``rules.urgency_key``), what
is due soon, a short rest of the overdue list ("and N more" points at the attached CSV and the
linked page) and the people's workload (linking the workload report); what was resolved comes
last, as one compact block (a few titles per team with why, "and N more" linking the team page).
``Limits`` says how many rows each list shows; a renderer with a size budget shrinks them (the
rest of the overdue list first, keeping the most urgent tasks across all the teams; what is new
last).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pandas as pd

from pike_tasks import rules, wording
from pike_tasks.delivery.description import description_blocks, one_line
from pike_tasks.delivery.digest import CSV_NAME, DEFAULT_MAX_ROWS_PER_TEAM, Digest, empty_changes
from pike_tasks.email_message import Attachment, single_line

DEFAULT_MAX_MEMBERS = 30


@dataclass(frozen=True)
class Limits:
    """How many rows of each list the body shows (the CSV and the page have every row).

    ``rest_total`` caps the rest of the overdue list across all teams (the most urgent are
    kept), ``rest_per_team`` caps it per team.
    """

    new: int = 50
    resolved: int = 10  # titles in the compact resolved block, across the teams
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
        for name, floor in (("resolved", 5), ("members", 5), ("due_soon", 3), ("new", 5), ("resolved", 0),
                            ("members", 0), ("due_soon", 0), ("new", 1)):
            value = getattr(self, name)
            if value > floor:
                return replace(self, **{name: max(floor, value // 2)})
        return None



def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    return str(value)


def _int(value: Any) -> int:
    text = _text(value)
    return int(float(text)) if text else 0


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


def _urgency_key(record: Mapping[Hashable, Any]) -> tuple[int, int, str, str]:
    """A row's place in a list across teams: ``rules.urgency_key`` (priority urgent -> none, days
    overdue most first, title, task id)."""
    key = wording.PRIORITIES[wording.priority_rank(_rank_or_priority(record))][0]
    return rules.urgency_key(key, _int(record.get("days_overdue")), _text(record.get("title")),
                             _text(record.get("task_id")))


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
    blocks = description_blocks(record.get("description")) if excerpt else ()
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
        # paragraphs and lists: {"kind": "p" | "ul" | "ol", "lines": [...]}; "excerpt" on one line
        "description": [{"kind": b.kind, "lines": list(b.lines)} for b in blocks],
        "excerpt": one_line(blocks),
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
    workload_url: str | None = None,
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
        workload_url: the workload report of the same day and scope: an http(s) link, or where
            it is (in words); None: the workload section names no report.
    """
    limits = limits or Limits(rest_per_team=digest.max_rows_per_team)
    if max_rows_per_team is not None:
        limits = replace(limits, rest_per_team=max_rows_per_team)
    if max_members is not None:
        limits = replace(limits, members=max_members)
    link, _ = _links(report_url)
    view = _View.of(digest, limits, app_url_template, link, team_pages)
    new_rows, resolved_rows = view.changes()
    new, new_hidden = _new_section(view, new_rows)
    rest, rest_hidden = _rest_section(view, set(new_rows["task_id"].map(_text)))
    has_baseline = digest.baseline_as_of is not None
    return {
        "subject": digest.subject,
        "recipient": digest.recipient,
        "preview_for": preview_for,
        "as_of": digest.as_of.isoformat(),
        "as_of_long": wording.long_date(digest.as_of),
        "teams": [single_line(n) for n in digest.team_names],
        "filters": "teams " + ", ".join(digest.team_filter) if digest.team_filter else "",
        "overdue_count": digest.overdue_count,
        "overdue_headline": wording.plural(digest.overdue_count, "overdue task", "overdue tasks"),
        "has_baseline": has_baseline,
        "since": wording.weekday_date(digest.baseline_as_of) if digest.baseline_as_of is not None else "",
        "baseline_as_of": digest.baseline_as_of.isoformat() if digest.baseline_as_of is not None else "",
        "new_count": len(new_rows),
        "resolved_count": len(resolved_rows),
        "changes": _change_parts(len(new_rows), len(resolved_rows)),
        "team_rows": _team_rows(view, new_rows, resolved_rows),
        "multi_team": view.multi,
        **_members_section(view),
        "new": new,
        "resolved": _resolved_section(view, resolved_rows),
        "due_soon": _due_soon_section(view),
        "rest": rest,
        "any_hidden": bool(rest_hidden + new_hidden),
        "csv_name": CSV_NAME,
        "attachment": _attachment_view(attachment),
        "list_ref": wording.full_list_ref(*_attachment_kind(attachment)),
        **_link_fields(report=report_url, list=csv_url, workload=workload_url),
        "generated_at": generated_at,
        **_palette(),
    }


def _palette() -> dict[str, Any]:
    """The colours the templates use, and what the coloured squares before "N days overdue" mean
    (the pages' age buckets and colours, from ``wording``)."""
    return {
        "age_legend": [{"label": label, "swatch": wording.AGE_COLOURS[css][0]}
                       for _, label, css in wording.AGE_BUCKETS],
        "colours": {"new": wording.PRIORITY_COLOURS["urgent"], "resolved": ("#067647", "#ecfdf3", "#abefc6"),
                    "warn": wording.WARN_COLOURS},
    }


def _link_fields(**where: str | None) -> dict[str, str | None]:
    """``<name>_url`` (an http(s) link) and ``<name>_path`` (where it is, in words) of each place."""
    out: dict[str, str | None] = {}
    for name, value in where.items():
        out[f"{name}_url"], out[f"{name}_path"] = _links(value)
    return out


@dataclass(frozen=True)
class _View:
    """What every section of one digest's view reads: the digest, its limits, links and team order."""

    digest: Digest
    limits: Limits
    app_url_template: str | None
    link: str | None
    team_pages: Mapping[str, str]
    labels: Mapping[str, str]  # team id -> label
    summary: Mapping[str, Mapping[Hashable, Any]]  # team id -> its overdue_team_summary row
    team_order: list[str]

    @classmethod
    def of(cls, digest: Digest, limits: Limits, app_url_template: str | None, link: str | None,
           team_pages: Mapping[str, str] | None) -> _View:
        summary = {_text(r["team_id"]): r for r in digest.team_summary.to_dict(orient="records")}
        labels = dict(zip(digest.team_ids, digest.team_names, strict=True))
        order = [t for t in summary if t in labels] + [t for t in digest.team_ids if t not in summary]
        return cls(digest, limits, app_url_template, link, team_pages or {}, labels, summary, order)

    @property
    def multi(self) -> bool:
        return len(self.digest.team_ids) > 1

    def changes(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(new rows, resolved rows) of the digest's changes; both empty without a baseline."""
        digest = self.digest
        has_baseline = digest.baseline_as_of is not None
        changes = digest.changes if (has_baseline and digest.changes is not None) else empty_changes()
        return changes[changes["change"] == "new"], changes[changes["change"] == "resolved"]

    def team_url(self, team_id: str) -> str | None:
        page = self.team_pages.get(team_id)
        if page and _links(page)[0]:  # only an http(s) link: a path is not a link
            return page
        anchor = self.digest.page_anchors.get(team_id)
        return f"{self.link}#{anchor}" if self.link and anchor else self.link

    def task(self, record: Mapping[Hashable, Any], *, team: bool, excerpt: bool = False) -> dict[str, Any]:
        return _task(record, self.app_url_template, self.digest.as_of, team=team, excerpt=excerpt)

    def more(self, hidden: pd.DataFrame) -> str:
        return _more_text(_more_by_team(hidden, self.team_order), not self.multi)


def _team_rows(view: _View, new_rows: pd.DataFrame, resolved_rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Per team: today's overdue count and what changed (every team the manager has)."""
    teams = []
    for tid in view.team_order:
        rec = view.summary.get(tid)
        count = _int(rec["count"]) if rec else 0
        new = int((new_rows["team_id"].map(_text) == tid).sum())
        resolved = int((resolved_rows["team_id"].map(_text) == tid).sum())
        teams.append({
            "team": single_line(view.labels[tid]),
            "url": view.team_url(tid) if count else view.link,
            "count": count,
            "overdue": wording.plural(count, "overdue", "overdue"),
            "new": new,
            "resolved": resolved,
            "changes": _change_parts(new, resolved),
            "oldest": wording.days(_int(rec["oldest_days"])) if rec else "",
        })
    return teams


def _change_parts(new: int, resolved: int) -> list[dict[str, str]]:
    """``[{"kind": "new", "text": "+2 new"}, {"kind": "resolved", "text": "3 resolved"}]`` without
    the zero parts (never "+0 new"); empty when nothing changed (the templates say "no change")."""
    parts = []
    if new:
        parts.append({"kind": "new", "text": f"+{wording.fmt_int(new)} new"})
    if resolved:
        parts.append({"kind": "resolved", "text": f"{wording.fmt_int(resolved)} resolved"})
    return parts


def _new_section(view: _View, new_rows: pd.DataFrame) -> tuple[dict[str, Any], int]:
    """(the new overdue tasks, most urgent kept when cut; how many are not shown)."""
    rows = view.digest.overdue_rows
    # Full-row values of new tasks come from today's overdue rows (assignees, description).
    by_id = {(_text(r["task_id"])): r for r in rows.to_dict(orient="records")}
    new_full = pd.DataFrame([{**r, **by_id.get(_text(r["task_id"]), {})} for r in new_rows.to_dict(orient="records")],
                            columns=[*rows.columns, "reason"]) if len(new_rows) else new_rows
    records = sorted(new_full.to_dict(orient="records"), key=_urgency_key)  # across teams, not by team
    shown = records[: view.limits.new]
    hidden = new_full.iloc[0:0] if len(records) <= len(shown) else pd.DataFrame(records[len(shown):])
    return {"rows": [view.task(r, team=view.multi, excerpt=True) for r in shown],
            "more": view.more(hidden)}, len(hidden)


def _resolved_section(view: _View, resolved_rows: pd.DataFrame) -> dict[str, Any]:
    """What was resolved, compactly: per team (the baseline's), a few titles with why, in the
    baseline's order, and how many more the team page has. At most ``limits.resolved`` titles
    across the teams, shared out in turns (one team's long list does not crowd out the others); a
    team none of whose titles fit is still counted."""
    records = resolved_rows.to_dict(orient="records")
    groups: dict[str, list[Mapping[Hashable, Any]]] = {}
    for r in records:
        groups.setdefault(_text(r["team_id"]), []).append(r)
    order = {t: i for i, t in enumerate(view.team_order)}
    team_ids = sorted(groups, key=lambda t: (order.get(t, len(order)), t))
    room = dict.fromkeys(team_ids, 0)
    left = min(view.limits.resolved, len(records))
    while left > 0:
        for tid in team_ids:
            if left > 0 and room[tid] < len(groups[tid]):
                room[tid], left = room[tid] + 1, left - 1
    out = []
    for tid in team_ids:
        rows = groups[tid]
        titles = [{"title": single_line(_text(r["title"])) or "(untitled)",
                   "url": None if _text(r["reason"]) == "gone" else view.task(r, team=False)["url"],  # gone: no page
                   "why": wording.short_reason(_text(r["reason"]))}
                  for r in rows[: room[tid]]]
        more = len(rows) - len(titles)
        out.append({
            "team": single_line(view.labels.get(tid, _text(rows[0]["team"]))) if view.multi else "",
            "url": view.team_url(tid),
            "count": len(rows),
            "titles": titles,
            "more": more,
            "more_label": "" if not more else (f"and {wording.fmt_int(more)} more" if titles
                                               else "listed on the team page"),
        })
    return {"count": len(records), "groups": out}


def _due_soon_section(view: _View) -> dict[str, Any]:
    soon = view.digest.due_soon_rows
    soon_list: list[dict[str, Any]] = []
    soon_hidden = soon.iloc[0:0] if soon is not None else None
    if soon is not None and len(soon):
        keys = pd.DataFrame({"left": soon["days_left"].to_numpy(),
                             "rank": [wording.priority_rank(_rank_or_priority(r))
                                      for r in soon.to_dict(orient="records")],
                             "at": range(len(soon))}, index=soon.index)
        ordered = soon.loc[keys.sort_values(["left", "rank", "at"], kind="stable").index]
        shown = ordered.head(view.limits.due_soon)
        soon_hidden = ordered.iloc[len(shown):]
        for r in shown.to_dict(orient="records"):
            item = view.task(r, team=view.multi)
            item["due_in"] = wording.due_in(_int(r["days_left"]))
            soon_list.append(item)
    return {"shown": soon is not None, "count": 0 if soon is None else len(soon), "rows": soon_list,
            "more": view.more(soon_hidden) if soon_hidden is not None else ""}


def _rest_section(view: _View, new_ids: set[str]) -> tuple[dict[str, Any], int]:
    """(the rest of the overdue list: today's rows that are not new, most urgent kept when cut;
    how many are not shown)."""
    rows, limits, labels = view.digest.overdue_rows, view.limits, view.labels
    rest = rows[~rows["task_id"].map(_text).isin(new_ids)] if len(rows) else rows
    keep = rest.groupby(rest["team_id"].map(_text), sort=False).head(limits.rest_per_team) if len(rest) else rest
    keep = keep.loc[_urgency(keep)[: limits.rest_total]] if len(keep) else keep
    sections = []
    hidden_all = rest.drop(index=keep.index) if len(rest) else rest
    for tid in view.team_order:
        team_rest = rest[rest["team_id"].map(_text) == tid] if len(rest) else rest
        if not len(team_rest):
            continue
        shown = keep[keep["team_id"].map(_text) == tid].sort_index()
        hidden = len(team_rest) - len(shown)
        sections.append({
            "team": single_line(labels.get(tid, _text(team_rest["team"].iloc[0]))),
            "url": view.team_url(tid),
            "count": len(team_rest),
            "count_label": wording.plural(len(team_rest), "task", "tasks"),
            "rows": [view.task(r, team=False) for r in shown.to_dict(orient="records")],
            "more": hidden,
            "more_label": f"and {wording.fmt_int(hidden)} more in {single_line(labels.get(tid, ''))}" if hidden else "",
        })
    return {"count": len(rest), "sections": sections, "hidden": len(hidden_all)}, len(hidden_all)


def _members_section(view: _View) -> dict[str, Any]:
    """The reassign callouts and the members' workload lines."""
    workload, limits = view.digest.workload, view.limits
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
    return {"reassign": reassign, "reassign_more": max(0, len(flagged) - len(reassign)), "members": members,
            "members_total": len(workload), "members_more": max(0, len(workload) - len(members))}


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
