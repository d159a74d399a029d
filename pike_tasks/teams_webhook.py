"""Posting a card to a Microsoft Teams Workflows webhook: one request, typed outcomes.

The webhook URL is a credential (its ``sig`` query parameter lets anyone post to the channel): it
comes from a Prefect Secret block (``teams_webhook_secret:`` in the teams config), and no message
or log here shows more of it than its host.

One retry layer: a 429 is waited out (``Retry-After``, capped) up to ``rate_limit_retries`` times,
since the flow refused it and nothing was posted. Nothing else is retried here: a request that went
out and got no answer (read timeout, connection dropped, a 5xx) is :class:`TeamsOutcomeUnknown`,
never resent automatically. Unlike Slack, a webhook cannot be read back, so such an outcome stays
unknown until someone looks at the channel (``--resend-to`` settles it by hand).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import requests

from pike_tasks.settings import is_loopback_host
from pike_tasks.teams_card import card_bytes

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


class TeamsError(Exception):
    """A Teams webhook failure; ``status`` is the HTTP status (0 when there was none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TeamsConfigError(TeamsError):
    """The webhook URL is unusable (nothing was sent)."""


class TeamsRejected(TeamsError):
    """The webhook answered and refused the card (400 bad card, 404 no such flow, 413 too large...)."""


class TeamsRateLimited(TeamsError):
    """Still 429 after the bounded retries; nothing was posted."""


class TeamsUnreachable(TeamsError):
    """The request never reached the webhook (connection refused, unknown host, connect timeout)."""


class TeamsOutcomeUnknown(TeamsError):
    """The card went out and no answer came back: it may or may not be in the channel."""


def webhook_host(url: str) -> str:
    """The only part of a webhook URL a message may show."""
    return (urllib.parse.urlsplit(url).hostname or "?")[:100]


def check_webhook_url(url: str) -> str:
    """``url`` if it is https (or http to loopback, for tests).

    Raises:
        TeamsConfigError: another scheme or plain http elsewhere; the message names the host only.
    """
    parts = urllib.parse.urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise TeamsConfigError("the Teams webhook URL is not an http(s) URL")
    if parts.scheme.lower() == "http" and not is_loopback_host(host):
        raise TeamsConfigError(f"refusing to post to the Teams webhook at http://{host[:100]} in clear text: "
                               "the URL is a credential; use its https:// form")
    return url.strip()


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and type(reason).__name__ in (
        "NewConnectionError", "NameResolutionError")


def post_card(url: str, message: Mapping[str, Any], *, session: requests.Session | None = None,
              timeout: tuple[float, float] = DEFAULT_TIMEOUT, rate_limit_retries: int = 3, max_wait: float = 60.0,
              sleep: Callable[[float], None] = time.sleep) -> int:
    """POST ``message`` (``teams_card.team_card``) to the webhook; the HTTP status (200 or 202).

    Raises:
        TeamsConfigError, TeamsRejected, TeamsRateLimited, TeamsUnreachable, TeamsOutcomeUnknown:
            one line each, naming the webhook's host only.
    """
    url = check_webhook_url(url)
    host = webhook_host(url)
    body = card_bytes(message)
    http = session or requests.Session()
    for attempt in range(rate_limit_retries + 1):
        try:
            response = http.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout,
                                 allow_redirects=False)
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise TeamsUnreachable(f"could not reach the Teams webhook at {host} ({type(exc).__name__})") from None
            raise TeamsOutcomeUnknown(f"the card was sent to the Teams webhook at {host} and no answer came "
                                      f"({type(exc).__name__}); it may or may not have been posted") from None
        status = response.status_code
        if status == 429 and attempt < rate_limit_retries:
            sleep(min(max_wait, _retry_after(response)))
            continue
        if status == 429:
            raise TeamsRateLimited(f"the Teams webhook at {host} is still rate limiting after retries", status)
        if status >= 500:
            raise TeamsOutcomeUnknown(f"the Teams webhook at {host} answered HTTP {status}; the card may or may not "
                                      "have been posted", status)
        if status >= 300:
            raise TeamsRejected(f"the Teams webhook at {host} refused the card (HTTP {status})", status)
        return status
    raise AssertionError("unreachable")  # the loop returns or raises
