"""End to end under a real Prefect API (prefect_test_harness) against the sandbox over HTTP.

The expected CSVs in tests/fixtures/small were worked out by hand from workspace.json and
REPORTS.md (as_of 2026-04-09):
- overdue: Delivery has 3 (SSO 8 days; "apple" and "Apple" 7 days, tied on priority, days and
  casefolded title, so ordered by task id), then the two one-task teams by label casefold:
  "No team" (status "blocked" is unknown, so open) before "Team 22222222" (no name in config).
- workload: Jane 2 billable of 3 = 66.7; Zoë (inactive) flagged; the invited member without a
  display name is labelled by email; the dangling assignee is "Unknown member deadbeef";
  idle active "bob idle" has a zero row; Unassigned is last.
- by customer: "No customer" collects the null customer, the project without customer and the
  dangling project; the dangling customer id is "Unknown customer".
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pike_tasks.sandbox.server import load_data_file, start_sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "small"
AS_OF = date(2026, 4, 9)


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def small_sandbox():
    server = start_sandbox(load_data_file(FIXTURE / "workspace.json"))
    yield server
    server.stop()


@pytest.fixture
def api_server(small_sandbox):
    """``api_env`` (tests/conftest.py) points at this module's sandbox."""
    return small_sandbox


def test_all_reports_match_hand_computed_csvs(prefect_harness, api_env, tmp_path):
    from flows.all_reports import run_all_reports

    folders = run_all_reports(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"))

    overdue = Path(folders["overdue"])
    workload = Path(folders["workload"])
    assert overdue == tmp_path / "overdue" / "2026-04-09"
    assert _read(overdue / "overdue.csv") == _read(FIXTURE / "overdue.csv")
    assert _read(workload / "workload.csv") == _read(FIXTURE / "workload.csv")
    assert _read(workload / "workload_by_customer.csv") == _read(FIXTURE / "workload_by_customer.csv")
    assert not (overdue / "overdue.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_outputs_escape_hostile_text_and_never_hold_the_secret(prefect_harness, api_env, tmp_path):
    from flows.all_reports import run_all_reports

    folders = run_all_reports(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"))
    html = (Path(folders["overdue"]) / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    pages = sorted(Path(folders["overdue"]).glob("*.html"))
    assert len(pages) > 1  # index.html and one page per team
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text.lower()
        assert "onerror" not in text.lower()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert api_env.secret not in path.read_text(encoding="utf-8")


def test_rerun_gives_byte_identical_csv_and_json(prefect_harness, api_env, tmp_path):
    from flows.all_reports import run_all_reports

    config = str(FIXTURE / "teams.yaml")
    first = run_all_reports(as_of=AS_OF, output_dir=str(tmp_path / "a"), teams_config=config)
    second = run_all_reports(as_of=AS_OF, output_dir=str(tmp_path / "b"), teams_config=config)
    for report in ("overdue", "workload"):
        a, b = Path(first[report]), Path(second[report])
        for name in [p.name for p in a.iterdir() if p.suffix in (".csv", ".json")]:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    summary = json.loads((Path(first["overdue"]) / "summary.json").read_text(encoding="utf-8"))
    assert summary["as_of"] == "2026-04-09"
    assert summary["totals"]["overdue_tasks"] == 5


def test_one_fetch_per_resource_with_limit_200(prefect_harness, api_env, tmp_path):
    from flows.all_reports import run_all_reports

    api_env.requests.clear()
    run_all_reports(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"))
    paths = sorted(r.path for r in api_env.requests)
    assert paths == ["/customers", "/members", "/projects", "/tasks"]
    assert all(r.query.get("limit") == "200" for r in api_env.requests)


def test_artifacts_are_published_per_report(prefect_harness, api_env, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from flows.overdue import report_overdue_tasks

    state = report_overdue_tasks(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"),
                                 return_state=True)
    assert state.is_completed(), state.message
    # this run's artifact (other tests on this worker publish overdue-report artifacts to the same API)
    mine = ArtifactFilter(key=ArtifactFilterKey(any_=["overdue-report"]),
                          flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=mine)
    assert found, "no overdue-report artifact"
    text = found[-1].data
    assert "2026\\-04\\-09" in text or "2026-04-09" in text
    assert "<script" not in text


def test_bad_secret_fails_at_once_with_a_clear_reason(prefect_harness, point_api, small_sandbox, tmp_path):
    from flows.overdue import report_overdue_tasks

    point_api(small_sandbox, "not-the-secret")
    small_sandbox.requests.clear()
    state = report_overdue_tasks(as_of=AS_OF, output_dir=str(tmp_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception) as info:
        state.result()
    assert "401" in str(info.value) or "unauthorized" in str(info.value).lower()
    assert "not-the-secret" not in str(info.value)
    # permanent errors are not retried by Prefect: one request per listing
    assert len([r for r in small_sandbox.requests if r.path == "/tasks"]) == 1


def test_missing_scope_names_the_scope(prefect_harness, point_api, tmp_path):
    from flows.overdue import report_overdue_tasks

    limited = {"limited-secret": {"tasks:read", "projects:read", "customers:read"}}
    with start_sandbox(load_data_file(FIXTURE / "workspace.json"), secrets=limited) as server:
        point_api(server, "limited-secret")
        state = report_overdue_tasks(as_of=AS_OF, output_dir=str(tmp_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception) as info:
        state.result()
    assert "members:read" in str(info.value)


def test_fetches_hold_a_slot_of_the_named_global_limit(prefect_harness, api_env, monkeypatch, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from flows.overdue import report_overdue_tasks

    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="pike-api-test", limit=1))
    monkeypatch.setenv("PIKE_API_CONCURRENCY_LIMIT", "pike-api-test")
    state = report_overdue_tasks(as_of=AS_OF, output_dir=str(tmp_path), return_state=True)
    assert state.is_completed()  # four listings through one slot, one after another
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("pike-api-test").active_slots == 0

    monkeypatch.setenv("PIKE_API_CONCURRENCY_LIMIT", "no-such-limit")
    state = report_overdue_tasks(as_of=AS_OF, output_dir=str(tmp_path), return_state=True)
    assert state.is_failed()  # a named limit that does not exist is a configuration error


def test_lone_surrogates_in_api_text_give_replacement_characters_not_a_failed_run(
        prefect_harness, sandbox_factory, point_api, tmp_path):
    from flows.all_reports import run_all_reports
    from pike_tasks.sandbox.server import ScriptedResponse

    data = load_data_file(FIXTURE / "workspace.json")
    sso, jane = data["tasks"][0], data["members"][0]  # an overdue task and its assignee
    sso.update(title="Configure \ud800SSO", description="<p>\udfff</p>")
    jane.update(displayName="Jane \ud83d Doe")
    server = sandbox_factory(data={**data, "tasks": [], "members": []})
    # JSON escapes the surrogate (a real API's bytes): ensure_ascii=True writes "\ud800"
    for resource in ("tasks", "members"):
        page = json.dumps({"items": data[resource], "nextCursor": None, "hasMore": False})
        server.enqueue(ScriptedResponse(200, page.encode("ascii"), {"Content-Type": "application/json"},
                                        path=f"/{resource}"))
    point_api(server)

    folders = run_all_reports(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"))

    overdue, workload = Path(folders["overdue"]), Path(folders["workload"])
    assert "Configure \ufffdSSO" in _read(overdue / "overdue.csv")
    assert "Jane \ufffd Doe" in _read(overdue / "overdue.csv")
    assert "Configure \ufffdSSO" in _read(overdue / "index.html")
    assert "Jane \ufffd Doe" in _read(workload / "workload.csv")
    for folder in (overdue, workload):
        quality = json.loads(_read(folder / "summary.json"))["data_quality"]
        assert quality["text_replaced"] == {"tasks": {"count": 1, "ids": [sso["id"]]},
                                            "members": {"count": 1, "ids": [jane["id"]]}}


def test_artifacts_show_paths_and_titles_as_they_are(prefect_harness, tmp_path):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from pike_tasks.prefect_tasks import ReportResult, publish_artifacts

    title = '=HYPERLINK("http://x","y")'
    folder = tmp_path / "out" / "probe" / "2026-12-01"
    result = ReportResult("probe", date(2026, 12, 1), folder, [], {"overdue_tasks": 1},
                          [{"title": title, "assignees": "Ann; <b>Bob</b>\nNext", "days_overdue": 3}])
    flow(name="publish-probe")(lambda: publish_artifacts(result))()

    with get_client(sync_client=True) as client:
        def latest(key):
            found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return found[-1].data

        markdown = latest("probe-report")
        table = latest("probe-top-rows")
    # inside a code span escapes are literal: the path must be there exactly
    assert f"`{folder}`" in markdown and "\\-" not in markdown.split("Files:")[1]
    rows = json.loads(table) if isinstance(table, str) else table
    assert rows == [{"title": title, "assignees": "Ann; <b>Bob</b> Next", "days_overdue": 3}]


def test_an_unknown_team_id_fails_naming_it_and_writes_nothing(prefect_harness, api_env, tmp_path):
    from flows.overdue import report_overdue_tasks
    from pike_tasks.errors import PikeConfigError

    state = report_overdue_tasks(as_of=AS_OF, team_ids=["no-such-team"], output_dir=str(tmp_path),
                                 teams_config=str(FIXTURE / "teams.yaml"), return_state=True)
    assert state.is_failed()
    with pytest.raises(PikeConfigError, match="unknown team id 'no-such-team'"):
        state.result()
    assert not (tmp_path / "overdue").exists() and not (tmp_path / "filtered").exists()


def test_a_team_filtered_run_never_overwrites_the_whole_workspace_report(prefect_harness, api_env, tmp_path):
    from flows.overdue import report_overdue_tasks

    config = str(FIXTURE / "teams.yaml")
    whole = Path(report_overdue_tasks(as_of=AS_OF, output_dir=str(tmp_path), teams_config=config)["overdue"])
    before = (whole / "overdue.csv").read_bytes()
    team = "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"  # Delivery in teams.yaml
    part = Path(report_overdue_tasks(as_of=AS_OF, team_ids=[team], output_dir=str(tmp_path),
                                     teams_config=config)["overdue"])
    assert part != whole and part.parents[2].name == "filtered"
    assert (whole / "overdue.csv").read_bytes() == before
    assert len((part / "overdue.csv").read_bytes()) < len(before)


@pytest.mark.parametrize("smtp_block, env, expected", [
    ("no-such-block", {}, "SMTP block 'no-such-block' could not be loaded"),
    (None, {}, "PIKE_REPORTS_SMTP_HOST is not set"),
    (None, {"PIKE_REPORTS_SMTP_HOST": "127.0.0.1", "PIKE_REPORTS_SMTP_PORT": "1", "PIKE_REPORTS_SMTP_SECURITY": "none",
            "PIKE_REPORTS_EMAIL_FROM": "r@example.com"}, "digests cannot be sent"),
])
def test_the_digest_flow_checks_smtp_before_any_api_call(prefect_harness, api_env, tmp_path, monkeypatch,
                                                         smtp_block, env, expected):
    """A missing block, no SMTP settings or a dead server: one line, and not one API request."""
    from flows.digest import send_manager_digests
    from pike_tasks.errors import PikeConfigError

    for name in ("PIKE_REPORTS_SMTP_HOST", "PIKE_REPORTS_SMTP_PORT", "PIKE_REPORTS_EMAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    api_env.requests.clear()
    state = send_manager_digests(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"),
                                 smtp_block=smtp_block, return_state=True)
    assert state.is_failed()
    with pytest.raises(PikeConfigError) as info:
        state.result()
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert api_env.requests == []


def _deployment_flow_run(flow, parameters: dict):
    """A flow run of a real deployment on the harness's Prefect API, as a worker would be handed it."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(flow)
        deployment_id = client.create_deployment(flow_id=flow_id, name="store-check",
                                                 entrypoint="flows/overdue.py:report_overdue_tasks")
        return client.create_flow_run_from_deployment(deployment_id, parameters=parameters)


@pytest.mark.parametrize("output_dir", [None, "out"])
def test_a_deployment_run_without_a_shared_store_fails_in_one_line_before_any_api_call(
        prefect_harness, api_env, monkeypatch, output_dir):
    """No PIKE_REPORTS_STORE and no output_dir (or a relative one): the run fails naming what to set."""
    from prefect.flow_engine import run_flow_sync

    from flows.overdue import report_overdue_tasks
    from pike_tasks.errors import PikeConfigError

    monkeypatch.delenv("PIKE_REPORTS_STORE", raising=False)
    parameters = {"as_of": AS_OF.isoformat(), "teams_config": str(FIXTURE / "teams.yaml")}
    if output_dir is not None:
        parameters["output_dir"] = output_dir
    flow_run = _deployment_flow_run(report_overdue_tasks, parameters)
    assert flow_run.deployment_id is not None
    api_env.requests.clear()
    state = run_flow_sync(report_overdue_tasks, flow_run=flow_run, parameters=flow_run.parameters,
                          return_type="state")
    assert state.is_failed()
    with pytest.raises(PikeConfigError) as info:
        state.result()
    message = str(info.value)
    assert "\n" not in message and "set PIKE_REPORTS_STORE" in message and "s3://bucket/prefix" in message
    assert api_env.requests == []


def test_a_deployment_run_uses_pike_reports_store_and_a_direct_call_still_defaults_to_out(
        prefect_harness, api_env, monkeypatch, tmp_path, caplog):
    from prefect.flow_engine import run_flow_sync

    from flows.overdue import report_overdue_tasks

    store = tmp_path / "shared"
    monkeypatch.setenv("PIKE_REPORTS_STORE", str(store))
    parameters = {"as_of": AS_OF.isoformat(), "teams_config": str(FIXTURE / "teams.yaml")}
    flow_run = _deployment_flow_run(report_overdue_tasks, parameters)
    with caplog.at_level("WARNING"):
        result = run_flow_sync(report_overdue_tasks, flow_run=flow_run, parameters=flow_run.parameters)
    assert result == {"overdue": str(store / "overdue" / AS_OF.isoformat())}
    assert _read(store / "overdue" / AS_OF.isoformat() / "overdue.csv") == _read(FIXTURE / "overdue.csv")
    assert "every worker must see the same folder (a shared mount)" in caplog.text  # an absolute local folder

    # called directly (no deployment) with neither setting: ./out, relative to the working directory
    monkeypatch.delenv("PIKE_REPORTS_STORE")
    monkeypatch.chdir(tmp_path)
    result = report_overdue_tasks(as_of=AS_OF, teams_config=str(FIXTURE / "teams.yaml"))
    assert result == {"overdue": str(tmp_path / "out" / "overdue" / AS_OF.isoformat())}
