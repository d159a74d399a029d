"""What a delivery channel is to the engine: the ``Channel`` protocol, its outbound item, its errors.

Pure (no Prefect): the email, Slack and Teams channels implement :class:`Channel`; the engine
(``delivery.engine``) owns the once-only protocol and concurrency around them.

Errors a channel's ``send`` raises: :class:`ChannelDown` (stop starting new sends; the rest are
"not tried"), :class:`DeliveryFailed` (settled failed; ``retryable`` or not), :class:`OutcomeUnknown`
(handed over, no final reply: never resent automatically).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pike_tasks.delivery.digest import Digest
from pike_tasks.once import Standing


class DeliveryError(Exception):
    """A send that did not end as sent. ``reason`` is one line for the log and summary.json."""

    def __init__(self, recipient: str, reason: str) -> None:
        super().__init__(recipient, reason)  # the args rebuild it when Prefect pickles the exception
        self.recipient = recipient
        self.reason = reason

    def __str__(self) -> str:
        return f"digest not delivered to {self.recipient}: {self.reason}" if self.recipient else self.reason


class ChannelDown(DeliveryError):
    """The channel's service cannot take anything now (unreachable, refused login, closing): the run
    starts no new send on it; the items not started are "not tried". ``service`` names it in words."""

    def __init__(self, recipient: str, reason: str, service: str = "the channel") -> None:
        Exception.__init__(self, recipient, reason, service)
        self.recipient, self.reason, self.service = recipient, reason, service


class DeliveryFailed(DeliveryError):
    """The service did not take this message (settled ``failed``); ``retryable``: Prefect tries again."""

    def __init__(self, recipient: str, reason: str, retryable: bool = False) -> None:
        Exception.__init__(self, recipient, reason, retryable)
        self.recipient, self.reason, self.retryable = recipient, reason, retryable


class OutcomeUnknown(DeliveryError):
    """The message went out and no final reply came: maybe delivered, never resent automatically."""


@dataclass(frozen=True)
class Outbound:
    """One message of one channel, ready to send.

    Attributes:
        recipient: the ledger's recipient (an address, a Slack user or channel id, a Teams team id).
        payload: what the channel's ``send`` sends (an ``EmailMessage``, a Slack payload, a card).
        entry: what summary.json says of it besides its status (``recipient``, ``subject``...).
        overdue_count: for ``skip_if_empty``.
        changed: anything new or resolved since the baseline; None without a baseline (never "unchanged").
        files: the dry run's files, name -> bytes (``<key>.eml``, ``<key>.slack.json``).
        reference: the message's id for the claim and the log (email: its Message-ID).
        status: a status decided before sending (e.g. ``not-in-slack``): never sent, logged as is.
    """

    recipient: str
    payload: Any
    entry: Mapping[str, Any]
    overdue_count: int = 0
    changed: bool | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    reference: str = ""
    status: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class DigestSet:
    """The channel-neutral digests of one run, built once: one per manager address, and one per team
    (``team_digest``: no people lines) for the channels that post team summaries."""

    managers: Sequence[Digest]
    teams: Mapping[str, Digest] = field(default_factory=dict)


class Channel(Protocol):
    """A way to deliver digests (see the module docstring for the errors ``send`` raises)."""

    name: str  # the ledger's channel: email, slack, teams
    service: str  # in words, for "the SMTP server failed before any digest was sent"

    def check(self) -> None:
        """Before any send (and before any API call): the settings and the service answer.
        Raises ChannelDown (or PikeConfigError)."""

    def concurrency(self, asked: int | None) -> int:
        """How many sends at once (``asked``: the run's ``connections``)."""

    def prepare(self, digests: DigestSet, on_each: Callable[[int], object] | None = None) -> list[Outbound]:
        """The outbound items of these digests (rendered; with their dry-run files)."""

    def send(self, item: Outbound, on_stage: Callable[[str], None]) -> None:
        """Send one item, calling ``on_stage("handed-over")`` just before the point of no return."""


@runtime_checkable
class SettlesUnknown(Protocol):
    """A channel that can read back what it posted (Slack with a history scope), so an ``unknown``
    earlier send is settled on the next run instead of staying unknown."""

    def settle_unknown(self, item: Outbound, standing: Standing) -> bool | None:
        """Whether the earlier send of ``item`` arrived (True), did not (False), or cannot be told (None)."""
