"""Flow: billable workload per member and per customer (REPORTS.md, Report 2)."""

from __future__ import annotations

from datetime import date

from prefect import flow
from pydantic import Field
from typing_extensions import Annotated

from flows.common import TeamsConfigParam, run_name, settings_for
from pike_tasks.prefect_tasks import (
    api_source_label,
    build_workload_report,
    fetch_workspace,
    publish_artifacts,
    resolve_workspace,
)


@flow(name="report-billable-workload", flow_run_name=run_name("workload"), validate_parameters=True)
def report_billable_workload(
    as_of: Annotated[date | None, Field(title="As of", description="Report date; empty means today in the configured timezone.")] = None,
    team_ids: Annotated[list[str] | None, Field(title="Teams", description="Only tasks of these Pike team ids.")] = None,
    project_ids: Annotated[list[str] | None, Field(title="Projects", description="Only tasks of these project ids.")] = None,
    customer_ids: Annotated[list[str] | None, Field(title="Customers", description="Only tasks of these customer ids.")] = None,
    output_dir: Annotated[str, Field(title="Output folder", description="Reports go to <folder>/workload/<as_of>/.")] = "out",
    teams_config: Annotated[TeamsConfigParam, Field(title="Teams config", description="Path to a teams YAML, inline JSON, or empty to use the pike-teams-config Variable.")] = None,
) -> dict:
    """Billable workload: open assignments per member (billable share, overdue, flags) and per customer.

    Writes workload.csv, workload_by_customer.csv, index.html and summary.json, and
    publishes artifacts.

    Args:
        as_of: Report date (YYYY-MM-DD); empty means today in the teams config's timezone.
        team_ids: Only tasks of these Pike team ids; empty means every team.
        project_ids: Only tasks of these Pike project ids; empty means every project.
        customer_ids: Only tasks of these Pike customer ids; empty means every customer.
        output_dir: Folder the reports are written to (<folder>/<report>/<as_of>/); relative paths are relative to the worker's checkout.
        teams_config: Path to a teams YAML/JSON file, or inline JSON; empty uses the pike-teams-config Prefect Variable.
    """
    as_of, config = settings_for(as_of, teams_config)
    resolved = resolve_workspace(fetch_workspace(), config)
    result = build_workload_report(
        resolved, as_of=as_of, output_dir=output_dir, team_ids=team_ids,
        project_ids=project_ids, customer_ids=customer_ids, source=api_source_label(),
    )
    publish_artifacts(result)
    return {"workload": str(result.folder)}
