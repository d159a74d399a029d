"""Once-only email: the record that a digest went out, kept in the report store every worker sees.

Records live at ``<store>/_ledger/<kind>/<as_of>/<source>/<recipient key>.{claim,sent}``:

- ``kind`` and ``as_of``: one folder per digest kind and day, so the ledger never grows one
  folder forever and a day's records can be removed with that day's reports.
- ``source``: a one-way fingerprint of the API base URL and secret (never the secret), so a run
  against one workspace (or the demo sandbox) can never mark another workspace's managers served.
- the recipient key: a readable prefix plus a hash of the exact address, casefolded: injective,
  so ``o'brien@`` and ``o_brien@``, ``zoë@`` and ``zoé@`` never share a record.

Protocol for one send (``claim`` -> send -> ``settle``):

1. A ``.sent`` record means done: nothing is sent (unless forced).
2. The sender creates ``.claim`` with a create-only write (``O_EXCL`` locally, ``If-None-Match: *``
   on S3). Only one worker can create it; a worker that cannot is told who holds it and sends
   nothing, so two workers racing for one recipient send one email.
3. After the server accepts the message (SMTP 250) the sender writes ``.sent``. If sending fails
   before the server took the message, the claim is released so a retry (on any worker) sends it.
4. A crash, a kill or a lost store between the 250 and ``.sent`` leaves the claim alone: the
   digest's outcome is *unknown*. It is never resent automatically (at most one email, never
   two); the run's delivery log names it, and ``--force`` resends on purpose. The window is the
   time of one small write after the 250.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pike_tasks.store import ReportStore

# a claim younger than this may belong to a send still in progress (RFC 5321 lets a server take
# 10 minutes to answer the end of DATA); older and unsettled, its outcome is unknown
CLAIM_IN_PROGRESS_SECONDS = 15 * 60


def source_fingerprint(base_url: str, secret: str) -> str:
    """A fingerprint of (base URL, secret) that cannot be turned back into the secret.

    PBKDF2 makes guessing a weak secret from the fingerprint slow; it runs once per run (~0.1 s).
    """
    salt = b"pike-reports-source\0" + base_url.rstrip("/").encode("utf-8")
    return hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, 100_000).hex()[:16]


def recipient_key(address: str) -> str:
    """``<readable prefix>-<hash of the address, casefolded>``: injective and safe as a file name."""
    folded = address.strip().casefold()
    readable = re.sub(r"[^a-z0-9]+", "-", folded.split("@", 1)[0]).strip("-")[:24] or "x"
    return f"{readable}-{hashlib.sha256(folded.encode('utf-8')).hexdigest()[:20]}"


@dataclass(frozen=True)
class Holder:
    """Who holds an unsettled claim, and whether its outcome is known to be unknown."""

    info: dict[str, Any]
    unknown: bool

    def describe(self) -> str:
        where = self.info.get("flow_run") or self.info.get("host") or "another run"
        since = self.info.get("claimed_at", "?")
        return f"claimed by {where} at {since}"


class DeliveryLedger:
    """The once-only records of one (kind, as_of, source) in a report store."""

    def __init__(self, store: ReportStore, kind: str, as_of: date, source: str) -> None:
        self.store = store
        self.prefix = f"_ledger/{kind}/{as_of.isoformat()}/{source}/"

    def _key(self, recipient: str, suffix: str) -> str:
        return f"{self.prefix}{recipient_key(recipient)}.{suffix}"

    def sent(self, recipient: str) -> dict[str, Any] | None:
        """The ``.sent`` record, or None."""
        return _load(self.store.read_record(self._key(recipient, "sent")))

    def claim(self, recipient: str, info: dict[str, Any]) -> bool:
        """Take the claim (create-only); False when someone else holds it."""
        return self.store.create_record(self._key(recipient, "claim"), _dump({**_stamp("claimed_at"), **info}))

    def force_claim(self, recipient: str, info: dict[str, Any]) -> None:
        """A deliberate resend (``--force``): take the claim whatever was there."""
        self.store.put_record(self._key(recipient, "claim"), _dump({**_stamp("claimed_at"), **info, "forced": True}))

    def holder(self, recipient: str) -> Holder | None:
        """Who holds the claim (None when nobody does)."""
        info = _load(self.store.read_record(self._key(recipient, "claim")))
        if info is None:
            return None
        unknown = info.get("outcome") == "unknown" or _age_seconds(info.get("claimed_at")) > CLAIM_IN_PROGRESS_SECONDS
        return Holder(info, unknown)

    def settle_sent(self, recipient: str, info: dict[str, Any]) -> None:
        """The server accepted the message: write ``.sent`` (then drop the claim)."""
        self.store.put_record(self._key(recipient, "sent"), _dump({**_stamp("sent_at"), **info}))
        self.store.delete_record(self._key(recipient, "claim"))

    def settle_unknown(self, recipient: str, reason: str) -> None:
        """The body went out but no final reply came: keep the claim, marked unknown."""
        info = _load(self.store.read_record(self._key(recipient, "claim"))) or {}
        self.store.put_record(self._key(recipient, "claim"), _dump({**info, "outcome": "unknown", "reason": reason}))

    def release(self, recipient: str) -> None:
        """The send failed before the server took the message: a later try may send it."""
        self.store.delete_record(self._key(recipient, "claim"))


def claim_info(flow_run: str | None = None) -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "flow_run": flow_run}


def _stamp(name: str) -> dict[str, str]:
    return {name: datetime.now(UTC).isoformat(timespec="seconds")}


def _age_seconds(stamp: Any) -> float:
    try:
        then = datetime.fromisoformat(str(stamp))
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - then).total_seconds()


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _load(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"unreadable": True}
