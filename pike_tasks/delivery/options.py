"""How one run delivers its digests: one frozen value instead of eight flags threaded through calls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pike_tasks.errors import PikeConfigError

CHANNELS = ("email", "slack", "teams")


@dataclass(frozen=True)
class DeliveryOptions:
    """What the caller asked of this run's deliveries (the flow's parameters, checked).

    Attributes:
        dry_run: write each message as a file in the digest folder; nothing is sent or recorded as sent.
        force: send every digest again whatever its record says (``resend_to`` with everyone).
        resend_to: send only to these recipients (addresses, Slack channels), whatever their record
            says; everyone else is left alone (``not-selected``).
        preview_to: send every digest to this one address (or Slack channel) only, marked as a
            preview; never counts as sent.
        skip_if_empty: do not send a digest with nothing overdue.
        skip_if_unchanged: do not send a digest with nothing new and nothing resolved since the baseline.
        connections: sends under way at once per channel; None: the channel's own setting.
        channels: the channels to deliver on, in order (``email``, ``slack``, ``teams``).
    """

    dry_run: bool = False
    force: bool = False
    resend_to: tuple[str, ...] | None = None
    preview_to: str | None = None
    skip_if_empty: bool = False
    skip_if_unchanged: bool = False
    connections: int | None = None
    channels: tuple[str, ...] = ("email",)

    @property
    def mode(self) -> str:
        """``preview``, ``dry-run`` or ``send`` (the delivery log's and summary.json's word)."""
        return "preview" if self.preview_to else ("dry-run" if self.dry_run else "send")

    @property
    def resend(self) -> bool:
        """Whether sends ignore what the record says (``force`` or ``resend_to``)."""
        return self.force or self.resend_to is not None

    def chosen(self) -> set[str] | None:
        """The casefolded ``resend_to`` recipients; None when every recipient is in (no list, or ``force``)."""
        if self.force or self.resend_to is None:
            return None
        return {r.strip().casefold() for r in self.resend_to}


def parse_channels(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"email,slack"`` (or a list) as a checked tuple without repeats; empty or None: ``("email",)``.

    Raises:
        PikeConfigError: one line naming the unknown channel.
    """
    items = value.split(",") if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for raw in items:
        name = str(raw).strip().casefold()
        if not name:
            continue
        if name not in CHANNELS:
            raise PikeConfigError(f"unknown channel {str(raw).strip()[:40]!r}: choose from {', '.join(CHANNELS)}")
        if name not in out:
            out.append(name)
    return tuple(out) or ("email",)
