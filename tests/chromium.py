"""Headless Chromium over the DevTools protocol, standard library only (tests and benchmarks).

The browser is driven over ``--remote-debugging-pipe``: NUL-terminated JSON commands on fd 3,
answers and events on fd 4. No websocket client, no driver, and the pages stay script-free:
a measurement runs in the browser (``Runtime.evaluate``), not in the page. Used by
``test_pages_browser.py`` and ``test_digest_browser.py`` (layout) and by ``benchmarks`` figure 7
(how long a report page takes to load and lay out).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from processes import start

TIMEOUT = 30.0


# Reading a box's size forces the layout the load event may not have waited for.
LAID_OUT = """JSON.stringify({
  height: document.documentElement.getBoundingClientRect().height,
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
})"""


def find_chromium() -> str | None:
    """The Chromium executable on PATH, or None (``make browsers`` installs Debian's package)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class Chromium:
    """Headless Chromium spoken to over ``--remote-debugging-pipe``.

    The browser reads NUL-terminated JSON commands on fd 3 and writes answers and events on fd 4.
    """

    def __init__(self, executable: str, profile: Path, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        commands_r, self._commands = os.pipe()
        self._answers, answers_w = os.pipe()

        def onto_3_and_4() -> None:
            # Through fresh descriptors: a pipe end may already be 3 or 4, and dup2 onto itself
            # would keep its close-on-exec flag.
            read_end, write_end = os.dup(commands_r), os.dup(answers_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        # its own process group (tests/processes.py), so close() can end the renderers with it
        self.proc = start(
            "chromium",
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
             f"--user-data-dir={profile}", "about:blank"],
            log=Path(profile) / "chromium.log",
            close_fds=False, preexec_fn=onto_3_and_4,  # noqa: PLW1509 (nothing threaded runs in the child)
        )
        self.process = self.proc.process
        os.close(commands_r)
        os.close(answers_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._answers], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self._events.append(answer)

    def wait_for(self, event: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, seen in enumerate(self._events):
                if seen.get("method") == event and seen.get("sessionId") == session:
                    del self._events[i]
                    return
            self._events.append(self._message(deadline))

    def load(self, url: str, width: int, height: int = 900) -> tuple[str, str]:
        """Open ``url`` in a new tab ``width`` CSS pixels wide; return (target, session) once loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        # mobile=False: the window is exactly `width` wide, so a page wider than that shows up as
        # scrollWidth > innerWidth instead of being zoomed out to fit, as a phone browser may do.
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return target, session

    def evaluate(self, expression: str, session: str) -> Any:
        """The value of a JavaScript expression in the tab of ``session``."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        return result["result"].get("value")

    def measure(self, url: str, width: int, expression: str) -> dict:
        """Open ``url`` in a new tab ``width`` CSS pixels wide and return the JSON ``expression`` gives there."""
        target, session = self.load(url, width)
        value = self.evaluate(expression, session)
        self.send("Target.closeTarget", {"targetId": target})
        return json.loads(value)

    def render_ms(self, url: str, width: int = 1280) -> float:
        """Milliseconds from asking for ``url`` until it is loaded and laid out (its full height known)."""
        started = time.perf_counter()
        target, session = self.load(url, width)
        self.evaluate("document.documentElement.scrollHeight", session)  # forces style and layout
        ms = (time.perf_counter() - started) * 1000
        self.send("Target.closeTarget", {"targetId": target})
        return ms

    def render(self, url: str, width: int = 1280) -> dict:
        """:meth:`render_ms` as ``{"ms": ...}`` with the laid-out page's ``height``, ``scrollWidth``
        and ``innerWidth`` (a page that scrolls sideways shows as scrollWidth > innerWidth)."""
        started = time.perf_counter()
        target, session = self.load(url, width)
        facts = json.loads(self.evaluate(LAID_OUT, session))  # reading a box's size forces the layout
        ms = (time.perf_counter() - started) * 1000
        self.send("Target.closeTarget", {"targetId": target})
        return {"ms": round(ms), **facts}

    def close(self) -> None:
        """Ask the browser to close; end its whole process group if it has not within 10 s."""
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._commands)
        os.close(self._answers)
