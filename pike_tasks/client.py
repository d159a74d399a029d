"""PikeClient: the only module that talks HTTP to the Pike Open API.

It owns the ``requests.Session`` (keep-alive), authentication, timeouts, the client-side rate
(adaptive, see ``pike_tasks.ratelimit``), retries of single requests, error mapping to
``pike_tasks.errors`` and cursor paging.
"""

from __future__ import annotations

import dataclasses
import email.utils
import gc
import http.client
import json
import logging
import random
import re
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast, overload
from urllib.parse import quote

import requests
import urllib3.exceptions

from pike_tasks import __version__, deadlines
from pike_tasks.errors import (
    SCOPE_FOR_RESOURCE,
    PikeAuthError,
    PikeConnectionError,
    PikeDeadlineExceeded,
    PikeError,
    PikeForbidden,
    PikeInvalidRequest,
    PikeNotFound,
    PikePaginationError,
    PikeRateLimited,
    PikeServerError,
    PikeUnreachable,
)
from pike_tasks.ratelimit import shared_limiter
from pike_tasks.records import Customer, Member, Project, Task
from pike_tasks.settings import (
    ENV_BASE_URL,
    ENV_FETCH_DEADLINE,
    ENV_REQUEST_DEADLINE,
    ApiSettings,
    resolve_api_settings,
)

RESOURCES = ("projects", "tasks", "customers", "members")
# The documented filters of each listing, by their query (camelCase) names.
LIST_FILTERS: dict[str, tuple[str, ...]] = {
    "projects": ("status", "teamId"),
    "tasks": ("projectId", "status", "teamId"),
    "customers": ("q",),
    "members": ("status",),
}
_SNAKE_TO_CAMEL = {"team_id": "teamId", "project_id": "projectId"}
MAX_PAGE_LIMIT = 200

BACKOFF_BASE = 0.25  # seconds; full jitter over base * 2**(retry - 1) ...
BACKOFF_CAP = 8.0  # ... capped here
RETRY_AFTER_MAX = 60.0  # a Retry-After beyond this is clamped, not obeyed
MAX_MESSAGE_CHARS = 200  # no longer text from a response ever reaches an exception
UNREACHABLE_ATTEMPTS = 3  # tries when nothing listens at the base URL (a restarting server refuses briefly)

# Failures of the connection itself, all worth another try: refused, reset, dropped mid-response,
# timed out. requests wraps most of them; the rest are listed in case one slips through.
_TRANSIENT_NETWORK_ERRORS = (
    requests.ConnectionError,  # includes ConnectTimeout and RemoteDisconnected (via ProtocolError)
    requests.Timeout,  # ReadTimeout
    requests.exceptions.ChunkedEncodingError,  # connection dropped while reading the body
    requests.exceptions.ContentDecodingError,
    http.client.HTTPException,  # RemoteDisconnected, IncompleteRead
    urllib3.exceptions.HTTPError,  # ProtocolError, ReadTimeoutError
    ConnectionError,  # the builtin: ConnectionResetError, BrokenPipeError, ...
    TimeoutError,
)


@dataclass
class ListingStats:
    """What one listing cost; updated while iterating, final once the generator is exhausted."""

    resource: str
    pages: int = 0
    records: int = 0
    retries: int = 0
    throttled: int = 0  # 429 answers among the tries
    duplicates_dropped: int = 0
    seconds: float = 0.0
    rate_note: str = ""  # where the shared adaptive rate stood when the listing ended

    def summary(self) -> str:
        """E.g. ``fetched 1234 tasks in 7 pages (2 retries, 1 answer 429) in 1.3 s; rate settled at ...``."""
        extras = [f"{self.retries} {'retry' if self.retries == 1 else 'retries'}"]
        if self.throttled:
            extras.append(f"{self.throttled} {'answer' if self.throttled == 1 else 'answers'} 429")
        if self.duplicates_dropped:
            ids = "id" if self.duplicates_dropped == 1 else "ids"
            extras.append(f"{self.duplicates_dropped} duplicate {ids} dropped")
        pages = f"{self.pages} {'page' if self.pages == 1 else 'pages'}"
        line = f"fetched {self.records} {self.resource} in {pages} ({', '.join(extras)}) in {self.seconds:.1f} s"
        return f"{line}; {self.rate_note}" if self.rate_note else line


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header per request (an auth object also stops requests from
    replacing it with ~/.netrc credentials); its repr never shows the secret."""

    def __init__(self, secret: str) -> None:
        self._header = f"Bearer {secret}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<hidden>)"


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying; carries the error to raise if we give up."""

    def __init__(self, error: PikeError, delay: float | None = None, reason: str = "",
                 max_attempts: int | None = None) -> None:
        super().__init__(reason)
        self.error = error
        self.delay = delay  # a server-imposed delay (Retry-After), else None for our backoff
        self.reason = reason
        self.max_attempts = max_attempts  # fewer tries than the settings' for this failure (unreachable)


class PikeClient:
    """A client for the Pike Open API (listings and retrieves of the four read resources).

    Retry layers, one per failure class:

    * This client retries **single requests**: 429 (honouring ``Retry-After``, clamped to
      0-60 s, else exponential backoff; the shared adaptive rate also holds every other
      request of this secret for the ``Retry-After`` and lowers the rate, see
      ``pike_tasks.ratelimit``), 5xx, non-JSON or truncated 200 bodies, connection
      errors, dropped connections and read timeouts (exponential backoff with full jitter,
      0.25 s base, 8 s cap), at most ``settings.max_attempts`` tries and
      ``settings.max_retry_seconds`` in total per request. A request still unfinished after
      ``settings.request_deadline`` (a server trickling bytes) is abandoned and retried like a
      timeout. A retried page re-requests the same cursor, so no item is skipped or repeated.
      400/401/403/404 are never retried.
    * A whole listing that passes ``settings.fetch_deadline`` raises ``PikeDeadlineExceeded``,
      which nothing retries.
    * Prefect task retries (``pike_tasks.prefect_tasks.fetch_listing``) re-run a **whole
      listing** the client gave up on (``PikeError.retryable``); permanent errors fail at once.

    Paging guards: a cursor seen before in the listing, ``hasMore`` without a cursor and more
    than ``max_pages`` pages raise ``PikePaginationError``; an id seen twice in one listing is
    dropped and counted in ``stats[resource].duplicates_dropped``.

    Args:
        settings: Base URL, secret, timeouts, retry bounds and the rate limit's ceiling.
        session: A ``requests.Session`` to use (not closed by ``close``); default: a new one.
        page_limit: ``limit`` per page, 1-200.
        max_pages: Page cap per listing.
        sleep: Called with the seconds to wait between retries (inject a recorder in tests;
            the shared rate limiter always really sleeps).
        log: Logger (or Prefect run logger) for one INFO line per listing (with the rate it
            settled on) and DEBUG per retry.
        progress: Called with the listing's ``ListingStats`` after every page (e.g.
            ``pike_tasks.progress.listing_progress(log)``, which logs a line every 2 s).
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        session: requests.Session | None = None,
        page_limit: int = MAX_PAGE_LIMIT,
        max_pages: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        progress: Callable[[ListingStats], None] | None = None,
    ) -> None:
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be between 1 and {MAX_PAGE_LIMIT}")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.base_url = settings.base_url
        self._settings = settings
        self._owns_session = session is None
        self._session = session if session is not None else _session_for(settings.base_url)
        self._auth = _BearerAuth(settings.secret)
        self._headers = {"Accept": "application/json", "User-Agent": f"pike-reports/{__version__}"}
        self._timeout = (settings.timeout_connect, settings.timeout_read)
        self._limiter = shared_limiter(settings.base_url, settings.secret, settings.rate_limit_per_sec)
        self.page_limit = page_limit
        self.max_pages = max_pages
        self._sleep = sleep
        self._log = log or logging.getLogger(__name__)
        self._progress = progress
        self._random = random.Random()  # noqa: S311 - retry jitter, not a secret
        self.stats: dict[str, ListingStats] = {}

    @classmethod
    def from_env(cls, *, base_url: str | None = None, secret: str | None = None, **overrides: Any) -> PikeClient:
        """A client from ``resolve_api_settings`` (arguments, env, Secret block).

        ``overrides`` may name ``ApiSettings`` fields (``rate_limit_per_sec``, ``timeout_read``, ...)
        and constructor keywords (``session``, ``page_limit``, ``sleep``, ``log``, ...).
        """
        settings = resolve_api_settings(base_url, secret)
        field_names = {f.name for f in dataclasses.fields(ApiSettings)}
        setting_overrides = {k: overrides.pop(k) for k in list(overrides) if k in field_names}
        if setting_overrides:
            settings = dataclasses.replace(settings, **setting_overrides)
        return cls(settings, **overrides)

    def __repr__(self) -> str:
        return f"PikeClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> PikeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- listings ------------------------------------------------------------------------------

    # The casts only name the record type: records are handed on as sent, never validated.

    def iter_projects(self, status: str | None = None, team_id: str | None = None) -> Iterator[Project]:
        """Every project (optionally by status key and team id), as sent by the API."""
        return cast("Iterator[Project]", self.iter_list("projects", status=status, teamId=team_id))

    def iter_tasks(self, project_id: str | None = None, status: str | None = None,
                   team_id: str | None = None) -> Iterator[Task]:
        """Every task (optionally by project, status and team), as sent by the API."""
        return cast("Iterator[Task]", self.iter_list("tasks", projectId=project_id, status=status, teamId=team_id))

    def iter_customers(self, q: str | None = None) -> Iterator[Customer]:
        """Every customer (optionally matching the search ``q``), as sent by the API."""
        return cast("Iterator[Customer]", self.iter_list("customers", q=q))

    def iter_members(self, status: str | None = None) -> Iterator[Member]:
        """Every member (optionally by status: active, invited, inactive), as sent by the API."""
        return cast("Iterator[Member]", self.iter_list("members", status=status))

    def list_all(self, resource: str, **filters: str | None) -> list[dict[str, Any]]:
        """All items of a listing in one list (see ``iter_list``)."""
        return list(self.iter_list(resource, **filters))

    def iter_list(self, resource: str, **filters: str | None) -> Iterator[dict[str, Any]]:
        """Yield every item of ``/{resource}``, following ``nextCursor`` while ``hasMore``.

        Args:
            resource: ``projects``, ``tasks``, ``customers`` or ``members``.
            **filters: Documented filters by query name (``status``, ``teamId``, ``projectId``,
                ``q``; ``team_id``/``project_id`` are accepted too); None values are omitted.

        Yields:
            Item dicts exactly as the API sent them (unknown fields kept), each id at most once.
            ``self.stats[resource]`` is updated per page.

        Raises:
            ValueError: An unknown resource or filter (a programming error).
            PikeError: The typed failure (see ``pike_tasks.errors``).
        """
        query = self._listing_query(resource, filters)
        return self._paginate(resource, query)

    def iter_pages(self, resource: str, **filters: str | None) -> Iterator[list[dict[str, Any]]]:
        """As ``iter_list``, one list per page (its items, each id at most once in the listing),
        so a caller can turn each page into columns and drop it while the next one downloads."""
        query = self._listing_query(resource, filters)
        return self._pages(resource, query)

    @staticmethod
    def _listing_query(resource: str, filters: dict[str, str | None]) -> dict[str, str]:
        if resource not in LIST_FILTERS:
            raise ValueError(f"unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}")
        query: dict[str, str] = {}
        for key, value in filters.items():
            name = _SNAKE_TO_CAMEL.get(key, key)
            if name not in LIST_FILTERS[resource]:
                allowed = ", ".join(LIST_FILTERS[resource])
                raise ValueError(f"unknown filter {key!r} for {resource}; allowed: {allowed}")
            if value is not None:
                query[name] = str(value)
        return query

    def _paginate(self, resource: str, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        for page in self._pages(resource, query):
            yield from page

    def _pages(self, resource: str, query: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        stats = self.stats[resource] = ListingStats(resource)
        started = time.monotonic()
        deadline_at = started + self._settings.fetch_deadline
        path = f"/{resource}"
        seen_cursors: set[str] = set()
        seen_ids: set[Any] = set()
        cursor: str | None = None
        # Each page is decoded while the next one is requested (see _Prefetch).
        prefetch = _Prefetch(self, path, resource, query, seen_cursors, deadline_at)
        try:
            while True:
                if stats.pages >= self.max_pages:
                    raise PikePaginationError(
                        f"Stopped listing {resource} after {self.max_pages} pages (the page cap); "
                        "the API kept saying hasMore.",
                        code="page_cap", resource=resource,
                    )
                params = self._page_params(query, cursor)
                prefetch.enabled = stats.pages + 1 < self.max_pages  # no page after the cap
                body, request_id = self._get_json(path, params, resource, stats, prefetch=prefetch,
                                                  deadline_at=deadline_at)
                items, has_more, next_cursor = _envelope(body, resource, request_id)
                stats.pages += 1
                if has_more:
                    if not isinstance(next_cursor, str) or not next_cursor:
                        raise PikePaginationError(
                            f"The API said hasMore for {resource} page {stats.pages} but sent no nextCursor.",
                            code="missing_cursor", request_id=request_id, resource=resource,
                        )
                    if next_cursor in seen_cursors:
                        raise PikePaginationError(
                            f"Cursor loop while listing {resource}: page {stats.pages} returned a cursor "
                            "already followed in this listing.",
                            code="cursor_loop", request_id=request_id, resource=resource,
                        )
                    seen_cursors.add(next_cursor)
                fresh = []
                try:
                    for item in items:
                        item_id = item.get("id")
                        if item_id is not None:
                            if item_id in seen_ids:
                                stats.duplicates_dropped += 1
                                continue
                            seen_ids.add(item_id)
                        fresh.append(item)
                except (AttributeError, TypeError):
                    raise PikeServerError(
                        f"Malformed {resource} page from the Pike API: an item is not an object with a string id.",
                        code="malformed_response", request_id=request_id, resource=resource,
                    ) from None
                stats.records += len(fresh)
                stats.seconds = time.monotonic() - started
                if self._progress is not None:
                    self._progress(stats)
                del items, body  # the page's only copy is now the caller's
                yield fresh
                if not has_more:
                    break
                cursor = next_cursor
        finally:
            prefetch.close()
        stats.seconds = time.monotonic() - started
        stats.rate_note = self._limiter.describe() if self._limiter is not None else ""
        self._log.info("%s", stats.summary())

    def _page_params(self, query: dict[str, str], cursor: str | None) -> dict[str, str]:
        """The query of one listing page (the page after ``cursor``, or the first)."""
        params = dict(query, limit=str(self.page_limit))
        if cursor is not None:
            params["cursor"] = cursor
        return params

    # -- retrieves -----------------------------------------------------------------------------

    def get_project(self, project_id: str) -> dict[str, Any]:
        """One project (with ``phases``), as sent by the API."""
        return self._get_one("projects", project_id)

    def get_task(self, task_id: str) -> dict[str, Any]:
        """One task, as sent by the API."""
        return self._get_one("tasks", task_id)

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        """One customer, as sent by the API."""
        return self._get_one("customers", customer_id)

    def get_member(self, member_id: str) -> dict[str, Any]:
        """One member, as sent by the API."""
        return self._get_one("members", member_id)

    def _get_one(self, resource: str, item_id: str) -> dict[str, Any]:
        if not isinstance(item_id, str) or not item_id:
            raise ValueError(f"a {resource[:-1]} id must be a non-empty string")
        stats = ListingStats(resource)
        body, request_id = self._get_json(f"/{resource}/{quote(item_id, safe='')}", {}, resource, stats)
        if not isinstance(body, dict):
            raise PikeServerError(
                f"Malformed {resource[:-1]} from the Pike API: expected a JSON object.",
                code="malformed_response", request_id=request_id, resource=resource,
            )
        return body

    # -- one request, with retries -----------------------------------------------------------

    def _get_json(self, path: str, params: dict[str, str], resource: str, stats: ListingStats, *,
                  prefetch: _Prefetch | None = None, deadline_at: float | None = None) -> tuple[Any, str | None]:
        """GET ``path`` and return (decoded JSON body, request id), retrying transient failures.

        ``prefetch`` (listings only): attempt 1 may be the outcome of a request it already made
        for exactly these ``params``; a 200 is decoded by it, while it requests the next page.
        ``deadline_at`` (listings only): the listing's deadline (``time.monotonic``); no try and
        no wait for one goes beyond it.
        """
        first_attempt = prefetch.take(params.get("cursor")) if prefetch is not None else None
        url = self.base_url + path
        started = time.monotonic()
        waited = 0.0
        attempt = 0
        max_attempts = self._settings.max_attempts
        waited_retry_after = False  # the last try got a 429 and its Retry-After was waited
        while True:
            attempt += 1
            try:
                if first_attempt is not None:
                    sent, first_attempt = first_attempt, None
                    response = sent.result()  # raises what the request raised, _Retry included
                else:
                    response = self._send(url, params, resource, deadline_at, waited_retry_after)
                if prefetch is not None and response.status_code == 200:
                    return prefetch.decode_while_fetching_next(response)
                return self._interpret(response, path, resource)
            except _Retry as failure:
                if failure.error.status == 429:
                    stats.throttled += 1
                if prefetch is not None:
                    prefetch.discard()
                delay = failure.delay
                if delay is None:
                    delay = self._backoff(attempt)
                # real time spent, or the injected sleeps when `sleep` does not really sleep
                spent = max(time.monotonic() - started, waited)
                if attempt >= min(max_attempts, failure.max_attempts or max_attempts) \
                        or spent + delay > self._settings.max_retry_seconds:
                    error = failure.error
                    error.message = (
                        f"{error.message} Gave up after {attempt} "
                        f"{'attempt' if attempt == 1 else 'attempts'} in {spent:.1f} s."
                    )
                    raise error from None
                if deadline_at is not None and started + spent + delay >= deadline_at:
                    raise self._fetch_deadline_error(resource, failure.reason) from None
                stats.retries += 1
                self._log.debug(
                    "GET %s: %s; retry %d/%d in %.2f s", path, failure.reason, attempt, max_attempts - 1, delay
                )
                self._sleep(delay)
                waited += delay
                waited_retry_after = failure.delay is not None and failure.error.status == 429

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt - 1))]."""
        return self._random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1))))

    def _send(self, url: str, params: dict[str, str], resource: str, fetch_deadline_at: float | None = None,
              waited_retry_after: bool = False) -> _Reply:
        """One GET (body read in full), after a slot of the shared rate, under a total deadline.

        ``waited_retry_after``: this retries a 429 whose Retry-After was waited already, so the
        hold that 429 put on the shared rate does not delay it again.

        Network failures and a request past ``settings.request_deadline`` raise _Retry; a request
        cut short by ``fetch_deadline_at`` (the listing's deadline) raises PikeDeadlineExceeded.
        """
        sent_at = None
        if self._limiter is not None:
            sent_at = self._limiter.acquire(fetch_deadline_at, waited_retry_after=waited_retry_after)
        now = time.monotonic()
        if fetch_deadline_at is not None and now >= fetch_deadline_at:
            raise self._fetch_deadline_error(resource)
        deadline_at = now + self._settings.request_deadline
        listing_bound = fetch_deadline_at is not None and fetch_deadline_at < deadline_at
        failure: Exception | None
        with deadlines.guard(fetch_deadline_at if fetch_deadline_at is not None and listing_bound
                             else deadline_at) as guard:
            try:
                # stream=True and one read of the whole body: requests would otherwise assemble a
                # 100 KB page from 10 KB chunks, about 0.5 ms of Python per page.
                with self._session.get(
                    url, params=params, headers=self._headers, auth=self._auth, timeout=self._timeout, stream=True
                ) as response:
                    if guard.conn is None:  # a caller's session (no tracked pool): guard the body at least
                        guard.conn = response.raw.connection
                    reply = _Reply(response.status_code, response.headers, response.raw.read(decode_content=True))
            except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error below
                failure = exc
            else:
                failure = None
        if guard.expired:  # whatever happened, the watchdog cut the request (a body may be short)
            if listing_bound:
                raise self._fetch_deadline_error(resource)
            path = url[len(self.base_url):]
            reason = f"request deadline of {self._settings.request_deadline:g} s passed"
            raise _Retry(
                PikeConnectionError(
                    f"The Pike API did not complete GET {path} within {self._settings.request_deadline:g} s "
                    f"({ENV_REQUEST_DEADLINE}).",
                    code="request_deadline", resource=resource,
                ),
                reason=reason,
            )
        if failure is not None:
            error = self._network_failure(failure, resource)
            if error is failure:
                raise failure
            raise error from None
        if sent_at is not None and self._limiter is not None:  # sent_at is only set by the limiter
            retry_after = parse_retry_after(reply.headers.get("Retry-After")) if reply.status_code == 429 else None
            self._limiter.record(sent_at, reply.status_code, retry_after)
        return reply

    def _network_failure(self, exc: Exception, resource: str) -> Exception:
        """The error for an exception raised while sending: _Retry if transient, else a PikeError.

        Only the exceptions' class names are used, never their text: that can quote a request
        header (http.client's "Invalid header value b'Bearer ...'").
        """
        if isinstance(exc, _TRANSIENT_NETWORK_ERRORS) and _unreachable(exc):
            reason = _network_reason(exc)
            return _Retry(
                PikeUnreachable(
                    f"Nothing answers at the Pike API address {self.base_url} ({reason}): check {ENV_BASE_URL}.",
                    code="unreachable", resource=resource,
                ),
                reason=reason, max_attempts=UNREACHABLE_ATTEMPTS,
            )
        if isinstance(exc, _TRANSIENT_NETWORK_ERRORS):
            reason = _network_reason(exc)
            return _Retry(
                PikeConnectionError(
                    f"Could not reach the Pike API at {self.base_url} ({reason}).",
                    code="connection_error", resource=resource,
                ),
                reason=reason,
            )
        if isinstance(exc, (requests.RequestException, ValueError)):
            # invalid URL, too many redirects, a header value http.client refuses: not transient
            return PikeConnectionError(
                f"Request to the Pike API at {self.base_url} failed ({_network_reason(exc)}).",
                code="request_error", resource=resource,
            )
        return exc  # not a failure of the request but a bug: let it show as it is

    def _fetch_deadline_error(self, resource: str, last_failure: str = "") -> PikeDeadlineExceeded:
        stats = self.stats.get(resource)
        arrived = f"{stats.records} records in {stats.pages} pages" if stats else "nothing"
        message = (
            f"Listing {resource} did not finish within {self._settings.fetch_deadline:g} s "
            f"({ENV_FETCH_DEADLINE}); {arrived} had arrived."
        )
        if last_failure:
            message += f" The last try failed: {self._redact(last_failure)}."
        return PikeDeadlineExceeded(message, code="fetch_deadline", resource=resource)

    def _interpret(self, response: _Reply, path: str, resource: str) -> tuple[Any, str | None]:
        """(decoded JSON body, request id) of a 200; else the typed error, as _Retry if worth retrying."""
        status = response.status_code
        request_id = response.headers.get("X-Request-Id")
        if status == 200:
            try:
                return _loads(response.content), request_id
            except ValueError:
                raise _Retry(
                    PikeServerError(
                        f"The Pike API answered {path} with a body that is not JSON "
                        f"({_content_type(response)}).",
                        status=status, code="malformed_response", request_id=request_id, resource=resource,
                    ),
                    reason="HTTP 200 with a non-JSON body",
                ) from None

        error = self._error_from_response(response, path, resource)
        if status == 429:
            raise _Retry(error, delay=parse_retry_after(response.headers.get("Retry-After")), reason="HTTP 429")
        if status >= 500:
            raise _Retry(error, reason=f"HTTP {status}")
        raise error

    def _error_from_response(self, response: _Reply, path: str, resource: str) -> PikeError:
        """The typed error for a non-200 response: status, code, message and request id."""
        status = response.status_code
        code = api_message = request_id = None
        try:
            body = _loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            code = self._redact(_short(err.get("code"), 60))
            api_message = self._redact(_short(err.get("message"), MAX_MESSAGE_CHARS))
            request_id = self._redact(_short(err.get("requestId"), 100))
        request_id = request_id or self._redact(_short(response.headers.get("X-Request-Id"), 100))
        path = self._redact(path)  # a cursor the server handed out travels in it
        said = f" The API said: {api_message}" if api_message else ""
        if not api_message and body is None and response.content:
            said = f" The response was not JSON ({_content_type(response)})."
        kwargs: dict[str, Any] = {"status": status, "code": code, "request_id": request_id, "resource": resource}
        cls: type[PikeError]

        if status == 401:
            cls, message = PikeAuthError, (
                "The Pike API rejected the API secret (missing, wrong or revoked); check "
                "PIKE_API_SECRET or the 'pike-api-secret' Secret block." + said
            )
        elif status == 403:
            scope = SCOPE_FOR_RESOURCE.get(resource, f"{resource}:read")
            cls, message = PikeForbidden, f"The API secret lacks the {scope} scope needed to read {resource}." + said
        elif status == 404:
            cls, message = PikeNotFound, f"Not found: GET {path}." + said
        elif status == 429:
            cls, message = PikeRateLimited, f"Rate limited by the Pike API on GET {path}." + said
        elif status >= 500:
            cls, message = PikeServerError, f"Pike API server error on GET {path}." + said
        elif 400 <= status < 500:
            cls, message = PikeInvalidRequest, f"The Pike API refused GET {path} as invalid (HTTP {status})." + said
        else:
            cls, message = PikeServerError, f"Unexpected HTTP {status} from the Pike API on GET {path}." + said
        return cls(message, **kwargs)

    @overload
    def _redact(self, text: str) -> str: ...
    @overload
    def _redact(self, text: None) -> None: ...
    def _redact(self, text: str | None) -> str | None:
        """Belt and braces: no text a server sends us reaches a message with the secret in it.

        Only what came from outside is redacted (the server's code, message and request id, a
        path with its cursor): our own words never hold the secret, and a short secret such as
        ``wrong`` must not turn "missing, wrong or revoked" into nonsense. A secret of 8
        characters or more is redacted wherever it appears; a shorter one as a whole token.
        """
        secret = self._settings.secret
        if not text or not secret or secret not in text:
            return text
        if len(secret) >= 8:
            return text.replace(secret, "<secret>")
        return re.sub(rf"(?<![\w.~+/=-]){re.escape(secret)}(?![\w.~+/=-])", "<secret>", text)


def _session_for(base_url: str) -> requests.Session:
    """A session that reads the environment (proxy variables, NO_PROXY, REQUESTS_CA_BUNDLE)
    once for ``base_url``, instead of on every request: that lookup costs about 0.5 ms a page."""
    session = requests.Session()
    adapter = deadlines.TrackingAdapter()  # lets the request deadline find a stuck request's socket
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    found = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(found["proxies"] or {})
    session.verify = found["verify"]
    session.trust_env = False
    return session


class _Prefetch:
    """Overlaps decoding a listing page with the request for the next one.

    Python's JSON decoder holds the GIL for milliseconds per page; the next page's round trip
    mostly waits on the network without it. So when a page arrives, its next cursor is read
    straight from its bytes (``_peek_next_cursor``), the bytes are decoded on a helper thread,
    and the next page is requested on the calling thread in the meantime. Every request stays
    on the calling thread (the session is never shared between threads). The request made
    ahead is used only if the decoded page names exactly that cursor (``take``); otherwise it
    is dropped, so pages, order, retries and errors are those of a plain page-by-page loop.
    """

    def __init__(self, client: PikeClient, path: str, resource: str, query: dict[str, str],
                 seen_cursors: set[str], deadline_at: float | None = None) -> None:
        self._client, self._path, self._resource, self._query = client, path, resource, query
        self._deadline_at = deadline_at  # the listing's, for the requests made ahead too
        self._seen_cursors = seen_cursors  # never request ahead into a cursor loop
        self._executor: ThreadPoolExecutor | None = None
        self._ahead: tuple[str, _Outcome] | None = None
        self.enabled = True

    def decode_while_fetching_next(self, response: _Reply) -> tuple[Any, str | None]:
        """(body, request id) of a 200 page, as ``PikeClient._interpret``; meanwhile, when the
        page's bytes show a next cursor, the next page is requested (its outcome kept)."""
        interpret = self._client._interpret
        cursor = _peek_next_cursor(response.content) if self.enabled else None
        if cursor is None or cursor in self._seen_cursors:
            return interpret(response, self._path, self._resource)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"pike-decode-{self._resource}")
        decoding = self._executor.submit(_after, DECODE_HEAD_START, interpret, response, self._path, self._resource)
        params = self._client._page_params(self._query, cursor)
        self._ahead = (cursor, _Outcome.of(self._client._send, self._client.base_url + self._path,
                                           params, self._resource, self._deadline_at))
        return decoding.result()  # raises _Retry for a 200 that is not JSON, as interpret does

    def take(self, cursor: str | None) -> _Outcome | None:
        """The outcome of the request made ahead, if it was for ``cursor``; forgotten either way."""
        ahead, self._ahead = self._ahead, None
        return ahead[1] if ahead is not None and cursor is not None and ahead[0] == cursor else None

    def discard(self) -> None:
        self._ahead = None

    def close(self) -> None:
        self.discard()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


# The decoder starts this long after the next request: urllib3 releases the GIL while checking
# the pooled connection, before the request is written, and a decoder that took the GIL then
# would hold it (json.loads never yields) and delay the request by the whole decode (~1.4 ms a
# page on the benchmark machine; with this head start the decode is hidden: 25.3 -> 23.9 ms a
# page at 20 ms latency).
DECODE_HEAD_START = 0.002

_T = TypeVar("_T")


def _after(seconds: float, func: Callable[..., _T], *args: object) -> _T:
    time.sleep(seconds)
    return func(*args)


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer, its body read in full."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (requests' CaseInsensitiveDict)
    content: bytes


@dataclass
class _Outcome:
    """What one request gave: its response, or the exception it raised (re-raised by ``result``)."""

    response: _Reply | None = None
    error: Exception | None = None

    @classmethod
    def of(cls, send: Callable[..., _Reply], *args: Any) -> _Outcome:
        try:
            return cls(response=send(*args))
        except Exception as exc:  # noqa: BLE001 - kept, and raised where the page is used
            return cls(error=exc)

    def result(self) -> _Reply:
        if self.error is not None:
            raise self.error
        return cast(_Reply, self.response)  # of() sets one of response and error


_NEXT_CURSOR = re.compile(rb'"nextCursor"\s*:\s*"([A-Za-z0-9_.~+/=:-]{1,4096})"')
_HAS_MORE_TRUE = re.compile(rb'"hasMore"\s*:\s*true')


def _peek_next_cursor(raw: bytes) -> str | None:
    """The ``nextCursor`` of a page read from its bytes without decoding them, when the page
    plainly says ``"hasMore": true``; None when in doubt (the caller then waits for the decode).

    Only the envelope's keys are looked for, from the end of the page (where this API puts
    them); a string value inside an item cannot match because its quotes are escaped. The
    result is a guess that ``_paginate`` checks against the decoded page before using it.
    """
    tail = raw[-4096:]
    cursor_at = tail.rfind(b'"nextCursor"')
    more_at = tail.rfind(b'"hasMore"')
    if cursor_at < 0 or more_at < 0 or not _HAS_MORE_TRUE.match(tail, more_at):
        return None
    found = _NEXT_CURSOR.match(tail, cursor_at)
    return found.group(1).decode("ascii") if found else None


def _envelope(body: Any, resource: str, request_id: str | None) -> tuple[list[Any], bool, Any]:
    """(items, hasMore, nextCursor) of a list page, or PikeServerError if it is not an envelope."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PikeServerError(
            f"Malformed {resource} page from the Pike API: expected an object with an 'items' list.",
            code="malformed_response", request_id=request_id, resource=resource,
        )
    has_more = body.get("hasMore")
    if has_more is None:
        # The spec's envelope always has hasMore. Without it, a page naming a next cursor is
        # ambiguous: ending the listing there would silently drop every later page.
        if body.get("nextCursor") not in (None, ""):
            raise PikeServerError(
                f"Malformed {resource} page from the Pike API: a nextCursor but no 'hasMore'.",
                code="malformed_response", request_id=request_id, resource=resource,
            )
        has_more = False
    if not isinstance(has_more, bool):
        raise PikeServerError(
            f"Malformed {resource} page from the Pike API: 'hasMore' is not true or false.",
            code="malformed_response", request_id=request_id, resource=resource,
        )
    return body["items"], has_more, body.get("nextCursor")


def _loads(content: bytes) -> Any:
    """``json.loads`` with the cyclic GC paused: it otherwise re-scans every dict kept from
    earlier pages while decoding (MEASURED.md: 3.35 s -> 1.38 s for 1000 pages)."""
    if not gc.isenabled():
        return json.loads(content)
    gc.disable()
    try:
        return json.loads(content)
    finally:
        gc.enable()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), clamped to
    [0, 60]; None when absent or unparsable (the caller then backs off exponentially)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(RETRY_AFTER_MAX, max(0.0, seconds))


def _short(value: Any, limit: int) -> str | None:
    """A field from a response as a one-line string of at most ``limit`` characters."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _content_type(response: _Reply) -> str:
    return _short(response.headers.get("Content-Type"), 60) or "no content type"


def check_reachable(base_url: str, timeout: float = 5.0) -> None:
    """Before a run starts anything: is anybody listening at ``base_url``? (A TCP connect only:
    no request, no secret sent.) Skipped when a proxy carries the traffic.

    Raises:
        PikeUnreachable: the connection is refused or the host name does not resolve (one line,
            naming PIKE_API_BASE_URL and how long it tried).
    """
    parts = urllib.parse.urlsplit(base_url)
    if not parts.hostname or requests.utils.get_environ_proxies(base_url):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.monotonic()
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except (ConnectionRefusedError, socket.gaierror) as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else "host name not found"
        raise PikeUnreachable(
            f"Nothing answers at the Pike API address {base_url} ({why}): check {ENV_BASE_URL}. "
            f"Tried once in {time.monotonic() - started:.1f} s.", code="unreachable",
        ) from None
    except OSError:
        return  # slow or filtered: the client's own retries and deadlines decide


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps, outermost first (requests -> urllib3 -> OSError ...)."""
    chain = [exc]
    inner: BaseException = exc
    nxt: BaseException | None
    for _ in range(6):
        if isinstance(inner, urllib3.exceptions.MaxRetryError) and inner.reason is not None:
            nxt = inner.reason
        elif inner.args and isinstance(inner.args[-1], BaseException):
            nxt = inner.args[-1]
        else:
            nxt = inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner:
            break
        chain.append(nxt)
        inner = nxt
    return chain


def _unreachable(exc: BaseException) -> bool:
    """A refused connection or a host name that does not resolve: nobody is listening there."""
    return any(isinstance(e, (ConnectionRefusedError, socket.gaierror, urllib3.exceptions.NameResolutionError))
               for e in _causes(exc))


def _network_reason(exc: BaseException) -> str:
    """A short reason for a network failure: its class, and the innermost cause's class."""
    name = type(exc).__name__
    inner = _causes(exc)[-1]
    inner_name = type(inner).__name__
    detail = name if inner_name == name else f"{name}: {inner_name}"
    if isinstance(exc, requests.Timeout) or isinstance(inner, (TimeoutError, urllib3.exceptions.TimeoutError)):
        detail += ", timed out"
    return detail
