"""The manager digests as a recipe (REPORTS.md, Report 3): what ``flows/digest.py`` and
``flows/all_reports.py`` call after the overdue report, and the checks they make before any API call.

build every manager's ``Digest`` once from the overdue report's frames -> each channel prepares
its outbound items -> the delivery engine sends them once and only once (``delivery.engine``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pike_tasks.delivery.channel import Channel, DigestSet, Outbound
from pike_tasks.delivery.digest import CSV_NAME, Digest
from pike_tasks.delivery.email import EmailRender
from pike_tasks.delivery.engine import DeliveryTarget, deliver
from pike_tasks.delivery.options import DeliveryOptions
from pike_tasks.delivery.slack import SlackChannel, SlackLinks, is_slack_channel
from pike_tasks.delivery.smtp import EmailChannel, sender_for, smtp_settings_for
from pike_tasks.delivery.teams import TeamsChannel, TeamsLinks, load_webhooks
from pike_tasks.errors import PikeConfigError
from pike_tasks.mailer import SmtpSettings
from pike_tasks.once import bind_workspace, lease_seconds, scope_slug, workspace_name
from pike_tasks.prefect_tasks import OverdueFrames, Resolved
from pike_tasks.progress import ProgressLog
from pike_tasks.store import FolderRef, ReportStore, Scope
from pike_tasks.teams_config import TeamsConfig

if TYPE_CHECKING:
    from pike_tasks.slack_client import SlackClient


@dataclass(frozen=True)
class DigestLinks:
    """Where the digests point: the overdue page (or where it is), its stored overdue.csv, and the
    workload report of the same day and scope (or where it is; None when there is none)."""

    report_url: str | None = None
    csv_url: str | None = None
    workload_url: str | None = None


@dataclass(frozen=True)
class ChannelSettings:
    """Each asked-for channel's settings, checked before any API call (:func:`channel_settings`)."""

    channels: tuple[str, ...] = ("email",)
    smtp: SmtpSettings | None = None
    slack: SlackClient | None = None  # a client whose token auth.test accepted; None in a dry run
    slack_channels: Mapping[str, str] = field(default_factory=dict)  # team id -> slack_channel
    teams_webhooks: Mapping[str, str] = field(default_factory=dict)  # team id -> webhook URL (a credential)

    @property
    def team_ids(self) -> set[str]:
        """The teams whose summary some channel posts."""
        return set(self.slack_channels) | set(self.teams_webhooks)


def channel_settings(config: TeamsConfig, options: DeliveryOptions, smtp_block: str | None = None,
                     team_ids: list[str] | None = None) -> ChannelSettings:
    """Every asked-for channel checked before any API call: SMTP tried (connect, log in), Slack's
    ``auth.test``, the Teams webhook URLs read from their Secret blocks. A channel asked for but not
    configured, or a bad token, is one line naming the setting.

    Raises:
        PikeConfigError: one line naming what to fix.
    """
    wanted = set(team_ids) if team_ids else None
    in_scope = {tid: t for tid, t in config.teams.items() if wanted is None or tid in wanted}
    out = ChannelSettings(channels=options.channels)
    if "email" in options.channels:
        out = replace(out, smtp=smtp_settings_for(options.dry_run or _slack_preview(options), smtp_block))
    if "slack" in options.channels:
        out = replace(out, slack_channels={tid: t.slack_channel for tid, t in in_scope.items() if t.slack_channel},
                      slack=_slack_client(config, in_scope, options))
    if "teams" in options.channels:
        secrets = {tid: t.teams_webhook_secret for tid, t in in_scope.items() if t.teams_webhook_secret}
        if not secrets:
            raise PikeConfigError("--channels teams: no team of this run has teams_webhook_secret in the teams config "
                                  "(the name of a Prefect Secret block holding the team's Workflows webhook URL)")
        out = replace(out, teams_webhooks=secrets if options.dry_run else load_webhooks(secrets))
    return out


def _slack_preview(options: DeliveryOptions) -> bool:
    return bool(options.preview_to) and is_slack_channel(options.preview_to)


def _slack_client(config: TeamsConfig, in_scope: Mapping[str, Any], options: DeliveryOptions) -> SlackClient | None:
    """A ``SlackClient`` whose token ``auth.test`` accepted (None in a dry run)."""
    from pike_tasks.slack_client import SlackClient, SlackError

    if not config.slack_direct_messages and not any(t.slack_channel for t in in_scope.values()):
        raise PikeConfigError("--channels slack: nothing to post to: set `slack: {direct_messages: true}` at the top "
                              "of the teams config, or a team's `slack_channel: C0123...`")
    if options.dry_run:
        return None
    try:
        client = SlackClient.from_env()
        client.check_auth()
    except SlackError as exc:  # names PIKE_REPORTS_SLACK_TOKEN (or the API URL setting)
        raise PikeConfigError(f"Slack: {exc}") from None
    return client


@task(name="build-digests", cache_policy=NO_CACHE, persist_result=False)
def build_all_digests(resolved: Resolved, *, as_of: date, config: TeamsConfig, overdue: OverdueFrames,
                      team_ids: list[str] | None = None, teams: Collection[str] = ()) -> DigestSet:
    """One channel-neutral ``Digest`` per manager address, and one per team in ``teams`` (the team
    summaries of the channels that post them), from the overdue report's frames."""
    from pike_tasks.delivery.digest import build_digests
    from pike_tasks.team_digest import team_digest

    def build(teams_config: Mapping[str, Any]) -> list[Digest]:
        return build_digests(
            resolved.tasks, resolved.members, overdue.rows, teams_config, as_of, team_ids=team_ids or None,
            changes=overdue.changes, due_soon_rows=overdue.due_soon, baseline_as_of=overdue.baseline_as_of,
        )

    managers = build(config.teams)
    # a team's own digest: the team as if one pseudo-manager had it alone (then no people lines)
    pseudo = {tid: {"name": config.teams[tid].name, "managers": [f"team:{tid}"]} for tid in teams}
    by_team = {d.team_ids[0]: team_digest(d, d.team_ids[0], d.team_ids[0]) for d in build(pseudo)} if pseudo else {}
    get_run_logger().info("%d manager digests (and %d team summaries) built for %s", len(managers), len(by_team),
                          as_of)
    return DigestSet(managers, by_team)


@task(name="prepare-digests", task_run_name="prepare-{channel.name}-digests", cache_policy=NO_CACHE,
      persist_result=False)
def prepare_outbound(channel: Channel, digests: DigestSet) -> list[Outbound]:
    """One channel's outbound items (rendered messages, dry-run files) of every digest."""
    progress = ProgressLog(get_run_logger(), f"{channel.name} digests prepared", len(digests.managers))
    return channel.prepare(digests, progress.update)


def deliver_digests(
    resolved: Resolved,
    *,
    config: TeamsConfig,
    overdue: OverdueFrames,
    target: DeliveryTarget,
    options: DeliveryOptions,
    settings: ChannelSettings,
    links: DigestLinks,
) -> str:
    """The digest steps after fetch/resolve (call inside a flow; ``run_all_reports`` reuses it).

    ``target.workspace``: the identity :func:`digest_workspace` gave before the fetch. ``settings``:
    :func:`channel_settings`, also before the fetch. ``links``: the overdue page and its stored
    overdue.csv (:func:`overdue_csv_location`), which a digest links when its CSV is too large to
    attach even zipped. Returns the digest folder.

    Raises:
        DigestSendFailed: naming every recipient that did not get their digest, after trying all.
    """
    digests = build_all_digests(resolved, as_of=target.as_of, config=config, overdue=overdue,
                                team_ids=target.team_ids, teams=sorted(settings.team_ids))
    channels = _channels(config, overdue, target, options, settings, links)
    folder, _ = deliver([(c, prepare_outbound(c, digests)) for c in channels], target, options)
    return folder


def _channels(config: TeamsConfig, overdue: OverdueFrames, target: DeliveryTarget, options: DeliveryOptions,
              settings: ChannelSettings, links: DigestLinks) -> list[Channel]:
    """The channels of this run, in the order asked. A preview goes where ``preview_to`` points:
    an address previews the emails, a Slack channel the Slack messages (Teams has no previews)."""
    slack_preview = _slack_preview(options)
    channels: list[Channel] = []
    for name in options.channels:
        if name == "email" and not slack_preview:
            render = EmailRender(sender=sender_for(settings.smtp), app_url_template=config.app_url_template,
                                 report_url=links.report_url, csv_url=links.csv_url, team_pages=overdue.team_links,
                                 preview_to=options.preview_to, workload_url=links.workload_url)
            channels.append(EmailChannel(settings.smtp, render))
        elif name == "slack" and (slack_preview or not options.preview_to):
            channels.append(SlackChannel(
                settings.slack, direct_messages=config.slack_direct_messages, team_channels=settings.slack_channels,
                key_prefix=f"{target.workspace}/{target.as_of.isoformat()}/{scope_slug(target.scope)}",
                links=SlackLinks(links.report_url, config.app_url_template, overdue.team_links),
                preview_to=options.preview_to,
            ))
        elif name == "teams" and not options.preview_to:
            channels.append(TeamsChannel(settings.teams_webhooks,
                                         TeamsLinks(links.report_url, config.app_url_template, overdue.team_links)))
    return channels


def digest_workspace(config: TeamsConfig, store: ReportStore, team_ids: list[str] | None = None,
                     resend_to: list[str] | None = None) -> str:
    """The workspace name of the once-only records, checked (with every digest setting) before any API
    call: the name and its binding to the config's team ids, the claim lease, and that each
    ``resend_to`` address is a manager of the run's teams.

    Raises:
        PikeConfigError: one line naming what to fix.
    """
    lease_seconds()
    check_resend_to(config, team_ids, resend_to)
    name = workspace_name(config.workspace)
    bind_workspace(store, name, list(config.teams))
    return name


def check_resend_to(config: TeamsConfig, team_ids: list[str] | None, resend_to: list[str] | None) -> None:
    """Each address must be a manager of a team of this run, or a team's Slack channel (one line naming
    the first that is neither)."""
    if not resend_to:
        return
    wanted = set(team_ids) if team_ids else None
    teams = {tid: team for tid, team in config.teams.items() if wanted is None or tid in wanted}
    known = {m.strip().casefold() for team in teams.values() for m in team.managers}
    channels = {team.slack_channel.casefold() for team in teams.values() if team.slack_channel}
    channels |= {tid.casefold() for tid, team in teams.items() if team.teams_webhook_secret}  # a Teams card
    for address in resend_to:
        if address.strip().casefold() not in known | channels:
            where = "the teams of this run (--team)" if wanted else "the teams config"
            what = "a manager" + (" or a team's Slack channel (or Teams team id)" if channels else "")
            raise PikeConfigError(f"--resend-to {address.strip()[:120]!r} is not {what} in {where}; "
                                  "nothing was sent")


def overdue_csv_location(store: ReportStore, as_of: date, team_ids: list[str] | None, folder: str) -> str:
    """Where people get the overdue report's overdue.csv: the store's link for it (public URL
    or presigned), else its place in the store (``folder``, as the report was published), which
    the digest gives in words."""
    ref = FolderRef("overdue", as_of, Scope.of(team_ids))  # the folder build_overdue_report publishes
    return store.link(ref, CSV_NAME) or f"{folder.rstrip('/')}/{CSV_NAME}"


def digest_links(store: ReportStore, as_of: date, team_ids: list[str] | None, overdue: Any,
                 workload: Any = None) -> DigestLinks:
    """The links of the digests from the overdue report just published (its link, else its folder).

    ``workload``: the workload report this run published (its link, else its folder); None: the
    store's complete workload report of the same day and scope, when one is there (a workload
    flow run earlier that day), else none.
    """
    if workload is not None:
        workload_url = workload.link or workload.folder
    else:
        workload_url = stored_report_location(store, FolderRef("workload", as_of, Scope.of(team_ids)))
    return DigestLinks(report_url=overdue.link or overdue.folder,
                       csv_url=overdue_csv_location(store, as_of, team_ids, overdue.folder),
                       workload_url=workload_url)


def stored_report_location(store: ReportStore, ref: FolderRef) -> str | None:
    """The store's link of a complete report folder's page (public URL or presigned), else where the
    folder is; None when the store has no complete folder ``ref``."""
    if ref.as_of not in store.completed_dates(ref.report, ref.scope):
        return None
    return store.link(ref) or store.folder_location(ref)
