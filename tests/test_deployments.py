"""Deployments: prefect.yaml, the UI parameter forms, `pike-reports setup`, and one end-to-end run.

The end-to-end test (marked ``e2e``; ``pytest -m e2e`` selects it, ``-m "not e2e"`` skips it)
does what an operator does: a real ``prefect server`` with a temporary home, the sandbox,
``pike-reports setup``, the work pool, ``prefect deploy --all`` from the repo root, a process
worker, and a run triggered through the Prefect client with parameters (the UI's Custom run).
Then a run whose job variables carry a wrong secret must end Failed saying why.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect_server import PrefectServer, start_server
from processes import poll_until
from smtp_server import RecordingSmtpServer

from pike_tasks.errors import PikeConfigError

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "small"
AS_OF = date(2026, 4, 9)
POOL = "pike-reports"
OVERDUE = "report-overdue-tasks/overdue-weekdays-0700"
DIGESTS = "send-manager-digests/digests-weekdays-0730"
SECRETISH = re.compile(r"secret|password|token|api_key|apikey|credential", re.IGNORECASE)

FLOWS = {
    "flows/overdue.py:report_overdue_tasks": {"as_of", "team_ids", "output_dir", "teams_config"},
    "flows/workload.py:report_billable_workload": {
        "as_of", "team_ids", "project_ids", "customer_ids", "output_dir", "teams_config",
    },
    "flows/all_reports.py:run_all_reports": {"as_of", "team_ids", "output_dir", "teams_config"},
    "flows/digest.py:send_manager_digests": {"as_of", "team_ids", "output_dir", "teams_config"},
}


# The report flows import these modules; until every one has landed, the tests that load or
# run a report flow are skipped (the server, setup, deploy and worker parts still run).
_REPORT_MODULES = ("frames", "transforms", "csv_output", "views", "render", "outputs")
needs_report_modules = pytest.mark.skipif(
    any(importlib.util.find_spec(f"pike_tasks.{name}") is None for name in _REPORT_MODULES),
    reason="report modules (pike_tasks.transforms, csv_output, ...) have not landed yet",
)


def _prefect_yaml() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))


# --- prefect.yaml ---------------------------------------------------------------------------


def test_prefect_yaml_deployments_schedules_and_pool():
    spec = _prefect_yaml()
    deployments = {d["name"]: d for d in spec["deployments"]}
    expected = {
        "overdue-weekdays-0700": ("flows/overdue.py:report_overdue_tasks", "0 7 * * 1-5"),
        "workload-mondays-0800": ("flows/workload.py:report_billable_workload", "0 8 * * 1"),
        "digests-weekdays-0730": ("flows/digest.py:send_manager_digests", "30 7 * * 1-5"),
    }
    for name, (entrypoint, cron) in expected.items():
        deployment = deployments[name]
        assert deployment["entrypoint"] == entrypoint
        [schedule] = deployment["schedules"]
        assert schedule["cron"] == cron
        ZoneInfo(schedule["timezone"])  # an explicit IANA name, not an offset
        assert "/" in schedule["timezone"]
    for deployment in deployments.values():
        assert deployment["work_pool"]["name"] == POOL
        assert deployment["work_pool"]["work_queue_name"] == "default"
        assert deployment["tags"] and "pike-reports" in deployment["tags"]
        path, func = deployment["entrypoint"].split(":")
        assert f"def {func}(" in (REPO / path).read_text(encoding="utf-8")
        # teams config left empty: the pike-teams-config block
        assert deployment.get("parameters", {}).get("teams_config") is None
        # no worker-local default such as `out`: the store is PIKE_REPORTS_STORE on the worker
        assert deployment.get("parameters", {}).get("output_dir") is None
        assert set(deployment.get("parameters") or {}) <= FLOWS[deployment["entrypoint"]] | {"smtp_block", "dry_run"}
    [pull] = spec["pull"]
    assert pull == {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PIKE_REPORTS_DIR }}"}}


def test_prefect_yaml_holds_no_secrets():
    def walk(node, path=""):
        if isinstance(node, dict):
            for key, value in node.items():
                assert not SECRETISH.search(str(key)), f"secret-like key {path}/{key}"
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str):
            assert "sandbox-secret" not in node and not node.startswith(("sk_", "pk_")), path

    walk(_prefect_yaml())


# --- the UI form ----------------------------------------------------------------------------


@needs_report_modules
def _list_of_strings(prop: dict) -> bool:
    """A list of strings in the form: a plain array (flows/params.py), or one choice of an anyOf."""
    array = {"items": {"type": "string"}, "type": "array"}
    return {k: prop.get(k) for k in array} == array or array in prop.get("anyOf", [])


@pytest.mark.parametrize("entrypoint", sorted(FLOWS))
def test_parameter_schema_is_a_usable_form(entrypoint):
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    flow = load_flow_from_entrypoint(str(REPO / entrypoint))
    props = parameter_schema(flow.fn).model_dump()["properties"]

    assert FLOWS[entrypoint] <= set(props)
    assert not [name for name in props if SECRETISH.search(name)]
    assert (props["as_of"]["type"], props["as_of"]["format"]) == ("string", "date")  # a date picker, no None switch
    assert _list_of_strings(props["team_ids"])
    assert props["output_dir"]["type"] == "string"
    assert props["teams_config"]["default"] is None
    for name in ("project_ids", "customer_ids"):
        if name in props:
            assert _list_of_strings(props[name])
    # Prefect 3.9 takes descriptions from the docstring's Args section (not from Annotated Field)
    missing = [name for name, prop in props.items() if not prop.get("description")]
    assert not missing, f"parameters without a description in the UI: {missing}"


# --- pike-reports setup ---------------------------------------------------------------------


def test_setup_creates_blocks_and_limit(prefect_harness, capsys):
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect_email import EmailServerCredentials

    from pike_tasks.setup_blocks import run_setup
    from pike_tasks.teams_store import TeamsConfigBlock

    env = {
        "PIKE_API_SECRET": "s3cret-value-123",
        "PIKE_REPORTS_SMTP_HOST": "smtp.example.com",
        "PIKE_REPORTS_SMTP_PORT": "2525",
        "PIKE_REPORTS_SMTP_USER": "reports@example.com",
        "PIKE_REPORTS_SMTP_PASSWORD": "mail-pass-456",
        "PIKE_REPORTS_SMTP_SECURITY": "starttls",
        "PIKE_API_GLOBAL_SLOTS": "3",
    }
    lines = run_setup(str(FIXTURE / "teams.yaml"), env=env)
    lines += run_setup(None, env={**env, "PIKE_API_GLOBAL_SLOTS": "5"})  # again: updates in place
    out = capsys.readouterr().out + "\n".join(lines)
    assert "s3cret-value-123" not in out and "mail-pass-456" not in out

    assert Secret.load("pike-api-secret").get() == "s3cret-value-123"
    smtp = EmailServerCredentials.load("pike-reports-smtp")
    assert (smtp.smtp_server, smtp.smtp_port, smtp.smtp_type.name) == ("smtp.example.com", 2525, "STARTTLS")
    assert smtp.password.get_secret_value() == "mail-pass-456"
    config = TeamsConfigBlock.load("pike-teams-config").value
    assert config["timezone"] == "Europe/London"
    assert config["teams"]["91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"]["name"] == "Delivery"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("pike-api")
    assert limit.limit == 5 and limit.active


def test_setup_skips_what_is_not_configured(prefect_harness):
    from pike_tasks.setup_blocks import run_setup

    lines = run_setup(None, env={}, echo=lambda line: None)
    assert len(lines) == 5 and all(line.startswith("skipped ") for line in lines)


def test_setup_rejects_bad_smtp_security_without_echoing_the_password(prefect_harness):
    from pike_tasks.errors import PikeConfigError
    from pike_tasks.setup_blocks import save_smtp_block

    with pytest.raises(PikeConfigError, match="ssl, starttls or none") as info:
        save_smtp_block({"PIKE_REPORTS_SMTP_HOST": "h", "PIKE_REPORTS_SMTP_SECURITY": "tls",
                         "PIKE_REPORTS_SMTP_PASSWORD": "pw-789"})
    assert "pw-789" not in str(info.value)


# --- the teams config on the server: any size, and the load order ------------------------------


@pytest.fixture
def stored_teams(prefect_harness):
    """No teams block and no teams Variable during the test; what was stored before comes back after
    (the harness is shared by the whole session, and a flow run without teams_config reads it)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.variables import Variable

    from pike_tasks.teams_store import BLOCK_TYPE_SLUG, TeamsConfigBlock

    def read_block():
        with get_client(sync_client=True) as client:
            try:
                return client.read_block_document_by_name("pike-teams-config", BLOCK_TYPE_SLUG).data["value"]
            except ObjectNotFound:
                return None

    def clear():
        if read_block() is not None:
            TeamsConfigBlock.delete("pike-teams-config")
        if Variable.get("pike-teams-config", default=None) is not None:
            Variable.unset("pike-teams-config")

    before = read_block(), Variable.get("pike-teams-config", default=None)
    clear()
    yield
    clear()
    if before[0] is not None:
        TeamsConfigBlock(value=before[0]).save("pike-teams-config", overwrite=True)
    if before[1] is not None:
        Variable.set("pike-teams-config", before[1], overwrite=True)


def _write_yaml(path: Path, config: dict) -> str:
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def test_setup_stores_a_200_team_config_and_runs_read_it_back_equal(stored_teams, tmp_path):
    from prefect.types import MAX_VARIABLE_VALUE_LENGTH
    from prefect.variables import Variable
    from teams_sample import json_size, many_teams

    from pike_tasks.setup_blocks import run_setup
    from pike_tasks.teams_store import TeamsConfigBlock, load_teams_config

    config = many_teams({"91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b": "Delivery"})
    assert json_size(config) > 6 * MAX_VARIABLE_VALUE_LENGTH  # about 33 KB
    with pytest.raises(ValueError, match="less than 5000 characters"):  # issue #15: a Variable cannot hold it
        Variable.set("pike-teams-big", config)
    Variable.set("pike-teams-config", {"teams": {"legacy-team": "Legacy"}})  # what an earlier setup left

    path = _write_yaml(tmp_path / "teams.yaml", config)
    [_, _, line, _, _] = run_setup(path, env={}, echo=lambda line: None)

    assert line.startswith("saved block 'pike-teams-config' (200 teams, timezone Europe/London, ")
    assert "Variable 'pike-teams-config' of earlier versions is ignored" in line
    assert TeamsConfigBlock.load("pike-teams-config").value == load_teams_config(path).as_plain()
    loaded = load_teams_config(None)  # what a scheduled run (teams_config: null) gets: the block, not the Variable
    assert loaded == load_teams_config(path)
    assert len(loaded.teams) == 200 and loaded.as_plain()["teams"] == config["teams"]


def test_teams_config_load_order(stored_teams, tmp_path, caplog):
    """parameter > block > Variable (legacy) > the empty config with a warning."""
    from prefect.variables import Variable

    from pike_tasks.teams_store import TeamsConfigBlock, load_teams_config

    with caplog.at_level("WARNING", logger="pike_tasks.teams_store"):
        empty = load_teams_config(None)
    assert empty.teams == {} and empty.timezone == "UTC"
    assert "no teams config: no block 'pike-teams-config' and no Variable" in caplog.text

    Variable.set("pike-teams-config", {"timezone": "Europe/Paris", "teams": {"t-legacy": "From the Variable"}})
    assert load_teams_config(None).team_names() == {"t-legacy": "From the Variable"}

    TeamsConfigBlock(value={"teams": {"t-block": "From the block"}}).save("pike-teams-config", overwrite=True)
    assert load_teams_config(None).team_names() == {"t-block": "From the block"}

    inline = json.dumps({"teams": {"t-param": "From the parameter"}})
    assert load_teams_config(inline).team_names() == {"t-param": "From the parameter"}
    assert load_teams_config(str(FIXTURE / "teams.yaml")).team_names() == {
        "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b": "Delivery"}

    TeamsConfigBlock(value={"teams": {"t-block": {"manager": "x@example.com"}}}).save("pike-teams-config",
                                                                                       overwrite=True)
    with pytest.raises(PikeConfigError, match="unknown key 'manager'"):  # a broken block is an error, not "no teams"
        load_teams_config(None)


class BodyLimitProxy:
    """A reverse proxy in front of the Prefect API that answers 413 to a request body over ``limit``
    bytes, as nginx does past ``client_max_body_size`` (the fake limit of a server that refuses a huge block)."""

    def __init__(self, upstream: str, limit: int) -> None:
        import http.client
        from urllib.parse import urlsplit

        target = urlsplit(upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if length > limit:
                    detail = f"request body of {length} bytes is over this proxy's limit of {limit} bytes"
                    self._reply(413, [("Content-Type", "application/json")], json.dumps({"detail": detail}).encode())
                    return
                upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream_conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream_conn.getresponse()
                self._reply(answer.status, answer.getheaders(), answer.read())
                upstream_conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815 - BaseHTTPRequestHandler's method names

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{target.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_setup_with_a_config_the_api_refuses_fails_in_one_line(stored_teams, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect_server import clean_env
    from teams_sample import many_teams

    from pike_tasks.setup_blocks import save_teams_config

    path = _write_yaml(tmp_path / "teams.yaml", many_teams())
    proxy = BodyLimitProxy(PREFECT_API_URL.value(), limit=20_000)
    try:
        with temporary_settings({PREFECT_API_URL: proxy.url}), pytest.raises(PikeConfigError) as info:
            save_teams_config(path)
        message = str(info.value)
        assert "\n" not in message and "Traceback" not in message
        assert message.startswith(f"cannot store the teams config from {path} (200 teams, ")
        assert "413 Request Entity Too Large (request body of" in message and "limit of 20000 bytes" in message
        assert "client_max_body_size" in message and "set teams_config in prefect.yaml" in message

        # the command itself: exit 2, that one line on stderr, no traceback
        home = tmp_path / "home"
        home.mkdir()
        result = subprocess.run(
            [str(Path(sys.executable).parent / "pike-reports"), "setup", "--teams-config", path],
            env=clean_env(home, proxy.url), capture_output=True, text=True, timeout=120,
        )
    finally:
        proxy.stop()
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"pike-reports: error: {message}"], result.stderr
    from pike_tasks.teams_store import read_stored_config

    assert read_stored_config() == (None, None)  # nothing half-stored


def test_setup_with_an_invalid_config_stores_nothing(stored_teams, tmp_path):
    from pike_tasks.setup_blocks import save_teams_config
    from pike_tasks.teams_store import read_stored_config

    config = {"teams": {"t1": {"name": "A", "managers": ["not-an-address"]}}}
    with pytest.raises(PikeConfigError, match="team t1 has an invalid manager address 'not-an-address'"):
        save_teams_config(_write_yaml(tmp_path / "teams.yaml", config))
    assert read_stored_config() == (None, None)


# --- end to end: server, sandbox, setup, deploy, worker, runs ---------------------------------


def documented_automation() -> dict:
    """The failure automation exactly as docs/deployments.md shows it."""
    text = (REPO / "docs" / "deployments.md").read_text(encoding="utf-8")
    block = text.split("<!-- automation:begin", 1)[1].split("<!-- automation:end", 1)[0]
    return yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])


def test_documented_automation_is_valid():
    from prefect.events.schemas.automations import AutomationCore

    spec = documented_automation()
    spec["actions"][0]["block_document_id"] = "00000000-0000-0000-0000-000000000000"
    automation = AutomationCore.model_validate(spec)
    assert automation.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}


class WebhookSink:
    """A loopback HTTP server that records the JSON bodies POSTed to it (the alert target)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.arrived = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.arrived:
                    sink.received.append(json.loads(body or b"{}"))
                    sink.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, wanted, timeout: float) -> list[dict]:
        """The bodies received so far once one satisfies ``wanted`` (woken by each POST), or
        after ``timeout`` seconds whatever has arrived."""
        with self.arrived:
            self.arrived.wait_for(lambda: any(wanted(body) for body in self.received), timeout)
            return list(self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _create_failure_automation(server: PrefectServer, sink: WebhookSink, folder: Path) -> None:
    """The documented automation, notifying through a Custom Webhook block aimed at ``sink``."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        block = CustomWebhookNotificationBlock(
            name="pike-reports-alerts", url=sink.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        )
        block_id = block.save("pike-reports-alerts")
    spec = documented_automation()
    spec["actions"][0]["block_document_id"] = str(block_id)
    path = folder / "pike-reports-failed-runs.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    server.cli("automation", "create", "--from-file", str(path))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A Prefect server with every deployment of prefect.yaml and one process worker.

    Yields (server, webhook sink of the failure automation, timings, the sandbox (its ``secret``,
    its request log), the SMTP server that the ``pike-reports-smtp`` block points at). The worker
    sets no PIKE_REPORTS_STORE: each run names its store (output_dir, or its job variables' env).
    Everything started here is stopped in the finally.
    """
    from pike_tasks.sandbox.server import load_data_file, start_sandbox

    timings: dict[str, float] = {}
    home = tmp_path_factory.mktemp("prefect-e2e") / "home"
    sandbox = server = sink = smtp = None
    t0 = time.monotonic()
    try:
        sink = WebhookSink()
        smtp = RecordingSmtpServer().__enter__()
        sandbox = start_sandbox(load_data_file(FIXTURE / "workspace.json"))
        server = start_server(home)
        timings["server"] = time.monotonic() - t0

        t = time.monotonic()
        setup = _setup(server, str(FIXTURE / "teams.yaml"), {
            "PIKE_API_SECRET": sandbox.secret, "PIKE_REPORTS_SMTP_HOST": smtp.host,
            "PIKE_REPORTS_SMTP_PORT": str(smtp.port), "PIKE_REPORTS_SMTP_SECURITY": "none",
        })
        assert setup.returncode == 0, setup.stderr[-2000:]
        assert sandbox.secret not in setup.stdout + setup.stderr
        assert "saved Secret block 'pike-api-secret'" in setup.stdout
        assert "saved EmailServerCredentials block 'pike-reports-smtp'" in setup.stdout
        assert "saved block 'pike-teams-config' (1 teams" in setup.stdout
        timings["setup"] = time.monotonic() - t

        t = time.monotonic()
        server.cli("work-pool", "create", POOL, "--type", "process")
        server.cli("deploy", "--all", cwd=REPO)
        timings["pool+deploy"] = time.monotonic() - t
        _create_failure_automation(server, sink, home)

        # The worker knows where the API is and where the checkout is, but not the secret:
        # the flow run reads it from the pike-api-secret block that setup saved.
        server.start_worker(POOL, cwd=REPO, env={
            "PIKE_REPORTS_DIR": str(REPO),
            "PIKE_API_BASE_URL": sandbox.url,
            "PIKE_REPORTS_EMAIL_FROM": "pike-reports@example.com",
        })
        yield server, sink, timings, sandbox, smtp
    finally:
        if server is not None:
            server.stop()
        if sandbox is not None:
            sandbox.stop()
        if smtp is not None:
            smtp.__exit__(None, None, None)
        if sink is not None:
            sink.stop()


def _setup(server: PrefectServer, teams_config: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`pike-reports setup --teams-config FILE` against ``server``, as an operator runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "pike-reports"), "setup", "--teams-config", teams_config],
        cwd=REPO, env={**server.env, **(env or {})}, capture_output=True, text=True, timeout=120,
    )


def _run(server: PrefectServer, deployment: str = OVERDUE, **kwargs):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        return run_deployment(deployment, timeout=150, poll_interval=0.5, **kwargs)


def _artifacts(server: PrefectServer, flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def _deployments(server: PrefectServer) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        return {d.name: d for d in client.read_deployments()}


def _logs(server: PrefectServer, flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def _explain(server: PrefectServer) -> str:
    return "\n--- worker log ---\n" + "\n".join(w.tail(80) for w in server.workers)


@pytest.mark.e2e
def test_deploy_all_creates_every_deployment_from_prefect_yaml(deployed):
    server, sink, timings, sandbox, smtp = deployed
    deployments = _deployments(server)
    assert set(deployments) == {"overdue-weekdays-0700", "workload-mondays-0800", "digests-weekdays-0730",
                                "all-reports-on-demand"}
    overdue = deployments["overdue-weekdays-0700"]
    [schedule] = overdue.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * 1-5", "Europe/London")
    assert overdue.work_pool_name == POOL and overdue.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PIKE_REPORTS_DIR }}"}}
    ]
    assert "as_of" in overdue.parameter_openapi_schema["properties"]
    digests = deployments["digests-weekdays-0730"]
    assert digests.parameters["smtp_block"] == "pike-reports-smtp"
    assert digests.global_concurrency_limit is not None and digests.global_concurrency_limit.limit == 1
    assert deployments["all-reports-on-demand"].schedules == []


@pytest.mark.e2e
@needs_report_modules
def test_deployment_run_completes_with_outputs_and_artifacts(deployed, tmp_path):
    server, sink, timings, sandbox, smtp = deployed
    sandbox_secret = sandbox.secret

    t = time.monotonic()
    # the store as production names it: PIKE_REPORTS_STORE in the job variables' env, no output_dir
    run = _run(server, parameters={"as_of": AS_OF.isoformat()},
               job_variables={"env": {"PIKE_REPORTS_STORE": str(tmp_path)}})
    timings["good run"] = time.monotonic() - t
    assert run.state is not None and run.state.is_completed(), f"{run.state!r}{_explain(server)}"
    assert run.name == "overdue-2026-04-09"

    folder = tmp_path / "overdue" / AS_OF.isoformat()
    csv_path = folder / "overdue.csv"
    assert csv_path.exists() and (folder / "index.html").exists() and (folder / "summary.json").exists()
    with csv_path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["task_id", "team_id", "team", "title", "project", "customer", "assignees",
                      "priority", "status", "due_date", "days_overdue"]
    # the teams config came from the block that setup stored (names from tests/fixtures/small)
    expected = (FIXTURE / "overdue.csv").read_bytes().decode("utf-8").replace("\r\n", "\n")
    assert csv_path.read_bytes().decode("utf-8").replace("\r\n", "\n") == expected

    keys = {a.key for a in _artifacts(server, run.id)}
    assert {"overdue-report", "overdue-top-rows"} <= keys
    # the run's process ships its last log batch as it exits
    with contextlib.suppress(TimeoutError):
        poll_until(lambda: "overdue report:" in "\n".join(_logs(server, run.id)), timeout=20, interval=0.5)
    logs = "\n".join(_logs(server, run.id))
    assert re.search(r"fetched \d+ tasks", logs) and "overdue report:" in logs, logs[-2000:]
    assert sandbox_secret not in logs
    print("e2e timings (s):", {k: round(v, 1) for k, v in timings.items()})


@pytest.mark.e2e
@needs_report_modules
def test_deployment_run_without_a_report_store_fails_in_one_line_before_any_api_call(deployed):
    """prefect.yaml sets no output_dir and this worker no PIKE_REPORTS_STORE: a scheduled run must not
    fall back to a folder of the worker's checkout (each worker would have its own once-only ledger)."""
    server, sink, timings, sandbox, smtp = deployed
    served = len(sandbox.requests)
    t = time.monotonic()
    # another date, so another run name: the bad-secret test picks its alert by run name
    run = _run(server, parameters={"as_of": (AS_OF - timedelta(days=1)).isoformat()})
    timings["no-store run"] = time.monotonic() - t
    assert run.state is not None and run.state.is_failed(), f"{run.state!r}{_explain(server)}"
    message = run.state.message or ""
    assert "\n" not in message and "PikeConfigError" in message, message
    assert "a deployment run needs a report store that every worker reaches, and none is set" in message
    assert "set PIKE_REPORTS_STORE" in message and "s3://bucket/prefix" in message
    assert len(sandbox.requests) == served  # not one Pike API request
    print("e2e timings (s):", {k: round(v, 1) for k, v in timings.items()})


@pytest.mark.e2e
@needs_report_modules
def test_deployment_run_with_a_bad_secret_fails_with_the_reason(deployed, tmp_path):
    server, sink, timings, sandbox, smtp = deployed
    t = time.monotonic()
    run = _run(
        server,
        parameters={"as_of": AS_OF.isoformat(), "output_dir": str(tmp_path)},
        job_variables={"env": {"PIKE_API_SECRET": "wrong-secret"}},
    )
    timings["bad-secret run"] = time.monotonic() - t
    assert run.state is not None and run.state.is_failed(), f"{run.state!r}{_explain(server)}"
    message = run.state.message or ""
    assert "rejected the API secret" in message and "PikeAuthError" in message, message
    assert "wrong-secret" not in message
    assert not (tmp_path / "overdue").exists()

    # the documented automation sent the reason to the alert webhook
    received = sink.wait_for(lambda body: run.name in body.get("body", ""), timeout=60)
    alerts = [a for a in received if run.name in a.get("body", "")]
    assert alerts, f"no failure notification arrived; got {received!r}"
    assert "rejected the API secret" in alerts[0]["body"] and "Failed" in alerts[0]["subject"]
    assert "wrong-secret" not in json.dumps(alerts)
    timings["bad-secret run + alert"] = time.monotonic() - t
    print("e2e timings (s):", {k: round(v, 1) for k, v in timings.items()})


@pytest.mark.e2e
@needs_report_modules
def test_a_200_team_config_from_setup_reaches_every_manager(deployed, tmp_path):
    """Issue #15: setup stores a 33 KB config, and the scheduled digest deployment (teams_config:
    null) reads it from the block on the worker and emails every manager it names."""
    from teams_sample import json_size, managers, many_teams

    from pike_tasks.sandbox.server import load_data_file

    server, sink, timings, sandbox, smtp = deployed
    workspace = load_data_file(FIXTURE / "workspace.json")  # what the deployed sandbox serves
    served = sorted({tid for member in workspace["members"] for tid in member.get("teamIds") or ()})
    config = many_teams({tid: f"Served team {i}" for i, tid in enumerate(served)})
    assert len(served) == 2 and json_size(config) > 30_000
    path = _write_yaml(tmp_path / "teams.yaml", config)

    t = time.monotonic()
    setup = _setup(server, path)
    timings["setup, 200 teams"] = time.monotonic() - t
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "saved block 'pike-teams-config' (200 teams, timezone Europe/London" in setup.stdout
    try:
        before = len(smtp.messages)
        t = time.monotonic()
        run = _run(server, DIGESTS, parameters={"as_of": AS_OF.isoformat(), "output_dir": str(tmp_path / "out")})
        timings["digest run, 200 teams"] = time.monotonic() - t
        assert run.state is not None and run.state.is_completed(), f"{run.state!r}{_explain(server)}"

        sent = smtp.messages[before:]
        recipients = [r.casefold() for m in sent for r in m.rcpt_tos]
        assert sorted(recipients) == sorted(managers(config))  # every manager, once (24 addresses)
        summary = json.loads((tmp_path / "out" / "digest" / AS_OF.isoformat() / "summary.json").read_text("utf-8"))
        assert {d["status"] for d in summary["digests"]} == {"sent"} and len(summary["digests"]) == 24
        # the managers of the teams the workspace has get those teams under the names from the block
        for i, tid in enumerate(served):
            for address in config["teams"][tid]["managers"]:
                [message] = [m.message for m in sent if address in m.rcpt_tos]
                assert f"Served team {i}" in message.get_body(("plain",)).get_content()
    finally:  # the other tests of this module expect tests/fixtures/small/teams.yaml (in-process: 6 s less)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from pike_tasks.setup_blocks import save_teams_config

        with temporary_settings({PREFECT_API_URL: server.api_url}):
            save_teams_config(str(FIXTURE / "teams.yaml"))
    print("e2e timings (s):", {k: round(v, 1) for k, v in timings.items()})
