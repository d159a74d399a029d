"""Where the Pike API is and how to authenticate: one resolution order, used everywhere.

Order: explicit arguments, else the environment (``PIKE_API_BASE_URL``, ``PIKE_API_SECRET``,
``PIKE_API_RATE_LIMIT``, ``PIKE_API_REQUEST_DEADLINE``, ``PIKE_API_FETCH_DEADLINE``,
``PIKE_API_ALLOW_INSECURE_HTTP``), else (the secret only) a Prefect ``Secret`` block named
``pike-api-secret``. The secret is kept out of ``repr`` so it never reaches a log line, and no
error message ever quotes it, not even in part.
"""

from __future__ import annotations

import importlib.util
import inspect
import ipaddress
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit

from pike_tasks.errors import PikeConfigError

DEFAULT_BASE_URL = "https://api.usepike.com"
SECRET_BLOCK_NAME = "pike-api-secret"  # noqa: S105 - a block's name, not its value
# Unset: no ceiling; the client finds the workspace's limit from its 429s (pike_tasks.ratelimit).
DEFAULT_RATE_LIMIT: float | None = None
# Below this a client waits more than 10 s per request: a typo (0.001, 1e-300), not a plan.
MIN_RATE_LIMIT = 0.1
DEFAULT_REQUEST_DEADLINE = 60.0
DEFAULT_FETCH_DEADLINE = 1800.0
MAX_SECRET_CHARS = 1024

ENV_BASE_URL = "PIKE_API_BASE_URL"
ENV_SECRET = "PIKE_API_SECRET"  # noqa: S105 - a variable's name, not its value
ENV_RATE_LIMIT = "PIKE_API_RATE_LIMIT"
ENV_REQUEST_DEADLINE = "PIKE_API_REQUEST_DEADLINE"
ENV_FETCH_DEADLINE = "PIKE_API_FETCH_DEADLINE"
ENV_ALLOW_INSECURE_HTTP = "PIKE_API_ALLOW_INSECURE_HTTP"

# "/v1", "/v2", "/v1.1": the gateway picks the version, a version segment in the path is a mistake
_VERSION_SEGMENT = re.compile(r"v\d+(\.\d+)*", re.IGNORECASE)
# A Bearer secret goes into an HTTP header: visible ASCII only (RFC 6750's token68 is stricter).
_SECRET_SHAPE = re.compile(r"[!-~]+")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class ApiSettings:
    """Connection settings for one Pike workspace.

    Attributes:
        base_url: Scheme and host (and optional path prefix), no trailing slash, no version segment.
        secret: The workspace API secret; never shown in ``repr``.
        rate_limit_per_sec: Ceiling of the adaptive client-side rate shared by every client of
            this (base URL, secret) in the process: None for no ceiling (the rate is learned
            from 429 answers), 0 to turn the limiter off, else at least ``MIN_RATE_LIMIT``.
        timeout_connect, timeout_read: Seconds, per socket operation (a read timeout restarts
            with every byte that arrives).
        request_deadline: Seconds one request may take in total, headers and body; a slower
            request is abandoned and retried like a timeout.
        fetch_deadline: Seconds one whole listing may take, retries included; not retried.
        max_attempts: Tries per request, the first included.
        max_retry_seconds: Total time budget for one request's retries.
        allow_insecure_http: Send the secret over plain ``http://`` to a host that is not loopback.
    """

    base_url: str
    secret: str = field(repr=False)
    rate_limit_per_sec: float | None = DEFAULT_RATE_LIMIT
    timeout_connect: float = 5.0
    timeout_read: float = 30.0
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    fetch_deadline: float = DEFAULT_FETCH_DEADLINE
    max_attempts: int = 10  # at 30% injected faults, 0.3**10: a page gives up about once in 170,000
    max_retry_seconds: float = 120.0
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        check_secret(self.secret, "The API secret")
        if self.rate_limit_per_sec is not None and not _is_rate(self.rate_limit_per_sec):
            raise PikeConfigError(
                f"The rate limit must be 0 (off) or at least {MIN_RATE_LIMIT:g} requests per second."
            )
        for name in ("request_deadline", "fetch_deadline"):
            if not _is_seconds(getattr(self, name)):
                raise PikeConfigError(f"{name} must be a positive number of seconds.")
        if self.max_attempts < 1:
            raise PikeConfigError("max_attempts must be at least 1.")
        check_transport(self.base_url, self.allow_insecure_http)


def check_secret(secret: object, source: str) -> None:
    """Refuse a secret that cannot travel in an HTTP header, before any request is built.

    A line break in a header value makes ``requests`` raise an error quoting the whole header,
    a non-Latin-1 character a traceback; so the shape is checked here, once.

    Args:
        secret: The candidate secret.
        source: Where it came from, for the message (``PIKE_API_SECRET``, ...).

    Raises:
        PikeConfigError: The secret is empty, too long, or has whitespace, control or non-ASCII
            characters. The message names the kind of problem, never any character of the secret.
    """
    if isinstance(secret, str) and len(secret) <= MAX_SECRET_CHARS and _SECRET_SHAPE.fullmatch(secret):
        return
    raise PikeConfigError(
        f"{source} cannot be used as a Pike API secret: it {_secret_problem(secret)}. A secret is one "
        "line of visible ASCII characters; copy it again from Pike (Workspace settings > Open API)."
    )


def _secret_problem(secret: object) -> str:
    """What is wrong with the secret, described without quoting any of it."""
    if not isinstance(secret, str) or not secret:
        return "is empty"
    if len(secret) > MAX_SECRET_CHARS:
        return f"is longer than {MAX_SECRET_CHARS} characters"
    for char in secret:
        if char in "\r\n":
            return "contains a line break"
        if char.isspace():
            return "contains a space or other whitespace"
        if not char.isascii():
            return "contains a non-ASCII character"
        if not char.isprintable():
            return "contains a control character"
    return "is malformed"  # not reached: every character outside [!-~] is one of the above


def check_transport(base_url: str, allow_insecure_http: bool) -> None:
    """Refuse plain ``http://`` to a host other than loopback: the Bearer secret would travel in clear.

    Raises:
        PikeConfigError: ``http://`` to a non-loopback host without ``allow_insecure_http``.
    """
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
    except ValueError:
        return  # not a URL at all: normalize_base_url reports that, requests refuses it
    if parts.scheme.lower() != "http" or allow_insecure_http or is_loopback_host(host):
        return
    raise PikeConfigError(
        f"Refusing to send the Pike API secret in clear text to http://{host[:100]}: use https://, or "
        f"set {ENV_ALLOW_INSECURE_HTTP}=1 if this plain-HTTP endpoint is on a network you trust."
    )


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: traffic that never leaves the machine."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(url: str, source: str = "The Pike API base URL") -> str:
    """``url`` without trailing slashes, after checking it is an http(s) URL without a version path.

    Args:
        url: The candidate base URL.
        source: What to call it in a message, e.g. ``PIKE_API_BASE_URL``.

    Raises:
        PikeConfigError: Not parsable, no http(s) scheme or host, a bad port, credentials/query/
            fragment in the URL, or a version segment such as ``/v1`` in the path.
    """
    url = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:  # "http://[::1" (unclosed IPv6 bracket), "http://h:99999", ...
        raise PikeConfigError(
            f"{source} {_show_url(url)!r} is not a valid URL ({exc}); expected http(s)://host, "
            f"e.g. {DEFAULT_BASE_URL}."
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PikeConfigError(
            f"{source} {_show_url(url)!r} is invalid: expected http(s)://host, e.g. {DEFAULT_BASE_URL}."
        )
    if parts.username or parts.password:
        raise PikeConfigError(f"{source} must not contain credentials; set {ENV_SECRET} instead.")
    if parts.query or parts.fragment:
        raise PikeConfigError(f"{source} {_show_url(url)!r} must not have a query or fragment.")
    if any(_VERSION_SEGMENT.fullmatch(segment) for segment in parts.path.split("/")):
        raise PikeConfigError(
            f"{source} {_show_url(url)!r} contains a version segment; remove it "
            f"(the gateway selects the API version), e.g. {DEFAULT_BASE_URL}."
        )
    return url


def _show_url(url: str) -> str:
    """The URL for an error message, without any userinfo it may carry, cut to a sane length."""
    # by hand, not urlsplit: this also serves URLs that urlsplit refuses
    return re.sub(r"^([^:/?#]*://)[^/?#]*@", r"\1", url)[:200]


def _env(name: str) -> str | None:
    """The variable ``name``, stripped, None when blank: read through ``pike_tasks.config`` (imported
    here, lazily: it imports this module), the one home of the environment."""
    from pike_tasks.config.settings import env_text

    return env_text(name)


def load_secret_block() -> str | None:
    """The value of the Prefect ``Secret`` block ``pike-api-secret``, or None if it cannot be loaded.

    Only tried when a Prefect API is configured (``PREFECT_API_URL`` in the environment or in
    the active Prefect profile). Without one, Prefect would start its temporary local API just
    to look (about 20 s), and ``pike-reports setup`` never saves blocks there (they would not
    outlive the command), so the block cannot be there: skipping it is the same answer, at once.
    This holds inside ``pike-reports run`` without ``PREFECT_API_URL`` too: its flow runs on
    that temporary API, and the secret comes from the environment (checked before the run).

    Prefect is imported here, lazily, so commands that never need the block never pay for it.
    Any failure (no such block, no server) counts as "no block".
    """
    return load_named_secret(SECRET_BLOCK_NAME)


def load_named_secret(name: str) -> str | None:
    """The stripped value of the Prefect ``Secret`` block ``name``, or None: not tried without a
    configured Prefect API (see :func:`load_secret_block`), and any failure is "no block"."""
    if not prefect_api_configured():
        return None
    try:
        from prefect.blocks.system import Secret

        block = Secret.load(name)
        if inspect.isawaitable(block):  # called from async code: we cannot wait here
            getattr(block, "close", lambda: None)()
            return None
        value = block.value.get_secret_value()
    except Exception:  # noqa: BLE001 - any failure means "no usable block"
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def prefect_api_configured() -> bool:
    """Whether ``PREFECT_API_URL`` is set, in the environment or the active Prefect profile.

    Read without importing Prefect (about 4 s of CPU): the environment, then the profiles file
    (``PREFECT_PROFILES_PATH``, else ``$PREFECT_HOME/profiles.toml``) merged over the profiles
    Prefect ships (its ``local`` profile sets an API URL), as Prefect itself merges them.
    """
    if _env("PREFECT_API_URL"):
        return True
    home = Path(_env("PREFECT_HOME") or "~/.prefect").expanduser()
    user = _read_toml(Path(_env("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser())
    spec = importlib.util.find_spec("prefect")  # locates the package without importing it
    shipped: dict[str, Any] = {}
    if spec is not None and spec.submodule_search_locations:
        shipped = _read_toml(Path(list(spec.submodule_search_locations)[0]) / "settings" / "profiles.toml")
    active = _env("PREFECT_PROFILE") or user.get("active") or shipped.get("active") or "ephemeral"
    for profiles in (user, shipped):  # the user's profile wins where both define it
        profile = (profiles.get("profiles") or {}).get(active)
        if isinstance(profile, dict) and "PREFECT_API_URL" in profile:
            return bool(str(profile["PREFECT_API_URL"]).strip())
    return False


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _is_rate(value: object) -> bool:
    return isinstance(value, (int, float)) and (value == 0 or MIN_RATE_LIMIT <= value < math.inf)


def _is_seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and 0 < value < math.inf


@overload
def _number_from_env(name: str, default: float, valid: Callable[[float], bool], expected: str) -> float: ...
@overload
def _number_from_env(name: str, default: None, valid: Callable[[float], bool], expected: str) -> float | None: ...
def _number_from_env(name: str, default: float | None, valid: Callable[[float], bool], expected: str) -> float | None:
    """The number in env ``name`` (``default`` when unset), or a one-line PikeConfigError naming it."""
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not valid(value):
        raise PikeConfigError(f"{name} must be {expected}, got {raw[:40]!r}.")
    return value


def _flag_from_env(name: str) -> bool:
    raw = (_env(name) or "0").lower()
    if raw not in _TRUE + _FALSE:
        raise PikeConfigError(f"{name} must be 1 or 0 (true or false), got {raw[:40]!r}.")
    return raw in _TRUE


def resolve_api_settings(base_url: str | None = None, secret: str | None = None) -> ApiSettings:
    """Resolve the API settings: explicit arguments, else the environment, else the Secret block.

    Args:
        base_url: Overrides ``PIKE_API_BASE_URL`` (default ``https://api.usepike.com``).
        secret: Overrides ``PIKE_API_SECRET`` and the ``pike-api-secret`` block.

    Raises:
        PikeConfigError: No secret anywhere, a malformed secret, a bad or clear-text base URL,
            or a bad number in ``PIKE_API_RATE_LIMIT`` or a deadline variable; one line that
            names the variable and never quotes the secret.
    """
    if base_url:
        url = normalize_base_url(base_url, "The base_url argument")
    else:
        url = normalize_base_url(_env(ENV_BASE_URL) or DEFAULT_BASE_URL, ENV_BASE_URL)
    rate = _number_from_env(ENV_RATE_LIMIT, DEFAULT_RATE_LIMIT, _is_rate,
                            f"0 (off) or at least {MIN_RATE_LIMIT:g} requests per second")
    request_deadline = _number_from_env(ENV_REQUEST_DEADLINE, DEFAULT_REQUEST_DEADLINE, _is_seconds,
                                        "a positive number of seconds")
    fetch_deadline = _number_from_env(ENV_FETCH_DEADLINE, DEFAULT_FETCH_DEADLINE, _is_seconds,
                                      "a positive number of seconds")
    allow_insecure = _flag_from_env(ENV_ALLOW_INSECURE_HTTP)
    check_transport(url, allow_insecure)  # before the secret: a block lookup is not worth it then

    value, source = _find_secret(secret)
    if not value:
        raise PikeConfigError(
            f"No Pike API secret: set {ENV_SECRET} or create a Prefect Secret block named "
            f"'{SECRET_BLOCK_NAME}' (pike-reports setup)."
        )
    check_secret(value, source)
    return ApiSettings(base_url=url, secret=value, rate_limit_per_sec=rate, request_deadline=request_deadline,
                       fetch_deadline=fetch_deadline, allow_insecure_http=allow_insecure)


def _find_secret(secret: str | None) -> tuple[str | None, str]:
    """(the secret, where it came from) by the resolution order; surrounding whitespace dropped."""
    if secret and secret.strip():
        return secret.strip(), "The secret argument"
    if _env(ENV_SECRET):
        return _env(ENV_SECRET), ENV_SECRET
    return load_secret_block(), f"The Prefect Secret block '{SECRET_BLOCK_NAME}'"
