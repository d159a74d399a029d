"""A real SMTP server on 127.0.0.1 for the email tests (aiosmtpd), recording what it saw.

``RecordingSmtpServer`` accepts everything by default; ``refuse`` makes RCPT TO of those
addresses answer 550, ``defer`` answers 451 the first N times, ``auth=True`` advertises
AUTH (PLAIN/LOGIN, over plain text since this is loopback-only) and records every AUTH
command. ``handler.rcpt_reply`` answers every RCPT TO with that reply (e.g. a 421).
``handler.data_delay`` (seconds) makes the server slow to accept each message,
``handler.delay_for[address]`` only the messages to that address; ``Received.at`` is when the
server accepted a message (``time.monotonic``). aiosmtpd offers STARTTLS only with a TLS
context, so this server never offers it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=default)


class _Handler:
    def __init__(self, refuse: set[str], defer: dict[str, int]) -> None:
        self.refuse = {a.casefold() for a in refuse}
        self.defer = {a.casefold(): n for a, n in defer.items()}
        self.messages: list[Received] = []
        self.rcpt_attempts: list[str] = []
        self.data_delay = 0.0
        self.delay_for: dict[str, float] = {}  # casefolded address -> seconds before answering DATA
        self.rcpt_reply: str | None = None  # e.g. "421 4.3.2 shutting down": every RCPT TO answered with it
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's handler hook name
        key = address.casefold()
        with self._lock:
            self.rcpt_attempts.append(address)
            if self.rcpt_reply is not None:
                return self.rcpt_reply
            if key in self.refuse:
                return "550 5.1.1 mailbox unavailable"
            if self.defer.get(key, 0) > 0:
                self.defer[key] -= 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler hook name
        delay = max([self.data_delay, *(self.delay_for.get(r.casefold(), 0.0) for r in envelope.rcpt_tos)])
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content or envelope.content))
        return "250 Message accepted"


class _RecordingSMTP(SMTP):
    auth_commands: list[str]

    async def smtp_AUTH(self, arg):  # noqa: N802 - aiosmtpd's command method name
        self.auth_commands.append(arg or "")
        return await super().smtp_AUTH(arg)


class RecordingSmtpServer:
    """``with RecordingSmtpServer() as smtp:`` then ``smtp.port``, ``smtp.messages``, ``smtp.auth_commands``."""

    def __init__(self, *, refuse=(), defer=None, auth: bool = False, username="digest", password="s3cret-pw") -> None:
        self.handler = _Handler(set(refuse), dict(defer or {}))
        self.auth_commands: list[str] = []
        self.logins: list[tuple[str, str]] = []
        self.host = "127.0.0.1"
        self._auth = auth
        self._credentials = (username, password)
        with socket.socket() as sock:
            sock.bind((self.host, 0))
            port = sock.getsockname()[1]
        kwargs = {}
        if auth:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        server = self

        class _Controller(Controller):
            def factory(self):
                smtp = _RecordingSMTP(self.handler, **self.SMTP_kwargs)
                smtp.auth_commands = server.auth_commands
                return smtp

        self._controller = _Controller(self.handler, hostname=self.host, port=port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else str(auth_data.login)
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else str(auth_data.password)
        self.logins.append((login, password))
        # handled=False: aiosmtpd then answers 535 itself (its default, handled=True, means "the
        # authenticator already replied", so a wrong password got no answer until the timeout)
        return AuthResult(success=(login, password) == self._credentials, handled=False)

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.casefold() in (r.casefold() for r in m.rcpt_tos)]

    def __enter__(self) -> RecordingSmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
