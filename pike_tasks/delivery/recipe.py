"""The manager digests as a recipe (REPORTS.md, Report 3): what ``flows/digest.py`` and
``flows/all_reports.py`` call after the overdue report, and the checks they make before any API call.

build every manager's ``Digest`` once from the overdue report's frames -> each channel prepares
its outbound items -> the delivery engine sends them once and only once (``delivery.engine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pike_tasks.delivery.channel import Channel, Outbound
from pike_tasks.delivery.digest import CSV_NAME, Digest
from pike_tasks.delivery.email import EmailRender
from pike_tasks.delivery.engine import DeliveryTarget, deliver
from pike_tasks.delivery.options import DeliveryOptions
from pike_tasks.delivery.smtp import EmailChannel, sender_for
from pike_tasks.errors import PikeConfigError
from pike_tasks.mailer import SmtpSettings
from pike_tasks.once import bind_workspace, lease_seconds, workspace_name
from pike_tasks.prefect_tasks import OverdueFrames, Resolved
from pike_tasks.progress import ProgressLog
from pike_tasks.store import FolderRef, ReportStore, Scope
from pike_tasks.teams_config import TeamsConfig


@dataclass(frozen=True)
class DigestLinks:
    """Where the digests point: the overdue page (or where it is) and its stored overdue.csv."""

    report_url: str | None = None
    csv_url: str | None = None


@task(name="build-digests", cache_policy=NO_CACHE, persist_result=False)
def build_manager_digests(resolved: Resolved, *, as_of: date, config: TeamsConfig, overdue: OverdueFrames,
                          team_ids: list[str] | None = None) -> list[Digest]:
    """One channel-neutral ``Digest`` per manager address, from the overdue report's frames."""
    from pike_tasks.delivery.digest import build_digests

    digests = build_digests(
        resolved.tasks, resolved.members, overdue.rows, config.teams, as_of, team_ids=team_ids or None,
        changes=overdue.changes, due_soon_rows=overdue.due_soon, baseline_as_of=overdue.baseline_as_of,
    )
    get_run_logger().info("%d manager digests built for %s", len(digests), as_of)
    return digests


@task(name="prepare-digests", task_run_name="prepare-{channel.name}-digests", cache_policy=NO_CACHE,
      persist_result=False)
def prepare_outbound(channel: Channel, digests: list[Digest]) -> list[Outbound]:
    """One channel's outbound items (rendered messages, dry-run files) of every digest."""
    progress = ProgressLog(get_run_logger(), f"{channel.name} digests prepared", len(digests))
    return channel.prepare(digests, progress.update)


def deliver_digests(
    resolved: Resolved,
    *,
    config: TeamsConfig,
    overdue: OverdueFrames,
    target: DeliveryTarget,
    options: DeliveryOptions,
    smtp: SmtpSettings | None,
    links: DigestLinks,
) -> str:
    """The digest steps after fetch/resolve (call inside a flow; ``run_all_reports`` reuses it).

    ``target.workspace``: the identity :func:`digest_workspace` gave before the fetch. ``links``:
    the overdue page and its stored overdue.csv (:func:`overdue_csv_location`), which a digest
    links when its CSV is too large to attach even zipped. Returns the digest folder.

    Raises:
        DigestSendFailed: naming every recipient that did not get their digest, after trying all.
    """
    digests = build_manager_digests(resolved, as_of=target.as_of, config=config, overdue=overdue,
                                    team_ids=target.team_ids)
    channels: list[Channel] = []
    if "email" in options.channels:
        render = EmailRender(sender=sender_for(smtp), app_url_template=config.app_url_template,
                             report_url=links.report_url, csv_url=links.csv_url, team_pages=overdue.team_links,
                             preview_to=options.preview_to)
        channels.append(EmailChannel(smtp, render))
    folder, _ = deliver([(c, prepare_outbound(c, digests)) for c in channels], target, options)
    return folder


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
    """Each address must be a manager of a team of this run (one line naming the first that is not)."""
    if not resend_to:
        return
    wanted = set(team_ids) if team_ids else None
    managers = {m.strip().casefold() for tid, team in config.teams.items() if wanted is None or tid in wanted
                for m in team.managers}
    for address in resend_to:
        if address.strip().casefold() not in managers:
            where = "the teams of this run (--team)" if wanted else "the teams config"
            raise PikeConfigError(f"--resend-to {address.strip()[:120]!r} is not a manager in {where}; "
                                  "nothing was sent")


def overdue_csv_location(store: ReportStore, as_of: date, team_ids: list[str] | None, folder: str) -> str:
    """Where people get the overdue report's overdue.csv: the store's link for it (public URL
    or presigned), else its place in the store (``folder``, as the report was published), which
    the digest gives in words."""
    ref = FolderRef("overdue", as_of, Scope.of(team_ids))  # the folder build_overdue_report publishes
    return store.link(ref, CSV_NAME) or f"{folder.rstrip('/')}/{CSV_NAME}"


def digest_links(store: ReportStore, as_of: date, team_ids: list[str] | None, overdue: Any,
                 report_url: str | None = None) -> DigestLinks:
    """The links of the digests from the overdue report just published (``report_url`` overrides its page)."""
    return DigestLinks(report_url=report_url or overdue.link or overdue.folder,
                       csv_url=overdue_csv_location(store, as_of, team_ids, overdue.folder))
