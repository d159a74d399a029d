"""Typed errors for everything that can go wrong talking to Pike.

Every error carries ``status`` (HTTP status or None), ``code`` (the API's error code,
or one of ours), ``message`` and ``request_id`` (from the API's error body, when any).
No error message ever contains the API secret: messages are built only from the
response body and our own text, never from request headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

SCOPE_FOR_RESOURCE = {
    "projects": "projects:read",
    "tasks": "tasks:read",
    "customers": "customers:read",
    "members": "members:read",
}


class PikeError(Exception):
    """Base class: a failure talking to the Pike API."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        resource: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.resource = resource

    def __str__(self) -> str:
        parts = [self.message]
        meta = []
        if self.status is not None:
            meta.append(f"HTTP {self.status}")
        if self.code:
            meta.append(f"code {self.code}")
        if self.request_id:
            meta.append(f"requestId {self.request_id}")
        if meta:
            parts.append(f"({', '.join(meta)})")
        return " ".join(parts)

    # keep keyword fields when pickled (Prefect persists exceptions)
    def __reduce__(self) -> tuple[Callable[..., PikeError], tuple[Any, ...]]:
        return (
            _rebuild,
            (type(self), self.message, self.status, self.code, self.request_id, self.resource),
        )


def _rebuild(cls: type[PikeError], message: str, status: int | None, code: str | None, request_id: str | None,
             resource: str | None) -> PikeError:
    return cls(message, status=status, code=code, request_id=request_id, resource=resource)


class PikeAuthError(PikeError):
    """401 unauthorized: the secret is missing, wrong, or revoked."""


class PikeForbidden(PikeError):
    """403 forbidden: the secret lacks the scope for this resource."""

    @property
    def scope(self) -> str | None:
        return SCOPE_FOR_RESOURCE.get(self.resource or "")


class PikeNotFound(PikeError):
    """404 not_found."""


class PikeInvalidRequest(PikeError):
    """400 invalid_request (a bad filter value, a bad cursor, ...)."""


class PikeRateLimited(PikeError):
    """429 rate_limited, still throttled after the client's retries."""

    retryable = True


class PikeServerError(PikeError):
    """5xx, or a non-JSON error page, still failing after the client's retries."""

    retryable = True


class PikeConnectionError(PikeError):
    """The API could not be reached (refused, reset, timed out) after the client's retries."""

    retryable = True


class PikeUnreachable(PikeConnectionError):
    """Nothing answers at the base URL (connection refused, or the host name does not resolve).

    Tried a few times by the client (a server restarting refuses for a moment), then final: a
    wrong ``PIKE_API_BASE_URL`` must fail in seconds, not after every retry layer's patience.
    """

    retryable = False


class PikeDeadlineExceeded(PikeError):
    """A whole listing did not finish within its deadline (``PIKE_API_FETCH_DEADLINE``).

    Not retryable: another try would take as long. (One request over its own deadline,
    ``PIKE_API_REQUEST_DEADLINE``, is retried like a timeout and surfaces as PikeConnectionError.)
    """


class PikePaginationError(PikeError):
    """The API's paging broke its contract (a cursor loop, hasMore without a cursor, too many pages)."""

    retryable = True


class PikeConfigError(PikeError):
    """Our own configuration is unusable (no secret, a bad base URL, an unreadable teams file)."""


class StoreError(PikeError):
    """The report store cannot be read or written (one line, naming the setting)."""

    retryable = False


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def redact_url(text: str) -> str:
    """``text`` fit to show: a URL's user and password, query and fragment replaced by ``***``.

    ``sftp://u:pw@h/x?token=t`` -> ``sftp://***@h/x?***``. Text that is no URL is returned as is.
    """
    if not _URL_LIKE.match(text):
        return text
    scheme, rest = text.split("://", 1)
    authority, sep, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    for mark in ("?", "#"):
        if mark in authority:
            authority = authority.split(mark, 1)[0] + mark + "***"
            sep = path = ""
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=-1)
    if cut >= 0:
        path = path[:cut + 1] + "***"
    return f"{scheme}://{authority}{sep}{path}"


class SlackError(Exception):
    """A Slack failure; ``code`` is Slack's error code (``invalid_auth``) or ours, ``method`` the API method.

    Here (not in ``pike_tasks.slack_client``, which re-exports it) so ``pike_tasks.config`` can raise
    :class:`SlackConfigError` without importing the Slack client.
    """

    def __init__(self, message: str, code: str = "", method: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.method = method


class SlackConfigError(SlackError):
    """The Slack settings are missing or unusable (nothing was sent)."""
