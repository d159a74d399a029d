"""A local SMTP server that saves every message it receives as an .eml file named by its recipient.

``platform.lead@example.com.eml`` (``email_message.address_file_stem``: an odd address gets a
slug and a hash, never a path), so the names are the same from run to run whatever order the
messages arrive in; a second message to the same recipient in one server's life is
``<name>~2.eml``.

The demo sends the manager digests here, so a new user sees real emails without a mail
account. It listens only on 127.0.0.1. A benchmark can make it slow for chosen recipients
(``slow``: the final reply to their DATA comes that many seconds late, as a slow mail server's
does) and read when each message arrived (``handler.received``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from pike_tasks.email_message import address_file_stem


@dataclass(frozen=True)
class Received:
    """One message: its number, recipients, and when its DATA arrived and was answered (``time.monotonic``)."""

    number: int
    rcpt_tos: tuple[str, ...]
    data_at: float
    answered_at: float


class _SaveToFolder:
    def __init__(self, folder: Path, slow: Mapping[str, float] | None = None) -> None:
        self.folder = folder
        self.count = 0
        self.slow = {address.casefold(): seconds for address, seconds in (slow or {}).items()}
        self.received: list[Received] = []
        self._names: dict[str, int] = {}  # file stem -> messages saved under it
        self._lock = threading.Lock()

    def _file_name(self, rcpt: str) -> str:
        """``<recipient>.eml``, then ``<recipient>~2.eml``... (call with the lock held)."""
        stem = address_file_stem(rcpt)
        seen = self._names[stem] = self._names.get(stem, 0) + 1
        return f"{stem}.eml" if seen == 1 else f"{stem}~{seen}.eml"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        data_at = time.monotonic()
        with self._lock:
            self.count += 1
            number = self.count
            names = [self._file_name(rcpt) for rcpt in envelope.rcpt_tos]
        for name in names:
            (self.folder / name).write_bytes(_message_bytes(envelope))
        delay = max((self.slow.get(r.casefold(), 0.0) for r in envelope.rcpt_tos), default=0.0)
        if delay:
            await asyncio.sleep(delay)  # only this session waits; the others are served meanwhile
        with self._lock:
            self.received.append(Received(number, tuple(envelope.rcpt_tos), data_at, time.monotonic()))
        return "250 Message accepted"


def _message_bytes(envelope: Envelope) -> bytes:
    """The message as received: ``original_content`` (bytes); ``content`` is str only when a
    controller decodes data, which this one does not."""
    data = envelope.original_content or envelope.content or b""
    return data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data


class LocalSmtpServer:
    """``with LocalSmtpServer(folder) as smtp:`` -> ``smtp.port``; messages land in ``folder``.

    ``slow`` maps recipient addresses to seconds the final reply to their message is delayed.
    """

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0,
                 slow: Mapping[str, float] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.handler = _SaveToFolder(folder, slow)
        self.folder = folder
        self.host = host
        self._controller = Controller(self.handler, hostname=host, port=port or _free_port(host))

    @property
    def port(self) -> int:
        return self._controller.port

    def __enter__(self) -> LocalSmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
