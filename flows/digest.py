"""Flow: manager digests (REPORTS.md, Report 3), each sent once and only once per channel.

Recipe: fetch -> resolve -> the overdue report (stored: the page the digests link and tomorrow's
baseline) -> one ``Digest`` per manager -> one ``send-digest`` task run per recipient and channel,
a few at once. The recipe lives in ``pike_tasks.delivery`` (``recipe``: the steps; ``engine``: the
once-only protocol and concurrency; ``email``: the rendering); this module wires the parameters.
"""

from __future__ import annotations

from typing import cast

from prefect import flow

from flows.common import logged_phases, open_report_store, run_name, settings_for
from flows.params import (
    ChannelsParam,
    DigestResendToParam,
    DigestStoreParam,
    DryRunParam,
    ForceParam,
    PreviewToParam,
    ReportDateParam,
    SkipIfEmptyParam,
    SkipIfUnchangedParam,
    SmtpBlockParam,
    TeamsConfigFormParam,
    TeamsParam,
)
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
    as_of: ReportDateParam = None,
    teams_config: TeamsConfigFormParam = None,
    team_ids: TeamsParam = None,
    output_dir: DigestStoreParam = None,
    dry_run: DryRunParam = False,
    force: ForceParam = False,
    resend_to: DigestResendToParam = None,
    preview_to: PreviewToParam = None,
    skip_if_empty: SkipIfEmptyParam = False,
    skip_if_unchanged: SkipIfUnchangedParam = False,
    smtp_block: SmtpBlockParam = None,
    channels: ChannelsParam = None,
) -> dict[str, str]:
    """One digest per manager address in the teams config (by email, and as a Slack DM with
    ``channels``), one summary per team channel: their teams' overdue tasks and their members'
    workload. Each (workspace, as_of, scope, channel, recipient) digest is sent once;
    ``resend_to`` resends to those recipients only, ``force`` to everyone.

    The parameters' titles and descriptions (the Prefect UI's Custom run form) are in flows/params.py;
    an empty field means the default. The links in the digests come from the store
    (``PIKE_REPORTS_PUBLIC_URL``, else presigned URLs).
    """
    # the form's empty values: every team, no resend, no preview, the environment's SMTP settings
    team_ids, resend_to = team_ids or None, resend_to or None
    preview_to, smtp_block = (preview_to or "").strip() or None, (smtp_block or "").strip() or None
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
    with logged_phases():
        resolved = resolve_workspace(fetch_workspace(), config)
        check_team_filter(resolved, team_ids)
        overdue = build_overdue_report(
            resolved, as_of=as_of, config=config, store=store, team_ids=team_ids, source=api_source_label()
        )
        folder = deliver_digests(
            resolved, config=config, overdue=cast(OverdueFrames, overdue.frames), target=target, options=options,
            settings=settings, links=digest_links(store, as_of, team_ids, overdue),
        )
    return {"overdue": overdue.folder, "digest": folder}
