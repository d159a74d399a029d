"""A local stand-in for a Microsoft Teams Workflows webhook ("When a Teams webhook request is
received" -> "Post card in a chat or channel"), over real HTTP on 127.0.0.1.

Like Teams: a POST of JSON ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {...}}]}`` is answered 202 Accepted; a body
over 28 KB is refused with 413 (Teams' message size limit) and one that is not such a message with
400. Knobs: :meth:`TeamsFake.rate_limit` (429 with ``Retry-After``) and
:meth:`TeamsFake.drop_reply_after_accept`. Every accepted card is in :attr:`TeamsFake.cards`; the
URL carries a secret path, as a real Workflows URL carries its signature, and a POST to any other
path is 404.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pike_tasks.teams_card import CONTENT_TYPE, MAX_MESSAGE_BYTES

SECRET_PATH = "/workflows/triggers/manual/paths/invoke?sig=fake-signature-0123"


class TeamsFake:
    """``with TeamsFake() as teams:`` a running receiver at ``teams.url``."""

    def __init__(self) -> None:
        self.cards: list[dict[str, Any]] = []
        self.refused: list[tuple[int, int]] = []  # (status, body bytes)
        self.rate_limits: list[float] = []  # Retry-After of the next 429s
        self.drops = 0  # accepted cards whose answer is never sent
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name="teams-fake", daemon=True)

    def rate_limit(self, times: int = 1, retry_after: float = 0) -> None:
        """The next ``times`` posts answer 429 with ``Retry-After``."""
        with self.lock:
            self.rate_limits.extend([retry_after] * times)

    def drop_reply_after_accept(self, times: int = 1) -> None:
        """The next ``times`` accepted cards are recorded, then the connection closes unanswered."""
        with self.lock:
            self.drops += times

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def __enter__(self) -> TeamsFake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _problem(message: Any) -> str:
    if not isinstance(message, dict) or message.get("type") != "message":
        return "not a message"
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "no attachments"
    for a in attachments:
        content = a.get("content") if isinstance(a, dict) else None
        if a.get("contentType") != CONTENT_TYPE or not isinstance(content, dict):
            return "not an adaptive card"
        if content.get("type") != "AdaptiveCard" or not content.get("version"):
            return "not an adaptive card"
    return ""


class _Handler(BaseHTTPRequestHandler):
    fake: TeamsFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.fake.lock:
            wait = self.fake.rate_limits.pop(0) if self.fake.rate_limits else None
        if wait is not None:
            self.send_response(429)
            self.send_header("Retry-After", f"{wait:g}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if self.path != SECRET_PATH:
            return self._answer(404, body, {"error": {"code": "TriggerNotFound"}})
        if len(body) > MAX_MESSAGE_BYTES:
            return self._answer(413, body, {"error": {"code": "MessageSizeTooBig",
                                                      "message": f"{len(body)} bytes over {MAX_MESSAGE_BYTES}"}})
        try:
            message = json.loads(body)
        except ValueError:
            return self._answer(400, body, {"error": {"code": "InvalidJson"}})
        problem = _problem(message)
        if problem:
            return self._answer(400, body, {"error": {"code": "InvalidRequestContent", "message": problem}})
        with self.fake.lock:
            self.fake.cards.append(message)
            if self.fake.drops:
                self.fake.drops -= 1
                self.close_connection = True
                return None
        return self._answer(202, body, None)

    def _answer(self, status: int, body: bytes, answer: dict[str, Any] | None) -> None:
        if status >= 300:
            with self.fake.lock:
                self.fake.refused.append((status, len(body)))
        data = json.dumps(answer).encode() if answer else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
