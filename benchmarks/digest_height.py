"""How tall a digest email's HTML part is at 1280 and 390 CSS px, in headless Chromium.

    .venv/bin/python benchmarks/digest_height.py demo-out/inbox/<date>/platform.lead@example.com.eml

Takes ``.eml`` files (the HTML part) or ``.html`` files; prints each one's height and the height
of each section (from its heading to the next). Issue 23's figure: the demo's two-team digest
(Data and Platform, 18 resolved tasks) went from 5,262 to 4,485 px at 1280 px, its resolved
section from 1,112 to 153 px.
"""

from __future__ import annotations

import email
import json
import sys
import tempfile
from email.policy import default
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from chromium import Chromium, find_chromium  # noqa: E402 - after sys.path.insert (a tests/ helper)

SECTIONS = """JSON.stringify({height: document.documentElement.scrollHeight,
  tops: Array.from(document.querySelectorAll('h2')).map(h => [h.textContent, h.getBoundingClientRect().top + scrollY])
    .concat([['end', (document.querySelector('.foot') || document.body).getBoundingClientRect().top + scrollY]])})"""


def html_of(path: Path) -> str:
    if path.suffix != ".eml":
        return path.read_text(encoding="utf-8")
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    return next(str(p.get_content()) for p in message.walk() if p.get_content_type() == "text/html")


def main(paths: list[str]) -> int:
    executable = find_chromium()
    if executable is None:
        print("chromium is not installed (make browsers)", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="digest-height-"))
    browser = Chromium(executable, folder / "profile")
    try:
        for n, name in enumerate(paths):
            page = folder / f"{n}.html"
            page.write_text(html_of(Path(name)), encoding="utf-8")
            for width in (1280, 390):
                target, session = browser.load(page.as_uri(), width)
                seen = json.loads(browser.evaluate(SECTIONS, session))
                browser.send("Target.closeTarget", {"targetId": target})
                tops = seen["tops"]
                parts = ", ".join(f"{title.split(' (')[0]} {round(tops[i + 1][1] - top)}"
                                  for i, (title, top) in enumerate(tops[:-1]))
                print(f"{name} at {width} px: {round(seen['height']):,} px ({parts})")
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
