"""A local HTTP implementation of the Pike Open API, with fault injection.

It serves the documented routes, envelopes, filters, scopes and error shapes over real
HTTP, so the client, the flows, the demo and the benchmarks all exercise the same code
paths they use against api.usepike.com. Faults (429s, 5xx, dropped connections, latency,
a per-secret token bucket) and one-shot scripted responses let tests drive every error
path of the client deterministically.

The records are treated as read-only once the server starts: listings are indexed and
serialised lazily and cached, which is what makes hundreds of 200-item pages per second
possible.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import dataclasses
import datetime
import hashlib
import hmac
import json
import math
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pike_tasks.sandbox.data import Record, Workspace, WorkspaceSizes, generate_workspace

RESOURCES = ("projects", "tasks", "customers", "members")
ALL_SCOPES = frozenset(f"{r}:read" for r in RESOURCES)
DEFAULT_SECRET = "sandbox-secret"  # noqa: S105 - the local sandbox's documented test secret
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# exact-match filters per resource; customers' `q` is a search, handled separately
EXACT_FILTERS = {
    "projects": ("status", "teamId"),
    "tasks": ("projectId", "status", "teamId"),
    "customers": (),
    "members": ("status",),
}
MEMBER_STATUSES = ("active", "invited", "inactive")
BAD_GATEWAY_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
# Cursors are signed so that a tampered one is rejected rather than silently honoured.
_CURSOR_KEY = b"pike-sandbox-cursor"

Filters = tuple[tuple[str, str], ...]
"""A listing's validated filters as sorted (key, value) pairs (see :func:`list_filters`)."""


@dataclass
class FaultConfig:
    """Injected faults, decided per authorised request; mutable while the server runs."""

    p429: float = 0.0  # probability of 429 rate_limited with Retry-After
    retry_after: str = "1"  # Retry-After sent with injected 429s (seconds or an HTTP-date)
    p5xx: float = 0.0  # probability of 500/502/503 (502 as an HTML page, like a real gateway)
    pdrop: float = 0.0  # probability of closing the connection without a response
    latency_ms: float = 0.0  # each answer leaves this long after its request arrived (work included)
    rate: float = 0.0  # token-bucket requests/second per secret (0 = off)
    burst: int | None = None  # bucket size (default: max(1, int(rate)))
    seed: int | None = None  # RNG seed for fault decisions


@dataclass
class ScriptedResponse:
    """A one-shot forced response for the next request whose path starts with ``path``."""

    status: int
    body: bytes | dict[str, Any] | list[Any] | None = None  # dict/list -> JSON
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/"
    drop: bool = False  # close the connection instead of answering


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; ``status`` None means the connection was dropped."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    authorized: bool


class ApiError(Exception):
    """An error response in the documented shape; raised inside the handler, never escapes it."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_data_file(path: str | Path) -> Workspace:
    """Read a workspace from a JSON file ``{"projects": [...], "tasks": [...], ...}``.

    Missing keys become empty lists, so a fixture only needs the resources it tests.
    """
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object with lists of records")
    data = {r: raw.get(r) or [] for r in RESOURCES}
    for resource, records in data.items():
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"{path}: {resource!r} must be a list of records")
    return data


# -- listings ------------------------------------------------------------------------------

class Collection:
    """One resource's records with lazily built, cached filter indexes and encoded items."""

    def __init__(self, name: str, records: list[Record]) -> None:
        self.name = name
        self.records = records
        self.by_id = {r.get("id"): r for r in records}
        self._encoded: list[bytes | None] = [None] * len(records)
        self._indexes: dict[Filters, list[int]] = {(): list(range(len(records)))}
        self._lock = threading.Lock()

    def matching(self, filters: Filters) -> list[int]:
        """Positions of the records matching ``filters`` (sorted pairs), in insertion order."""
        found = self._indexes.get(filters)
        if found is None:
            found = [i for i, r in enumerate(self.records) if self._matches(r, filters)]
            with self._lock:
                if len(self._indexes) > 4096:  # free-text `q` must not grow the cache forever
                    self._indexes = {(): self._indexes[()]}
                self._indexes[filters] = found
        return found

    @staticmethod
    def _matches(record: Record, filters: Filters) -> bool:
        for key, value in filters:
            if key == "q":
                needle = value.casefold()
                haystack = (str(record.get("customerName") or ""), str(record.get("customerNumber") or ""))
                if not any(needle in text.casefold() for text in haystack):
                    return False
            elif record.get(key) != value:
                return False
        return True

    def encoded(self, positions: list[int]) -> list[bytes]:
        """The list-shaped JSON of the records at ``positions`` (projects omit ``phases``)."""
        out = []
        cache = self._encoded
        for i in positions:
            item = cache[i]
            if item is None:
                record = self.records[i]
                if self.name == "projects" and "phases" in record:
                    record = {k: v for k, v in record.items() if k != "phases"}
                item = cache[i] = _dumps(record)
            out.append(item)
        return out


def _filters_digest(resource: str, filters: Filters) -> str:
    return hashlib.sha256(repr((resource, filters)).encode()).hexdigest()[:16]


def encode_cursor(offset: int, resource: str, filters: Filters) -> str:
    """An opaque cursor: offset plus a digest of the listing, signed against tampering."""
    payload = {"o": offset, "f": _filters_digest(resource, filters)}
    payload["s"] = hmac.new(_CURSOR_KEY, repr(sorted(payload.items())).encode(), "sha256").hexdigest()[:16]
    return base64.urlsafe_b64encode(_dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str, resource: str, filters: Filters) -> int:
    """The offset in ``cursor``; 400 if it is undecodable, tampered or from another listing."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        signature = payload.pop("s")
        offset: int = payload["o"]  # checked to be an int just below
        expected = hmac.new(_CURSOR_KEY, repr(sorted(payload.items())).encode(), "sha256").hexdigest()[:16]
        valid = hmac.compare_digest(str(signature), expected) and isinstance(offset, int) and offset >= 0
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        valid = False
    if not valid:
        raise ApiError(400, "invalid_request", "Invalid cursor.")
    if payload["f"] != _filters_digest(resource, filters):
        raise ApiError(400, "invalid_request", "Cursor does not match the filters of this request.")
    return offset


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_request", f"limit must be an integer between 1 and {MAX_LIMIT}.")
    return limit


def list_filters(resource: str, query: dict[str, str]) -> Filters:
    """The documented filters present in ``query``, validated, as sorted (key, value) pairs."""
    keys = EXACT_FILTERS[resource] + (("q",) if resource == "customers" else ())
    filters = tuple(sorted((k, query[k]) for k in keys if k in query))
    if resource == "members" and "status" in query and query["status"] not in MEMBER_STATUSES:
        raise ApiError(400, "invalid_request", f"status must be one of {', '.join(MEMBER_STATUSES)}.")
    return filters


def list_page(collection: Collection, query: dict[str, str]) -> bytes:
    """The JSON envelope of one page of a listing."""
    limit = parse_limit(query.get("limit"))
    filters = list_filters(collection.name, query)
    cursor = query.get("cursor")
    offset = decode_cursor(cursor, collection.name, filters) if cursor else 0
    positions = collection.matching(filters)
    end = offset + limit
    has_more = end < len(positions)
    next_cursor = _dumps(encode_cursor(end, collection.name, filters)) if has_more else b"null"
    items = b",".join(collection.encoded(positions[offset:end]))
    return (b'{"items":[' + items + b'],"nextCursor":' + next_cursor
            + b',"hasMore":' + (b"true" if has_more else b"false") + b"}")


# -- faults --------------------------------------------------------------------------------

class TokenBuckets:
    """A token bucket per secret: the real rate limit a Pike workspace enforces."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}  # secret -> (tokens, last refill)
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._state.clear()

    def take(self, secret: str, rate: float, burst: int | None) -> int | None:
        """Take a token; None if allowed, else the whole seconds until one is available (>= 1)."""
        size = float(burst if burst is not None else max(1, int(rate)))
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(secret, (size, now))
            tokens = min(size, tokens + (now - last) * rate)
            if tokens >= 1:
                self._state[secret] = (tokens - 1, now)
                return None
            self._state[secret] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / rate))


# -- HTTP ----------------------------------------------------------------------------------

class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    sandbox: SandboxServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet: clients hanging up mid-response is normal under fault injection."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return "PikeSandbox/1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        """Quiet: the request log lives in ``SandboxServer.requests``."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        self._arrived = time.monotonic()
        self._respond_at: float | None = None  # set once the injected latency applies to this request
        sandbox = self.server.sandbox
        self._discard_body()
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        secret = self._bearer()
        authorized = secret in sandbox.secrets
        # logged just before the answer leaves (see _record), so a client that has its answer
        # always finds the request in ``sandbox.requests``
        self._pending_record: RequestRecord | None = RequestRecord(self.command, path, query, None, authorized)
        scripted = sandbox._take_scripted(path)
        if scripted is not None:
            self._send_scripted(scripted)
        else:
            try:
                self._serve(sandbox, path, query, secret if authorized else None)
            except ApiError as exc:
                self._send_error(exc)
        self._record(None)  # no answer was sent (nothing is logged twice)

    def _record(self, status: int | None) -> None:
        if self._pending_record is not None:
            record, self._pending_record = self._pending_record, None
            self.server.sandbox._log(dataclasses.replace(record, status=status))

    def _discard_body(self) -> None:
        """Read any request body so the keep-alive connection stays in sync."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def _bearer(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _serve(self, sandbox: SandboxServer, path: str, query: dict[str, str], secret: str | None) -> int | None:
        """Authorise, inject faults, then answer; returns the status sent (None if dropped)."""
        if secret is None:
            raise ApiError(401, "unauthorized", "Missing or invalid API secret.")
        resource, item_id = _route(path)
        if self.command != "GET":
            raise ApiError(405, "invalid_request", f"Method {self.command} is not allowed.", {"Allow": "GET"})
        scope = f"{resource}:read"
        if scope not in sandbox.secrets[secret]:
            raise ApiError(403, "forbidden", f"Insufficient scope for this resource: requires {scope}.")
        if sandbox.faults.latency_ms > 0:
            self._respond_at = self._arrived + sandbox.faults.latency_ms / 1000
        if sandbox._inject_faults(secret) == "drop":
            self._drop()
            return None
        collection = sandbox.collections[resource]
        if item_id is None:
            return self._send(200, list_page(collection, query))
        record = collection.by_id.get(item_id)
        if record is None:
            raise ApiError(404, "not_found", f"No {resource[:-1]} with id {item_id}.")
        return self._send(200, _dumps(record))

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
              headers: dict[str, str] | None = None) -> int:
        self._wait_for_latency()
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status

    def _send_error(self, exc: ApiError) -> int:
        request_id = str(uuid.uuid4())
        headers = {"X-Request-Id": request_id, **exc.headers}
        if exc.status == 502:
            return self._send(502, BAD_GATEWAY_HTML, "text/html", headers)
        body = _dumps({"error": {"code": exc.code, "message": exc.message, "requestId": request_id}})
        return self._send(exc.status, body, headers=headers)

    def _send_scripted(self, scripted: ScriptedResponse) -> int | None:
        if scripted.drop:
            self._drop()
            return None
        body = scripted.body
        headers = dict(scripted.headers)
        if isinstance(body, (dict, list)):
            body = _dumps(body)
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        content_type = headers.pop("Content-Type", None) or "application/octet-stream"
        return self._send(scripted.status, body or b"", content_type, headers)

    def _wait_for_latency(self) -> None:
        """Injected latency is the time from the request's arrival to its answer: the work of
        building the answer happens inside it, as on a server whose responses take that long."""
        if self._respond_at is not None:
            delay = self._respond_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _drop(self) -> None:
        """Hang up without a response, as a crashing gateway or a network cut does."""
        self._wait_for_latency()
        self._record(None)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _route(path: str) -> tuple[str, str | None]:
    """``(resource, id or None)`` for a documented route, else 404 (``/v1/...`` included)."""
    segments = path.removeprefix("/").split("/")
    if segments[0] in RESOURCES and len(segments) <= 2 and all(segments):
        return segments[0], (segments[1] if len(segments) == 2 else None)
    raise ApiError(404, "not_found", f"No route for {path}.")


# -- the server ----------------------------------------------------------------------------

class SandboxServer:
    """A running sandbox: ``url``, ``secret``, mutable ``faults``, scripted responses, request log."""

    def __init__(self, data: Workspace, secrets: dict[str, set[str]], faults: FaultConfig,
                 host: str, port: int) -> None:
        self.data = data
        self.secrets = {s: set(scopes) for s, scopes in secrets.items()}
        self.secret = next((s for s, scopes in self.secrets.items() if scopes >= ALL_SCOPES), next(iter(self.secrets)))
        self.collections = {r: Collection(r, data.get(r) or []) for r in RESOURCES}
        self.requests: list[RequestRecord] = []
        self._scripted: collections.deque[ScriptedResponse] = collections.deque()
        self._lock = threading.Lock()
        self._buckets = TokenBuckets()
        self.faults = faults
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="pike-sandbox", daemon=True)
        self._thread.start()

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    @faults.setter
    def faults(self, value: FaultConfig) -> None:
        """Assigning a new FaultConfig reseeds the fault RNG and refills the token buckets."""
        with self._lock:
            self._faults = value
            self._rng = random.Random(value.seed)  # noqa: S311 - seeded fault injection, not a secret
        self._buckets.reset()

    def enqueue(self, *responses: ScriptedResponse) -> None:
        """Force the next responses; each is used once, by the first request matching its path."""
        with self._lock:
            self._scripted.extend(responses)

    def reset(self) -> None:
        """Back to a clean state between tests: no faults, no scripted responses, empty log."""
        self.faults = FaultConfig()
        with self._lock:
            self._scripted.clear()
            self.requests.clear()

    def warm(self) -> None:
        """Encode every record now instead of on its first read (which a benchmark would time)."""
        for collection in self.collections.values():
            collection.encoded(collection.matching(()))

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r})"

    def _take_scripted(self, path: str) -> ScriptedResponse | None:
        with self._lock:
            for i, scripted in enumerate(self._scripted):
                if path.startswith(scripted.path):
                    del self._scripted[i]
                    return scripted
        return None

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _inject_faults(self, secret: str) -> str | None:
        """Apply the token bucket and random faults; raise the error to send, or say "drop".
        (Latency is applied when the answer is sent: see ``_Handler._wait_for_latency``.)"""
        faults = self._faults
        if faults.rate > 0:
            wait = self._buckets.take(secret, faults.rate, faults.burst)
            if wait is not None:
                raise ApiError(429, "rate_limited", "Rate limit exceeded for this secret.", {"Retry-After": str(wait)})
        if faults.pdrop <= 0 and faults.p429 <= 0 and faults.p5xx <= 0:
            return None
        with self._lock:
            roll, pick = self._rng.random(), self._rng.randrange(3)
        if roll < faults.pdrop:
            return "drop"
        if roll < faults.pdrop + faults.p429:
            raise ApiError(429, "rate_limited", "Too many requests.", {"Retry-After": faults.retry_after})
        if roll < faults.pdrop + faults.p429 + faults.p5xx:
            raise _server_error(pick, faults.retry_after)
        return None


def _server_error(pick: int, retry_after: str) -> ApiError:
    if pick == 0:
        return ApiError(500, "internal_error", "Internal server error.")
    if pick == 1:
        return ApiError(502, "internal_error", "Bad gateway.")  # sent as an HTML page
    return ApiError(503, "internal_error", "Service temporarily unavailable.", {"Retry-After": retry_after})


def start_sandbox(
    data: Workspace | None = None,
    *,
    secrets: dict[str, set[str]] | None = None,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 42,
    today: datetime.date | None = None,
    sizes: WorkspaceSizes | None = None,
) -> SandboxServer:
    """Start a sandbox in a background thread and return it once it accepts connections.

    Args:
        data: Records to serve; None generates the demo workspace from ``seed``, ``today``
            and ``sizes`` (keyword arguments of ``generate_workspace``).
        secrets: secret -> scopes; default ``{"sandbox-secret": <all four read scopes>}``.
        faults: Initial fault injection (none by default); ``server.faults`` stays mutable.
        host, port: Where to listen; port 0 picks a free one (see ``server.url``).
    """
    if data is None:
        data = generate_workspace(seed, today, **(sizes or {}))
    return SandboxServer(data, secrets or {DEFAULT_SECRET: set(ALL_SCOPES)}, faults or FaultConfig(), host, port)
