"""A local SMTP server that saves every message it receives as an .eml file.

The demo sends the manager digests here, so a new user sees real emails without a mail
account. It listens only on 127.0.0.1.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self._lock:
            self.count += 1
            number = self.count
        for rcpt in envelope.rcpt_tos:
            safe = re.sub(r"[^A-Za-z0-9@._-]", "_", rcpt)
            (self.folder / f"{number:03d}-{safe}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted"


class LocalSmtpServer:
    """``with LocalSmtpServer(folder) as smtp:`` -> ``smtp.port``; messages land in ``folder``."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.handler = _SaveToFolder(folder)
        self.folder = folder
        self.host = host
        self._controller = Controller(self.handler, hostname=host, port=port or _free_port(host))

    @property
    def port(self) -> int:
        return self._controller.port

    def __enter__(self) -> LocalSmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
