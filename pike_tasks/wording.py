"""The words, numbers and colours people read in every report: one home (STYLE.md 9).

The report pages (``views``) and the manager digest (``digest``) both format through this
module, so "No priority", "1 day", "In review", the age buckets and their colours read the
same in a browser and in a mail client. Pure and small: no jinja2, no I/O.

The rules themselves (which priorities exist and in what order, where the age buckets start,
the labels, the rounding) are REPORTS.md's and live in ``rules``; this module gives them their
words and colours, keyed by the same values, and never restates them. It imports no pandas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pike_tasks import rules
from pike_tasks.rules import NO_TEAM, NONE_RANK, PRIORITY_ORDER, PRIORITY_RANK, PRIORITY_WORDS

# (key, label) per priority, indexed by priority_rank 0..4 (REPORTS.md's order).
PRIORITIES: tuple[tuple[str, str], ...] = tuple((key, PRIORITY_WORDS[key]) for key in PRIORITY_ORDER)

# (bucket, label, css key) per age bucket; the css key is ours, never data.
AGE_BUCKETS: tuple[tuple[str, str, str], ...] = tuple((b, label, css) for b, _, label, css in rules.AGE_BUCKET_RULES)

# Colours, by the keys above. Text colours keep at least 4.5:1 on their background (WCAG AA).
# Priority: (text, background, border) of a calm badge, never a solid block of colour.
PRIORITY_COLOURS: dict[str, tuple[str, str, str]] = {
    "urgent": ("#912018", "#fee4e2", "#fda29b"),
    "high": ("#93370d", "#fef0c7", "#fec84b"),
    "medium": ("#175cd3", "#eff8ff", "#b2ddff"),
    "low": ("#344054", "#f2f4f7", "#d0d5dd"),
    "none": ("#667085", "#ffffff", "#d0d5dd"),
}
# Age: (swatch/bar colour, badge text, badge background, badge border).
AGE_COLOURS: dict[str, tuple[str, str, str, str]] = {
    "a1": ("#fdb022", "#7a2e0e", "#fffaeb", "#fedf89"),
    "a2": ("#ef6820", "#772917", "#fef6ee", "#f9dbaf"),
    "a3": ("#b42318", "#ffffff", "#b42318", "#b42318"),
}
WARN_COLOURS = PRIORITY_COLOURS["high"]  # people to reassign: the "needs attention" tone

# Why a task is new on the overdue list, and why it left it (REPORTS.md Report 4 reasons), for people.
NEW_REASONS = {
    "became_overdue": "fell due since the last report",
    "added": "already past due, newly on the list",
}
REASONS = {
    "gone": "No longer in Pike (deleted or hidden)",
    "closed": "Closed",
    "rescheduled": "Due date moved",
    "out_of_scope": "Moved to a team outside this report",
}

# The same reasons in a compact list ("Ship release notes (closed)"): the digest's resolved block.
SHORT_REASONS = {
    "gone": "no longer in Pike",
    "closed": "closed",
    "rescheduled": "due date moved",
    "out_of_scope": "moved to another team",
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- numbers and counted nouns ----------------------------------------------------------------


def fmt_int(n: int) -> str:
    """``1234`` -> ``1,234``."""
    return f"{int(n):,}"


def plural(n: int, one: str, many: str) -> str:
    """``1 day``, ``2 days``, ``1,234 days``."""
    return f"{fmt_int(n)} {one if int(n) == 1 else many}"


def days(n: int) -> str:
    """``1 day`` / ``N days``."""
    return plural(n, "day", "days")


share_pct = rules.share_pct  # part / whole as a percentage, half-up to one decimal (0.0 when whole is 0)


def pct_text(value: float) -> str:
    """A share already rounded (``share_pct``, ``billable_share``) as ``50.0%``."""
    return f"{float(value):.1f}%"


def byte_size(n: int) -> str:
    """``950 bytes``, ``9.9 KB``, ``48 KB``, ``2.1 MB``: decimal units, as mail providers state
    their limits, rounded down (a size is never overstated into the next unit)."""
    n = int(n)
    if n < 1000:
        return plural(n, "byte", "bytes")
    if n < 10_000:
        return f"{n // 100 / 10:.1f} KB"
    if n < 1_000_000:
        return f"{n // 1000} KB"
    return f"{n // 100_000 / 10:.1f} MB"


# --- the digest's attachment --------------------------------------------------------------------


def full_list_ref(kind: str, csv_name: str, filename: str | None) -> str:
    """How the digest's "and N more: see ..." lines name the full list, by what is attached:
    ``overdue.csv``; ``overdue.csv in overdue.csv.zip``; ``overdue.csv (not attached: see
    above)`` when nothing is (the top of the digest links or locates it)."""
    if kind == "zip" and filename:
        return f"{csv_name} in {filename}"
    if kind == "none":
        return f"{csv_name} (not attached: see above)"
    return csv_name


# --- priorities, ages, statuses ----------------------------------------------------------------


def priority_rank(value: Any) -> int:
    """A rank 0..4 from a rank or an API priority value; null or unknown is ``none``."""
    if isinstance(value, str):
        return PRIORITY_RANK.get(value, NONE_RANK)
    try:
        rank = int(value)
    except (TypeError, ValueError):
        return NONE_RANK
    return rank if 0 <= rank < len(PRIORITIES) else NONE_RANK


def priority(value: Any) -> dict[str, str]:
    """``{"key": "urgent", "label": "Urgent", "fg", "bg", "border"}`` from a rank or API value."""
    key, label = PRIORITIES[priority_rank(value)]
    fg, bg, border = PRIORITY_COLOURS[key]
    return {"key": key, "label": label, "fg": fg, "bg": bg, "border": border}


def age_bucket(bucket: str, days_overdue: int) -> tuple[str, str]:
    """(css key, label) of an age bucket; derived from the days (transforms' rule) when the
    bucket given is not one of the three."""
    for name, label, css in AGE_BUCKETS:
        if bucket == name:
            return css, label
    return age_bucket(rules.age_bucket(days_overdue), days_overdue)


def age(days_overdue: int, bucket: str = "") -> dict[str, str]:
    """``{"key": "a3", "label": "31+ days", "swatch", "fg", "bg", "border"}`` for a task."""
    key, label = age_bucket(bucket, days_overdue)
    swatch, fg, bg, border = AGE_COLOURS[key]
    return {"key": key, "label": label, "swatch": swatch, "fg": fg, "bg": bg, "border": border}


def humanize_status(status: str | None) -> str:
    """API status values for people: ``inProgress`` -> ``In progress``; unknown ones likewise."""
    if not status:
        return ""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(status).replace("_", " ")).split()
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:]


def overdue_days(n: int) -> str:
    """``1 day overdue`` / ``N days overdue``."""
    return days(n) + " overdue"


def due_in(days_left: int) -> str:
    """Due-soon wording: ``due today``, ``due tomorrow``, ``due in 3 days``."""
    if days_left <= 0:
        return "due today"
    if days_left == 1:
        return "due tomorrow"
    return f"due in {days(days_left)}"


def reason(code: str, status_today: str = "") -> str:
    """Why a task is no longer overdue, for people (``closed`` names the status: ``Closed (Done)``)."""
    words = REASONS.get(code, humanize_status(code) or "Resolved")
    if code == "closed" and status_today:
        words += f" ({humanize_status(status_today)})"
    return words


def short_reason(code: str) -> str:
    """Why a task left the overdue list, in a few words (``closed``, ``due date moved``)."""
    return SHORT_REASONS.get(code, humanize_status(code).lower() or "resolved")


def new_reason(code: str) -> str:
    """Why a task is new on the overdue list: it fell due, or it was already past due and came
    (back) onto the list (reopened, moved in, created or given an earlier date); "" otherwise."""
    return NEW_REASONS.get(code, "")


def member_flag(flag: str) -> str:
    """A workload flag (a member status that is not active) for people: ``inactive``,
    ``invited``; ``unknown`` (no status) reads ``status unknown``."""
    return "status unknown" if flag == "unknown" else humanize_status(flag).lower()


def reassign(member: str, open_tasks: int, flag: str) -> str:
    """``Reassign 4 open tasks from Sam (inactive)``."""
    return f"Reassign {plural(open_tasks, 'open task', 'open tasks')} from {member} ({member_flag(flag)})"


# --- teams, anchors ---------------------------------------------------------------------------


def team_label(team_id: str | None, name: str | None) -> str:
    """The config name, else ``Team <first 8 characters of the id>``; "No team" without an id."""
    if name:
        return str(name)
    return rules.team_fallback(team_id) if team_id else NO_TEAM


def team_anchor(team_id: str | None) -> str:
    """The id of a team's section on the overdue page, from the team id alone: stable from day
    to day and computable by the digest, so ``<page>#<anchor>`` links keep working."""
    if not team_id:
        return "no-team"
    return "team-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(team_id))[:64]


def team_anchors(team_ids_in_page_order: Iterable[str]) -> dict[str, str]:
    """``team_anchor`` of each team id, made unique should two ids sanitise alike."""
    anchors: dict[str, str] = {}
    used: set[str] = set()
    for tid in team_ids_in_page_order:
        tid = str(tid)
        if tid in anchors:
            continue
        anchor = base = team_anchor(tid)
        n = 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        anchors[tid] = anchor
        used.add(anchor)
    return anchors


def team_page_names(anchors: Mapping[str, str]) -> dict[str, str]:
    """The file of each team's own overdue page: ``<anchor>.html`` (``team-<id>.html``,
    ``no-team.html``), a flat name in the report folder. Kept unique where the file system
    ignores case (two anchors that differ only in case get ``-2``, ``-3``...).

    Args:
        anchors: team id -> anchor (:func:`team_anchors`), in page order.
    """
    names: dict[str, str] = {}
    used: set[str] = set()
    for tid, anchor in anchors.items():
        name, n = anchor, 2
        while name.casefold() in used:
            name, n = f"{anchor}-{n}", n + 1
        used.add(name.casefold())
        names[tid] = name + ".html"
    return names


# --- dates --------------------------------------------------------------------------------------


def long_date(day: date) -> str:
    """``Thursday 9 April 2026`` (English whatever the process locale)."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def short_date(iso: str | date, current_year: int | None = None) -> str:
    """``2026-04-01`` -> ``1 Apr 2026`` (``1 Apr`` in ``current_year``); anything unparseable
    is returned as it is."""
    try:
        day = iso if isinstance(iso, date) else date.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    short = f"{day.day} {_MONTHS[day.month - 1][:3]}"
    return short if day.year == current_year else f"{short} {day.year}"


def weekday_date(day: date) -> str:
    """``Thu 2 Apr`` (a recent date, e.g. the baseline)."""
    return f"{_DAYS[day.weekday()][:3]} {day.day} {_MONTHS[day.month - 1][:3]}"


# --- colours for the pages' stylesheet ----------------------------------------------------------


def css_custom_properties() -> str:
    """The palette above as CSS custom properties, for the report pages' stylesheet."""
    lines = []
    for key, (fg, bg, border) in PRIORITY_COLOURS.items():
        lines.append(f"--{key}-fg: {fg}; --{key}-bg: {bg}; --{key}-bd: {border};")
    for index, (_, _, css) in enumerate(AGE_BUCKETS, start=1):
        swatch, fg, bg, border = AGE_COLOURS[css]
        lines.append(f"--age{index}: {swatch}; --age{index}-fg: {fg}; "
                     f"--age{index}-bg: {bg}; --age{index}-bd: {border};")
    return ":root {\n  " + "\n  ".join(lines) + "\n}"
