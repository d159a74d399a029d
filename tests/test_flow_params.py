"""What the Prefect UI shows for the flows: the Custom run form (parameter schema) and run names."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from flows.all_reports import run_all_reports
from flows.common import AsOfParam, TeamsConfigParam, run_name
from flows.digest import send_manager_digests
from flows.overdue import report_overdue_tasks
from flows.workload import report_billable_workload

FLOWS = [report_overdue_tasks, report_billable_workload, run_all_reports, send_manager_digests]


def _properties(flow) -> dict:
    from prefect.utilities.callables import parameter_schema

    return parameter_schema(flow.fn).model_dump()["properties"]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_no_description_holds_angle_brackets_the_ui_would_eat_as_html(flow):
    # "(<folder>/<report>/<as_of>/)" was shown as "(///)"
    eaten = {name: prop["description"] for name, prop in _properties(flow).items() if "<" in prop["description"]}
    assert not eaten


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_as_of_is_a_date_picker_whose_empty_value_means_today(flow):
    as_of = _properties(flow)["as_of"]
    # no anyOf: with a null branch the UI shows a "date | None" switch set to None
    assert "anyOf" not in as_of
    assert (as_of["type"], as_of["format"]) == ("string", "date")
    assert "empty means today" in as_of["description"]
    from prefect.utilities.callables import parameter_schema

    assert "as_of" not in parameter_schema(flow.fn).model_dump()["required"]  # may stay empty


def test_as_of_still_accepts_none_and_text_dates():
    from pydantic import TypeAdapter

    adapter = TypeAdapter(AsOfParam)
    assert adapter.validate_python(None) is None
    assert adapter.validate_python("2026-04-09") == date(2026, 4, 9)


def _today(tz: str) -> str:
    return datetime.now(ZoneInfo(tz)).date().isoformat()


def test_run_names_say_the_date_reported_on_in_the_configs_timezone(prefect_harness):
    from prefect import flow
    from prefect.runtime import flow_run

    @flow(flow_run_name=run_name("probe"))
    def probe(as_of: AsOfParam = None, teams_config: TeamsConfigParam = None) -> str:
        return flow_run.get_name()

    assert probe(as_of=date(2026, 4, 9)) == "probe-2026-04-09"
    # UTC+14 and UTC-12: at any hour, at least one of them is not on UTC's date
    for tz in ("Pacific/Kiritimati", "Etc/GMT+12"):
        before = _today(tz)
        name = probe(teams_config=json.dumps({"timezone": tz}))
        assert name in {f"probe-{before}", f"probe-{_today(tz)}"}  # allow a midnight in between
    before = _today("UTC")
    # a bad config still gets a name (UTC's today); the flow itself then fails on it, in one line
    assert probe(teams_config='{"timezone": "Mars/Olympus"}') in {f"probe-{before}", f"probe-{_today('UTC')}"}
