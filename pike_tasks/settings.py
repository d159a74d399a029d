"""Where the Pike API is and how to authenticate: one resolution order, used everywhere.

Order: explicit arguments, else the environment (``PIKE_API_BASE_URL``, ``PIKE_API_SECRET``,
``PIKE_API_RATE_LIMIT``), else (the secret only) a Prefect ``Secret`` block named
``pike-api-secret``. The secret is kept out of ``repr`` so it never reaches a log line.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pike_tasks.errors import PikeConfigError

DEFAULT_BASE_URL = "https://api.usepike.com"
SECRET_BLOCK_NAME = "pike-api-secret"
DEFAULT_RATE_LIMIT = 10.0

ENV_BASE_URL = "PIKE_API_BASE_URL"
ENV_SECRET = "PIKE_API_SECRET"
ENV_RATE_LIMIT = "PIKE_API_RATE_LIMIT"

# "/v1", "/v2", "/v1.1": the gateway picks the version, a version segment in the path is a mistake
_VERSION_SEGMENT = re.compile(r"v\d+(\.\d+)*", re.IGNORECASE)


@dataclass(frozen=True)
class ApiSettings:
    """Connection settings for one Pike workspace.

    Attributes:
        base_url: Scheme and host (and optional path prefix), no trailing slash, no version segment.
        secret: The workspace API secret; never shown in ``repr``.
        rate_limit_per_sec: Client-side limit shared by every client of this (base URL, secret)
            in the process; 0 disables it.
        timeout_connect, timeout_read: Seconds, per request.
        max_attempts: Tries per request, the first included.
        max_retry_seconds: Total time budget for one request's retries.
    """

    base_url: str
    secret: str = field(repr=False)
    rate_limit_per_sec: float = DEFAULT_RATE_LIMIT
    timeout_connect: float = 5.0
    timeout_read: float = 30.0
    max_attempts: int = 10  # at 30% injected faults, 0.3**10: a page gives up about once in 170,000
    max_retry_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.rate_limit_per_sec < 0:
            raise PikeConfigError("The rate limit must be 0 (off) or a positive number of requests per second.")
        if self.max_attempts < 1:
            raise PikeConfigError("max_attempts must be at least 1.")


def normalize_base_url(url: str) -> str:
    """``url`` without trailing slashes, after checking it is an http(s) URL without a version path.

    Raises:
        PikeConfigError: No http(s) scheme or host, credentials/query/fragment in the URL, or a
            version segment such as ``/v1`` in the path.
    """
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PikeConfigError(
            f"Invalid Pike API base URL {_show_url(url)!r}: expected http(s)://host, e.g. {DEFAULT_BASE_URL}."
        )
    if parts.username or parts.password:
        raise PikeConfigError("The Pike API base URL must not contain credentials; set PIKE_API_SECRET instead.")
    if parts.query or parts.fragment:
        raise PikeConfigError(f"The Pike API base URL {_show_url(url)!r} must not have a query or fragment.")
    if any(_VERSION_SEGMENT.fullmatch(segment) for segment in parts.path.split("/")):
        raise PikeConfigError(
            f"The Pike API base URL {_show_url(url)!r} contains a version segment; remove it "
            f"(the gateway selects the API version), e.g. {DEFAULT_BASE_URL}."
        )
    return url


def _show_url(url: str) -> str:
    """The URL for an error message, without any userinfo it may carry, cut to a sane length."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        url = parts._replace(netloc=parts.hostname or "").geturl()
    return url[:200]


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def load_secret_block() -> str | None:
    """The value of the Prefect ``Secret`` block ``pike-api-secret``, or None if it cannot be loaded.

    Prefect is imported here, lazily, so commands that never need the block never pay for it.
    Any failure (Prefect not configured, no such block, no server) counts as "no block".
    """
    try:
        from prefect.blocks.system import Secret

        block = Secret.load(SECRET_BLOCK_NAME)
        if inspect.isawaitable(block):  # called from async code: we cannot wait here
            getattr(block, "close", lambda: None)()
            return None
        value = block.value.get_secret_value()
    except Exception:  # noqa: BLE001 - any failure means "no usable block"
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _rate_limit_from_env() -> float:
    raw = _env(ENV_RATE_LIMIT)
    if raw is None:
        return DEFAULT_RATE_LIMIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise PikeConfigError(f"{ENV_RATE_LIMIT} must be a number of requests per second (0 disables), got {raw[:40]!r}.")
    return value


def resolve_api_settings(base_url: str | None = None, secret: str | None = None) -> ApiSettings:
    """Resolve the API settings: explicit arguments, else the environment, else the Secret block.

    Args:
        base_url: Overrides ``PIKE_API_BASE_URL`` (default ``https://api.usepike.com``).
        secret: Overrides ``PIKE_API_SECRET`` and the ``pike-api-secret`` block.

    Raises:
        PikeConfigError: No secret anywhere, a bad base URL, or a bad ``PIKE_API_RATE_LIMIT``.
    """
    url = normalize_base_url(base_url or _env(ENV_BASE_URL) or DEFAULT_BASE_URL)
    value = (secret or "").strip() or _env(ENV_SECRET) or load_secret_block()
    if not value:
        raise PikeConfigError(
            f"No Pike API secret: set {ENV_SECRET} or create a Prefect Secret block named "
            f"'{SECRET_BLOCK_NAME}' (pike-reports setup)."
        )
    return ApiSettings(base_url=url, secret=value, rate_limit_per_sec=_rate_limit_from_env())
