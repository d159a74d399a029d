"""Flow: billable workload per member and per customer (REPORTS.md, Report 2)."""

from __future__ import annotations

from prefect import flow

from flows.common import AsOfParam, OutputDirParam, TeamsConfigParam, open_report_store, run_name, settings_for
from pike_tasks.prefect_tasks import (
    api_source_label,
    build_workload_report,
    check_team_filter,
    fetch_workspace,
    publish_artifacts,
    resolve_workspace,
)


@flow(name="report-billable-workload", flow_run_name=run_name("workload"), validate_parameters=True)
def report_billable_workload(
    as_of: AsOfParam = None,
    team_ids: list[str] | None = None,
    project_ids: list[str] | None = None,
    customer_ids: list[str] | None = None,
    output_dir: OutputDirParam = None,
    teams_config: TeamsConfigParam = None,
) -> dict:
    """Billable workload: open assignments per member (billable share, overdue, flags) and per customer.

    Writes workload.csv, workload_by_customer.csv, index.html and summary.json, and
    publishes artifacts.

    Args:
        as_of: Report date (YYYY-MM-DD); empty means today in the teams config's timezone.
        team_ids: Only tasks of these Pike team ids; empty means every team.
        project_ids: Only tasks of these Pike project ids; empty means every project.
        customer_ids: Only tasks of these Pike customer ids; empty means every customer.
        output_dir: Report store: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute path); one subfolder per report and date (e.g. workload/2026-04-09); empty means the worker's PIKE_REPORTS_STORE.
        teams_config: Path to a teams YAML/JSON file, or inline JSON; empty uses the pike-teams-config block saved by pike-reports setup.
    """  # noqa: E501 - each Args line is one parameter's description in the Prefect UI; wrapping adds line breaks
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    resolved = resolve_workspace(fetch_workspace(), config)
    check_team_filter(resolved, team_ids)
    result = build_workload_report(
        resolved, as_of=as_of, store=store, team_ids=team_ids,
        project_ids=project_ids, customer_ids=customer_ids, source=api_source_label(),
    )
    publish_artifacts(result)
    return {"workload": result.folder}
