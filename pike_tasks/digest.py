"""Per-manager digest contents (REPORTS.md, Report 3), its template view and rendering.

Pure: DataFrames in, a frozen ``Digest`` per manager address out; then plain dicts of
pre-formatted values for the templates, and the rendered HTML/text parts. No Prefect,
no requests, no SMTP here.

What one manager's digest covers (the teams that list the address):

- the overdue rows of Report 1 restricted to those teams, in report order;
- the per-team overdue summary of those rows;
- the workload of the members of those teams (``team_ids`` includes one of them), counting
  each such member's open tasks in *every* team, since that is the load the person carries.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from pike_tasks.email_message import single_line

DEFAULT_MAX_ROWS_PER_TEAM = 25
DEFAULT_MAX_MEMBERS = 60
HTML_LIMIT_BYTES = 100_000
# Headroom under Gmail's ~102 KB clipping point for transfer-encoding differences.
HTML_BUDGET_BYTES = 90_000
CSV_NAME = "overdue.csv"

PRIORITY_LABELS = {0: "Urgent", 1: "High", 2: "Medium", 3: "Low", 4: "None"}
# Background colours for the priority cell; the label is always written too (never colour alone).
PRIORITY_COLOURS = {0: "#b42318", 1: "#d9730d", 2: "#b8860b", 3: "#2e7d32", 4: "#667085"}
AGE_BUCKETS = (("1-7", "age_1_7", "#f4b400"), ("8-30", "age_8_30", "#e8710a"), ("31+", "age_31_plus", "#b42318"))
WORKLOAD_SEGMENTS = (
    ("billable", "Billable", "#1e6fd9"),
    ("non_billable", "Non-billable", "#9aa5b1"),
    ("unclassified", "Unclassified", "#d0d5dd"),
)



def team_label(team_id: str, name: str | None) -> str:
    """The config name, else ``Team <first 8 characters of the id>`` (REPORTS.md)."""
    return str(name) if name else f"Team {str(team_id)[:8]}"


@dataclass(frozen=True)
class Digest:
    """One manager's digest. ``overdue_rows``/``workload`` are full (the CSV gets every row);
    the view truncates to ``max_rows_per_team`` per team for the HTML/text parts."""

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

    @property
    def is_empty(self) -> bool:
        """Nothing overdue (what ``skip_if_empty`` looks at)."""
        return self.overdue_count == 0


def digest_subject(as_of: date, overdue_count: int, team_names: Sequence[str]) -> str:
    """``Pike digest 2026-04-09: 7 overdue tasks (Delivery, Platform)``; always one line."""
    noun = "task" if overdue_count == 1 else "tasks"
    teams = ", ".join(single_line(n) for n in team_names)
    subject = f"Pike digest {as_of.isoformat()}: {overdue_count} overdue {noun}"
    return single_line(f"{subject} ({teams})" if teams else subject)


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
) -> list[Digest]:
    """One ``Digest`` per manager address in the teams config, sorted by address (casefolded).

    Args:
        resolved: ``transforms.resolve_tasks`` output (every task).
        members: the members frame (``member_id, ..., team_ids`` as a list per member).
        overdue_rows: ``transforms.overdue_tasks`` output for as_of (any team filter applied or not:
            rows are restricted to each manager's teams here).
        teams_config_teams: team id -> ``{"name", "managers"}`` (a mapping or ``TeamConfig``).
        as_of: the report date.
        team_ids: only digest these teams (a team filter, shown in the digest); None means all.
        max_rows_per_team: rows per team shown in the email body (the CSV has all of them).
    """
    from pike_tasks import transforms  # imported here so rendering works without it

    by_manager = manager_teams(teams_config_teams, team_ids)
    if not by_manager:
        return []
    workload_all = transforms.workload_by_member(resolved, members, as_of)
    member_teams = _member_team_sets(members)
    team_filter = tuple(sorted(team_ids)) if team_ids else None
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
                subject=digest_subject(as_of, count, names),
                team_filter=team_filter,
                max_rows_per_team=max_rows_per_team,
            )
        )
    return digests


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _member_team_sets(members: pd.DataFrame) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mid, teams in zip(members["member_id"], members["team_ids"]):
        if mid is None:
            continue
        out[mid] = set(teams) if isinstance(teams, (list, tuple, set)) else set()
    return out


# --- view: plain dicts of pre-formatted values for the templates -------------------------


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    return str(value)


_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(?:p|li|div|h[1-6]|tr|td|th|blockquote|pre)\s*>")


def _plain_excerpt(description: Any, limit: int = 160) -> str:
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


def _bar_segments(parts: Sequence[tuple[str, int, str]], scale_total: int) -> list[dict[str, Any]]:
    """Percent widths (ints summing to <= 100) for the non-zero parts of one bar."""
    segments = []
    if scale_total <= 0:
        return segments
    for label, count, colour in parts:
        if count > 0:
            segments.append({"label": label, "count": count, "colour": colour,
                             "pct": max(1, round(100 * count / scale_total))})
    overflow = sum(s["pct"] for s in segments) - 100
    while overflow > 0 and segments:  # rounding: trim the widest segment
        widest = max(segments, key=lambda s: s["pct"])
        take = min(overflow, widest["pct"] - 1)
        if take <= 0:
            break
        widest["pct"] -= take
        overflow -= take
    return segments


def digest_view(
    digest: Digest,
    *,
    report_url: str | None = None,
    app_url_template: str | None = None,
    generated_at: str = "",
    max_rows_per_team: int | None = None,
    max_members: int = DEFAULT_MAX_MEMBERS,
    preview_for: str | None = None,
) -> dict[str, Any]:
    """The template context of one digest: strings and ints only, rows already truncated."""
    from pike_tasks.render import task_url

    per_team = digest.max_rows_per_team if max_rows_per_team is None else max_rows_per_team
    rows = digest.overdue_rows
    summary = digest.team_summary

    sections = []
    for _, team in summary.iterrows():
        tid = team["team_id"]
        team_rows = rows[rows["team_id"] == tid] if tid is not None else rows[rows["team_id"].isna()]
        shown = []
        for _, r in team_rows.head(per_team).iterrows():
            rank = int(r["priority_rank"]) if r.get("priority_rank") is not None else 4
            shown.append({
                "title": single_line(_text(r["title"])) or "(untitled)",
                "url": task_url(app_url_template, _text(r["task_id"])),
                "priority": PRIORITY_LABELS.get(rank, "None"),
                "priority_colour": PRIORITY_COLOURS.get(rank, PRIORITY_COLOURS[4]),
                "days_overdue": int(r["days_overdue"]),
                "due_date": _text(r["due_date"]),
                "assignees": single_line(_text(r["assignees"])),
                "project": single_line(_text(r["project"])),
                "status": single_line(_text(r["status"])),
                "excerpt": _plain_excerpt(r.get("description")),
            })
        sections.append({
            "team": single_line(_text(team["team"])),
            "count": int(team["count"]),
            "oldest_days": int(team["oldest_days"]),
            "rows": shown,
            "more": max(0, int(team["count"]) - len(shown)),
        })

    biggest = int(summary["count"].max()) if len(summary) else 0
    overdue_chart = []
    for _, team in summary.iterrows():
        parts = [(label, int(team[col]), colour) for label, col, colour in AGE_BUCKETS]
        segments = _bar_segments(parts, biggest)
        overdue_chart.append({
            "team": single_line(_text(team["team"])),
            "count": int(team["count"]),
            "buckets": {label: count for label, count, _ in parts},
            "segments": segments,
            "rest_pct": max(0, 100 - sum(s["pct"] for s in segments)),
        })

    workload = digest.workload
    biggest_open = int(workload["open"].max()) if len(workload) else 0
    members = []
    for _, m in workload.head(max_members).iterrows():
        parts = [(label, int(m[col]), colour) for col, label, colour in WORKLOAD_SEGMENTS]
        segments = _bar_segments(parts, biggest_open)
        members.append({
            "member": single_line(_text(m["member"])),
            "status": _text(m["status"]),
            "open": int(m["open"]),
            "billable": int(m["billable"]),
            "non_billable": int(m["non_billable"]),
            "unclassified": int(m["unclassified"]),
            "billable_share": f"{float(m['billable_share']):.1f}",
            "overdue": int(m["overdue"]),
            "flag": single_line(_text(m["flag"])),
            "segments": segments,
            "rest_pct": max(0, 100 - sum(s["pct"] for s in segments)),
        })

    filters = []
    if digest.team_filter:
        filters.append("teams " + ", ".join(digest.team_filter))
    link = report_url if report_url and report_url.startswith(("https://", "http://")) else None
    return {
        "subject": digest.subject,
        "recipient": digest.recipient,
        "preview_for": preview_for,
        "as_of": digest.as_of.isoformat(),
        "teams": [single_line(n) for n in digest.team_names],
        "filters": "; ".join(filters),
        "overdue_count": digest.overdue_count,
        "team_count_with_overdue": len(summary),
        "overdue_chart": overdue_chart,
        "age_buckets": [{"label": label, "colour": colour} for label, _, colour in AGE_BUCKETS],
        "sections": sections,
        "rows_per_team": per_team,
        "members": members,
        "members_total": len(workload),
        "members_more": max(0, len(workload) - len(members)),
        "workload_legend": [{"label": label, "colour": colour} for _, label, colour in WORKLOAD_SEGMENTS],
        "csv_name": CSV_NAME,
        "report_url": link,
        "report_path": None if link else (report_url or None),
        "generated_at": generated_at,
    }


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedDigest:
    html: str
    text: str
    rows_per_team: int


def render_digest(
    digest: Digest,
    *,
    report_url: str | None = None,
    app_url_template: str | None = None,
    generated_at: str = "",
    preview_for: str | None = None,
    budget_bytes: int = HTML_BUDGET_BYTES,
) -> RenderedDigest:
    """Render the HTML (CSS inlined) and text parts, shrinking the rows shown until the HTML
    part fits ``budget_bytes`` (Gmail clips messages over ~102 KB)."""
    import css_inline

    from pike_tasks.render import make_environment

    env = make_environment()
    html_template = env.get_template("digest.html.j2")
    text_template = env.get_template("digest.txt.j2")
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
    per_team = max(1, digest.max_rows_per_team)
    members = DEFAULT_MAX_MEMBERS
    while True:
        view = digest_view(
            digest, report_url=report_url, app_url_template=app_url_template, generated_at=generated_at,
            max_rows_per_team=per_team, max_members=members, preview_for=preview_for,
        )
        html = inliner.inline(html_template.render(**view))
        if len(html.encode("utf-8")) <= budget_bytes or (per_team <= 1 and members <= 5):
            break
        per_team = max(1, per_team // 2)
        members = max(5, members // 2) if per_team == 1 else members
    text = text_template.render(**view)
    return RenderedDigest(html=html, text=text, rows_per_team=per_team)
