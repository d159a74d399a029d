"""SMTP settings and sending (I/O), ``.eml`` files for dry runs, and the sent-digest ledger.

Settings come from a prefect-email ``EmailServerCredentials`` block (by name) or from the
environment (``PIKE_REPORTS_SMTP_*``, ``PIKE_REPORTS_EMAIL_FROM``, parsed in
``pike_tasks.config.settings``). The password is a
``SecretStr`` and is never formatted into a log line or an exception: every error raised
here is built from our own text and the server's reply, and scrubbed of the password anyway.

Security: ``ssl`` (implicit TLS), ``starttls`` (required: a server that does not offer it
fails the send before any AUTH), ``none`` (plain; AUTH over it is refused unless the host is
a loopback address, so a password never crosses a network in clear).

Failures are typed so a caller can stop early instead of paying the SMTP timeout once per
recipient: ``SmtpUnavailable`` (the server cannot be reached), ``SmtpAuthFailed`` (the login
was refused: permanent), ``SmtpSecurityError`` (cannot be as secure as configured), else
``DigestDeliveryError`` (this one message). ``check_smtp`` raises the same before any send.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from pike_tasks.config import settings as _config
from pike_tasks.errors import PikeConfigError
from pike_tasks.outputs import atomic_writer

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    # What the delivery errors' __reduce__ return: a constructor and its arguments.
    _Reduced = tuple[Callable[..., "DigestDeliveryError"], tuple[str | bool, ...]]

# parsed in pike_tasks.config.settings, the one home of the environment; the names stay this module's
DEFAULT_ATTACHMENT_MAX_BYTES = _config.DEFAULT_ATTACHMENT_MAX_BYTES
DEFAULT_DATA_TIMEOUT = _config.DEFAULT_DATA_TIMEOUT
DEFAULT_SMTP_CONNECTIONS = _config.DEFAULT_SMTP_CONNECTIONS
DEFAULT_TIMEOUT = _config.DEFAULT_TIMEOUT
ENV_ATTACHMENT_MAX_BYTES = _config.ENV_ATTACHMENT_MAX_BYTES
ENV_DATA_TIMEOUT = _config.ENV_DATA_TIMEOUT
ENV_SMTP_CONNECTIONS = _config.ENV_SMTP_CONNECTIONS
ENV_TIMEOUT = _config.ENV_TIMEOUT
MAX_ATTACHMENT_MAX_BYTES = _config.MAX_ATTACHMENT_MAX_BYTES
MAX_SMTP_CONNECTIONS = _config.MAX_SMTP_CONNECTIONS
attachment_max_bytes = _config.attachment_max_bytes
email_from = _config.email_from
smtp_connections = _config.smtp_connections
smtp_timeout = _config.smtp_timeout

Security = _config.Security
SECURITIES = _config.SECURITIES
DEFAULT_PORTS = _config.DEFAULT_PORTS
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# Strongest first. Only one is tried: smtplib's login() tries every advertised mechanism, so a
# wrong password would be sent (and counted against the account) up to three times.
_AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")


class DigestDeliveryError(Exception):
    """A digest did not reach one recipient: refused address, SMTP or connection error.

    ``recipient`` is empty when no message was being sent (``check_smtp``): the text is then
    the reason alone.
    """

    def __init__(self, recipient: str, reason: str, *, permanent: bool = False) -> None:
        super().__init__(f"digest not delivered to {recipient}: {reason}" if recipient else reason)
        self.recipient = recipient
        self.reason = reason
        self.permanent = permanent

    def __reduce__(self) -> _Reduced:  # keep the fields when Prefect pickles the exception
        return (_rebuild_delivery_error, (self.recipient, self.reason, self.permanent))


def _rebuild_delivery_error(recipient: str, reason: str, permanent: bool) -> DigestDeliveryError:
    return DigestDeliveryError(recipient, reason, permanent=permanent)


class SmtpSecurityError(DigestDeliveryError):
    """The connection cannot be made as secure as configured (e.g. STARTTLS not offered)."""

    def __init__(self, recipient: str, reason: str, *, permanent: bool = True) -> None:
        super().__init__(recipient, reason, permanent=permanent)

    def __reduce__(self) -> _Reduced:
        return (SmtpSecurityError, (self.recipient, self.reason))


class SmtpUnavailable(DigestDeliveryError):
    """The SMTP server could not be reached (refused, no answer in time, unreachable, no greeting).

    Not ``permanent`` (a server may come back), but every other recipient would wait the same
    timeout for the same answer, so a send loop should stop at the first one.
    """

    def __reduce__(self) -> _Reduced:
        return (SmtpUnavailable, (self.recipient, self.reason))


class SmtpOutcomeUnknown(DigestDeliveryError):
    """The whole message went out but no final reply came (timeout or disconnect after DATA).

    The server may have accepted it: RFC 5321 treats this as an unknown outcome, and so do we.
    Never retried automatically (a retry could deliver a second copy); the once-only record
    keeps it as ``unknown`` until someone resends on purpose (``--force``).
    """

    def __init__(self, recipient: str, reason: str, *, permanent: bool = True) -> None:
        super().__init__(recipient, reason, permanent=permanent)

    def __reduce__(self) -> _Reduced:
        return (SmtpOutcomeUnknown, (self.recipient, self.reason))


class SmtpAuthFailed(DigestDeliveryError):
    """The SMTP server refused the login (or offers none): permanent, never worth a retry."""

    def __init__(self, recipient: str, reason: str, *, permanent: bool = True) -> None:
        super().__init__(recipient, reason, permanent=permanent)

    def __reduce__(self) -> _Reduced:
        return (SmtpAuthFailed, (self.recipient, self.reason))


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server. ``repr`` never shows the password."""

    host: str
    port: int
    sender: str
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT  # seconds, for the connection and for each SMTP command
    data_timeout: float = DEFAULT_DATA_TIMEOUT  # seconds for the final reply after the message body
    verify: bool = True

    def __post_init__(self) -> None:
        if self.security not in SECURITIES:
            raise PikeConfigError(f"SMTP security must be one of {', '.join(SECURITIES)}, not {self.security!r}")
        if not self.timeout > 0:
            raise PikeConfigError(f"the SMTP timeout must be a positive number of seconds, not {self.timeout!r}")
        if not self.host:
            raise PikeConfigError("SMTP host is empty")
        if not self.sender or "@" not in self.sender or any(c in self.sender for c in "\r\n"):
            raise PikeConfigError("PIKE_REPORTS_EMAIL_FROM (the digest sender) must be one email address")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpSettings:
        """From ``PIKE_REPORTS_SMTP_HOST/PORT/USER/PASSWORD/SECURITY/TIMEOUT`` and ``PIKE_REPORTS_EMAIL_FROM``,
        parsed and checked by ``pike_tasks.config.settings.load_smtp_env_settings``.

        Raises:
            PikeConfigError: a variable missing or malformed (named, value never echoed for the password).
        """
        parsed = _config.load_smtp_env_settings(env)
        return cls(host=parsed.host, port=parsed.port, sender=parsed.sender, security=parsed.security,
                   username=parsed.username, password=parsed.password, timeout=parsed.timeout,
                   data_timeout=parsed.data_timeout)

    @classmethod
    def from_block(cls, credentials: Any, sender: str | None = None) -> SmtpSettings:
        """From a prefect-email ``EmailServerCredentials`` (an instance, or a block name to load).

        The block has no From address: ``sender`` or ``PIKE_REPORTS_EMAIL_FROM``, else its username.
        Its ``smtp_type`` maps SSL -> ssl, STARTTLS -> starttls, INSECURE -> none.
        """
        if isinstance(credentials, str):
            from prefect_email import EmailServerCredentials

            credentials = EmailServerCredentials.load(credentials)
        server = credentials.smtp_server
        host = getattr(server, "value", server)
        smtp_type = getattr(credentials.smtp_type, "name", str(credentials.smtp_type)).upper()
        security = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "none"}.get(smtp_type)
        if security is None:
            raise PikeConfigError(f"unsupported smtp_type {smtp_type!r} in the EmailServerCredentials block")
        port = credentials.smtp_port or DEFAULT_PORTS[security]
        user = credentials.username or None
        secret = credentials.password.get_secret_value() if credentials.password else ""
        sender = sender or email_from() or (user or "")
        return cls(host=str(host), port=int(port), sender=sender, security=cast(Security, security), username=user,
                   password=SecretStr(secret) if secret else None, timeout=smtp_timeout(),
                   data_timeout=smtp_timeout(None, ENV_DATA_TIMEOUT, DEFAULT_DATA_TIMEOUT),
                   verify=credentials.verify if credentials.verify is not None else True)


def _timeout_from_env(env: Mapping[str, str], name: str = ENV_TIMEOUT, default: float = DEFAULT_TIMEOUT) -> float:
    """``PIKE_REPORTS_SMTP_TIMEOUT`` (or ``_DATA_TIMEOUT``): parsed in ``pike_tasks.config.settings``."""
    return smtp_timeout(env, name, default)


def resolve_smtp_settings(block_name: str | None = None) -> SmtpSettings:
    """The block's settings when ``block_name`` is given, else the environment's."""
    return SmtpSettings.from_block(block_name) if block_name else SmtpSettings.from_env()


def _scrub(text: str, settings: SmtpSettings) -> str:
    if settings.password is not None:
        secret = settings.password.get_secret_value()
        if secret:
            text = text.replace(secret, "***")
    return text


def _reply_text(code: int | None, reply: bytes | str | None) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    reply = " ".join((reply or "").split())
    return f"{code} {reply}".strip() if code is not None else reply


def _where(settings: SmtpSettings) -> str:
    return f"SMTP server {settings.host}:{settings.port}"


def _unavailable_reason(exc: BaseException, settings: SmtpSettings) -> str:
    """One line saying why the server could not be reached, without the exception's class jargon."""
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        exc = exc.__context__  # smtplib reports a read timeout as "Connection unexpectedly closed"
    if isinstance(exc, ConnectionRefusedError):
        why = "connection refused"
    elif isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        why = f"no answer within {settings.timeout:g} s ({ENV_TIMEOUT})"
    elif isinstance(exc, socket.gaierror):
        why = f"host name not found ({exc.strerror or exc})"
    elif isinstance(exc, smtplib.SMTPConnectError):
        why = "it refused the connection: " + _reply_text(exc.smtp_code, exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        why = "it closed the connection"
    elif isinstance(exc, ssl.SSLError):
        why = f"TLS handshake failed ({exc.reason or exc})"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror[0].lower() + exc.strerror[1:]  # "network is unreachable", "no route to host"
    else:
        why = f"{type(exc).__name__}: {exc}"
    return f"{_where(settings)} unavailable: {why}"


SERVICE_CLOSING = 421  # "service not available, closing transmission channel", at any point


def _raise_if_closing(reply: tuple[int, bytes]) -> None:
    if reply[0] == SERVICE_CLOSING:
        raise smtplib.SMTPResponseException(reply[0], reply[1])


def _closing_reason(settings: SmtpSettings, code: int | None, reply: bytes | str | None) -> str:
    return f"{_where(settings)} unavailable: it is closing the connection ({_reply_text(code, reply)})"


def _starttls(smtp: smtplib.SMTP, settings: SmtpSettings, recipient: str, context: ssl.SSLContext) -> None:
    """Upgrade the connection to TLS, or raise ``SmtpSecurityError`` (never on in clear text)."""
    if not smtp.has_extn("starttls"):
        raise SmtpSecurityError(
            recipient,
            f"{_where(settings)} does not offer STARTTLS, which is required "
            "(PIKE_REPORTS_SMTP_SECURITY=starttls); nothing was sent and no credentials were used",
        )
    code, reply = smtp.starttls(context=context)
    if code != 220:  # smtplib carries on in clear text after a refused STARTTLS
        raise SmtpSecurityError(
            recipient, f"{_where(settings)} refused STARTTLS ({_reply_text(code, reply)}); "
            "nothing was sent and no credentials were used",
        )
    smtp.ehlo()


def _connect(settings: SmtpSettings, recipient: str) -> smtplib.SMTP:
    """Connect, EHLO and (``starttls``) upgrade the connection.

    A failure up to here is the server's, not the message's: it raises ``SmtpUnavailable`` (or
    ``SmtpSecurityError``), which the caller can treat as "the same for every recipient".
    """
    context = ssl.create_default_context()
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    smtp: smtplib.SMTP | None = None
    try:
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        _raise_if_closing(smtp.ehlo())
        if settings.security == "starttls":
            _starttls(smtp, settings, recipient, context)
        return smtp
    except DigestDeliveryError:
        if smtp is not None:
            _quit(smtp)
        raise
    except ssl.SSLCertVerificationError as exc:
        if smtp is not None:
            _quit(smtp)
        raise SmtpSecurityError(
            recipient,
            _scrub(f"{_where(settings)}: TLS certificate not accepted ({exc.verify_message or exc})", settings),
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, unreachable, no greeting, TLS, 421
        if smtp is not None:
            _quit(smtp)
        if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == SERVICE_CLOSING:
            raise SmtpUnavailable(recipient, _scrub(_closing_reason(settings, exc.smtp_code, exc.smtp_error),
                                                    settings)) from None
        raise SmtpUnavailable(recipient, _scrub(_unavailable_reason(exc, settings), settings)) from None


def _login(smtp: smtplib.SMTP, settings: SmtpSettings, recipient: str) -> None:
    """Log in with one mechanism, once (see ``_AUTH_MECHANISMS``); nothing to do without a username.

    Raises:
        SmtpSecurityError: AUTH over a plain connection to a non-loopback host (nothing sent).
        SmtpAuthFailed: the server refused the login or offers no mechanism we can use.
    """
    if not settings.username:
        return
    if settings.security == "none" and settings.host not in _LOOPBACK:
        raise SmtpSecurityError(
            recipient,
            f"refusing to log in to {settings.host} over an unencrypted connection; "
            "set PIKE_REPORTS_SMTP_SECURITY to ssl or starttls",
        )
    offered = (smtp.esmtp_features.get("auth") or "").upper().split()
    mechanism = next((m for m in _AUTH_MECHANISMS if m in offered), None)
    if mechanism is None:
        raise SmtpAuthFailed(
            recipient, f"{_where(settings)} offers no login we can use (AUTH {' '.join(offered) or 'not offered'}); "
            "check PIKE_REPORTS_SMTP_USER and PIKE_REPORTS_SMTP_SECURITY",
        )
    smtp.user = settings.username
    smtp.password = settings.password.get_secret_value() if settings.password else ""
    try:
        smtp.auth(mechanism, getattr(smtp, "auth_" + mechanism.lower().replace("-", "_")), initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as exc:
        if exc.smtp_code == SERVICE_CLOSING:
            raise SmtpUnavailable(recipient, _scrub(_closing_reason(settings, exc.smtp_code, exc.smtp_error),
                                                    settings)) from None
        raise SmtpAuthFailed(recipient, _scrub(
            f"{_where(settings)} refused the login as {settings.username}: "
            f"{_reply_text(exc.smtp_code, exc.smtp_error)}",
            settings,
        )) from None
    finally:
        smtp.password = ""  # the object outlives this call (QUIT); the secret need not


def _quit(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        smtp.quit()
    with contextlib.suppress(Exception):
        smtp.close()


def check_smtp(settings: SmtpSettings) -> None:
    """Pre-flight: connect, EHLO, STARTTLS and log in exactly as a send would, then QUIT.

    Nothing is sent. Call it before fetching anything, so a dead server or a wrong password
    ends the run in one line within ``settings.timeout`` instead of after the reports.

    Raises:
        SmtpUnavailable: the server cannot be reached (refused, timed out, unreachable, no greeting).
        SmtpAuthFailed: the login was refused (tried once).
        SmtpSecurityError: the connection cannot be made as secure as configured.
        DigestDeliveryError: any other error answer. No message ever contains the password.
    """
    smtp = _connect(settings, "")
    try:
        _login(smtp, settings, "")
    except DigestDeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise DigestDeliveryError("", _scrub(f"{_where(settings)}: {type(exc).__name__}: {exc}", settings)) from None
    finally:
        _quit(smtp)


def send_message(settings: SmtpSettings, msg: EmailMessage, *, on_stage: Callable[[str], None] | None = None) -> None:
    """Send one message to its single ``To`` recipient.

    ``on_stage`` (the once-only record) is called with ``"connected"`` once connected and logged
    in, and with ``"handed-over"`` just before the message's final ``CRLF.CRLF`` is written: from
    then on the server may take it. An exception from it stops the send before that point (the
    server never gets a complete message) and propagates as it is.

    Raises:
        SmtpUnavailable: the server cannot be reached, or answered 421 (closing) at any point:
            the same for every recipient.
        SmtpAuthFailed: the login was refused (permanent; tried once).
        SmtpSecurityError: STARTTLS required but not offered or refused, or AUTH over a plain
            connection to a non-loopback host (both before any credential is sent).
        SmtpOutcomeUnknown: the whole message went out and no final reply came.
        DigestDeliveryError: the recipient refused (``permanent`` for 5xx), or any other SMTP or
            connection error; its text never contains the password.
    """
    recipient = getaddresses([str(msg["To"])])[0][1] or str(msg["To"])
    smtp = _connect(settings, recipient)
    body_sent = _watch_end_of_data(smtp, settings.data_timeout, on_stage)
    try:
        _login(smtp, settings, recipient)
        if on_stage is not None:
            on_stage("connected")
        refused = smtp.send_message(msg, from_addr=getaddresses([settings.sender])[0][1], to_addrs=[recipient])
        if refused:
            code, reply = refused.get(recipient, next(iter(refused.values())))
            raise DigestDeliveryError(recipient, _reply_text(code, reply), permanent=code >= 500)
    except DigestDeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        got_code, got_reply = exc.recipients.get(recipient, next(iter(exc.recipients.values()), (None, b"refused")))
        if got_code == SERVICE_CLOSING:
            raise SmtpUnavailable(recipient, _scrub(_closing_reason(settings, got_code, got_reply), settings)) from None
        raise DigestDeliveryError(recipient, _scrub(_reply_text(got_code, got_reply), settings),
                                  permanent=bool(got_code and got_code >= 500)) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 421 ...
        if exc.smtp_code == SERVICE_CLOSING:  # after the end of DATA too: the message was not taken
            raise SmtpUnavailable(recipient, _scrub(_closing_reason(settings, exc.smtp_code, exc.smtp_error),
                                                    settings)) from None
        raise DigestDeliveryError(recipient, _scrub(_reply_text(exc.smtp_code, exc.smtp_error), settings),
                                  permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpSecurityError(
            recipient, _scrub(f"SMTP server does not support a required extension: {exc}", settings)
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # dropped or timed out after connecting: maybe transient
        if body_sent():
            raise SmtpOutcomeUnknown(recipient, _scrub(
                f"the message went out but the server gave no final reply ({type(exc).__name__}: {exc}); "
                "it may have been delivered", settings)) from None
        raise DigestDeliveryError(recipient, _scrub(f"{type(exc).__name__}: {exc}", settings)) from None
    finally:
        _quit(smtp)


def _watch_end_of_data(smtp: smtplib.SMTP, data_timeout: float, on_stage: Callable[[str], None] | None = None
                      ) -> Callable[[], bool]:
    """Note when the message's terminating ``CRLF.CRLF`` has been written, and from then on wait
    ``data_timeout`` for the server's final reply (RFC 5321 4.5.3.2.6: up to 10 minutes).
    ``on_stage("handed-over")`` is called just before those bytes go out.

    Returns a function telling whether the body went out: after that, no reply means an
    unknown outcome, not a failure.
    """
    sent = False
    write = smtp.send

    def send(s: ReadableBuffer | str) -> None:  # smtplib.SMTP.send's signature (parameter `s` too)
        nonlocal sent
        end = isinstance(s, (bytes, bytearray)) and bytes(s).endswith(b"\r\n.\r\n")
        if end and on_stage is not None:
            on_stage("handed-over")  # may raise: then the server never gets the end of the message
        write(s)
        if end:
            sent = True
            if smtp.sock is not None:
                smtp.sock.settimeout(data_timeout)

    smtp.send = send  # type: ignore[method-assign]  # wraps send() to time the end of DATA
    return lambda: sent


def write_eml(msg: EmailMessage, path: str | os.PathLike[str]) -> Path:
    """Write the message as an ``.eml`` file (CRLF line ends, atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, binary=True) as fh:
        fh.write(msg.as_bytes())
    return path
