"""The one place that talks to Slack's Web API: a thin wrapper over ``slack_sdk.WebClient``.

Settings (``SlackSettings``, parsed in ``pike_tasks.config.settings``) come from the environment:
``PIKE_REPORTS_SLACK_TOKEN`` (a bot token; never logged, never
in an exception message) and ``PIKE_REPORTS_SLACK_API_URL`` (default ``https://slack.com/api/``; a
proxy or a local test server; plain ``http://`` only to loopback, since the token would travel in
clear).

One retry layer per failure class:

- **429** (rate limited; Slack did not post anything): slack_sdk's ``RateLimitErrorRetryHandler``
  (a subclass here that waits for ``Retry-After``, capped, without blocking the tests on jitter)
  retries up to ``rate_limit_retries`` times; after that :class:`SlackRateLimited`.
- **Connection errors** are retried (slack_sdk's ``ConnectionErrorRetryHandler``) only on the
  calls that change nothing: ``auth.test``, ``users.lookupByEmail``, ``conversations.open``
  (it returns the existing DM) and ``conversations.history``. Never on ``chat.postMessage``.
- **A post whose request went out and whose reply never came** (read timeout, connection dropped
  after sending, a 5xx) is :class:`SlackOutcomeUnknown`, never resent here: the message may be in
  the channel. :meth:`SlackClient.find_posted` settles it on the next run from the message's
  ``metadata`` (event type + the digest key) where the token can read the conversation's history.
- A post that never reached Slack (connection refused, unknown host) is :class:`SlackUnreachable`.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.error import URLError

from pike_tasks.config import settings as _config
from pike_tasks.errors import SlackConfigError as SlackConfigError  # re-exported
from pike_tasks.errors import SlackError as SlackError  # re-exported

# parsed and checked in pike_tasks.config.settings, the one home of the environment; the names stay this module's
ENV_TOKEN = _config.ENV_SLACK_TOKEN
ENV_API_URL = _config.ENV_SLACK_API_URL
DEFAULT_API_URL = _config.DEFAULT_SLACK_API_URL
SlackSettings = _config.SlackSettings
check_api_url = _config.check_slack_api_url
TOKEN_BLOCK_NAME = "pike-reports-slack-token"  # noqa: S105 - a Prefect Secret block's name, not a token
EVENT_TYPE = "pike_digest_posted"
DEFAULT_TIMEOUT = 15
HISTORY_PAGE = 100
HISTORY_MAX_PAGES = 5


class SlackAuthError(SlackError):
    """The token was refused (``invalid_auth``, ``not_authed``, ``token_revoked``...)."""


class SlackNotInChannel(SlackError):
    """The app is not a member of the channel (``not_in_channel``): invite it."""


class SlackChannelNotFound(SlackError):
    """No such channel, or the app cannot see it (``channel_not_found``)."""


class SlackRejected(SlackError):
    """Slack answered and refused the message (``invalid_blocks``, ``msg_too_long``, ``is_archived``...)."""


class SlackRateLimited(SlackError):
    """Still 429 after the bounded retries; nothing was posted. ``retry_after`` in seconds."""

    def __init__(self, message: str, method: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message, "ratelimited", method)
        self.retry_after = retry_after


class SlackUnreachable(SlackError):
    """The request never reached Slack (connection refused, unknown host): nothing was posted."""


class SlackOutcomeUnknown(SlackError):
    """The post went out and no answer came back: it may or may not be in the channel."""


_AUTH_CODES = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
               "no_permission", "ekm_access_denied", "org_login_required"}


def load_token_block() -> str | None:
    """The bot token in the Prefect ``Secret`` block ``pike-reports-slack-token`` (saved by
    ``pike-reports setup``), or None if it cannot be loaded.

    As ``settings.load_secret_block`` for the Pike API secret: only tried when a Prefect API is
    configured, and any failure (no such block, no server, called from async code) is "no block".
    """
    from pike_tasks.settings import load_named_secret

    return load_named_secret(TOKEN_BLOCK_NAME)


def resolve_settings(environ: Mapping[str, str] | None = None,
                     load_block: Callable[[], str | None] = load_token_block) -> SlackSettings:
    """The Slack settings of a run: the token from ``PIKE_REPORTS_SLACK_TOKEN``, else from the
    Prefect Secret block ``pike-reports-slack-token``; parsed and checked by
    :meth:`SlackSettings.from_env`.

    Raises:
        SlackConfigError: no token in either place (one line naming both), or a bad API URL.
    """
    env = _config.environ(environ)
    if not _config.env_text(ENV_TOKEN, env):
        token = load_block()
        if token is None:
            raise SlackConfigError(f"{ENV_TOKEN} is not set and there is no Prefect Secret block "
                                   f"'{TOKEN_BLOCK_NAME}' (pike-reports setup saves it): the Slack bot token "
                                   "(xoxb-...) is needed to post", "no_token")
        env = {**env, ENV_TOKEN: token}
    return SlackSettings.from_env(env)


def digest_metadata(digest_key: str, event_type: str = EVENT_TYPE) -> dict[str, Any]:
    """The ``metadata`` a digest post carries, so a later run can find it in the history."""
    return {"event_type": event_type, "event_payload": {"digest_key": digest_key}}


@dataclass(frozen=True)
class AuthInfo:
    """What ``auth.test`` says of the token."""

    team: str
    user_id: str
    bot_id: str


def _form(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            first = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(first))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def _rate_limit_handler(max_retries: int, max_wait: float, sleep: Callable[[float], None]) -> Any:
    """slack_sdk's ``RateLimitErrorRetryHandler`` that waits ``Retry-After`` (at most ``max_wait``)
    through ``sleep``, without the SDK's extra random second."""
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
    from slack_sdk.http_retry.request import HttpRequest
    from slack_sdk.http_retry.response import HttpResponse
    from slack_sdk.http_retry.state import RetryState

    class _Handler(RateLimitErrorRetryHandler):
        def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                     response: HttpResponse | None = None, error: Exception | None = None) -> None:
            if response is None:
                raise error or RuntimeError("no response to a rate-limited request")
            state.next_attempt_requested = True
            sleep(min(max_wait, _retry_after(response.headers)))
            state.increment_current_attempt()

    return _Handler(max_retry_count=max_retries)


class SlackClient:
    """Slack's Web API for the digests: check the token, find people, open DMs, post, read back.

    Args:
        settings: where and which token (:meth:`SlackSettings.from_env`).
        timeout: seconds per request (connect and read).
        rate_limit_retries: how many 429s in a row one call waits out.
        max_wait: the longest one ``Retry-After`` wait (seconds).
        sleep: how to wait (tests pass a fast one).
    """

    def __init__(self, settings: SlackSettings, *, timeout: float = DEFAULT_TIMEOUT, rate_limit_retries: int = 3,
                 max_wait: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> None:
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

        check_api_url(settings.api_url)
        self._token = settings.token
        rate = _rate_limit_handler(rate_limit_retries, max_wait, sleep)
        seconds = cast(int, timeout)  # typed int by the SDK, handed to urlopen, which takes a float
        # Reads may be repeated after a dropped connection; a post never is.
        self._read = WebClient(token=settings.token, base_url=settings.api_url, timeout=seconds,
                               retry_handlers=[rate, ConnectionErrorRetryHandler(max_retry_count=1)])
        self._write = WebClient(token=settings.token, base_url=settings.api_url, timeout=seconds,
                                retry_handlers=[rate])
        self._users: dict[str, str | None] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> SlackClient:
        """A client whose token is ``PIKE_REPORTS_SLACK_TOKEN``, else the ``pike-reports-slack-token``
        block (:func:`resolve_settings`)."""
        return cls(resolve_settings(environ), **kwargs)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "(the token)") if self._token else text

    def _call(self, method: str, *, write: bool = False, **params: Any) -> dict[str, Any]:
        """One API call; Slack's ``ok: false`` and transport failures mapped to :class:`SlackError`."""
        from slack_sdk.errors import SlackApiError

        client = self._write if write else self._read
        try:
            response = (client.api_call(method, json=params) if write
                        else client.api_call(method, data={k: _form(v) for k, v in params.items()}))
        except SlackApiError as exc:
            raise self._api_error(method, exc.response.status_code, exc.response.headers,
                                  exc.response.data, write) from None
        except (http.client.HTTPException, URLError, OSError) as exc:
            raise self._transport_error(method, exc, write) from None
        data = response.data
        return dict(data) if isinstance(data, dict) else {}

    def _api_error(self, method: str, status: int, headers: Mapping[str, Any], data: Any,
                   write: bool) -> SlackError:
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        if status == 429:
            wait = _retry_after(headers)
            return SlackRateLimited(f"Slack {method}: still rate limited after retries (Retry-After {wait:g} s)",
                                    method, wait)
        if status >= 500 and write:
            return SlackOutcomeUnknown(f"Slack {method}: HTTP {status} after the message was sent; "
                                       "it may or may not have been posted", code or f"http_{status}", method)
        if status >= 500:
            return SlackUnreachable(f"Slack {method}: HTTP {status}", code or f"http_{status}", method)
        if code in _AUTH_CODES:
            return SlackAuthError(f"Slack refused {ENV_TOKEN} ({code}): check the bot token", code, method)
        if code == "not_in_channel":
            return SlackNotInChannel("the Slack app is not in this channel (not_in_channel): invite it to the channel",
                                     code, method)
        if code == "channel_not_found":
            return SlackChannelNotFound("no such Slack channel, or the app cannot see it (channel_not_found)",
                                        code, method)
        return SlackRejected(self._scrub(f"Slack {method} refused the request: {code or f'HTTP {status}'}"),
                             code or f"http_{status}", method)

    def _transport_error(self, method: str, exc: BaseException, write: bool) -> SlackError:
        reason = exc.reason if isinstance(exc, URLError) else exc
        what = self._scrub(type(reason).__name__ + (f": {reason}" if str(reason) else ""))[:200]
        never_sent = isinstance(exc, URLError) and isinstance(reason, (ConnectionRefusedError, socket.gaierror))
        if never_sent or not write:
            return SlackUnreachable(f"Slack {method}: could not reach the API ({what})", "unreachable", method)
        return SlackOutcomeUnknown(f"Slack {method}: the request was sent and no answer came ({what}); "
                                   "it may or may not have been posted", "outcome_unknown", method)

    def check_auth(self) -> AuthInfo:
        """``auth.test``: is the token good? Call it before any Pike API request.

        Raises:
            SlackAuthError: one line naming ``PIKE_REPORTS_SLACK_TOKEN``.
        """
        data = self._call("auth.test")
        return AuthInfo(team=str(data.get("team", "")), user_id=str(data.get("user_id", "")),
                        bot_id=str(data.get("bot_id", "")))

    def lookup_user(self, email: str) -> str | None:
        """The Slack user id of ``email`` (``users.lookupByEmail``, scope ``users:read.email``),
        None when Slack knows nobody by it; cached for the client's life (one run)."""
        key = email.strip().casefold()
        if key not in self._users:
            try:
                self._users[key] = str(self._call("users.lookupByEmail", email=email.strip())["user"]["id"])
            except SlackRejected as exc:
                if exc.code != "users_not_found":
                    raise
                self._users[key] = None
        return self._users[key]

    def open_dm(self, user: str) -> str:
        """The id of the app's DM with ``user`` (``conversations.open``, scope ``im:write``)."""
        return str(self._call("conversations.open", users=user)["channel"]["id"])

    def post(self, channel: str, payload: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> str:
        """Post ``payload`` (``text`` + ``blocks``) to ``channel`` and return the message's ``ts``.

        ``metadata`` (:func:`digest_metadata`) lets :meth:`find_posted` settle an unknown outcome.
        Link previews are off: a digest's links are many and the previews would bury it.

        Raises:
            SlackNotInChannel, SlackChannelNotFound: the channel (one line).
            SlackRejected: any other refusal; ``code`` is Slack's (``invalid_blocks``, ``msg_too_long``).
            SlackRateLimited: still 429 after the retries (nothing posted).
            SlackUnreachable: the request never reached Slack (nothing posted).
            SlackOutcomeUnknown: sent, no answer: never resent here.
        """
        params: dict[str, Any] = {"channel": channel, "text": payload.get("text", ""),
                                  "unfurl_links": False, "unfurl_media": False}
        if payload.get("blocks"):
            params["blocks"] = payload["blocks"]
        if metadata:
            params["metadata"] = dict(metadata)
        return str(self._call("chat.postMessage", write=True, **params)["ts"])

    def history(self, channel: str, oldest: str = "0") -> Iterator[dict[str, Any]]:
        """The messages of ``channel`` since ``oldest`` (a Slack ts), with their metadata; at most
        :data:`HISTORY_MAX_PAGES` pages of :data:`HISTORY_PAGE` (a loop guard on the cursor)."""
        cursor = ""
        seen: set[str] = set()
        for _ in range(HISTORY_MAX_PAGES):
            params: dict[str, Any] = {"channel": channel, "oldest": oldest, "limit": HISTORY_PAGE,
                                      "include_all_metadata": True}
            if cursor:
                params["cursor"] = cursor
            data = self._call("conversations.history", **params)
            yield from (m for m in data.get("messages", []) if isinstance(m, dict))
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not data.get("has_more") or not cursor or cursor in seen:
                return
            seen.add(cursor)

    def find_posted(self, channel: str, event_type: str, digest_key: str, oldest: str = "0") -> bool | None:
        """Is a message with this ``metadata`` in ``channel`` since ``oldest``?

        Returns:
            True (posted), False (the history was read and it is not there), or None when the
            history cannot be read (no ``*:history`` scope, not in the channel, Slack unreachable,
            or ``channel`` is a ``#name``: conversations.history takes ids only).
        """
        if channel.startswith("#"):
            return None
        try:
            for message in self.history(channel, oldest):
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == event_type and payload.get("digest_key") == digest_key:
                    return True
        except SlackError:
            return None
        return False
