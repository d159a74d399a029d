"""See a Slack message without Slack: a Block Kit payload as an HTML page that looks like Slack on
a phone (for the README's screenshots, dry runs and the closing note), and the Block Kit Builder
link that shows the payload in Slack's own renderer.

Pure. The page is rendered by the house's jinja2 Environment (``render.make_environment``:
autoescaped, ``StrictUndefined``) from ``templates/slack_preview.html.j2``; mrkdwn is turned into
HTML here, every piece of text escaped first and only our own tags added (bold, italic, strike,
code, http(s) links, line breaks). It approximates Slack's look (header, sections, fields,
context, dividers); it is not Slack's renderer: the Block Kit Builder link is.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

BUILDER_URL = "https://app.slack.com/block-kit-builder#"
_LINK = re.compile(r"(\*?)<(https?://[^|<>\s]+)\|([^<>]*)>(\*?)")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_STRIKE = re.compile(r"(?<![\w])~([^~\n]+)~(?![\w])")
_CODE = re.compile(r"`([^`\n]+)`")
_EMOJI = {":warning:": "\u26a0\ufe0f"}


def block_kit_builder_url(payload: Mapping[str, Any]) -> str:
    """A link that opens ``payload``'s blocks in Slack's Block Kit Builder (for dry runs)."""
    blocks = json.dumps({"blocks": payload.get("blocks", [])}, ensure_ascii=False, separators=(",", ":"))
    return BUILDER_URL + urllib.parse.quote(blocks, safe="")


def dry_run_json(payload: Mapping[str, Any], channel: str) -> bytes:
    """What ``--dry-run`` writes as ``<key>.slack.json``: where it would go, the payload as it would be
    posted, and the Block Kit Builder link to see it (deterministic JSON bytes)."""
    from pike_tasks.outputs import json_bytes

    return json_bytes({"channel": channel, "text": payload.get("text", ""), "blocks": payload.get("blocks", []),
                       "block_kit_builder": block_kit_builder_url(payload)})


def _unslack(text: str) -> str:
    """Slack's three entities back to characters (what Slack shows)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _inline(text: str) -> Markup:
    """A run of mrkdwn without links: escaped, then our formatting tags."""
    html = str(escape(_unslack(text)))
    for code, char in _EMOJI.items():
        html = html.replace(code, char)
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<b>\1</b>", html)
    html = _ITALIC.sub(r"<i>\1</i>", html)
    html = _STRIKE.sub(r"<s>\1</s>", html)
    return Markup(html.replace("\n", "<br>"))  # noqa: S704 - every character of text was escaped above


def mrkdwn_html(text: str) -> Markup:
    """Slack mrkdwn as safe HTML: ``<url|label>`` links (http(s) only), ``*bold*``, ``_italic_``,
    ``~strike~``, `` `code` ``, line breaks; everything else is text."""
    parts: list[Markup] = []
    pos = 0
    for m in _LINK.finditer(text):
        parts.append(_inline(text[pos:m.start()]))
        bold = bool(m.group(1) and m.group(4))
        link = Markup('<a href="{}">{}</a>').format(_unslack(m.group(2)), _inline(m.group(3)))
        if bold:
            link = Markup("<b>{}</b>").format(link)
        elif m.group(1) or m.group(4):
            link = Markup("{}{}{}").format(m.group(1), link, m.group(4))
        parts.append(link)
        pos = m.end()
    parts.append(_inline(text[pos:]))
    return Markup("").join(parts)


def _text(obj: Mapping[str, Any]) -> Markup:
    text = str(obj.get("text", ""))
    return mrkdwn_html(text) if obj.get("type") == "mrkdwn" else escape(_unslack(text))


def preview_view(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The blocks as the template's plain dicts (``kind`` and escaped Markup)."""
    out: list[dict[str, Any]] = []
    for block in payload.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            out.append({"kind": "header", "text": escape(_unslack(str(block["text"]["text"])))})
        elif kind == "section":
            out.append({"kind": "section", "html": _text(block["text"]) if "text" in block else "",
                        "fields": [_text(f) for f in block.get("fields", [])]})
        elif kind == "context":
            out.append({"kind": "context", "elements": [_text(e) for e in block.get("elements", []) if "text" in e]})
        elif kind == "divider":
            out.append({"kind": "divider"})
    if not out:
        out.append({"kind": "section", "html": mrkdwn_html(str(payload.get("text", ""))), "fields": []})
    return out


def preview_html(payload: Mapping[str, Any], *, conversation: str = "Pike Reports", subtitle: str = "Direct message",
                 app_name: str = "Pike Reports", time: str = "7:00 AM") -> str:
    """A whole HTML page showing ``payload`` (``text`` + ``blocks``) roughly as Slack would.

    Args:
        payload: a ``chat.postMessage`` payload (``slack_blocks.digest_message`` or ``team_message``).
        conversation, subtitle: the bar at the top (the DM or ``#channel``).
        app_name, time: the message's sender line.
    """
    from pike_tasks.render import make_environment

    template = make_environment().get_template("slack_preview.html.j2")
    return template.render(title=f"{conversation}: {_unslack(str(payload.get('text', '')))}", conversation=conversation,
                           subtitle=subtitle, app_name=app_name, time=time, blocks=preview_view(payload))
