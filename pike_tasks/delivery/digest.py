"""Which teams a manager sees, and the channel-neutral ``Digest`` value (REPORTS.md, Report 3).

Pure: DataFrames in (the overdue report's frames), one frozen ``Digest`` per manager address
out, built once per run and rendered by every channel (``view`` makes the plain dict the email,
Slack and Teams renderers read). No Prefect, no requests, no SMTP here.

What one manager's digest covers (the teams that list the address):

- what changed since the baseline (Report 4's ``changes`` rows of those teams: a new row by
  today's team, a resolved row by the team the baseline gave it), first;
- the tasks due soon in those teams;
- the overdue rows of Report 1 restricted to those teams, in report order;
- the workload of the members of those teams (``team_ids`` includes one of them), counting
  each such member's open tasks in *every* team, since that is the load the person carries;
  a member who is not active and still holds work gets a "reassign" line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from pike_tasks import rules, wording
from pike_tasks.email_message import single_line

DEFAULT_MAX_ROWS_PER_TEAM = 10
CSV_NAME = rules.OVERDUE_CSV
CHANGE_COLUMNS = rules.CHANGES_COLUMNS


def empty_changes() -> pd.DataFrame:
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
    from pike_tasks import transforms

    if baseline_as_of is None and changes is not None and len(changes):
        raise ValueError("changes were given without baseline_as_of (the date they compare with)")
    by_manager = manager_teams(teams_config_teams, team_ids)
    if not by_manager:
        return []
    # The page's team order gives its section anchors (views.overdue_view): the page shows the
    # overdue rows of the run's scope.
    page_rows = overdue_rows if not team_ids else overdue_rows[overdue_rows["team_id"].isin(list(team_ids))]
    run = _RunFrames(
        as_of=as_of, overdue_rows=overdue_rows, workload=transforms.workload_by_member(resolved, members, as_of),
        member_teams=_member_team_sets(members), team_filter=tuple(sorted(team_ids)) if team_ids else None,
        max_rows_per_team=max_rows_per_team, changes=changes, due_soon_rows=due_soon_rows,
        baseline_as_of=baseline_as_of,
        anchors=wording.team_anchors(transforms.overdue_team_summary(page_rows)["team_id"].map(str)),
    )
    digests = []
    for key in sorted(by_manager):
        address, tids = by_manager[key]
        labels = {tid: team_label(tid, _get(teams_config_teams[tid], "name")) for tid in tids}
        digests.append(_digest_for(address, labels, run))
    return digests


@dataclass(frozen=True)
class _RunFrames:
    """What every manager's digest of one run is cut from."""

    as_of: date
    overdue_rows: pd.DataFrame
    workload: pd.DataFrame
    member_teams: dict[str, set[str]]
    team_filter: tuple[str, ...] | None
    max_rows_per_team: int
    changes: pd.DataFrame | None
    due_soon_rows: pd.DataFrame | None
    baseline_as_of: date | None
    anchors: Mapping[str, str]


def _digest_for(address: str, labels: Mapping[str, str], run: _RunFrames) -> Digest:
    """One manager's ``Digest``: the run's frames restricted to the teams in ``labels`` (id -> label)."""
    from pike_tasks import changes as changes_mod
    from pike_tasks import transforms

    ordered = sorted(labels, key=lambda t: (labels[t].casefold(), t))
    names = tuple(labels[t] for t in ordered)
    rows = run.overdue_rows[run.overdue_rows["team_id"].isin(ordered)].reset_index(drop=True)
    wanted = set(ordered)
    in_teams = {mid for mid, teams in run.member_teams.items() if teams & wanted}
    mine = None
    if run.baseline_as_of is not None:
        mine = changes_mod.changes_for_teams(run.changes if run.changes is not None else empty_changes(), ordered)
    soon = None
    if run.due_soon_rows is not None:
        soon = run.due_soon_rows[run.due_soon_rows["team_id"].isin(ordered)].reset_index(drop=True)
    count = len(rows)
    return Digest(
        recipient=address,
        team_ids=tuple(ordered),
        team_names=names,
        as_of=run.as_of,
        overdue_rows=rows,
        team_summary=transforms.overdue_team_summary(rows),
        workload=run.workload[run.workload["member_id"].isin(in_teams)].reset_index(drop=True),
        overdue_count=count,
        subject=digest_subject(run.as_of, count, names, _count(mine, "new") if mine is not None else None,
                               _count(mine, "resolved") if mine is not None else None),
        team_filter=run.team_filter,
        max_rows_per_team=run.max_rows_per_team,
        changes=mine,
        due_soon_rows=soon,
        baseline_as_of=run.baseline_as_of,
        page_anchors={t: run.anchors[t] for t in ordered if t in run.anchors},
    )


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _member_team_sets(members: pd.DataFrame) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mid, teams in zip(members["member_id"], members["team_ids"], strict=True):
        if mid is None:
            continue
        out[mid] = set(teams) if isinstance(teams, (list, tuple, set)) else set()
    return out
