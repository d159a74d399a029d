"""A team's summary as a Microsoft Teams Adaptive Card, for a Workflows ("Post to a channel when a
webhook request is received") webhook.

Pure: the ``digest_view`` dict of a one-team digest (``team_digest.team_digest``) in, the message
Workflows accepts out::

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                         "content": {"type": "AdaptiveCard", "version": "1.5", ...}}]}

The same parts as the Slack channel post (``slack_blocks.team_message``): the team and its overdue
count, what changed, the counts (a zero left out), then the new tasks (most urgent first), what is
due soon and the most urgent, each task linked to Pike, "and N more", what was resolved in one
compact line, last, and a button to the team page.

Escaping: a ``TextBlock`` reads a markdown subset (``**bold**``, ``_italic_``, ``[label](url)``,
lists), so nothing from the data goes into one. Titles, team names and statuses go only into
``TextRun`` inlines of a ``RichTextBlock``, which Adaptive Cards render as plain text (no
markdown); a task's link is the run's ``selectAction``, an http(s) URL only. The card's own words
(counts, headings) are the only markdown.

Size: Teams refuses a message over about 28 KB. :func:`team_card` measures the JSON bytes it
would send (:func:`card_bytes`) and halves the longest list until the card fits
:data:`BUDGET_BYTES`, which leaves room for what Workflows adds around the card.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pike_tasks import wording
from pike_tasks.email_message import single_line

MAX_MESSAGE_BYTES = 28 * 1024  # Teams' message size limit (learn.microsoft.com: "Format cards in Teams")
BUDGET_BYTES = 26_000  # what the card may use: headroom for the envelope Workflows and Teams add
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TITLE_CHARS = 120
NAME_CHARS = 60
MAX_URL_CHARS = 1000
SEP = " \u00b7 "
_URL_SAFE = "/:?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True)
class CardLimits:
    """Rows per list; halved (longest first) until the card fits."""

    new: int = 10
    due_soon: int = 5
    urgent: int = 10

    def shrunk(self) -> CardLimits | None:
        name, value = max((("new", self.new), ("due_soon", self.due_soon), ("urgent", self.urgent)),
                          key=lambda pair: pair[1])
        return replace(self, **{name: value // 2}) if value else None


def card_bytes(payload: Mapping[str, Any]) -> bytes:
    """The request body to send: compact UTF-8 JSON (what the size limit is measured on)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def plain(text: Any, limit: int = TITLE_CHARS) -> str:
    """Data for a ``TextRun``: one line, at most ``limit`` characters."""
    s = single_line(("" if text is None else str(text))[: limit * 4 + 16])
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"


def card_url(url: Any) -> str | None:
    """An http(s) URL with spaces and quotes percent-encoded, or None."""
    if not isinstance(url, str) or not url.strip():
        return None
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    quoted = urllib.parse.quote(url.strip(), safe=_URL_SAFE)
    return quoted if len(quoted) <= MAX_URL_CHARS else None


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _words(text: str, **style: Any) -> dict[str, Any]:
    """A TextBlock of the card's own words (never data)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def task_block(task: Mapping[str, Any], detail: str) -> dict[str, Any]:
    """One task: priority (bold), the title (linked when there is a URL), then ``detail``."""
    prio = task.get("priority") or {}
    label = prio.get("label") if isinstance(prio, Mapping) else prio
    title = _run(plain(task.get("title") or "(untitled)"))
    url = card_url(task.get("url"))
    if url:
        title["selectAction"] = {"type": "Action.OpenUrl", "url": url}
        title["color"] = "Accent"
    inlines = [_run(plain(label or "No priority", 30), weight="Bolder"), _run(SEP), title]
    if detail:
        inlines.append(_run(SEP + plain(detail, 60), isSubtle=True))
    return {"type": "RichTextBlock", "inlines": inlines, "spacing": "Small"}


@dataclass(frozen=True)
class _List:
    """A list of the card: its heading, the task blocks it may show (most urgent first), its total."""

    heading: str
    blocks: list[dict[str, Any]]
    total: int

    def render(self, cap: int) -> list[dict[str, Any]]:
        if not self.total:
            return []
        shown = self.blocks[:cap]
        out = [_words(f"**{self.heading}** ({wording.fmt_int(self.total)})", spacing="Medium"), *shown]
        if self.total > len(shown):
            out.append(_words(f"_and {wording.fmt_int(self.total - len(shown))} more_", isSubtle=True,
                              spacing="Small"))
        return out


def _lists(view: Mapping[str, Any], limits: CardLimits) -> tuple[_List, _List, _List]:
    """New, due soon and the most urgent, each task block made once (at most ``limits`` of them)."""
    from pike_tasks.slack_blocks import urgency_key

    soon = view.get("due_soon") or {}
    # the view's order: rules.urgency_key across the teams, as the email and Slack
    new = view["new"]["rows"][: limits.new] if view.get("has_baseline") else []
    rest = sorted((t for s in view["rest"]["sections"] for t in s["rows"]), key=urgency_key)[: limits.urgent]
    return (
        _List("New overdue", [task_block(t, t.get("overdue", "")) for t in new],
              int(view["new_count"]) if view.get("has_baseline") else 0),
        _List("Due soon", [task_block(t, t.get("due_in", "")) for t in soon.get("rows", [])[: limits.due_soon]],
              int(soon.get("count") or 0) if soon.get("shown") else 0),
        _List("Most urgent", [task_block(t, t.get("overdue", "")) for t in rest], int(view["rest"]["count"])),
    )


def _resolved(view: Mapping[str, Any], cap: int = 5) -> list[dict[str, Any]]:
    """What was resolved, one compact line after the lists (the email's compact block, as a line): the words
    are the card's, the titles plain-text runs."""
    count = int(view.get("resolved_count") or 0)
    if not view.get("has_baseline") or not count:
        return []
    titles = [t for g in (view.get("resolved") or {}).get("groups", []) for t in g["titles"]][:cap]
    text = f"Resolved since {plain(view.get('since', ''), 40)} ({wording.fmt_int(count)})" + (": " if titles else "")
    text += ", ".join(f"{plain(t['title'], 60)} ({plain(t['why'], 30)})" for t in titles)
    text += f" and {wording.fmt_int(count - len(titles))} more" if count > len(titles) else ""
    return [{"type": "RichTextBlock", "inlines": [_run(text, isSubtle=True)], "spacing": "Medium"}]


def _changes(view: Mapping[str, Any]) -> str:
    if not view.get("has_baseline"):
        return ""
    parts = [f"+{wording.fmt_int(view['new_count'])} new" if view["new_count"] else "",
             f"{wording.fmt_int(view['resolved_count'])} resolved" if view["resolved_count"] else ""]
    since = plain(view.get("since", ""), 40)
    joined = SEP.join(p for p in parts if p)
    return f"{joined} since {since}" if joined else f"No change since {since}"


def _card(view: Mapping[str, Any], lists: tuple[_List, _List, _List], limits: CardLimits) -> dict[str, Any]:
    team = plain((view.get("teams") or [""])[0], NAME_CHARS)
    rows = view.get("team_rows") or []
    page = card_url(rows[0].get("url") if rows else view.get("report_url"))
    body: list[dict[str, Any]] = [
        {"type": "RichTextBlock", "inlines": [_run(f"{team}: ", size="Large", weight="Bolder"),
                                              _run(plain(view["overdue_headline"], 40), size="Large",
                                                   weight="Bolder")]},
    ]
    changes = _changes(view)
    about = f"Pike, {plain(view.get('as_of_long', ''), 40)}"
    body.append({"type": "RichTextBlock", "inlines": [_run(SEP.join(p for p in (changes, about) if p),
                                                           isSubtle=True)], "spacing": "None"})
    soon = view.get("due_soon") or {}
    facts = [("Overdue", wording.fmt_int(int(view["overdue_count"])))]
    if view.get("has_baseline"):  # a zero is left out, never "+0" (the line above says "No change")
        facts += [(label, text) for label, n, text in (
            ("New", int(view["new_count"]), f"+{wording.fmt_int(int(view['new_count']))}"),
            ("Resolved", int(view["resolved_count"]), wording.fmt_int(int(view["resolved_count"])))) if n]
    if soon.get("shown"):
        facts.append(("Due in 7 days", wording.fmt_int(int(soon.get("count") or 0))))
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    new, due_soon, urgent = lists
    body += new.render(limits.new) + due_soon.render(limits.due_soon) + urgent.render(limits.urgent)
    body += _resolved(view)
    content: dict[str, Any] = {"$schema": SCHEMA, "type": "AdaptiveCard", "version": "1.5", "body": body,
                               "msteams": {"width": "Full"}}
    if page:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Team page", "url": page}]
    return {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None,
                                                "content": content}]}


def team_card(view: Mapping[str, Any], limits: CardLimits | None = None,
              budget_bytes: int = BUDGET_BYTES) -> dict[str, Any]:
    """A team channel's summary as an Adaptive Card message, at most ``budget_bytes`` of JSON.

    Args:
        view: ``digest_view`` of a one-team digest (``team_digest.team_digest``).
        limits: rows per list before any shrinking (:class:`CardLimits`).
        budget_bytes: the most :func:`card_bytes` may be.
    """
    current: CardLimits | None = limits or CardLimits()
    lists = _lists(view, current or CardLimits())
    card = _card(view, lists, current or CardLimits())
    while current is not None and len(card_bytes(card)) > budget_bytes:
        current = current.shrunk()
        card = _card(view, lists, current or CardLimits(0, 0, 0))
    return card
