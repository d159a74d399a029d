"""The Microsoft Teams channel: each team's summary as an Adaptive Card through its Workflows webhook.

The webhook URL is a credential: the teams config names the Prefect Secret block that holds it
(``teams_webhook_secret``), the URLs are loaded before any API call (:func:`load_webhooks`) and no
message shows more than the URL's host. The once-only ledger's recipient is the team id; a
webhook cannot be read back, so an ``unknown`` outcome stays unknown (``--resend-to`` resends).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pike_tasks.delivery.channel import DeliveryFailed, DigestSet, Outbound, OutcomeUnknown
from pike_tasks.delivery.view import digest_view
from pike_tasks.errors import PikeConfigError
from pike_tasks.once import recipient_key

DEFAULT_CONCURRENCY = 4  # every team has its own webhook (and flow)


def load_webhooks(secrets: Mapping[str, str], load: Callable[[str], str] | None = None) -> dict[str, str]:
    """team id -> webhook URL, read from the Prefect Secret blocks named in the teams config.

    Raises:
        PikeConfigError: one line naming the team and the block (never the URL).
    """
    from pike_tasks.teams_webhook import TeamsConfigError, check_webhook_url

    read = load or _secret_value
    urls: dict[str, str] = {}
    for tid, block in sorted(secrets.items()):
        try:
            url = read(block)
        except Exception as exc:  # noqa: BLE001 - e.g. no block of that name: Prefect raises a bare ValueError
            raise PikeConfigError(f"team {tid}: the Prefect Secret block {block!r} (teams_webhook_secret) could "
                                  f"not be loaded ({type(exc).__name__}); create it with the Workflows webhook "
                                  "URL") from None
        try:
            urls[tid] = check_webhook_url(str(url))
        except TeamsConfigError as exc:
            raise PikeConfigError(f"team {tid}: the Secret block {block!r}: {exc}") from None
    return urls


def _secret_value(block: str) -> str:
    from prefect.blocks.system import Secret

    secret: Any = Secret.load(block)  # a Secret (sync context), typed as a possible coroutine
    return str(secret.get())


@dataclass(frozen=True)
class TeamsLinks:
    report_url: str | None = None
    app_url_template: str | None = None
    team_pages: Mapping[str, str] | None = None


class TeamsChannel:
    """Team summaries in Microsoft Teams for the delivery engine (``webhooks``: team id -> URL)."""

    name = "teams"
    service = "the Teams webhook"

    def __init__(self, webhooks: Mapping[str, str], links: TeamsLinks) -> None:
        self.webhooks = dict(webhooks)
        self.links = links

    def check(self) -> None:
        """Nothing to ask before sending: each webhook is its own flow (the URLs were checked at load)."""

    def concurrency(self, asked: int | None) -> int:
        return asked if asked is not None else DEFAULT_CONCURRENCY

    def prepare(self, digests: DigestSet, on_each: Callable[[int], object] | None = None) -> list[Outbound]:
        from pike_tasks.teams_card import card_bytes, team_card

        items = []
        for tid in sorted(self.webhooks):
            digest = digests.teams.get(tid)
            if digest is None:
                continue
            view = digest_view(digest, report_url=self.links.report_url, app_url_template=self.links.app_url_template,
                               team_pages=self.links.team_pages)
            card = team_card(view)
            items.append(Outbound(
                recipient=tid, payload=card,
                entry={"recipient": tid, "kind": "team channel", "team": digest.team_names[0],
                       "overdue_count": digest.overdue_count},
                overdue_count=digest.overdue_count,
                changed=bool(digest.new_count or digest.resolved_count) if digest.baseline_as_of is not None else None,
                files={f"{recipient_key(tid)}.teams.json": card_bytes(card)},
                reference=f"teams-card-{recipient_key(tid)}",
            ))
        return items

    def send(self, item: Outbound, on_stage: Callable[[str], None]) -> None:
        from pike_tasks import teams_webhook as tw

        url = self.webhooks[item.recipient]
        try:
            on_stage("handed-over")
            tw.post_card(url, item.payload)
        except tw.TeamsOutcomeUnknown as exc:
            raise OutcomeUnknown(item.recipient, str(exc)) from None
        except (tw.TeamsRateLimited, tw.TeamsUnreachable) as exc:
            raise DeliveryFailed(item.recipient, str(exc), retryable=True) from None
        except tw.TeamsError as exc:
            raise DeliveryFailed(item.recipient, str(exc), retryable=False) from None

    def describe(self) -> dict[str, Any]:
        from pike_tasks.teams_webhook import webhook_host

        return {tid: webhook_host(url) for tid, url in self.webhooks.items()}
