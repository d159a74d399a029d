"""Slack Block Kit messages of a digest: a manager's direct message and a team channel's summary.

Pure: the plain dict of :func:`pike_tasks.digest.digest_view` in, a ``chat.postMessage`` payload
(``text`` + ``blocks``) out. No network, no slack_sdk needed (the blocks are plain dicts; the
tests check them against ``slack_sdk.models.blocks`` as well as :func:`check_limits`).

What a message shows, phone first: a header with the overdue count, "+N new · M resolved since
<day>" (a zero part left out), the reassign callouts (DM only), then the new overdue tasks (the
view's order: most urgent first across the teams), what is due soon and the most urgent of the
rest (priority, then days overdue), one line per task with a link to it in Pike when the view has
one, what was resolved in one compact line after the lists (the email puts its compact block
right after the new tasks; a chat message is a summary), and "N more: full report"
linking the report or the team page. Every list
is one section whose lines are cut to Slack's limits, most urgent kept, with the omission stated
("and 37 more"). Whatever the data (a 5,000-character title, 200 teams, 10,000 tasks) the message
stays within :data:`MAX_BLOCKS` blocks and every other limit below; :func:`check_limits` says
what a payload breaks, for the tests and the local fake of Slack.

Escaping (nothing from the data can ping, link or restyle):

- ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` in every text taken from the data
  (Slack's documented escaping), so ``<!channel>``, ``<@U01>``, ``<#C01>`` and ``<url|label>``
  arrive as text, never as a mention or a link;
- mrkdwn has no escape character for ``*``, ``_``, ``~`` and `````, so in data they are replaced by
  look-alikes that mrkdwn does not format: ``∗`` (U+2217), ``ˍ`` (U+02CD), ``∼`` (U+223C) and
  ``ˋ`` (U+02CB). The words read the same; the link next to each task opens the original;
- ``|`` in a link label becomes ``∣`` (U+2223), so a label can never end the link early, and a
  link's URL is http(s) only, with ``<``, ``>``, ``|``, quotes and spaces percent-encoded;
- line breaks and control characters become spaces (``email_message.single_line``), and data
  never starts a line (a ``>`` there would be a quote): every line starts with our own words.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pike_tasks import wording
from pike_tasks.email_message import single_line

# Slack's limits. Blocks per message, section text, header text, fields: the Block Kit reference
# (docs.slack.dev/reference/block-kit/blocks: "section", "header", "context");
# the message's text: chat.postMessage ("truncating" past 40,000 characters; msg_too_long).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3000  # a context element is a text object; the same 3,000 as a section's text
MAX_MESSAGE_TEXT = 40000

# Our own caps, well under those: one task line stays short on a phone and a long URL is
# better dropped than allowed to push the rest of a list out.
TITLE_CHARS = 120
NAME_CHARS = 60
MAX_URL_CHARS = 1000

_CONTROL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_FORMATTING = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_LABEL = str.maketrans({"|": "\u2223"})
_URL_SAFE = "/:?#[]@!$&'()*+,;=%-._~"
SEP = " \u00b7 "  # " · "


@dataclass(frozen=True)
class SlackLimits:
    """How many lines each part of a Slack message shows at most (the view may hold more: it was
    cut for the email). Each list is still cut further when its lines pass a section's 3,000
    characters."""

    teams: int = 10
    reassign: int = 3
    new: int = 10
    due_soon: int = 5
    urgent: int = 10


# --- escaping ---------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis where it was cut)."""
    text = single_line(text[: limit * 4 + 16])  # cut first: single_line looks at every character
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "\u2026"


def escape_plain(text: Any, limit: int = TITLE_CHARS) -> str:
    """Data for a ``plain_text`` object: one line, clipped, ``&``, ``<``, ``>`` escaped."""
    return clip("" if text is None else str(text), limit).translate(_CONTROL)


def escape_mrkdwn(text: Any, limit: int = TITLE_CHARS) -> str:
    """Data for ``mrkdwn`` text: as :func:`escape_plain`, and mrkdwn's formatting characters
    replaced by look-alikes that do not format (see the module docstring)."""
    return escape_plain(text, limit).translate(_FORMATTING)


def safe_url(url: Any) -> str | None:
    """An http(s) URL fit for ``<url|label>``, or None (another scheme, too long, no host)."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    quoted = urllib.parse.quote(url, safe=_URL_SAFE).translate(_CONTROL)
    return quoted if len(quoted) <= MAX_URL_CHARS else None


def link(url: Any, label: Any, limit: int = TITLE_CHARS) -> str:
    """``<url|label>`` with both escaped; the escaped label alone when there is no usable URL."""
    text = escape_mrkdwn(label, limit)
    target = safe_url(url)
    return f"<{target}|{text.translate(_LABEL)}>" if target else text


# --- blocks -------------------------------------------------------------------------------------


def header(text: str) -> dict[str, Any]:
    """A header block; ``text`` is already escaped and is cut to :data:`MAX_HEADER_TEXT`."""
    return {"type": "header", "text": {"type": "plain_text", "text": _cut_escaped(text, MAX_HEADER_TEXT),
                                       "emoji": False}}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut_escaped(text, MAX_SECTION_TEXT)}}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut_escaped(t, MAX_CONTEXT_TEXT)}
                                            for t in texts[:MAX_CONTEXT_ELEMENTS] if t]}


def fields(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut_escaped(f"*{k}*\n{v}", MAX_FIELD_TEXT)}
                                          for k, v in pairs[:MAX_FIELDS]]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def _cut_escaped(text: str, limit: int) -> str:
    """A last guard: ``text`` at most ``limit`` characters without splitting an ``&amp;``-style
    entity or a ``<...>`` link (a cut link would show its URL)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi:
        cut = cut[:amp]
    lt, gt = cut.rfind("<"), cut.rfind(">")
    if lt > gt:
        cut = cut[:lt]
    return cut + "\u2026"


def fit_lines(title: str, lines: Iterable[str], total: int, more: str = "more",
              limit: int = MAX_SECTION_TEXT) -> str:
    """``title`` and as many ``lines`` as fit in ``limit`` characters, then "and N more" where
    ``total`` (every item the list has, shown or not) is more than the lines shown."""
    out = [title]
    size = len(title)
    shown = 0
    for line in lines:
        tail = len(_more_line(total - shown - 1, more)) + 1
        if size + 1 + len(line) + tail > limit:
            break
        out.append(line)
        size += 1 + len(line)
        shown += 1
    if total > shown:
        out.append(_more_line(total - shown, more))
    return "\n".join(out)


def _more_line(hidden: int, more: str) -> str:
    return f"_and {wording.fmt_int(hidden)} {more}_" if hidden > 0 else ""


# --- task lines -----------------------------------------------------------------------------------


def _priority(task: Mapping[str, Any]) -> tuple[int, str]:
    prio = task.get("priority") or {}
    key = prio.get("key") if isinstance(prio, Mapping) else prio
    label = prio.get("label") if isinstance(prio, Mapping) else prio
    return wording.priority_rank(key), escape_mrkdwn(label or "No priority", 30)


def task_line(task: Mapping[str, Any], detail: str, team: str = "") -> str:
    """``• *Urgent* · <url|title> · 2 days overdue · Team``; ``detail`` and ``team`` are data."""
    _, label = _priority(task)
    title = task.get("title") or "(untitled)"
    parts = [f"\u2022 *{label}*", link(task.get("url"), title)]
    if detail:
        parts.append(escape_mrkdwn(detail, 60))
    if team:
        parts.append(escape_mrkdwn(team, NAME_CHARS))
    return SEP.join(parts)


def urgency_key(task: Mapping[str, Any]) -> tuple[int, int]:
    """Most urgent first: priority, then days overdue (more first)."""
    return _priority(task)[0], -int(task.get("days_overdue") or 0)


def rest_tasks(view: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """The rest of the overdue list across teams, most urgent first, with each row's team."""
    rows = [(row, str(sec.get("team", ""))) for sec in view["rest"]["sections"] for row in sec["rows"]]
    return sorted(rows, key=lambda pair: urgency_key(pair[0]))


# Lines are made lazily: a list stops taking them when its section is full.


def _new_lines(view: Mapping[str, Any], cap: int) -> Iterator[str]:
    rows = view["new"]["rows"][:cap]  # the view's order: rules.urgency_key across the teams, as the email
    return (task_line(t, t.get("overdue", ""), t.get("team", "")) for t in rows)


def _soon_lines(view: Mapping[str, Any], cap: int) -> Iterator[str]:
    return (task_line(t, t.get("due_in", ""), t.get("team", "")) for t in view["due_soon"]["rows"][:cap])


def _rest_lines(view: Mapping[str, Any], with_team: bool, cap: int) -> Iterator[str]:
    return (task_line(t, t.get("overdue", ""), team if with_team else "") for t, team in rest_tasks(view)[:cap])


# --- the parts of a message -----------------------------------------------------------------------


def changes_line(view: Mapping[str, Any]) -> str:
    """``+2 new · 3 resolved since Thu 2 Apr`` without the zero parts; "" without a baseline."""
    if not view.get("has_baseline"):
        return ""
    parts = []
    if view["new_count"]:
        parts.append(f"+{wording.fmt_int(view['new_count'])} new")
    if view["resolved_count"]:
        parts.append(f"{wording.fmt_int(view['resolved_count'])} resolved")
    since = escape_mrkdwn(view.get("since", ""), 40)
    return (SEP.join(parts) + f" since {since}") if parts else f"No change since {since}"


RESOLVED_TITLES = 5  # titles in a message's compact "Resolved since ..." line


def resolved_line(view: Mapping[str, Any], cap: int = RESOLVED_TITLES) -> str:
    """``Resolved since Thu 2 Apr (3): Ship release notes (closed), ... and 1 more``: the email's
    compact resolved block in one line, after the lists of what needs action; "" when nothing was."""
    count = int(view.get("resolved_count") or 0)
    if not view.get("has_baseline") or not count:
        return ""
    titles = [t for g in (view.get("resolved") or {}).get("groups", []) for t in g["titles"]][:cap]
    since = escape_mrkdwn(view.get("since", ""), 40)
    text = f"Resolved since {since} ({wording.fmt_int(count)})" + (": " if titles else "")
    text += ", ".join(f"{escape_mrkdwn(t['title'], 60)} ({escape_mrkdwn(t['why'], 30)})" for t in titles)
    return text + (f" and {wording.fmt_int(count - len(titles))} more" if count > len(titles) else "")


def _team_line(row: Mapping[str, Any], has_baseline: bool) -> str:
    text = f"*{link(row.get('url'), row.get('team', ''), NAME_CHARS)}*: {escape_mrkdwn(row.get('overdue', ''), 40)}"
    if has_baseline:
        changes = [f"+{row['new']} new" if row.get("new") else "", f"{row['resolved']} resolved"
                   if row.get("resolved") else ""]
        if any(changes):
            text += " (" + ", ".join(c for c in changes if c) + ")"
    if row.get("oldest"):
        text += f"{SEP}oldest {escape_mrkdwn(row['oldest'], 30)}"
    return text


def _full_report(view: Mapping[str, Any], shown_overdue: int, url: str | None, label: str) -> str:
    """``N more: the full report`` (linked when there is a link); when everything is shown, the
    link alone, else nothing."""
    hidden = max(0, int(view["overdue_count"]) - shown_overdue)
    if not hidden:
        return f"Every overdue task: <{safe_url(url)}|{label}>" if safe_url(url) else ""
    words = f"{wording.fmt_int(hidden)} more: "
    target = safe_url(url)
    return words + (f"<{target}|{label}>" if target else label)


def _shown(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.startswith("\u2022"))


def fallback_text(view: Mapping[str, Any], prefix: str = "") -> str:
    """The ``text`` notifications and screen readers use: the overdue count and what changed."""
    changed = changes_line(view)
    text = prefix + str(view["overdue_headline"]) + (f" ({changed})" if changed else "")
    return _cut_escaped(text, MAX_MESSAGE_TEXT)


def _header_text(view: Mapping[str, Any]) -> str:
    return escape_plain(view["overdue_headline"], MAX_HEADER_TEXT)


# --- the messages ---------------------------------------------------------------------------------


def digest_message(view: Mapping[str, Any], limits: SlackLimits | None = None) -> dict[str, Any]:
    """A manager's direct message (``chat.postMessage`` ``text`` + ``blocks``) from
    :func:`pike_tasks.digest.digest_view`'s dict.

    Args:
        view: ``digest_view(...)`` of the manager's digest (with ``app_url_template`` for task
            links and ``report_url`` for the "full report" link).
        limits: lines per part (:class:`SlackLimits`).

    Returns:
        ``{"text": ..., "blocks": [...]}``, within every Slack limit (:func:`check_limits`).
    """
    limits = limits or SlackLimits()
    multi = bool(view.get("multi_team"))
    blocks: list[dict[str, Any]] = [header(_header_text(view))]
    blocks.append(context(_about(view)))
    if changes_line(view):
        blocks.append(section(changes_line(view)))
    blocks += _preview_note(view)
    blocks += _teams_and_people(view, limits)
    blocks.append(divider())
    since = escape_mrkdwn(view.get("since", ""), 40)
    titles = (f"*New overdue since {since}*", "*Due in the next 7 days*",
              "*Most urgent of the rest*" if view.get("has_baseline") else "*Most urgent*")
    lists, shown = _task_lists(view, limits, titles, with_team=multi)
    blocks += lists
    if not view["overdue_count"]:
        blocks.append(section("Nothing overdue in your teams."))
    if resolved_line(view):
        blocks.append(context(resolved_line(view)))
    rows = view.get("team_rows") or []
    # One team: its own page (every one of its overdue tasks); several: the overview.
    page = rows[0].get("url") if rows and not multi else None
    footer = _full_report(view, shown, page or view.get("report_url"), "the team page" if page else "the full report")
    if footer:
        blocks.append(context(footer))
    return {"text": fallback_text(view), "blocks": blocks[:MAX_BLOCKS]}


def _preview_note(view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A preview (``--preview-to``) says whom it stands for and that it is not recorded as sent."""
    if not view.get("preview_for"):
        return []
    return [context(f"Preview: this would go to {escape_mrkdwn(view['preview_for'], 200)}; not recorded as sent.")]


def _teams_and_people(view: Mapping[str, Any], limits: SlackLimits) -> list[dict[str, Any]]:
    """A DM's team lines (several teams only) and its reassign callouts."""
    blocks = []
    if view.get("multi_team"):
        rows = view["team_rows"]
        lines = (f"\u25b8 {_team_line(r, bool(view.get('has_baseline')))}" for r in rows[: limits.teams])
        blocks.append(section(fit_lines("*Your teams*", lines, len(rows), "more teams")))
    reassign = view.get("reassign") or []
    if reassign:
        lines = (f":warning: {escape_mrkdwn(r, 200)}" for r in reassign[: limits.reassign])
        total = len(reassign) + int(view.get("reassign_more") or 0)
        blocks.append(section(fit_lines("*People to reassign work from*", lines, total, "more people")))
    return blocks


def _task_lists(view: Mapping[str, Any], limits: SlackLimits, titles: tuple[str, str, str], *,
                with_team: bool) -> tuple[list[dict[str, Any]], int]:
    """The new, due-soon and most-urgent sections (each with its count and "and N more") and how
    many overdue tasks they show."""
    new_title, soon_title, rest_title = titles
    blocks = []
    shown = 0
    if view.get("has_baseline") and view["new_count"]:
        text = fit_lines(f"{new_title} ({wording.fmt_int(view['new_count'])})", _new_lines(view, limits.new),
                         int(view["new_count"]))
        shown += _shown(text)
        blocks.append(section(text))
    soon = view.get("due_soon") or {}
    if soon.get("shown") and soon.get("count"):
        blocks.append(section(fit_lines(f"{soon_title} ({wording.fmt_int(soon['count'])})",
                                        _soon_lines(view, limits.due_soon), int(soon["count"]))))
    rest = view["rest"]
    if rest["count"]:
        text = fit_lines(f"{rest_title} ({wording.fmt_int(rest['count'])})",
                         _rest_lines(view, with_team, limits.urgent), int(rest["count"]))
        shown += _shown(text)
        blocks.append(section(text))
    return blocks, shown


def _about(view: Mapping[str, Any]) -> str:
    teams = [escape_mrkdwn(t, NAME_CHARS) for t in view.get("teams", [])]
    names = ", ".join(teams[:5]) + (f" and {len(teams) - 5} more" if len(teams) > 5 else "")
    return f"Pike digest, {escape_mrkdwn(view.get('as_of_long', ''), 40)}" + (f"{SEP}{names}" if names else "")


def team_message(view: Mapping[str, Any], limits: SlackLimits | None = None) -> dict[str, Any]:
    """A team channel's summary from the ``digest_view`` dict of a one-team digest
    (:func:`pike_tasks.team_digest.team_digest` restricts a manager's digest to one team).

    Counts (overdue, new, resolved, due soon) as fields, then the new tasks, what is due soon and
    the most urgent, each line linked to the task, and a link to the team page (the team's row
    ``url`` in the view: its own page, else its section of the overdue report). No people lines:
    a channel is read by more people than the manager.
    """
    limits = limits or SlackLimits()
    team = str((view.get("teams") or [""])[0])
    rows = view.get("team_rows") or []
    team_url = rows[0].get("url") if rows else view.get("report_url")
    head = escape_plain(team, NAME_CHARS)
    blocks: list[dict[str, Any]] = [header(f"{head}: {escape_plain(view['overdue_headline'], 60)}")]
    since = f"{SEP}{changes_line(view)}" if view.get("has_baseline") else ""
    blocks.append(context(f"Pike, {escape_mrkdwn(view.get('as_of_long', ''), 40)}{since}"))
    soon = view.get("due_soon") or {}
    counts = [("Overdue", wording.fmt_int(int(view["overdue_count"])))]
    if view.get("has_baseline"):  # a zero is left out, never "+0" (the context line says "No change")
        counts += [(label, text) for label, n, text in (
            ("New", int(view["new_count"]), f"+{wording.fmt_int(int(view['new_count']))}"),
            ("Resolved", int(view["resolved_count"]), wording.fmt_int(int(view["resolved_count"])))) if n]
    if soon.get("shown"):
        counts.append(("Due in 7 days", wording.fmt_int(int(soon.get("count") or 0))))
    blocks.append(fields(counts))
    blocks += _preview_note(view)
    lists, shown = _task_lists(view, limits, ("*New overdue*", "*Due soon*", "*Most urgent*"), with_team=False)
    blocks += lists
    if resolved_line(view):
        blocks.append(context(resolved_line(view)))
    footer = _full_report(view, shown, team_url, "the team page")
    if footer:
        blocks.append(context(footer))
    return {"text": fallback_text(view, prefix=f"{escape_mrkdwn(team, NAME_CHARS)}: "), "blocks": blocks[:MAX_BLOCKS]}


# --- limits -----------------------------------------------------------------------------------------


class Problem(NamedTuple):
    """What a payload breaks: ``code`` is the error chat.postMessage answers with
    (``msg_too_long`` for ``text``, ``invalid_blocks`` for the blocks, ``no_text``)."""

    code: str
    detail: str


def check_limits(payload: Mapping[str, Any]) -> list[Problem]:
    """Every Slack limit ``payload`` breaks (an empty list: Slack accepts it).

    Checks the message's ``text`` (present unless there are blocks, at most 40,000 characters),
    the number of blocks, and each header, section, context and divider block.
    """
    problems: list[Problem] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    if not text and not blocks:
        problems.append(Problem("no_text", "neither text nor blocks"))
    if text is not None and (not isinstance(text, str) or len(text) > MAX_MESSAGE_TEXT):
        problems.append(Problem("msg_too_long", f"text: {_size(text)} characters (at most {MAX_MESSAGE_TEXT:,})"))
    if blocks is None:
        return problems
    if not isinstance(blocks, list):
        return [*problems, Problem("invalid_blocks", "blocks is not a list")]
    if len(blocks) > MAX_BLOCKS:
        problems.append(Problem("invalid_blocks", f"{len(blocks)} blocks (at most {MAX_BLOCKS})"))
    for i, block in enumerate(blocks):
        problems += [Problem("invalid_blocks", f"blocks[{i}]: {d}") for d in _block_problems(block)]
    return problems


def _size(value: Any) -> str:
    return f"{len(value):,}" if isinstance(value, str) else type(value).__name__


def _text_problems(obj: Any, where: str, limit: int, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> list[str]:
    if not isinstance(obj, Mapping) or obj.get("type") not in kinds:
        return [f"{where} is not a {' or '.join(kinds)} text object"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}.text is empty"]
    if len(text) > limit:
        return [f"{where}.text: {len(text):,} characters (at most {limit:,})"]
    return []


def _block_problems(block: Any) -> list[str]:
    kind = block.get("type") if isinstance(block, Mapping) else None
    if kind == "divider":
        return []
    if kind == "header":
        return _text_problems(block.get("text"), "header", MAX_HEADER_TEXT, ("plain_text",))
    if kind == "section":
        return _section_problems(block)
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            return [f"context: 1 to {MAX_CONTEXT_ELEMENTS} elements"]
        return [p for i, e in enumerate(elements) for p in _text_problems(e, f"context.elements[{i}]",
                                                                          MAX_CONTEXT_TEXT)]
    return [f"unsupported block type {kind!r}"]


def _section_problems(block: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if "text" not in block and "fields" not in block:
        out.append("section: neither text nor fields")
    if "text" in block:
        out += _text_problems(block["text"], "section", MAX_SECTION_TEXT)
    if "fields" in block:
        items = block["fields"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_FIELDS:
            out.append(f"section.fields: 1 to {MAX_FIELDS} fields")
        else:
            out += [p for i, f in enumerate(items) for p in _text_problems(f, f"section.fields[{i}]", MAX_FIELD_TEXT)]
    return out
