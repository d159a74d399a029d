"""Flow: billable workload per member and per customer (REPORTS.md, Report 2)."""

from __future__ import annotations

from prefect import flow

from flows.common import logged_phases, open_report_store, run_name, settings_for
from flows.params import (
    CustomersParam,
    ProjectsParam,
    ReportDateParam,
    ReportStoreParam,
    TeamsConfigFormParam,
    TeamsParam,
)
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
    as_of: ReportDateParam = None,
    team_ids: TeamsParam = None,
    project_ids: ProjectsParam = None,
    customer_ids: CustomersParam = None,
    output_dir: ReportStoreParam = None,
    teams_config: TeamsConfigFormParam = None,
) -> dict[str, str]:
    """Billable workload: open assignments per member (billable share, overdue, flags) and per customer.

    Writes workload.csv, workload_by_customer.csv, index.html and summary.json, and
    publishes artifacts.

    The parameters' titles and descriptions (the Prefect UI's Custom run form) are in flows/params.py.
    """
    # the form's empty lists: no filter
    team_ids, project_ids, customer_ids = team_ids or None, project_ids or None, customer_ids or None
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    with logged_phases():
        resolved = resolve_workspace(fetch_workspace(), config)
        check_team_filter(resolved, team_ids)
        result = build_workload_report(
            resolved, as_of=as_of, store=store, team_ids=team_ids,
            project_ids=project_ids, customer_ids=customer_ids, source=api_source_label(),
        )
        publish_artifacts(result)
    return {"workload": result.folder}
