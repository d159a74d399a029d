"""Every setting the environment gives, parsed and validated here, once: ``load_settings(env)``
returns one frozen value, a group per part of the house (the API, the report store, the once-only
ledger, digest delivery, the run), and fails in one line naming the first bad variable, before any
API call. The modules take their group as a value; the one-setting readers below are what their
thin wrappers call (``pike_tasks.store``, ``pike_tasks.once``, ``pike_tasks.mailer``).

The API's settings keep their rules in ``pike_tasks.settings`` (they also come from arguments and
the Prefect Secret block): its reader of the environment is ``env_text`` here, and ``load_settings``
validates them and keeps them as its ``api`` group. ``pike_tasks.mailer.SmtpSettings.from_env`` and
``pike_tasks.slack_client.SlackSettings.from_env`` are thin wrappers over ``load_smtp_env_settings``
and ``load_slack_settings``. Secrets (the SMTP password, the Slack token) never appear in a
``repr`` or an error message.

Outside this package only a short allow-list reads ``os.environ`` (tests/test_lint.py says which and why).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast
from urllib.parse import urlsplit

from pydantic import SecretStr

from pike_tasks.errors import PikeConfigError, SlackConfigError, StoreError, redact_url
from pike_tasks.settings import (
    DEFAULT_REQUEST_DEADLINE,
    ENV_REQUEST_DEADLINE,
    ENV_SECRET,
    ApiSettings,
    is_loopback_host,
    resolve_api_settings,
)

Env = Mapping[str, str]


def _environ(env: Env | None) -> Env:
    return os.environ if env is None else env


def _text(env: Env | None, name: str) -> str:
    return (_environ(env).get(name) or "").strip()


def environ(env: Env | None = None) -> Env:
    """``env``, or the process environment when None: the one place outside the allow-list that
    touches ``os.environ`` (callers that need the whole mapping, e.g. to save blocks from it)."""
    return _environ(env)


def env_text(name: str, env: Env | None = None) -> str | None:
    """The variable ``name``, stripped; None when unset or blank. What ``pike_tasks.settings`` reads
    its ``PIKE_API_*`` (and Prefect's ``PREFECT_API_URL``/profile) variables through."""
    return _text(env, name) or None


# ---- the report store ---------------------------------------------------------------------------
# The store a run uses when neither output_dir nor --out names one; what a deployment's worker sets
# (in a deployment it must be a URL or an absolute, shared folder).
ENV_REPORTS_STORE = "PIKE_REPORTS_STORE"
ENV_PUBLIC_URL = "PIKE_REPORTS_PUBLIC_URL"
ENV_LINK_DAYS = "PIKE_REPORTS_LINK_DAYS"
DEFAULT_LINK_DAYS = 7  # the SigV4 maximum for presigned URLs
ENV_KEEP_DAYS = "PIKE_REPORTS_KEEP_DAYS"
DEFAULT_KEEP_DAYS = 90
MAX_KEEP_DAYS = 36500  # a century; more overflows the date arithmetic of retention


@dataclass(frozen=True)
class StoreSettings:
    """The store settings of one run, validated (``load_store_settings``)."""

    store: str | None  # PIKE_REPORTS_STORE, stripped; None when unset
    public_url: str | None
    link_seconds: int
    keep_days: int
    deadline: float


def reports_store(env: Env | None = None) -> str | None:
    """``PIKE_REPORTS_STORE``, stripped; None when unset."""
    return _text(env, ENV_REPORTS_STORE) or None


def load_store_settings(env: Env | None = None) -> StoreSettings:
    """Every store setting, checked: one line naming the first bad one, before any API call.

    Raises:
        StoreError: the first bad setting, named.
    """
    environ = _environ(env)
    keep_days = keep_days_setting(environ)  # checked in this order: the first bad one is named
    link_seconds = link_lifetime_seconds(environ)
    public_url = public_base_url(environ)
    return StoreSettings(store=reports_store(environ), public_url=public_url,
                         link_seconds=link_seconds, keep_days=keep_days, deadline=store_deadline_seconds(environ))


def public_base_url(env: Env | None = None) -> str | None:
    """``PIKE_REPORTS_PUBLIC_URL`` without trailing slashes, after checking it.

    Raises:
        StoreError: not http(s) with a host, or with credentials, a query or a fragment (each would
            end up in every link: a secret in every digest, a broken path); one line.
    """
    raw = _text(env, ENV_PUBLIC_URL).rstrip("/")
    if not raw:
        return None
    example = "such as https://reports.example.com/pike"
    try:
        parts = urlsplit(raw)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - a malformed port raises ValueError here
    except ValueError:
        ok = False
    if not ok:
        raise StoreError(f"{ENV_PUBLIC_URL} must be an http(s) URL {example}, not {redact_url(raw)[:120]!r}.")
    wrong = [what for what, present in (("a user or password", "@" in parts.netloc), ("a query (?...)", "?" in raw),
                                        ("a fragment (#...)", "#" in raw)) if present]
    if wrong:
        raise StoreError(f"{ENV_PUBLIC_URL} must not carry {' or '.join(wrong)}: every link of every report and digest "
                         f"is made from it; give the plain base URL {example} ({redact_url(raw)[:120]!r}).")
    return raw


def keep_days_setting(env: Env | None = None) -> int:
    """``PIKE_REPORTS_KEEP_DAYS``: days of reports the store keeps (default 90; 0 keeps everything).

    Raises:
        StoreError: not a whole number of days from 0 to ``MAX_KEEP_DAYS`` (one line naming the variable).
    """
    raw = _text(env, ENV_KEEP_DAYS)
    if not raw:
        return DEFAULT_KEEP_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_KEEP_DAYS:
        raise StoreError(f"{ENV_KEEP_DAYS} must be a whole number of days from 0 (keep every report) to "
                         f"{MAX_KEEP_DAYS}, not {raw[:40]!r}.")
    return days


def link_lifetime_seconds(env: Env | None = None) -> int:
    """``PIKE_REPORTS_LINK_DAYS``: how long a presigned link works (more than 0, at most 7 days; default 7)."""
    raw = _text(env, ENV_LINK_DAYS)
    if not raw:
        return DEFAULT_LINK_DAYS * 86400
    try:
        days = float(raw)
    except ValueError:
        days = -1
    if not (0 < days <= DEFAULT_LINK_DAYS and days * 86400 >= 1):
        raise StoreError(f"{ENV_LINK_DAYS} must be a number of days more than 0 and at most 7 (the presigned-URL "
                         f"maximum), not {raw[:40]!r}.")
    return int(days * 86400)


def store_deadline_seconds(env: Env | None = None) -> float:
    """Seconds one store request may take in all: ``PIKE_API_REQUEST_DEADLINE`` (default 60), as for the API."""
    raw = _text(env, ENV_REQUEST_DEADLINE)
    if not raw:
        return DEFAULT_REQUEST_DEADLINE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise StoreError(f"{ENV_REQUEST_DEADLINE} must be a positive number of seconds, not {raw[:40]!r}.")
    return seconds


# ---- the once-only ledger ------------------------------------------------------------------------
ENV_WORKSPACE = "PIKE_REPORTS_WORKSPACE"
ENV_SANDBOX_RUN = "PIKE_REPORTS_SANDBOX_RUN"  # set by `run --sandbox` and the demo, never by hand
ENV_LEASE = "PIKE_REPORTS_CLAIM_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 60
MIN_LEASE_SECONDS, MAX_LEASE_SECONDS = 2, 120
SANDBOX_WORKSPACE = "sandbox"  # the built-in demo data: never a real workspace's records
_WORKSPACE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class LedgerSettings:
    """The once-only ledger's settings: the workspace name from the environment (checked), whether
    this is a sandbox run, and a claim's lease."""

    workspace: str | None
    sandbox_run: bool
    lease_seconds: int


def check_workspace_name(name: str, setting: str) -> str:
    """``name`` lowercased, if it is a short slug (1-40 of ``a-z 0-9 _ -``), else one line naming ``setting``."""
    folded = name.strip().lower()
    if not _WORKSPACE_NAME.match(folded):
        raise PikeConfigError(f"{setting} {name[:60]!r} must be a short name of letters, digits, '-' or '_' "
                              "(at most 40, starting with a letter or digit), e.g. acme")
    if folded == SANDBOX_WORKSPACE:
        raise PikeConfigError(f"{setting} {name!r} is reserved for the built-in demo data (--sandbox); choose "
                              "another name")
    return folded


def sandbox_run(env: Env | None = None) -> bool:
    return _environ(env).get(ENV_SANDBOX_RUN) == "1"


def env_workspace(env: Env | None = None) -> str | None:
    """``PIKE_REPORTS_WORKSPACE``, checked and lowercased; None when unset."""
    text = _text(env, ENV_WORKSPACE)
    return check_workspace_name(text, ENV_WORKSPACE) if text else None


def lease_seconds(env: Env | None = None) -> int:
    """``PIKE_REPORTS_CLAIM_LEASE_SECONDS`` (2-120, default 60): how long a claim stays another run's
    without a renewal. A run that dies before handing a message over frees it within this time."""
    text = _text(env, ENV_LEASE)
    if not text:
        return DEFAULT_LEASE_SECONDS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not MIN_LEASE_SECONDS <= value <= MAX_LEASE_SECONDS:
        raise PikeConfigError(f"{ENV_LEASE} must be a whole number of seconds from {MIN_LEASE_SECONDS} to "
                              f"{MAX_LEASE_SECONDS} (how long an unrenewed claim holds), not {text[:40]!r}")
    return value


def load_ledger_settings(env: Env | None = None) -> LedgerSettings:
    return LedgerSettings(workspace=env_workspace(env), sandbox_run=sandbox_run(env), lease_seconds=lease_seconds(env))


# ---- digest delivery ----------------------------------------------------------------------------
ENV_EMAIL_FROM = "PIKE_REPORTS_EMAIL_FROM"
DEFAULT_TIMEOUT = 30.0
ENV_TIMEOUT = "PIKE_REPORTS_SMTP_TIMEOUT"
DEFAULT_DATA_TIMEOUT = 600.0  # RFC 5321 4.5.3.2.6: a server may take 10 minutes to answer the end of DATA
ENV_DATA_TIMEOUT = "PIKE_REPORTS_SMTP_DATA_TIMEOUT"
ENV_ATTACHMENT_MAX_BYTES = "PIKE_REPORTS_ATTACHMENT_MAX_BYTES"
# 1 MB as attached is about 1.4 MB once base64-encoded: the digest stays a small download on a
# phone and far below every provider's message limit (10-25 MB), and a zip that size holds a
# CSV of several MB (tens of thousands of overdue tasks).
DEFAULT_ATTACHMENT_MAX_BYTES = 1_000_000
# base64 adds a third: more than this would make a message most providers refuse (25 MB).
MAX_ATTACHMENT_MAX_BYTES = 18_000_000
ENV_SMTP_CONNECTIONS = "PIKE_REPORTS_SMTP_CONNECTIONS"
DEFAULT_SMTP_CONNECTIONS = 4
MAX_SMTP_CONNECTIONS = 32


@dataclass(frozen=True)
class DeliverySettings:
    """How digests go out: the From address (None: the SMTP block's user), SMTP timeouts, the
    attachment limit and the connections at once."""

    sender: str | None
    smtp_timeout: float
    smtp_data_timeout: float
    attachment_max_bytes: int
    smtp_connections: int


def email_from(env: Env | None = None) -> str | None:
    """``PIKE_REPORTS_EMAIL_FROM``, stripped; None when unset."""
    return _text(env, ENV_EMAIL_FROM) or None


def smtp_timeout(env: Env | None = None, name: str = ENV_TIMEOUT, default: float = DEFAULT_TIMEOUT) -> float:
    """``PIKE_REPORTS_SMTP_TIMEOUT`` (or ``_DATA_TIMEOUT``) in seconds; the block has no timeout
    field, so the environment's applies to both."""
    text = _text(env, name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise PikeConfigError(f"{name} must be a positive number of seconds, not {text[:40]!r}")
    return value


def attachment_max_bytes(env: Env | None = None) -> int:
    """``PIKE_REPORTS_ATTACHMENT_MAX_BYTES``: the most a digest's attachment may have, in bytes as
    attached (before base64); default 1,000,000. Over it the CSV is zipped, and a zip still over
    it is not attached (the digest links the stored CSV). ``0`` never attaches.

    Raises:
        PikeConfigError: not a whole number from 0 to 18,000,000 (one line naming the variable).
    """
    return whole_number_setting(env, ENV_ATTACHMENT_MAX_BYTES, DEFAULT_ATTACHMENT_MAX_BYTES, 0,
                                MAX_ATTACHMENT_MAX_BYTES, unit=" of bytes", what="the largest digest attachment")


def smtp_connections(env: Env | None = None) -> int:
    """How many digests are sent at once (``PIKE_REPORTS_SMTP_CONNECTIONS``, 1-32, default 4).

    Raises:
        PikeConfigError: not a whole number in range (one line naming the variable).
    """
    return whole_number_setting(env, ENV_SMTP_CONNECTIONS, DEFAULT_SMTP_CONNECTIONS, 1, MAX_SMTP_CONNECTIONS,
                                what="SMTP connections at once")


def whole_number_setting(env: Env | None, name: str, default: int, low: int, high: int, *,
                         unit: str = "", what: str) -> int:
    """The whole number ``low``..``high`` in the environment variable ``name``; ``default`` when unset.

    Raises:
        PikeConfigError: anything else, in one line naming the variable.
    """
    text = _text(env, name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise PikeConfigError(f"{name} must be a whole number{unit} from {low:,} to {high:,} ({what}), "
                              f"not {text[:40]!r}")
    return value


def load_delivery_settings(env: Env | None = None) -> DeliverySettings:
    return DeliverySettings(sender=email_from(env), smtp_timeout=smtp_timeout(env),
                            smtp_data_timeout=smtp_timeout(env, ENV_DATA_TIMEOUT, DEFAULT_DATA_TIMEOUT),
                            attachment_max_bytes=attachment_max_bytes(env), smtp_connections=smtp_connections(env))


# ---- the SMTP server from the environment (the other source is a prefect-email block) ------------
ENV_SMTP_HOST = "PIKE_REPORTS_SMTP_HOST"
ENV_SMTP_PORT = "PIKE_REPORTS_SMTP_PORT"
ENV_SMTP_USER = "PIKE_REPORTS_SMTP_USER"
ENV_SMTP_PASSWORD = "PIKE_REPORTS_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_SMTP_SECURITY = "PIKE_REPORTS_SMTP_SECURITY"
Security = Literal["ssl", "starttls", "none"]
SECURITIES: tuple[str, ...] = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


@dataclass(frozen=True)
class SmtpEnvSettings:
    """The SMTP server as the environment gives it (``PIKE_REPORTS_SMTP_*``, ``PIKE_REPORTS_EMAIL_FROM``),
    checked. ``repr`` never shows the password (a ``SecretStr`` besides)."""

    host: str
    port: int
    sender: str
    security: Security
    username: str | None
    password: SecretStr | None = field(repr=False)
    timeout: float
    data_timeout: float


def load_smtp_env_settings(env: Env | None = None) -> SmtpEnvSettings:
    """From ``PIKE_REPORTS_SMTP_HOST/PORT/USER/PASSWORD/SECURITY/TIMEOUT/DATA_TIMEOUT`` and ``PIKE_REPORTS_EMAIL_FROM``.

    Raises:
        PikeConfigError: a variable missing or malformed (one line naming it; the password never echoed).
    """
    environ = _environ(env)
    host = _text(environ, ENV_SMTP_HOST)
    if not host:
        raise PikeConfigError(f"{ENV_SMTP_HOST} is not set (or name an EmailServerCredentials block)")
    security = (environ.get(ENV_SMTP_SECURITY) or "starttls").strip().lower()
    if security not in SECURITIES:
        raise PikeConfigError(f"{ENV_SMTP_SECURITY} must be ssl, starttls or none, not {security!r}")
    port_text = _text(environ, ENV_SMTP_PORT)
    try:
        port = int(port_text) if port_text else DEFAULT_PORTS[security]
    except ValueError:
        raise PikeConfigError(f"{ENV_SMTP_PORT} must be a number, not {port_text!r}") from None
    user = _text(environ, ENV_SMTP_USER) or None
    password = environ.get(ENV_SMTP_PASSWORD) or None  # not stripped: a password may end in a space
    sender = email_from(environ) or (user if user and "@" in user else "")
    if not sender:
        raise PikeConfigError(f"{ENV_EMAIL_FROM} is not set (the From address of the digests)")
    return SmtpEnvSettings(host=host, port=port, sender=sender, security=cast(Security, security), username=user,
                           password=SecretStr(password) if password else None, timeout=smtp_timeout(environ),
                           data_timeout=smtp_timeout(environ, ENV_DATA_TIMEOUT, DEFAULT_DATA_TIMEOUT))


def smtp_env_settings(env: Env | None = None) -> SmtpEnvSettings | None:
    """``load_smtp_env_settings`` when ``PIKE_REPORTS_SMTP_HOST`` is set; None when it is not (the
    digests go through a block, or not at all)."""
    return load_smtp_env_settings(env) if _text(env, ENV_SMTP_HOST) else None


# ---- Slack --------------------------------------------------------------------------------------
ENV_SLACK_TOKEN = "PIKE_REPORTS_SLACK_TOKEN"  # noqa: S105 - the variable's name, not a token
ENV_SLACK_API_URL = "PIKE_REPORTS_SLACK_API_URL"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    """Where Slack's Web API is and the bot token (kept out of ``repr``; never in an error message)."""

    api_url: str = DEFAULT_SLACK_API_URL
    token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Env | None = None) -> SlackSettings:
        """``load_slack_settings(environ)``: kept for the callers of ``pike_tasks.slack_client``."""
        return load_slack_settings(environ)


def check_slack_api_url(url: str) -> str:
    """``url`` with a trailing slash, after refusing anything but https, or http to loopback.

    Raises:
        SlackConfigError: another scheme, no host, or plain http to a non-loopback host.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise SlackConfigError(f"{ENV_SLACK_API_URL} must be an http(s) URL, not {url[:100]!r}", "bad_url")
    if scheme == "http" and not is_loopback_host(host):
        raise SlackConfigError(f"Refusing to send the Slack token in clear text to http://{host[:100]}: "
                               f"{ENV_SLACK_API_URL} may use plain http only to loopback (127.0.0.1, ::1, localhost)",
                               "insecure_url")
    return url if url.endswith("/") else url + "/"


def load_slack_settings(env: Env | None = None) -> SlackSettings:
    """Read and check ``PIKE_REPORTS_SLACK_TOKEN`` and ``PIKE_REPORTS_SLACK_API_URL``.

    Raises:
        SlackConfigError: no token, or an API URL that is not http(s), or plain http to a
            host that is not loopback (one line each).
    """
    environ = _environ(env)
    token = _text(environ, ENV_SLACK_TOKEN)
    if not token:
        raise SlackConfigError(f"{ENV_SLACK_TOKEN} is not set: the Slack bot token (xoxb-...) is needed to post",
                               "no_token")
    return SlackSettings(api_url=check_slack_api_url(environ.get(ENV_SLACK_API_URL) or DEFAULT_SLACK_API_URL),
                         token=token)


def slack_settings(env: Env | None = None) -> SlackSettings | None:
    """``load_slack_settings`` when ``PIKE_REPORTS_SLACK_TOKEN`` is set; None when it is not."""
    return load_slack_settings(env) if _text(env, ENV_SLACK_TOKEN) else None


# ---- the run ------------------------------------------------------------------------------------
ENV_API_CONCURRENCY_LIMIT = "PIKE_API_CONCURRENCY_LIMIT"


@dataclass(frozen=True)
class RunSettings:
    """The Prefect global concurrency limit the listings share (None: none)."""

    api_concurrency_limit: str | None


def api_concurrency_limit(env: Env | None = None) -> str | None:
    """``PIKE_API_CONCURRENCY_LIMIT``: the name of the limit whose slots the listings take; None when unset."""
    return _text(env, ENV_API_CONCURRENCY_LIMIT) or None


# ---- all of them --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Every setting of one run, validated: one value, made once before any API call."""

    api: ApiSettings | None  # None: no PIKE_API_SECRET (the Secret block or --sandbox gives it later)
    store: StoreSettings
    ledger: LedgerSettings
    delivery: DeliverySettings
    run: RunSettings
    smtp: SmtpEnvSettings | None = None  # None: no PIKE_REPORTS_SMTP_HOST (a block, a dry run or no digest)
    slack: SlackSettings | None = None  # None: no PIKE_REPORTS_SLACK_TOKEN


def load_settings(env: Env | None = None, *, api: bool = True) -> Settings:
    """Parse and validate every setting of ``env`` (default ``os.environ``): one line naming the
    first bad one. ``api`` False leaves the API's out (a ``--sandbox`` run sets them itself).

    Raises:
        PikeConfigError: a bad setting (StoreError, a PikeError too, for the store's).
    """

    environ = _environ(env)
    api_settings = None
    if api and env is None and _text(env, ENV_SECRET):  # the API's settings read os.environ (pike_tasks.settings)
        api_settings = resolve_api_settings()
    store, ledger = load_store_settings(environ), load_ledger_settings(environ)
    delivery = load_delivery_settings(environ)
    smtp = smtp_env_settings(environ)
    try:
        slack = slack_settings(environ)
    except SlackConfigError as exc:  # one line, as every other bad setting (it names the variable)
        raise PikeConfigError(str(exc)) from None
    return Settings(api=api_settings, store=store, ledger=ledger, delivery=delivery,
                    run=RunSettings(api_concurrency_limit(environ)), smtp=smtp, slack=slack)
