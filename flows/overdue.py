"""Flow: overdue tasks by team (REPORTS.md, Report 1)."""

from __future__ import annotations

from prefect import flow

from flows.common import logged_phases, open_report_store, run_name, settings_for
from flows.params import ReportDateParam, ReportStoreParam, TeamsConfigFormParam, TeamsParam
from pike_tasks.prefect_tasks import (
    api_source_label,
    build_overdue_report,
    check_team_filter,
    fetch_workspace,
    publish_artifacts,
    resolve_workspace,
)


@flow(name="report-overdue-tasks", flow_run_name=run_name("overdue"), validate_parameters=True)
def report_overdue_tasks(
    as_of: ReportDateParam = None,
    team_ids: TeamsParam = None,
    output_dir: ReportStoreParam = None,
    teams_config: TeamsConfigFormParam = None,
) -> dict[str, str]:
    """Overdue tasks by team: open tasks whose due date is before the as-of date.

    Writes overdue.csv, index.html and summary.json, and publishes the headline numbers
    and top rows as artifacts.

    The parameters' titles and descriptions (the Prefect UI's Custom run form) are in flows/params.py.
    """
    team_ids = team_ids or None  # the form's empty list: every team
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    with logged_phases():
        resolved = resolve_workspace(fetch_workspace(), config)
        check_team_filter(resolved, team_ids)
        result = build_overdue_report(
            resolved, as_of=as_of, config=config, store=store, team_ids=team_ids, source=api_source_label()
        )
        publish_artifacts(result)
    return {"overdue": result.folder}
