"""The email channel: SMTP settings checked before any API call, and sends for the delivery engine.

``pike_tasks.mailer`` does the SMTP; this maps its failures to the engine's (a server that is down,
a message refused, an outcome unknown).
"""

from __future__ import annotations

from collections.abc import Callable

from pike_tasks.delivery.channel import ChannelDown, DeliveryFailed, DigestSet, Outbound, OutcomeUnknown
from pike_tasks.delivery.email import EmailRender, prepare_emails
from pike_tasks.errors import PikeConfigError, PikeError
from pike_tasks.mailer import (
    DigestDeliveryError,
    SmtpAuthFailed,
    SmtpOutcomeUnknown,
    SmtpSettings,
    SmtpUnavailable,
    attachment_max_bytes,
    check_smtp,
    email_from,
    resolve_smtp_settings,
    send_message,
    smtp_connections,
)

DRY_RUN_SENDER = "pike-reports <pike-reports@localhost>"


class EmailChannel:
    """Digests by SMTP for the delivery engine (``settings`` None: a dry run, nothing is sent)."""

    name = "email"
    service = "the SMTP server"

    def __init__(self, settings: SmtpSettings | None, render: EmailRender | None = None) -> None:
        self.settings = settings
        self.render = render or EmailRender(sender=sender_for(settings))

    def prepare(self, digests: DigestSet, on_each: Callable[[int], object] | None = None) -> list[Outbound]:
        return [p.outbound() for p in prepare_emails(digests.managers, self.render, on_each)]

    def _settings(self) -> SmtpSettings:
        if self.settings is None:
            raise PikeConfigError("no SMTP settings: this run writes .eml files only (dry run)")
        return self.settings

    def check(self) -> None:
        try:
            check_smtp(self._settings())
        except (SmtpUnavailable, SmtpAuthFailed) as exc:
            raise ChannelDown(exc.recipient, exc.reason, self.service) from None

    def concurrency(self, asked: int | None) -> int:
        return asked if asked is not None else smtp_connections()

    def send(self, item: Outbound, on_stage: Callable[[str], None]) -> None:
        try:
            send_message(self._settings(), item.payload, on_stage=on_stage)
        except SmtpOutcomeUnknown as exc:  # the body went out, no final reply: maybe delivered
            raise OutcomeUnknown(exc.recipient, exc.reason) from None
        except (SmtpUnavailable, SmtpAuthFailed) as exc:
            raise ChannelDown(exc.recipient, exc.reason, self.service) from None
        except DigestDeliveryError as exc:
            raise DeliveryFailed(exc.recipient, exc.reason, retryable=not exc.permanent) from None


def sender_for(settings: SmtpSettings | None) -> str:
    """The From of the digests: the SMTP settings', else ``PIKE_REPORTS_EMAIL_FROM`` (a dry run)."""
    return settings.sender if settings else (email_from() or DRY_RUN_SENDER)


def smtp_settings_for(dry_run: bool, smtp_block: str | None) -> SmtpSettings | None:
    """SMTP settings, resolved and tried (connect, log in, quit) before any API call, so a missing
    block, a wrong password or a dead server fails the run in one line before the fetch. The
    digest settings of the environment (``PIKE_REPORTS_ATTACHMENT_MAX_BYTES``, and
    ``PIKE_REPORTS_SMTP_CONNECTIONS`` when sending) are checked here too.

    Raises:
        PikeConfigError: naming the block or variable, or what the server answered.
    """
    attachment_max_bytes()  # a bad PIKE_REPORTS_ATTACHMENT_MAX_BYTES fails here, before any API call
    if dry_run:
        return None
    smtp_connections()  # a bad PIKE_REPORTS_SMTP_CONNECTIONS fails here too, before any API call
    try:
        settings = resolve_smtp_settings(smtp_block)
    except PikeError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. no block of that name: Prefect raises a bare ValueError
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PikeConfigError(f"SMTP block {smtp_block!r} could not be loaded: {first[:200]} "
                              "(create it with `pike-reports setup`, or leave smtp_block empty to use "
                              "PIKE_REPORTS_SMTP_*)") from None
    try:
        check_smtp(settings)
    except DigestDeliveryError as exc:
        raise PikeConfigError(f"digests cannot be sent: {exc}") from None
    return settings
