"""Small helpers shared by the flows (run names, settings that every report reads)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pike_tasks.store import ReportStore, open_store
from pike_tasks.teams_config import TeamsConfig, load_teams_config

# Flow parameter type for the teams config: a path to YAML/JSON, inline JSON, or a mapping.
TeamsConfigParam = str | dict[str, Any] | None


def run_name(report: str) -> Callable[[], str]:
    """Flow run names like ``overdue-2026-04-09`` (``-today`` when as_of is left to default)."""

    def _name() -> str:
        from prefect.runtime import flow_run

        as_of = flow_run.parameters.get("as_of") or "today"
        return f"{report}-{as_of}"

    return _name


def settings_for(as_of: date | None, teams_config: TeamsConfigParam) -> tuple[date, TeamsConfig]:
    """The teams config, and as_of defaulted to today in the config's timezone."""
    config = load_teams_config(teams_config)
    return (as_of or config.default_as_of()), config


def open_report_store(output_dir: str) -> ReportStore:
    """The report store named by ``output_dir``, checked writable before any API call (one line if not)."""
    store = open_store(output_dir, setting="output_dir")
    store.check_writable()
    return store
