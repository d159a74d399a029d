"""Build the digest email (pure): ``multipart/mixed [ multipart/alternative [text, html], CSV ]``.

The attachment stays under a stated size (:func:`choose_attachment`): the CSV as it is, else
zipped, else nothing (the digest then links the stored CSV instead).

Built with ``email.message.EmailMessage`` rather than prefect-email's ``email_send_message``,
which puts the text and HTML bodies side by side in one ``multipart/mixed`` (clients then show
both). Policy ``SMTP`` (UTF-8 headers encoded as RFC 2047, CRLF line ends); a header value
containing CR or LF is refused by the policy, and untrusted text is made single-line before
it gets there. The Subject is folded by :class:`SubjectHeader` (see there: Python 3.11's folder
moves a 70-77 character subject whole onto a second line and drops spaces around encoded words).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime
from email.header import Header
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, formatdate, getaddresses, make_msgid
from typing import Any, Literal, Protocol


class Digest(Protocol):
    """What a message needs of a digest (``pike_tasks.digest.Digest`` has it). A protocol, so
    this module never imports the digest: the arrow goes one way, digest -> email_message."""

    @property
    def recipient(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def as_of(self) -> Date: ...


PREVIEW_PREFIX = "[Preview] "
ENCODED_WORD_LINE = 76  # " " + an RFC 2047 encoded word of at most 75 characters


class SubjectHeader(UnstructuredHeader, BaseHeader):
    """The Subject, folded between words by the email package's ``Header`` (RFC 2047 encoder).

    Python 3.11's folder (``policy.SMTP``) puts a subject of 70-77 characters whole on a second
    line (``Subject:`` CRLF SP ``Pike digest ...``: parsers then return it with a leading space),
    and when it mixes ASCII words with encoded words it drops the spaces around them
    ("resolved  (Délivery,Platform)"). ``Header`` folds an ASCII subject at spaces, the first
    line counting ``Subject: ``, and any other (non-ASCII, or a word longer than a line) as
    UTF-8 encoded words of at most 75 characters, which decoders join back exactly.
    """

    def fold(self, *, policy: Policy) -> str:
        text = str(self)
        width = min(policy.max_line_length or ENCODED_WORD_LINE, ENCODED_WORD_LINE)
        # a word too long for a line would go whole onto the next one: encoded words split anywhere
        fits = text.isascii() and max(map(len, text.split()), default=0) <= width - len(self.name) - 2
        charset = "us-ascii" if fits else "utf-8"
        folded = Header(text, charset=charset, header_name=self.name, maxlinelen=width).encode(linesep=policy.linesep)
        return f"{self.name}: {folded}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("subject", SubjectHeader)
MESSAGE_POLICY = SMTP.clone(header_factory=_HEADERS)

_WHITESPACE = re.compile(r"\s+")


def single_line(text: Any) -> str:
    """Untrusted text safe for one header line: control and line-break characters become spaces.

    Covers CR, LF, TAB, NUL, VT, FF, NEL, U+2028/2029 and every other Cc/Zl/Zp character.
    """
    s = "" if text is None else str(text)
    s = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in "\u200d" else ch for ch in s)
    return _WHITESPACE.sub(" ", s).strip()


_NOT_IN_FILE_NAME = re.compile(r"[^a-z0-9@._+-]")
FILE_STEM_CHARS = 100


def address_file_stem(address: str) -> str:
    """A file name (without extension) for one recipient's message, stable from run to run.

    The address itself, casefolded, when it is made of ASCII letters, digits and ``@._+-`` only,
    does not start with a dot and has at most 100 characters (``platform.lead@example.com``);
    any other address gets a slug (every other character ``_``, no leading dot, so no ``..`` or
    ``/`` reaches a path) and ``~`` plus a hash of the address, so two addresses never share a
    name (a plain name never holds ``~``). Addresses that differ only in case are one recipient,
    as the once-only ledger says.
    """
    folded = address.strip().casefold()
    slug = _NOT_IN_FILE_NAME.sub("_", folded).lstrip(".")[:FILE_STEM_CHARS]
    if slug and slug == folded:
        return slug
    return f"{slug or 'x'}~{hashlib.sha256(folded.encode('utf-8')).hexdigest()[:12]}"


class MessageHeaderError(ValueError):
    """An address or header value that cannot go into a message safely."""


def _checked_address(value: str, what: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise MessageHeaderError(f"{what} contains a line break")
    parsed = getaddresses([value])
    if len(parsed) != 1 or "@" not in parsed[0][1]:
        raise MessageHeaderError(f"{what} is not one email address: {single_line(value)!r}")
    return value.strip()


def _domain_of(sender: str) -> str | None:
    address = getaddresses([sender])[0][1]
    return address.rsplit("@", 1)[1] if "@" in address else None


def build_message(
    digest: Digest,
    html: str,
    text: str,
    *,
    sender: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    message_id_domain: str | None = None,
    preview: bool = False,
    preview_to: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The finished message for one digest.

    Args:
        digest: what the subject and recipient come from.
        html: the rendered HTML part (CSS already inlined).
        text: the plain-text part with the same content.
        sender: the From address (``Name <addr>`` allowed), from SMTP settings.
        attachments: ``(filename, bytes, "type/subtype")`` each, e.g. the digest's overdue.csv.
        message_id_domain: right-hand side of Message-ID; default the sender's domain.
        preview: subject prefixed ``[Preview] `` and sent to ``preview_to`` instead.
        preview_to: the preview address (required with ``preview``).
        date: the Date header (default: now, UTC).
    """
    sender = _checked_address(sender, "sender")
    if preview:
        if not preview_to:
            raise MessageHeaderError("preview needs a preview_to address")
        to = _checked_address(preview_to, "preview address")
        subject = PREVIEW_PREFIX + single_line(digest.subject)
    else:
        to = _checked_address(digest.recipient, "recipient")
        subject = single_line(digest.subject)

    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(date) if date is not None else formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=message_id_domain or _domain_of(sender) or "pike-reports.invalid")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders should not reply
    msg["X-Pike-Digest"] = f"{digest.as_of.isoformat()}"

    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for filename, data, mimetype in attachments:  # the first one turns the message into multipart/mixed
        maintype, _, subtype = mimetype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=single_line(filename) or "attachment")
    return msg


AttachmentKind = Literal["csv", "zip", "none"]
ZIP_SUFFIX = ".zip"


@dataclass(frozen=True)
class Attachment:
    """What goes with a digest: the CSV as it is, zipped, or nothing.

    ``kind`` is ``csv`` (``filename`` is ``csv_name``), ``zip`` (``<csv_name>.zip`` holding the
    CSV) or ``none`` (too large even zipped: ``filename`` None, ``data`` empty). ``csv_size`` is
    the CSV's size whatever was attached; ``limit`` the most an attachment may have (bytes as
    attached, before the base64 of the message).
    """

    kind: AttachmentKind
    csv_name: str
    csv_size: int
    limit: int
    filename: str | None = None
    data: bytes = b""
    mimetype: str = ""

    @property
    def parts(self) -> list[tuple[str, bytes, str]]:
        """``build_message``'s ``attachments``: one file, or none."""
        return [(self.filename, self.data, self.mimetype)] if self.filename is not None else []


def choose_attachment(csv: bytes, max_bytes: int, *, csv_name: str, stamp: Date | None = None) -> Attachment:
    """The digest's attachment for ``csv``, at most ``max_bytes`` as attached.

    The CSV itself when it fits; else a zip of it (deflate: a zip opens on phones and desktops,
    gzip does not on most phones) when that fits; else nothing. The zip holds one member,
    ``csv_name``, dated ``stamp`` (default 1980-01-01, the zip epoch), so the same CSV gives the
    same bytes.

    Args:
        csv: the CSV file as it would be attached.
        max_bytes: the most an attachment may have, in bytes (0 attaches nothing).
        csv_name: the CSV's file name, e.g. ``overdue.csv`` (the zip is ``overdue.csv.zip``).
        stamp: the date written in the zip for its member.
    """
    if len(csv) <= max_bytes:
        return Attachment("csv", csv_name, len(csv), max_bytes, csv_name, csv, "text/csv")
    if max_bytes > 0:
        zipped = _zip_one(csv_name, csv, stamp)
        if len(zipped) <= max_bytes:
            return Attachment("zip", csv_name, len(csv), max_bytes, csv_name + ZIP_SUFFIX, zipped, "application/zip")
    return Attachment("none", csv_name, len(csv), max_bytes)


def _zip_one(name: str, data: bytes, stamp: Date | None) -> bytes:
    day = stamp if stamp is not None and stamp.year >= 1980 else Date(1980, 1, 1)
    info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # a plain readable file when unzipped on a Unix
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def envelope_recipient(msg: EmailMessage) -> str:
    """The bare address of the message's single To (for RCPT TO and error messages)."""
    return getaddresses([str(msg["To"])])[0][1]

