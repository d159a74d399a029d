"""The sandbox behaves like the documented Pike Open API, over real HTTP."""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from processes import poll_until

from pike_tasks.sandbox import (
    DEMO_TEAMS,
    FaultConfig,
    ScriptedResponse,
    generate_workspace,
    load_data_file,
    workspace_teams,
)
from pike_tasks.sandbox.data import UNKNOWN_TEAM_ID

REPO = Path(__file__).resolve().parents[1]
RESOURCES = ["projects", "tasks", "customers", "members"]
AUTH = {"Authorization": "Bearer sandbox-secret"}


@pytest.fixture(scope="module")
def web():
    with requests.Session() as session:
        yield session


def get(web, server, path, params=None, secret="sandbox-secret"):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return web.get(server.url + path, params=params, headers=headers, timeout=10)


def fetch_all(web, server, resource, params=None):
    """Every item of a listing following nextCursor; returns (items, pages)."""
    items, pages, cursor = [], 0, None
    while True:
        query = dict(params or {}, **({"cursor": cursor} if cursor else {}))
        body = get(web, server, f"/{resource}", query).json()
        items += body["items"]
        pages += 1
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            return items, pages
        cursor = body["nextCursor"]
        assert pages < 1000


def assert_error(response, status, code):
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"code", "message", "requestId"}
    assert error["code"] == code
    assert uuid.UUID(error["requestId"]).version == 4
    assert response.headers["X-Request-Id"] == error["requestId"]
    return error


# -- envelope and paging -----------------------------------------------------------------

def test_list_envelope_has_exactly_the_documented_keys_and_default_limit_50(web, sandbox):
    body = get(web, sandbox, "/tasks").json()
    assert set(body) == {"items", "nextCursor", "hasMore"}
    assert len(body["items"]) == 50 and body["hasMore"] is True and body["nextCursor"]
    assert body["items"] == sandbox.data["tasks"][:50]


@pytest.mark.parametrize("limit", [200, None])
@pytest.mark.parametrize("resource", RESOURCES)
def test_paging_reaches_every_record_exactly_once_in_order(web, sandbox, resource, limit):
    items, pages = fetch_all(web, sandbox, resource, {"limit": limit} if limit else None)
    expected = [r["id"] for r in sandbox.data[resource]]
    assert [r["id"] for r in items] == expected
    assert pages == max(1, math.ceil(len(expected) / (limit or 50)))


def test_project_list_items_omit_phases_but_retrieve_includes_them(web, sandbox):
    listed = get(web, sandbox, "/projects", {"limit": 1}).json()["items"][0]
    single = get(web, sandbox, f"/projects/{listed['id']}").json()
    assert "phases" not in listed and "phases" in single
    assert {k: v for k, v in single.items() if k != "phases"} == listed


@pytest.mark.parametrize("resource", RESOURCES)
def test_retrieve_by_id_returns_the_record_and_404_when_missing(web, sandbox, resource):
    record = sandbox.data[resource][7]
    assert get(web, sandbox, f"/{resource}/{record['id']}").json() == record
    assert_error(get(web, sandbox, f"/{resource}/{uuid.uuid4()}"), 404, "not_found")


def test_empty_listing_is_one_final_page(web, sandbox):
    body = get(web, sandbox, "/tasks", {"projectId": "no-such-project"}).json()
    assert body == {"items": [], "nextCursor": None, "hasMore": False}


# -- filters -------------------------------------------------------------------------------

def _first(records, key):
    return next(r[key] for r in records if r[key])


FILTER_CASES = [
    ("projects", "status", lambda d: _first(d["projects"], "status")),
    ("projects", "teamId", lambda d: next(iter(DEMO_TEAMS))),
    ("tasks", "projectId", lambda d: _first(d["tasks"], "projectId")),
    ("tasks", "status", lambda d: "inProgress"),
    ("tasks", "status", lambda d: "blocked"),
    ("tasks", "teamId", lambda d: next(iter(DEMO_TEAMS))),
    ("members", "status", lambda d: "inactive"),
    ("members", "status", lambda d: "invited"),
]


@pytest.mark.parametrize(("resource", "key", "value_of"), FILTER_CASES)
def test_exact_filters_return_all_and_only_matching_records(web, sandbox, resource, key, value_of):
    value = value_of(sandbox.data)
    items, _ = fetch_all(web, sandbox, resource, {key: value, "limit": 7})
    expected = [r["id"] for r in sandbox.data[resource] if r[key] == value]
    assert expected and [r["id"] for r in items] == expected


def test_task_team_filter_uses_the_tasks_own_team_not_the_projects(web, sandbox):
    team = next(iter(DEMO_TEAMS))
    items, _ = fetch_all(web, sandbox, "tasks", {"teamId": team, "limit": 200})
    assert all(t["teamId"] == team for t in items)
    projects = {p["id"]: p for p in sandbox.data["projects"]}
    fallback_only = [t for t in sandbox.data["tasks"]
                     if t["teamId"] is None and projects.get(t["projectId"], {}).get("teamId") == team]
    assert fallback_only and not {t["id"] for t in fallback_only} & {t["id"] for t in items}


def test_filters_combine(web, sandbox):
    team = next(iter(DEMO_TEAMS))
    items, _ = fetch_all(web, sandbox, "tasks", {"teamId": team, "status": "toDo", "limit": 200})
    expected = [t["id"] for t in sandbox.data["tasks"] if t["teamId"] == team and t["status"] == "toDo"]
    assert expected and [t["id"] for t in items] == expected


@pytest.mark.parametrize(("q", "expected_name"), [("acme", "Acme Corporation"), ("ØRESUND", "Café Øresund ApS"),
                                                  ("c-10401", "Globex Nordic A/S")])
def test_customer_search_matches_name_or_number_case_insensitively(web, sandbox, q, expected_name):
    items, _ = fetch_all(web, sandbox, "customers", {"q": q})
    assert [c["customerName"] for c in items] == [expected_name]


def test_member_status_must_be_a_documented_value(web, sandbox):
    assert_error(get(web, sandbox, "/members", {"status": "deleted"}), 400, "invalid_request")


# -- limit and cursor validation -------------------------------------------------------------

@pytest.mark.parametrize("limit", ["0", "-1", "201", "abc", "1.5", ""])
def test_limit_out_of_bounds_or_not_an_integer_is_invalid(web, sandbox, limit):
    assert_error(get(web, sandbox, "/tasks", {"limit": limit}), 400, "invalid_request")


@pytest.mark.parametrize("limit", [1, 200])
def test_limit_bounds_are_inclusive(web, sandbox, limit):
    assert len(get(web, sandbox, "/tasks", {"limit": limit}).json()["items"]) == limit


def _tamper(cursor: str) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["o"] = 0
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_undecodable_tampered_or_foreign_cursors_are_invalid(web, sandbox):
    cursor = get(web, sandbox, "/tasks", {"limit": 10}).json()["nextCursor"]
    assert get(web, sandbox, "/tasks", {"limit": 10, "cursor": cursor}).status_code == 200
    assert_error(get(web, sandbox, "/tasks", {"cursor": "not a cursor!"}), 400, "invalid_request")
    assert_error(get(web, sandbox, "/tasks", {"cursor": _tamper(cursor)}), 400, "invalid_request")
    assert_error(get(web, sandbox, "/tasks", {"cursor": cursor, "status": "done"}), 400, "invalid_request")
    assert_error(get(web, sandbox, "/projects", {"cursor": cursor}), 400, "invalid_request")


def test_a_cursor_may_be_followed_with_a_different_limit(web, sandbox):
    cursor = get(web, sandbox, "/tasks", {"limit": 10}).json()["nextCursor"]
    items = get(web, sandbox, "/tasks", {"limit": 5, "cursor": cursor}).json()["items"]
    assert items == sandbox.data["tasks"][10:15]


# -- auth, routes, methods -------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sandbox-secret"},
                                     {"Authorization": "Basic sandbox-secret"}])
def test_missing_or_unknown_secret_is_401_with_a_fresh_request_id(web, sandbox, headers):
    first = assert_error(web.get(sandbox.url + "/tasks", headers=headers), 401, "unauthorized")
    second = assert_error(web.get(sandbox.url + "/tasks", headers=headers), 401, "unauthorized")
    assert first["requestId"] != second["requestId"]


def test_a_secret_without_the_scope_gets_403_naming_the_scope(web, sandbox_factory):
    server = sandbox_factory({"projects": [], "tasks": []}, secrets={"limited": {"projects:read"}})
    assert get(web, server, "/projects", secret="limited").status_code == 200
    error = assert_error(get(web, server, "/tasks", secret="limited"), 403, "forbidden")
    assert error["message"] == "Insufficient scope for this resource: requires tasks:read."
    assert server.secret == "limited"


@pytest.mark.parametrize("path", ["/v1/tasks", "/v1/projects/x", "/tasks/a/b", "/teams", "/", "/tasks/"])
def test_undocumented_routes_are_404(web, sandbox, path):
    assert_error(get(web, sandbox, path), 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(web, sandbox, method):
    response = web.request(method, sandbox.url + "/tasks", headers=AUTH, json={"title": "x"})
    assert_error(response, 405, "invalid_request")
    assert response.headers["Allow"] == "GET"


def test_keep_alive_serves_many_requests_on_one_connection(sandbox):
    parts = urlsplit(sandbox.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/members?limit=2", headers=AUTH)
            response = conn.getresponse()
            assert response.status == 200 and len(json.loads(response.read())["items"]) == 2
            assert response.getheader("Connection") != "close"
    finally:
        conn.close()


def test_request_log_records_each_request(web, sandbox):
    get(web, sandbox, "/tasks", {"limit": 3, "status": "done"})
    get(web, sandbox, "/tasks", secret=None)
    assert [(r.method, r.path, r.query, r.status, r.authorized) for r in sandbox.requests] == [
        ("GET", "/tasks", {"limit": "3", "status": "done"}, 200, True),
        ("GET", "/tasks", {}, 401, False),
    ]


# -- faults ------------------------------------------------------------------------------------

def _statuses(web, server, n, path="/members"):
    out = []
    for _ in range(n):
        try:
            out.append(web.get(server.url + path, params={"limit": 1}, headers=AUTH, timeout=5))
        except requests.ConnectionError:
            out.append(None)
    return out


def test_injected_429s_come_at_the_configured_rate_with_retry_after(web, sandbox):
    sandbox.faults = FaultConfig(p429=0.3, retry_after="2", seed=1)
    responses = _statuses(web, sandbox, 300)
    limited = [r for r in responses if r.status_code == 429]
    assert 0.2 < len(limited) / 300 < 0.4
    assert all(r.headers["Retry-After"] == "2" for r in limited)
    assert_error(limited[0], 429, "rate_limited")
    assert {r.status_code for r in responses} == {200, 429}


def test_injected_5xx_mix_json_errors_and_an_html_502(web, sandbox):
    sandbox.faults = FaultConfig(p5xx=0.5, seed=2)
    responses = _statuses(web, sandbox, 200)
    failed = [r for r in responses if r.status_code >= 500]
    assert 0.38 < len(failed) / 200 < 0.62
    assert {r.status_code for r in failed} == {500, 502, 503}
    bad_gateway = next(r for r in failed if r.status_code == 502)
    assert bad_gateway.headers["Content-Type"] == "text/html"
    assert "502 Bad Gateway" in bad_gateway.text
    assert_error(next(r for r in failed if r.status_code == 500), 500, "internal_error")


def test_dropped_connections_close_without_a_response(web, sandbox):
    sandbox.faults = FaultConfig(pdrop=0.2, seed=3)
    responses = _statuses(web, sandbox, 200)
    dropped = responses.count(None)
    assert 0.1 < dropped / 200 < 0.3
    assert [r.status for r in sandbox.requests].count(None) == dropped
    assert all(r.status_code == 200 for r in responses if r is not None)


def test_fault_decisions_are_reproducible_from_the_seed(web, sandbox):
    runs = []
    for _ in range(2):
        sandbox.faults = FaultConfig(p429=0.3, p5xx=0.2, seed=7)
        runs.append([r.status_code for r in _statuses(web, sandbox, 40)])
    assert runs[0] == runs[1]


def test_latency_is_added_to_each_request(web, sandbox):
    sandbox.faults.latency_ms = 60
    responses = _statuses(web, sandbox, 3)
    assert [r.status_code for r in responses] == [200] * 3
    # each answer's own time, as the client measured it (request sent to headers read)
    assert all(r.elapsed.total_seconds() >= 0.06 for r in responses), [r.elapsed for r in responses]


def test_faults_apply_only_after_authorisation(web, sandbox):
    sandbox.faults = FaultConfig(p429=1.0)
    assert get(web, sandbox, "/tasks", secret="wrong").status_code == 401
    assert get(web, sandbox, "/tasks").status_code == 429


def test_token_bucket_rate_can_change_while_serving(web, sandbox_factory):
    server = sandbox_factory({"members": []}, faults=FaultConfig(rate=0.5, burst=1))
    assert [get(web, server, "/members").status_code for _ in range(2)] == [200, 429]
    server.faults.rate, server.faults.burst = 1000, 1000  # the workspace's limit rises mid-run
    # the bucket refills at the new rate from now on (up to the new burst): the next token comes
    # within a millisecond or so, well before the 2 s the old rate would take
    poll_until(lambda: get(web, server, "/members").status_code == 200, timeout=1.0, interval=0.005,
               message="no request accepted at the new rate")
    # the refill itself is what is tested: 20 ms at 1,000/s is 20 tokens, enough for the 5 below
    # however fast they come (without it, back-to-back requests under 1 ms apart could find it empty)
    time.sleep(0.02)
    assert {get(web, server, "/members").status_code for _ in range(5)} == {200}


def test_warm_encodes_every_record_up_front(web, sandbox_factory):
    data = generate_workspace(tasks=30, projects=3, members=4, customers=2)
    server = sandbox_factory(data)
    server.warm()
    # after warm() no record is encoded again: a record that could no longer be encoded still
    # lists as it was when warm() ran
    for collection in server.collections.values():
        for record in collection.records:
            record["unencodable"] = object()
    for resource, records in data.items():
        listed, _ = fetch_all(web, server, resource, {"limit": 100})
        assert [item["id"] for item in listed] == [r["id"] for r in records]
        assert not any("unencodable" in item for item in listed)


def test_token_bucket_limits_each_secret_separately(web, sandbox_factory):
    server = sandbox_factory({"members": []}, secrets={"a": {"members:read"}, "b": {"members:read"}},
                             faults=FaultConfig(rate=0.5, burst=3))
    # a token refills every 2 s: slow enough that a loaded machine cannot refill one mid-test
    codes = [get(web, server, "/members", secret="a").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = get(web, server, "/members", secret="a")
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    assert get(web, server, "/members", secret="b").status_code == 200
    # accepted again once Retry-After has passed (asked every 0.1 s: a 429 costs no token)
    retry_after = int(limited.headers["Retry-After"])
    poll_until(lambda: get(web, server, "/members", secret="a").status_code == 200, timeout=retry_after + 0.5,
               interval=0.1, message=f"secret a still refused past its Retry-After of {retry_after} s")


# -- scripted responses ------------------------------------------------------------------------

def test_scripted_responses_win_once_for_a_matching_path(web, sandbox):
    sandbox.faults = FaultConfig(p429=1.0)  # scripted responses take precedence over faults
    sandbox.enqueue(
        ScriptedResponse(503, {"error": {"code": "internal_error"}}, {"Retry-After": "0"}, path="/tasks"),
        ScriptedResponse(200, b"<html>not json</html>", {"Content-Type": "text/html"}, path="/tasks"),
    )
    assert get(web, sandbox, "/members").status_code == 429  # other paths don't consume them
    first = get(web, sandbox, "/tasks", secret=None)
    assert (first.status_code, first.json(), first.headers["Retry-After"]) == (
        503, {"error": {"code": "internal_error"}}, "0")
    second = get(web, sandbox, "/tasks")
    assert (second.status_code, second.text) == (200, "<html>not json</html>")
    assert get(web, sandbox, "/tasks").status_code == 429


def test_scripted_drop_closes_the_connection(web, sandbox):
    sandbox.enqueue(ScriptedResponse(200, drop=True))
    with pytest.raises(requests.ConnectionError):
        get(web, sandbox, "/projects")
    assert get(web, sandbox, "/projects").status_code == 200
    assert [r.status for r in sandbox.requests] == [None, 200]


# -- data --------------------------------------------------------------------------------------

def test_load_data_file_serves_exact_fixtures_and_defaults_missing_keys(web, sandbox_factory, tmp_path):
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps({"tasks": [{"id": "t1", "title": "Only", "teamId": None}]}), encoding="utf-8")
    data = load_data_file(path)
    assert data == {"projects": [], "tasks": [{"id": "t1", "title": "Only", "teamId": None}],
                    "customers": [], "members": []}
    server = sandbox_factory(data)
    assert get(web, server, "/tasks").json() == {"items": data["tasks"], "nextCursor": None, "hasMore": False}
    assert get(web, server, "/customers").json()["items"] == []


def test_generation_is_deterministic_for_a_seed_and_today():
    day = datetime.date(2026, 4, 9)
    assert generate_workspace(7, day) == generate_workspace(7, day)
    assert generate_workspace(7, day) != generate_workspace(8, day)
    shifted = generate_workspace(7, day + datetime.timedelta(days=1))
    assert [t["title"] for t in shifted["tasks"]] == [t["title"] for t in generate_workspace(7, day)["tasks"]]


def test_generation_spreads_work_over_as_many_teams_as_asked():
    day = datetime.date(2026, 4, 9)
    assert workspace_teams() == DEMO_TEAMS
    assert generate_workspace(7, day, teams=4) == generate_workspace(7, day)  # the default is the 4 demo teams
    teams = workspace_teams(65)
    assert len(teams) == 65 and list(teams)[:4] == list(DEMO_TEAMS) and workspace_teams(65) == teams
    assert len({t["name"] for t in teams.values()}) == 65
    data = generate_workspace(7, day, tasks=2000, projects=130, members=140, customers=20, teams=65)
    assert {p["teamId"] for p in data["projects"]} - {None} == set(teams)
    assert {t for m in data["members"] for t in m["teamIds"]} <= set(teams)
    with pytest.raises(ValueError, match="at least 1"):
        workspace_teams(0)


def test_generation_honours_sizes_and_keeps_ids_unique():
    data = generate_workspace(tasks=1000, projects=60, members=50, customers=40)
    assert {k: len(v) for k, v in data.items()} == {"tasks": 1000, "projects": 60, "members": 50, "customers": 40}
    for records in data.values():
        assert len({r["id"] for r in records}) == len(records)
    tiny = generate_workspace(tasks=3, projects=1, members=1, customers=0)
    assert [len(tiny[k]) for k in ("tasks", "projects", "members", "customers")] == [3, 1, 1, 0]


def test_records_have_exactly_the_documented_fields(sandbox):
    fields = {
        "projects": {"id", "projectNumber", "title", "status", "statusCategory", "teamId", "customerId",
                     "description", "phases", "createdAt", "updatedAt"},
        "tasks": {"id", "title", "description", "status", "priority", "projectId", "teamId", "assigneeIds",
                  "startDate", "dueDate", "billableStatus", "customerId", "phaseId", "labelIds", "createdAt",
                  "updatedAt"},
        "customers": {"id", "customerName", "customerNumber", "taxVatId", "mainCurrency", "createdAt", "updatedAt"},
        "members": {"id", "email", "displayName", "status", "workspaceRole", "teamIds", "positionId", "invitedAt",
                    "joinedAt", "createdAt", "updatedAt"},
    }
    for resource, expected in fields.items():
        assert all(set(r) == expected for r in sandbox.data[resource]), resource


def test_demo_data_contains_the_awkward_cases(sandbox):
    data, today = sandbox.data, datetime.date.today().isoformat()
    tasks, titles = data["tasks"], [t["title"] for t in data["tasks"]]
    projects = {p["id"]: p for p in data["projects"]}
    members = {m["id"]: m for m in data["members"]}
    customers = {c["id"] for c in data["customers"]}
    open_statuses = {"toDo", "inProgress", "inReview", "backlog"}

    assert {"<script>alert(1)</script>", "<img src=x onerror=alert(1)>"} <= set(titles)
    assert any(t[0] in "=-+@" for t in titles)
    for sample in ("🚀", "é", "設計", "مراجعة"):
        assert any(sample in t for t in titles), sample
    assert any("<script>" in (t["description"] or "") and "<strong>" in (t["description"] or "") for t in tasks)
    assert any("<" in c["customerName"] for c in data["customers"])
    assert any("<script>" in (m["displayName"] or "") for m in members.values())
    assert {t["status"] for t in tasks} >= {"toDo", "inProgress", "inReview", "done", "cancelled", "duplicate",
                                            "backlog", "blocked"}
    assert {t["priority"] for t in tasks} == {"urgent", "high", "medium", "low", "none", None}
    assert {t["billableStatus"] for t in tasks} == {"billable", "nonBillable", None}
    assert {len(t["assigneeIds"]) for t in tasks} >= {0, 1, 2, 3}
    dues = [t["dueDate"] for t in tasks]
    assert None in dues and any(d and d < today for d in dues) and any(d and d > today for d in dues)
    assert any(t["dueDate"] and t["dueDate"] < today and t["status"] in open_statuses for t in tasks)

    def project_of(t):
        return projects.get(t["projectId"])

    assert any(t["teamId"] is None and project_of(t) and project_of(t)["teamId"] for t in tasks)
    assert any(t["teamId"] is None and project_of(t) and project_of(t)["teamId"] is None for t in tasks)
    assert any(t["projectId"] is None for t in tasks)
    assert any(t["projectId"] and t["projectId"] not in projects for t in tasks)
    assert any(t["customerId"] is None and project_of(t) and project_of(t)["customerId"] for t in tasks)
    assert any(t["customerId"] and t["customerId"] not in customers for t in tasks)
    assert any(a not in members for t in tasks for a in t["assigneeIds"])
    assert any(len(set(t["assigneeIds"])) < len(t["assigneeIds"]) for t in tasks)
    assert any(t["teamId"] == UNKNOWN_TEAM_ID for t in tasks)
    assert any(t["status"] in open_statuses and any(members.get(a, {}).get("status") == "inactive"
                                                    for a in t["assigneeIds"]) for t in tasks)
    tie_keys = [(t["teamId"], t["priority"], t["dueDate"], t["title"]) for t in tasks if t["status"] in open_statuses]
    assert len(tie_keys) > len(set(tie_keys))
    assert any(m["status"] == "invited" and m["displayName"] is None for m in members.values())
    assert {m["status"] for m in members.values()} == {"active", "invited", "inactive"}


def test_demo_teams_have_one_manager_leading_two_teams():
    managers = [email for team in DEMO_TEAMS.values() for email in team["managers"]]
    assert len(DEMO_TEAMS) == 4 and len(managers) > len(set(managers))


def test_teams_example_yaml_matches_the_demo_teams():
    config = yaml.safe_load((REPO / "teams.example.yaml").read_text(encoding="utf-8"))
    assert config["timezone"] == "UTC"
    assert config["teams"] == DEMO_TEAMS


# -- command line ------------------------------------------------------------------------------

def test_cli_prints_exports_serves_and_stops_cleanly_on_sigterm(web):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pike_tasks.cli", "sandbox", "--tasks", "12", "--projects", "3", "--secret", "s3cr3t"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        exports = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        assert exports["PIKE_API_SECRET"] == "s3cr3t"
        response = web.get(exports["PIKE_API_BASE_URL"] + "/tasks", headers={"Authorization": "Bearer s3cr3t"})
        assert len(response.json()["items"]) == 12
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("argv", [["--today", "09/04/2026"], ["--p429", "1.5"], ["--data", "/no/such/file.json"],
                                  ["--teams", "0"]])
def test_cli_rejects_bad_flags_with_one_line_and_exit_2(argv, capsys):
    from pike_tasks.cli import build_parser
    from pike_tasks.sandbox.cli import run_sandbox_command

    assert run_sandbox_command(build_parser().parse_args(["sandbox", *argv])) == 2
    err = capsys.readouterr().err
    assert err.startswith("pike-reports sandbox: error: ") and err.count("\n") == 1
