"""Small helpers shared by the flows (run names, settings that every report reads)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic.json_schema import SkipJsonSchema

from pike_tasks.errors import PikeError
from pike_tasks.store import ReportStore, keep_days_setting, open_store
from pike_tasks.teams_config import TeamsConfig, load_teams_config

# Flow parameter type for the teams config: a path to YAML/JSON, inline JSON, or a mapping.
TeamsConfigParam = str | dict[str, Any] | None

# Flow parameter type for as_of: a date, or None for "today in the config's timezone".
# SkipJsonSchema keeps None out of the form's schema only (None is still accepted): with
# `date | None` the Prefect UI draws a "date | None" switch set to None ('Property is type
# "None"'); with a plain `format: date` string it draws a date picker, and leaving it empty
# leaves as_of out of the run's parameters (the UI drops a null or cleared string field).
AsOfParam = date | SkipJsonSchema[None]


def run_name(report: str) -> Callable[[], str]:
    """Flow run names like ``overdue-2026-04-09``: the date the run reports on.

    A run left to the default as_of is named by today in its teams config's timezone, the date
    :func:`settings_for` will give it (every scheduled run used to be ``overdue-today``).
    """

    def _name() -> str:
        from prefect.runtime import flow_run

        parameters = flow_run.parameters
        return f"{report}-{parameters.get('as_of') or _default_as_of(parameters.get('teams_config'))}"

    return _name


def _default_as_of(teams_config: TeamsConfigParam) -> date:
    try:
        return load_teams_config(teams_config).default_as_of()
    except PikeError:  # the flow itself fails on this config, in one line; the name must not
        return TeamsConfig().default_as_of()


def settings_for(as_of: date | None, teams_config: TeamsConfigParam) -> tuple[date, TeamsConfig]:
    """The teams config, and as_of defaulted to today in the config's timezone."""
    config = load_teams_config(teams_config)
    return (as_of or config.default_as_of()), config


def open_report_store(output_dir: str) -> ReportStore:
    """The report store named by ``output_dir``, checked writable before any API call (one line if not).

    ``PIKE_REPORTS_KEEP_DAYS`` is checked here too, so a bad value fails before any API call.
    """
    keep_days_setting()
    store = open_store(output_dir, setting="output_dir")
    store.check_writable()
    return store
