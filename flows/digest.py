"""Flow: manager digests (REPORTS.md, Report 3), each sent once and only once per channel.

Recipe: fetch -> resolve -> the overdue report (stored: the page the digests link and tomorrow's
baseline) -> one ``Digest`` per manager -> one ``send-digest`` task run per recipient and channel,
a few at once. The recipe lives in ``pike_tasks.delivery`` (``recipe``: the steps; ``engine``: the
once-only protocol and concurrency; ``email``: the rendering); this module wires the parameters.
"""

from __future__ import annotations

from typing import Literal, cast

from prefect import flow

from flows.common import AsOfParam, OutputDirParam, TeamsConfigParam, open_report_store, run_name, settings_for
from pike_tasks.delivery.engine import DeliveryTarget
from pike_tasks.delivery.options import DeliveryOptions, parse_channels
from pike_tasks.delivery.recipe import (
    channel_settings,
    check_resend_to,
    deliver_digests,
    digest_links,
    digest_workspace,
)
from pike_tasks.prefect_tasks import (
    OverdueFrames,
    api_source_label,
    build_overdue_report,
    check_team_filter,
    fetch_workspace,
    resolve_workspace,
)

__all__ = ["check_resend_to", "send_manager_digests"]  # check_resend_to: flows.runner checks --resend-to with it


@flow(name="send-manager-digests", flow_run_name=run_name("digest"), validate_parameters=True)
def send_manager_digests(
    as_of: AsOfParam = None,
    teams_config: TeamsConfigParam = None,
    team_ids: list[str] | None = None,
    output_dir: OutputDirParam = None,
    dry_run: bool = False,
    force: bool = False,
    resend_to: list[str] | None = None,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
    skip_if_unchanged: bool = False,
    smtp_block: str | None = None,
    report_url: str | None = None,
    channels: list[Literal["email", "slack", "teams"]] | None = None,
) -> dict[str, str]:
    """One digest per manager address in the teams config (by email, and as a Slack DM with
    ``channels``), one summary per team channel: their teams' overdue tasks and their members'
    workload. Each (workspace, as_of, scope, channel, recipient) digest is sent once;
    ``resend_to`` resends to those recipients only, ``force`` to everyone.

    Args:
        as_of: Digest date; empty means today in the configured timezone.
        teams_config: Path to a teams YAML, inline JSON, or empty to use the pike-teams-config block saved by pike-reports setup.
        team_ids: Only digest these Pike team ids; empty means every team in the config.
        output_dir: Report store that also holds the once-only email record: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute path); its digest/YYYY-MM-DD subfolder gets the .eml files (dry run) and summary.json; empty means the worker's PIKE_REPORTS_STORE.
        dry_run: Write .eml files instead of sending; nothing is recorded as sent.
        force: Send every digest again even if already sent (or its outcome is unknown): resend_to with every recipient.
        resend_to: Send only to these manager addresses, whatever their record says (e.g. after an unknown outcome); everyone else is left alone.
        preview_to: Send every digest to this one address only, marked [Preview]; not recorded as sent.
        skip_if_empty: Do not send a digest with nothing overdue.
        skip_if_unchanged: Do not send a digest with nothing new and nothing resolved since the previous report.
        smtp_block: Name of a prefect-email EmailServerCredentials block; empty means the PIKE_REPORTS_SMTP_* environment variables.
        report_url: Where the full HTML report is published, linked from each digest.
        channels: Where digests go: email (each manager), slack (DMs and team channels, per the teams config), teams (team channels); empty means email.
    """  # noqa: E501 - each Args line is one parameter's description in the Prefect UI; wrapping adds line breaks
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    options = DeliveryOptions(
        dry_run=dry_run, force=force, resend_to=tuple(resend_to) if resend_to is not None else None,
        preview_to=preview_to, skip_if_empty=skip_if_empty, skip_if_unchanged=skip_if_unchanged,
        channels=parse_channels(channels),
    )
    settings = channel_settings(config, options, smtp_block, team_ids)  # SMTP tried, Slack's auth.test
    target = DeliveryTarget(as_of, store, digest_workspace(config, store, team_ids, resend_to), team_ids,
                            tuple(sorted(config.team_names().items())))
    resolved = resolve_workspace(fetch_workspace(), config)
    check_team_filter(resolved, team_ids)
    overdue = build_overdue_report(
        resolved, as_of=as_of, config=config, store=store, team_ids=team_ids, source=api_source_label()
    )
    folder = deliver_digests(
        resolved, config=config, overdue=cast(OverdueFrames, overdue.frames), target=target, options=options,
        settings=settings, links=digest_links(store, as_of, team_ids, overdue, report_url),
    )
    return {"overdue": overdue.folder, "digest": folder}
