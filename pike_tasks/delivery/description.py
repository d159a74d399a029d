"""A task description (untrusted HTML) as a short, structured excerpt the digest can show.

Pure. nh3's allow-list cleaner keeps only ``p``, ``br``, ``ul``, ``ol`` and ``li`` (every other tag
removed, ``script``/``style`` contents dropped, no attributes); the result is read into blocks of
plain text: a paragraph's lines, or a list's items. The templates write the blocks back as
``<p>``/``<ul>``/``<ol>`` with every text autoescaped (the HTML part) and as lines, one item per
line with ``- `` or ``1. `` (the text part), so ``<ul><li>Collect logs</li><li>Reproduce</li></ul>``
reads as two items in both, never "Collect logs Reproduce".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from pike_tasks.email_message import single_line

ALLOWED_TAGS = frozenset({"p", "br", "ul", "ol", "li"})
MAX_LINES = 6  # lines (paragraph lines and list items) shown of one description
MAX_CHARS = 280  # characters shown of one description
# Other block ends start a new line too (nh3 removes these tags), so "<div>a</div><div>b</div>"
# reads "a" and "b", not "ab"; a table cell's end is a space.
_LINE_END = re.compile(r"(?i)</(?:div|h[1-6]|tr|blockquote|pre|dt|dd)\s*>")
_CELL_END = re.compile(r"(?i)</(?:td|th)\s*>")


@dataclass(frozen=True)
class Block:
    """``kind`` is ``p`` (``lines``: a paragraph's lines, split where ``<br>`` was), ``ul`` or ``ol``
    (``lines``: the items)."""

    kind: str
    lines: tuple[str, ...]


class _Reader(HTMLParser):
    """Reads nh3's output (only the allowed tags, no attributes) into ``(kind, lines)`` blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, list[str]]] = [("p", [])]
        self._lists: list[str] = []  # the open ul/ol, innermost last
        self._text: list[str] = []

    def _flush(self) -> None:
        """The text read so far as one line (a paragraph's line, or a list's item)."""
        text = " ".join(single_line("".join(self._text)).split())
        self._text = []
        if text:
            self.blocks[-1][1].append(text)

    def _start(self, kind: str) -> None:
        if self.blocks[-1][1]:
            self.blocks.append((kind, []))
        else:
            self.blocks[-1] = (kind, [])

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._flush()
        if tag in ("ul", "ol"):
            self._lists.append(tag)
            self._start(tag)
        elif tag == "p" and not self._lists:
            self._start("p")

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        if tag in ("ul", "ol") and self._lists:
            self._lists.pop()
            self._start(self._lists[-1] if self._lists else "p")
        elif tag == "p" and not self._lists:
            self._start("p")

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self._flush()  # <br/>

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def description_blocks(description: Any, *, max_lines: int = MAX_LINES,
                       max_chars: int = MAX_CHARS) -> tuple[Block, ...]:
    """The description's paragraphs and lists, at most ``max_lines`` lines and ``max_chars``
    characters of text (an ellipsis where it was cut); empty for no description."""
    raw = "" if description is None or description != description else str(description)  # NaN is no text
    if not raw.strip():
        return ()
    import nh3

    reader = _Reader()
    marked = _CELL_END.sub(" ", _LINE_END.sub("<br>", raw))
    reader.feed(nh3.clean(marked, tags=set(ALLOWED_TAGS), attributes={}))
    reader.close()
    out: list[Block] = []
    lines_left, chars_left = max_lines, max_chars
    for kind, lines in reader.blocks:
        kept: list[str] = []
        for line in lines:
            if lines_left <= 0 or chars_left <= 0:
                break
            if len(line) > chars_left:
                line = line[: max(1, chars_left - 1)].rstrip() + "\u2026"
            kept.append(line)
            lines_left, chars_left = lines_left - 1, chars_left - len(line)
        if kept:
            out.append(Block("p" if kind == "p" else kind, tuple(kept)))
    hidden = sum(len(lines) for _, lines in reader.blocks) - sum(len(b.lines) for b in out)
    if out and hidden > 0 and not out[-1].lines[-1].endswith("\u2026"):
        last = out[-1]
        out[-1] = Block(last.kind, (*last.lines[:-1], last.lines[-1] + " \u2026"))
    return tuple(out)


def one_line(blocks: tuple[Block, ...]) -> str:
    """The blocks on one line (where a line is all there is room for)."""
    return " ".join(line for block in blocks for line in block.lines)
