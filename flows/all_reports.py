"""Flow: every report from one fetch, in one flow run (what `pike-reports run all` and the demo run)."""

from __future__ import annotations

from typing import Literal, cast

from prefect import flow

from flows.common import AsOfParam, OutputDirParam, TeamsConfigParam, open_report_store, run_name, settings_for
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
    as_of: AsOfParam = None,
    team_ids: list[str] | None = None,
    output_dir: OutputDirParam = None,
    teams_config: TeamsConfigParam = None,
    digests: Literal["off", "dry-run", "send"] = "off",
    force_digests: bool = False,
    resend_to: list[str] | None = None,
    channels: list[Literal["email", "slack", "teams"]] | None = None,
) -> dict:
    """Overdue and workload reports (and optionally the manager digests) sharing one fetch.

    Args:
        as_of: Report date (YYYY-MM-DD); empty means today in the teams config's timezone.
        team_ids: Only these Pike team ids; empty means every team.
        output_dir: Report store: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute path); one subfolder per report and date (e.g. overdue/2026-04-09); empty means the worker's PIKE_REPORTS_STORE.
        teams_config: Path to a teams YAML/JSON file, or inline JSON; empty uses the pike-teams-config block saved by pike-reports setup.
        digests: off: reports only; dry-run: also write each digest as an .eml file; send: also email them (once per as_of and recipient).
        force_digests: With digests=send: send every digest again even if already sent for this as_of (resend_to with every recipient).
        resend_to: With digests=send: send only to these manager addresses, whatever their record says; everyone else is left alone.
        channels: Where digests go: email, slack (DMs and team channels, per the teams config), teams (team channels); empty means email.
    """  # noqa: E501 - each Args line is one parameter's description in the Prefect UI; wrapping adds line breaks
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    options = DeliveryOptions(dry_run=digests == "dry-run", force=force_digests,
                              resend_to=tuple(resend_to) if resend_to is not None else None,
                              channels=parse_channels(channels))
    settings = channel_settings(config, options, None, team_ids) if digests != "off" else None
    workspace = digest_workspace(config, store, team_ids, resend_to) if digests != "off" else ""
    resolved = resolve_workspace(fetch_workspace(), config)
    check_team_filter(resolved, team_ids)
    source = api_source_label()
    overdue = build_overdue_report(resolved, as_of=as_of, config=config, store=store, team_ids=team_ids, source=source)
    workload = build_workload_report(resolved, as_of=as_of, store=store, team_ids=team_ids, source=source)
    for result in (overdue, workload):
        publish_artifacts(result)
    folders = {"overdue": overdue.folder, "workload": workload.folder}
    if settings is not None:
        folders["digest"] = deliver_digests(
            resolved, config=config,
            overdue=cast(OverdueFrames, overdue.frames),  # the overdue report always carries its frames
            target=DeliveryTarget(as_of, store, workspace, team_ids), options=options, settings=settings,
            links=digest_links(store, as_of, team_ids, overdue),
        )
    return folders
