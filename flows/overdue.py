"""Flow: overdue tasks by team (REPORTS.md, Report 1)."""

from __future__ import annotations

from prefect import flow

from flows.common import AsOfParam, OutputDirParam, TeamsConfigParam, open_report_store, run_name, settings_for
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
    as_of: AsOfParam = None,
    team_ids: list[str] | None = None,
    output_dir: OutputDirParam = None,
    teams_config: TeamsConfigParam = None,
) -> dict:
    """Overdue tasks by team: open tasks whose due date is before the as-of date.

    Writes overdue.csv, index.html and summary.json, and publishes the headline numbers
    and top rows as artifacts.

    Args:
        as_of: Report date (YYYY-MM-DD); empty means today in the teams config's timezone.
        team_ids: Only these Pike team ids; empty means every team.
        output_dir: Report store: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute path); one subfolder per report and date (e.g. overdue/2026-04-09); empty means the worker's PIKE_REPORTS_STORE.
        teams_config: Path to a teams YAML/JSON file, or inline JSON; empty uses the pike-teams-config block saved by pike-reports setup.
    """  # noqa: E501 - each Args line is one parameter's description in the Prefect UI; wrapping adds line breaks
    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    resolved = resolve_workspace(fetch_workspace(), config)
    check_team_filter(resolved, team_ids)
    result = build_overdue_report(
        resolved, as_of=as_of, config=config, store=store, team_ids=team_ids, source=api_source_label()
    )
    publish_artifacts(result)
    return {"overdue": result.folder}
