"""The store's settings from the environment: which store (``PIKE_REPORTS_STORE``), public links
(``PIKE_REPORTS_PUBLIC_URL``), presigned links' lifetime (``PIKE_REPORTS_LINK_DAYS``), retention
(``PIKE_REPORTS_KEEP_DAYS``) and the deadline of one store request (``PIKE_API_REQUEST_DEADLINE``).

Each is parsed here alone: ``load_store_settings(env)`` validates them all at once (one line naming
the first bad one); the single-setting readers below are what the backends ask while they run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pike_tasks.settings import DEFAULT_REQUEST_DEADLINE, ENV_REQUEST_DEADLINE
from pike_tasks.store.base import StoreError, redact_url

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


def load_store_settings(env: Mapping[str, str] | None = None) -> StoreSettings:
    """Every store setting, checked: one line naming the first bad one, before any API call.

    Raises:
        StoreError: the first bad setting, named.
    """
    environ = os.environ if env is None else env
    keep_days = keep_days_setting(environ)  # checked in this order: the first bad one is named
    link_seconds = link_lifetime_seconds(environ)
    public_url = public_base_url(environ)
    return StoreSettings(store=(environ.get(ENV_REPORTS_STORE) or "").strip() or None, public_url=public_url,
                         link_seconds=link_seconds, keep_days=keep_days, deadline=store_deadline_seconds(environ))


def public_base_url(env: Mapping[str, str] | None = None) -> str | None:
    """``PIKE_REPORTS_PUBLIC_URL`` without trailing slashes, after checking it.

    Raises:
        StoreError: not http(s) with a host, or with credentials, a query or a fragment (each would
            end up in every link: a secret in every digest, a broken path); one line.
    """
    raw = ((os.environ if env is None else env).get(ENV_PUBLIC_URL) or "").strip().rstrip("/")
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


def keep_days_setting(env: Mapping[str, str] | None = None) -> int:
    """``PIKE_REPORTS_KEEP_DAYS``: days of reports the store keeps (default 90; 0 keeps everything).

    Raises:
        StoreError: not a whole number of days from 0 to ``MAX_KEEP_DAYS`` (one line naming the variable).
    """
    raw = ((os.environ if env is None else env).get(ENV_KEEP_DAYS) or "").strip()
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


def link_lifetime_seconds(env: Mapping[str, str] | None = None) -> int:
    """``PIKE_REPORTS_LINK_DAYS``: how long a presigned link works (more than 0, at most 7 days; default 7)."""
    raw = ((os.environ if env is None else env).get(ENV_LINK_DAYS) or "").strip()
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


def store_deadline_seconds(env: Mapping[str, str] | None = None) -> float:
    """Seconds one store request may take in all: ``PIKE_API_REQUEST_DEADLINE`` (default 60), as for the API."""
    raw = ((os.environ if env is None else env).get(ENV_REQUEST_DEADLINE) or "").strip()
    if not raw:
        return DEFAULT_REQUEST_DEADLINE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise StoreError(f"{ENV_REQUEST_DEADLINE} must be a positive number of seconds, not {raw[:40]!r}.")
    return seconds


def check_store_settings() -> None:
    """Every store setting read later (keep days, link days, public URL, deadline): one line, before any API call.

    Raises:
        StoreError: the first bad setting, named.
    """
    load_store_settings()
