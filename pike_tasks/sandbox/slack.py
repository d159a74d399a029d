"""A local stand-in for Slack's Web API (the tests' fake, and ``make demo``'s Slack), written from
Slack's method documentation (docs.slack.dev,
reference/methods: auth.test, users.lookupByEmail, conversations.open, chat.postMessage,
conversations.history; apis/web-api/rate-limits), served over real HTTP on 127.0.0.1.

What it answers like Slack: every method answers HTTP 200 with ``{"ok": true, ...}`` or
``{"ok": false, "error": "<code>"}``; a bad or missing bearer token is ``invalid_auth`` /
``not_authed``; an unknown email ``users_not_found``; a channel the app is not in
``not_in_channel``, an unknown one ``channel_not_found``; a message over Block Kit's limits
``invalid_blocks``, a ``text`` over 40,000 characters ``msg_too_long`` (``check_limits``); a rate
limit is HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``;
``conversations.history`` returns the channel's messages newest first, with their ``metadata``
only when asked (``include_all_metadata``), cursor-paged, and ``missing_scope`` when the token has
no history scope.

Fault knobs: :meth:`SlackFake.rate_limit` (the next N calls of a method answer 429),
:meth:`SlackFake.limit_posts_per_channel` (Slack's "about one message per second per channel": a
``chat.postMessage`` to a channel that accepted a post less than ``interval`` seconds ago answers
429 with ``Retry-After`` in whole seconds, as Slack does; DMs are channels of their own),
:meth:`SlackFake.drop_reply_after_post` (the next N accepted posts are recorded, then the
connection is closed without an answer), :meth:`SlackFake.stall_reply_after_post` (recorded, then
no answer until the fake stops: the client's read times out). Every accepted message is in :attr:`SlackFake.messages`;
every request in :attr:`SlackFake.calls`.
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pike_tasks.slack_blocks import check_limits

TOKEN = "xoxb-fake-0123456789-secret"  # noqa: S105 - the stand-in's own token, accepted by nothing else
BOT_USER = "U0BOT"


@dataclass
class Channel:
    id: str
    name: str
    member: bool = True


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[Any] | None
    metadata: dict[str, Any] | None


@dataclass
class State:
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    users: dict[str, str] = field(default_factory=dict)  # email (casefolded) -> user id
    channels: dict[str, Channel] = field(default_factory=dict)
    history_scope: bool = True
    messages: list[Message] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rate_limits: dict[str, list[float]] = field(default_factory=dict)  # method -> Retry-After of the next 429s
    drops: int = 0
    post_interval: float = 0.0  # seconds between two posts to one channel (0: no limit)
    last_post: dict[str, float] = field(default_factory=dict)  # channel id -> time.monotonic() of its last post
    post_429s: int = 0  # posts answered 429 by the per-channel limit
    stalls: int = 0
    clock: int = 1_775_000_000


class SlackFake:
    """``with SlackFake() as slack:`` a running fake at ``slack.url`` (``http://127.0.0.1:<port>/api/``)."""

    def __init__(self) -> None:
        self.state = State()
        self.lock = threading.Lock()
        self.released = threading.Event()  # set on exit: a stalled answer is never sent
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name="slack-fake", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> SlackFake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # --- set-up and fault knobs ---------------------------------------------------------------

    def add_user(self, email: str, user_id: str) -> None:
        self.state.users[email.casefold()] = user_id

    def add_channel(self, channel_id: str, name: str, member: bool = True) -> None:
        self.state.channels[channel_id] = Channel(channel_id, name, member)

    def rate_limit(self, method: str, times: int = 1, retry_after: float = 0) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``Retry-After: retry_after``."""
        with self.lock:
            self.state.rate_limits.setdefault(method, []).extend([retry_after] * times)

    def limit_posts_per_channel(self, interval: float = 1.0) -> None:
        """From now on a channel takes one post per ``interval`` seconds; a second post within it
        answers 429 with ``Retry-After`` (whole seconds, at least 1) and is not recorded."""
        with self.lock:
            self.state.post_interval = interval

    def _post_too_soon(self, params: dict[str, Any]) -> float | None:
        """Seconds to wait when this post comes too soon after the channel's last one (under the lock)."""
        if not self.state.post_interval:
            return None
        channel = self.resolve(str(params.get("channel", "")))
        if channel is None:
            return None
        now = time.monotonic()
        last = self.state.last_post.get(channel.id)
        if last is not None and now - last < self.state.post_interval:
            self.state.post_429s += 1
            return max(1.0, math.ceil(self.state.post_interval - (now - last)))
        return None

    def drop_reply_after_post(self, times: int = 1) -> None:
        """The next ``times`` accepted posts are recorded, then the connection closes unanswered."""
        with self.lock:
            self.state.drops += times

    def stall_reply_after_post(self, times: int = 1) -> None:
        """The next ``times`` accepted posts are recorded and never answered (the client's read
        times out) until the fake stops."""
        with self.lock:
            self.state.stalls += times

    @property
    def messages(self) -> list[Message]:
        with self.lock:
            return list(self.state.messages)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for m, params in self.state.calls if m == method]

    # --- the methods ---------------------------------------------------------------------------

    def resolve(self, channel: str) -> Channel | None:
        if channel.startswith("#"):
            return next((c for c in self.state.channels.values() if c.name == channel[1:]), None)
        return self.state.channels.get(channel)

    def auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://pike-test.slack.com/", "team": "Pike Test", "user": "pike-digests",
                "team_id": "T0TEST", "user_id": BOT_USER, "bot_id": "B0BOT"}

    def users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.users.get(str(params.get("email", "")).casefold())
        if not user:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user, "profile": {"email": params["email"]}}}

    def conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("users", ""))
        if user not in self.state.users.values():
            return {"ok": False, "error": "user_not_found"}
        dm = "D" + user[1:]
        self.state.channels.setdefault(dm, Channel(dm, dm))
        return {"ok": True, "channel": {"id": dm}}

    def chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.member:
            return {"ok": False, "error": "not_in_channel"}
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return {"ok": False, "error": "invalid_blocks_format"}
        problems = check_limits({"text": params.get("text"), "blocks": blocks})
        if problems:
            return {"ok": False, "error": problems[0].code, "errors": [p.detail for p in problems]}
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        self.state.clock += 1
        message = Message(channel.id, f"{self.state.clock}.000100", str(params.get("text") or ""), blocks, metadata)
        self.state.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message.ts,
                "message": {"type": "message", "text": message.text, "ts": message.ts}}

    def conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.state.history_scope:
            return {"ok": False, "error": "missing_scope", "needed": "channels:history,im:history"}
        channel = self.state.channels.get(str(params.get("channel", "")))  # an id only, as Slack
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.member:
            return {"ok": False, "error": "not_in_channel"}
        oldest = float(params.get("oldest") or 0)
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("true", "1")
        found = [m for m in reversed(self.state.messages) if m.channel == channel.id and float(m.ts) > oldest]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = found[start:start + limit]
        out = [{"type": "message", "user": BOT_USER, "text": m.text, "ts": m.ts,
                **({"metadata": m.metadata} if with_meta and m.metadata else {})} for m in page]
        more = start + limit < len(found)
        return {"ok": True, "messages": out, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    METHODS = {"auth.test": "auth_test", "users.lookupByEmail": "users_lookup_by_email",
               "conversations.open": "conversations_open", "chat.postMessage": "chat_post_message",
               "conversations.history": "conversations_history"}


class _Handler(BaseHTTPRequestHandler):
    fake: SlackFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _params(self) -> dict[str, Any]:
        split = urllib.parse.urlsplit(self.path)
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(split.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "json" in (self.headers.get("Content-Type") or ""):
            params.update(json.loads(body or b"{}"))
        elif body:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8")))
        return params

    def _handle(self) -> None:
        fake = self.fake
        method = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
        params = self._params()
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else str(params.get("token", ""))
        with fake.lock:
            fake.state.calls.append((method, {k: v for k, v in params.items() if k != "token"}))
            waits = fake.state.rate_limits.get(method)
            if waits:
                wait = waits.pop(0)
                return self._send({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": f"{wait:g}"})
            if not token:
                return self._send({"ok": False, "error": "not_authed"})
            if token not in fake.state.tokens:
                return self._send({"ok": False, "error": "invalid_auth"})
            name = SlackFake.METHODS.get(method)
            if name is None:
                return self._send({"ok": False, "error": "unknown_method"}, 404)
            if method == "chat.postMessage":
                too_soon = fake._post_too_soon(params)
                if too_soon is not None:
                    return self._send({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": f"{too_soon:g}"})
            answer = getattr(fake, name)(params)
            if method == "chat.postMessage" and answer.get("ok"):
                fake.state.last_post[str(answer["channel"])] = time.monotonic()
            if method == "chat.postMessage" and answer.get("ok") and fake.state.drops:
                fake.state.drops -= 1
                self.close_connection = True
                return None  # recorded, no answer: the client sees the connection closed
            stall = method == "chat.postMessage" and answer.get("ok") and fake.state.stalls > 0
            if stall:
                fake.state.stalls -= 1
        if stall:
            fake.released.wait()
            self.close_connection = True
            return None
        self._send(answer)

    def _send(self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
