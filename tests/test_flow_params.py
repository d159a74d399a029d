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


# Every flow's form (issue 23, item 7), the digest flow's included.
REPORT_FLOWS = [report_overdue_tasks, report_billable_workload, run_all_reports, send_manager_digests]
TITLES = {
    "as_of": "Report date", "team_ids": "Teams", "project_ids": "Projects", "customer_ids": "Customers",
    "output_dir": "Report store", "teams_config": "Teams config", "digests": "Manager digests",
    "force_digests": "Send the digests again", "resend_to": "Resend to", "channels": "Digest channels",
    # the digest flow's own
    "dry_run": "Dry run", "force": "Send again to everyone", "preview_to": "Preview to",
    "skip_if_empty": "Skip if nothing is overdue", "skip_if_unchanged": "Skip if nothing changed",
    "smtp_block": "SMTP credentials block",
}


def test_the_digest_form_has_no_report_url_its_links_come_from_the_store():
    """report_url only replaced the overview's link (the team pages, the CSV and the workload report
    still came from the store): PIKE_REPORTS_PUBLIC_URL sets them all, and the form says so."""
    props = _properties(send_manager_digests)
    assert "report_url" not in props
    assert "PIKE_REPORTS_PUBLIC_URL" in props["output_dir"]["description"]
    for name in ("preview_to", "smtp_block", "resend_to", "team_ids", "teams_config"):
        assert props[name]["type"] in ("string", "array") and "empty" in props[name]["description"].lower(), name


def _null_branches(schema) -> list:
    """Every ``anyOf``/``oneOf`` anywhere in ``schema`` that offers null: the form's type switch."""
    found = []
    if isinstance(schema, dict):
        for key in ("anyOf", "oneOf"):
            if any(isinstance(b, dict) and b.get("type") == "null" for b in schema.get(key, [])):
                found.append(schema)
        for value in schema.values():
            found += _null_branches(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _null_branches(value)
    return found


@pytest.mark.parametrize("flow", REPORT_FLOWS, ids=lambda f: f.name)
def test_no_parameter_offers_a_none_switch_and_none_is_required(flow):
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(flow.fn).model_dump()
    assert _null_branches(schema) == []
    for prop in schema["properties"].values():
        assert "anyOf" not in prop and "oneOf" not in prop and prop["type"] != "null", prop
    assert schema["required"] == []  # an empty form runs with the defaults
    assert _properties(flow)["teams_config"]["type"] == "string"  # a path or inline JSON, no "dict" switch


def test_the_forms_types_still_accept_what_python_callers_pass():
    from pydantic import TypeAdapter

    from flows.params import ReportStoreParam, TeamsConfigFormParam, TeamsParam

    assert TypeAdapter(TeamsConfigFormParam).validate_python({"teams": {}}) == {"teams": {}}
    assert TypeAdapter(TeamsConfigFormParam).validate_python(None) is None
    assert TypeAdapter(TeamsParam).validate_python(None) is None
    assert TypeAdapter(TeamsParam).validate_python(["a"]) == ["a"]
    assert TypeAdapter(ReportStoreParam).validate_python(None) is None


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


# --- output_dir: the report store, and where a deployment run may keep it --------------------


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_output_dir_is_an_optional_text_field_whose_empty_value_means_pike_reports_store(flow):
    from prefect.utilities.callables import parameter_schema

    output_dir = _properties(flow)["output_dir"]
    assert "anyOf" not in output_dir and output_dir["type"] == "string"  # a text field, no "str | None" switch
    assert output_dir.get("default") is None  # no worker-local "out" behind the user's back
    assert "empty means the worker's PIKE_REPORTS_STORE" in output_dir["description"]
    assert "output_dir" not in parameter_schema(flow.fn).model_dump()["required"]


SHARED = "a deployment run needs a report store that every worker reaches"


@pytest.mark.parametrize("output_dir, env, expected", [
    (None, {}, ("out", "the default")),  # `make demo`, tests, a flow called directly
    ("", {}, ("out", "the default")),
    ("reports", {}, ("reports", "output_dir")),
    (None, {"PIKE_REPORTS_STORE": "rel/store"}, ("rel/store", "PIKE_REPORTS_STORE")),
    ("/srv/reports", {"PIKE_REPORTS_STORE": "s3://b/p"}, ("/srv/reports", "output_dir")),  # the parameter wins
    (None, {"PIKE_REPORTS_STORE": " s3://b/p "}, ("s3://b/p", "PIKE_REPORTS_STORE")),
])
def test_outside_a_deployment_the_store_is_output_dir_then_the_variable_then_out(output_dir, env, expected):
    from flows.common import choose_store

    choice = choose_store(output_dir, in_deployment=False, env=env)
    assert (choice.location, choice.setting) == expected and not choice.worker_local


@pytest.mark.parametrize("output_dir, env, expected", [
    ("s3://acme/pike", {}, ("s3://acme/pike", "output_dir", False)),
    (None, {"PIKE_REPORTS_STORE": "gs://acme/pike"}, ("gs://acme/pike", "PIKE_REPORTS_STORE", False)),
    ("", {"PIKE_REPORTS_STORE": "az://acme/pike"}, ("az://acme/pike", "PIKE_REPORTS_STORE", False)),
    ("s3://acme/pike", {"PIKE_REPORTS_STORE": "out"}, ("s3://acme/pike", "output_dir", False)),
    # an absolute folder may be a shared mount: allowed, flagged so the run warns that it must be shared
    ("/mnt/share/pike", {}, ("/mnt/share/pike", "output_dir", True)),
    (None, {"PIKE_REPORTS_STORE": "/mnt/share/pike"}, ("/mnt/share/pike", "PIKE_REPORTS_STORE", True)),
    ("file:///mnt/share/pike", {}, ("file:///mnt/share/pike", "output_dir", True)),
])
def test_a_deployment_run_takes_a_url_or_an_absolute_folder(output_dir, env, expected):
    from flows.common import choose_store

    choice = choose_store(output_dir, in_deployment=True, env=env)
    assert (choice.location, choice.setting, choice.worker_local) == expected


@pytest.mark.parametrize("output_dir, env, named", [
    (None, {}, "none is set"),
    ("", {"PIKE_REPORTS_STORE": "  "}, "none is set"),
    ("out", {}, "output_dir 'out' is a folder relative to this worker"),
    ("./reports", {"PIKE_REPORTS_STORE": "s3://b/p"}, "output_dir './reports' is a folder relative to this worker"),
    (None, {"PIKE_REPORTS_STORE": "out"}, "PIKE_REPORTS_STORE 'out' is a folder relative to this worker"),
    ("memory://pike", {}, "output_dir 'memory://pike' is an in-memory store"),
])
def test_a_deployment_run_refuses_no_store_or_a_worker_local_one_in_one_line(output_dir, env, named):
    from flows.common import choose_store
    from pike_tasks.errors import PikeConfigError

    with pytest.raises(PikeConfigError) as info:
        choose_store(output_dir, in_deployment=True, env=env)
    message = str(info.value)
    assert message.startswith(SHARED) and named in message and "\n" not in message
    # it says what to set, and to what
    assert "set PIKE_REPORTS_STORE" in message and "output_dir parameter" in message
    assert "s3://bucket/prefix" in message and "absolute path" in message


def test_without_a_run_context_it_is_not_a_deployment_run():
    from flows.common import in_deployment_run

    assert in_deployment_run() is False
