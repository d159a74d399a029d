"""The Slack channel: each manager's digest as a direct message, each team's summary in its channel.

Rendering is ``slack_blocks`` over the digest's view (``delivery.view``); the Web API is
``slack_client.SlackClient``. The once-only ledger's recipient is the Slack user id (a DM) or
``<channel>:<team id>`` (a team channel's post); each post carries ``metadata`` with that record's
key, so an ``unknown`` outcome is settled from the conversation's history on the next run where
the token can read it (``settle_unknown``).

Recipients: with ``slack: {direct_messages: true}`` every manager is looked up by email (cached for
the run); a manager Slack does not know is ``not-in-slack`` in the delivery log (and still gets
the email). Every team with ``slack_channel`` gets its summary (``slack_blocks.team_message``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pike_tasks.delivery.channel import ChannelDown, DeliveryFailed, DigestSet, Outbound, OutcomeUnknown
from pike_tasks.delivery.digest import Digest
from pike_tasks.delivery.view import digest_view
from pike_tasks.once import Standing, recipient_key

if TYPE_CHECKING:
    from pike_tasks.slack_client import SlackClient

SLACK_CHANNEL = re.compile(r"^(?:[CG][A-Z0-9]{6,20}|#[a-z0-9][a-z0-9._-]{0,79})$")
DEFAULT_CONCURRENCY = 4  # DMs are separate conversations; slack_sdk waits out each 429's Retry-After


def is_slack_channel(value: str | None) -> bool:
    """Whether ``value`` names a Slack channel (``C0123ABCD`` or ``#name``) rather than an address."""
    return bool(value) and bool(SLACK_CHANNEL.match(str(value).strip()))


@dataclass(frozen=True)
class SlackLinks:
    """What the messages link: the overdue page (or where it is), task links, each team's page."""

    report_url: str | None = None
    app_url_template: str | None = None
    team_pages: Mapping[str, str] | None = None


class SlackChannel:
    """Digests in Slack for the delivery engine.

    Args:
        client: a ``SlackClient`` (None in a dry run: nothing is looked up or posted, DMs are keyed
            by address).
        direct_messages: each manager gets their digest as a DM.
        team_channels: team id -> ``slack_channel`` of the teams config.
        key_prefix: the once-only identity (workspace, day, scope) the metadata's ``digest_key`` starts with.
        preview_to: post every message to this channel instead, marked as a preview.
    """

    name = "slack"
    service = "Slack"

    def __init__(self, client: SlackClient | None, *, direct_messages: bool, team_channels: Mapping[str, str],
                 key_prefix: str, links: SlackLinks, preview_to: str | None = None) -> None:
        self.client = client
        self.direct_messages = direct_messages
        self.team_channels = dict(team_channels)
        self.key_prefix = key_prefix
        self.links = links
        self.preview_to = preview_to

    def check(self) -> None:
        from pike_tasks.slack_client import SlackError

        if self.client is None:
            return
        try:
            self.client.check_auth()
        except SlackError as exc:
            raise ChannelDown("", str(exc), self.service) from None

    def concurrency(self, asked: int | None) -> int:
        return asked if asked is not None else DEFAULT_CONCURRENCY

    def _view(self, digest: Digest) -> dict[str, Any]:
        return digest_view(digest, report_url=self.links.report_url, app_url_template=self.links.app_url_template,
                           team_pages=self.links.team_pages,
                           preview_for=digest.recipient if self.preview_to else None)

    def prepare(self, digests: DigestSet, on_each: Callable[[int], object] | None = None) -> list[Outbound]:
        from pike_tasks import slack_blocks

        items = []
        if self.direct_messages:
            for digest in digests.managers:
                items.append(self._dm(digest, slack_blocks.digest_message(self._view(digest))))
                if on_each is not None:
                    on_each(len(items))
        for tid, where in sorted(self.team_channels.items()):
            team = digests.teams.get(tid)
            if team is not None:
                items.append(self._post(tid, where, team, slack_blocks.team_message(self._view(team))))
        return items

    def _item(self, recipient: str, where: str, payload: dict[str, Any], digest: Digest, entry: dict[str, Any],
              file_key: str, *, dm: bool = False, **extra: Any) -> Outbound:
        from pike_tasks import slack_preview

        destination = self.preview_to or where
        return Outbound(
            recipient=recipient,
            payload={"channel": destination, "dm": dm and not self.preview_to, "message": payload,
                     "digest_key": self._digest_key(recipient)},
            entry={**entry, "overdue_count": digest.overdue_count},
            overdue_count=digest.overdue_count,
            changed=bool(digest.new_count or digest.resolved_count) if digest.baseline_as_of is not None else None,
            files={f"{recipient_key(file_key)}.slack.json": slack_preview.dry_run_json(payload, destination)},
            reference=self._digest_key(recipient),
            **extra,
        )

    def _dm(self, digest: Digest, payload: dict[str, Any]) -> Outbound:
        address = digest.recipient
        entry = {"recipient": address, "kind": "direct message"}
        if self.client is None or self.preview_to:  # a dry run or a preview: nobody is looked up
            return self._item(address, address, payload, digest, entry, address)
        from pike_tasks.slack_client import SlackError

        try:
            user = self.client.lookup_user(address)
        except SlackError as exc:  # this manager is not tried (a later run is); the email and others go on
            return self._item(address, address, payload, digest, entry, address, status="failed",
                              reason=f"not tried: Slack users.lookupByEmail failed ({exc})")
        if user is None:
            return self._item(address, address, payload, digest, entry, address, status="not-in-slack",
                              reason="Slack knows no user by this address (users.lookupByEmail); the email still goes")
        return self._item(user, user, payload, digest, {**entry, "slack_user": user}, address, dm=True)

    def _post(self, tid: str, where: str, digest: Digest, payload: dict[str, Any]) -> Outbound:
        entry = {"recipient": where, "kind": "team channel", "team": digest.team_names[0], "team_id": tid}
        return self._item(f"{where}:{tid}", where, payload, digest, entry, f"{where}-{tid}")

    def _digest_key(self, recipient: str) -> str:
        return f"{self.key_prefix}/slack/{recipient_key(recipient)}"

    def _client(self) -> SlackClient:
        if self.client is None:
            raise ChannelDown("", "no Slack client: this run writes .slack.json files only (dry run)", self.service)
        return self.client

    def _conversation(self, item: Outbound) -> str:
        """Where the item is posted: the DM's conversation (``conversations.open``), else the channel."""
        where = str(item.payload["channel"])
        return self._client().open_dm(where) if item.payload.get("dm") else where

    def send(self, item: Outbound, on_stage: Callable[[str], None]) -> None:
        from pike_tasks import slack_client as sc

        try:
            conversation = self._conversation(item)
            on_stage("handed-over")
            self._client().post(conversation, item.payload["message"],
                             metadata=sc.digest_metadata(str(item.payload["digest_key"])))
        except sc.SlackOutcomeUnknown as exc:
            raise OutcomeUnknown(item.recipient, str(exc)) from None
        except (sc.SlackAuthError, sc.SlackUnreachable, sc.SlackConfigError) as exc:
            raise ChannelDown(item.recipient, str(exc), self.service) from None
        except sc.SlackRateLimited as exc:
            raise DeliveryFailed(item.recipient, str(exc), retryable=True) from None
        except sc.SlackError as exc:  # not_in_channel, channel_not_found, invalid_blocks...: one clear line
            raise DeliveryFailed(item.recipient, str(exc), retryable=False) from None

    def settle_unknown(self, item: Outbound, standing: Standing) -> bool | None:
        """Read the conversation's history for this record's metadata (None: it cannot be read)."""
        from pike_tasks import slack_client as sc

        if self.client is None:
            return None
        return self.client.find_posted(self._conversation(item), sc.EVENT_TYPE, str(item.payload["digest_key"]))
