"""Flow: every report from one fetch, in one flow run (what `pike-reports run all` and the demo run)."""

from __future__ import annotations

from typing import cast

from prefect import flow

from flows.common import logged_phases, open_report_store, run_name, settings_for
from flows.params import (
    ChannelsParam,
    DigestsParam,
    ForceDigestsParam,
    ReportDateParam,
    ReportStoreParam,
    ResendToParam,
    TeamsConfigFormParam,
    TeamsParam,
)
from pike_tasks import phases
from pike_tasks.delivery.engine import DeliveryTarget
from pike_tasks.delivery.options import DeliveryOptions, parse_channels
from pike_tasks.delivery.recipe import channel_settings, deliver_digests, digest_links, digest_workspace
from pike_tasks.prefect_tasks import (
    OverdueFrames,
    api_source_label,
    build_overdue_report,
    build_workload_report,
    check_team_filter,
    fetch_workspace,
    publish_artifacts,
    resolve_workspace,
)


@flow(name="run-all-reports", flow_run_name=run_name("all"), validate_parameters=True)
def run_all_reports(
    as_of: ReportDateParam = None,
    team_ids: TeamsParam = None,
    output_dir: ReportStoreParam = None,
    teams_config: TeamsConfigFormParam = None,
    digests: DigestsParam = "off",
    force_digests: ForceDigestsParam = False,
    resend_to: ResendToParam = None,
    channels: ChannelsParam = None,
) -> dict[str, str]:
    """Overdue and workload reports (and optionally the manager digests) sharing one fetch.

    The parameters' titles and descriptions (the Prefect UI's Custom run form) are in flows/params.py.
    """
    team_ids, resend_to = team_ids or None, resend_to or None  # the form's empty lists: every team, nobody
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    options = DeliveryOptions(dry_run=digests == "dry-run", force=force_digests,
                              resend_to=tuple(resend_to) if resend_to is not None else None,
                              channels=parse_channels(channels))
    settings = channel_settings(config, options, None, team_ids) if digests != "off" else None
    workspace = digest_workspace(config, store, team_ids, resend_to) if digests != "off" else ""
    with logged_phases():
        resolved = resolve_workspace(fetch_workspace(), config)
        check_team_filter(resolved, team_ids)
        source = api_source_label()
        overdue = build_overdue_report(resolved, as_of=as_of, config=config, store=store, team_ids=team_ids,
                                       source=source)
        workload = build_workload_report(resolved, as_of=as_of, store=store, team_ids=team_ids, source=source)
        with phases.phase("artifacts"):
            for result in (overdue, workload):
                publish_artifacts(result)
        folders = {"overdue": overdue.folder, "workload": workload.folder}
        if settings is not None:
            with phases.phase("digests"):
                folders["digest"] = deliver_digests(
                    resolved, config=config,
                    overdue=cast(OverdueFrames, overdue.frames),  # the overdue report always carries its frames
                    target=DeliveryTarget(as_of, store, workspace, team_ids), options=options, settings=settings,
                    links=digest_links(store, as_of, team_ids, overdue, workload=workload),
                )
    return folders
