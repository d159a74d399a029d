"""Prefect at scale, end to end: a PostgreSQL-backed server, two workers, one S3 store, one rate budget.

What runs, every piece a real process or server on 127.0.0.1:

- PostgreSQL (Debian's package, a throwaway cluster) as the Prefect server's database;
- ``prefect server start`` on it; ``pike-reports setup`` (secret, SMTP block, teams config block,
  the ``pike-api`` global concurrency limit with 2 slots); ``prefect deploy --all`` of prefect.yaml;
- ``moto_server`` as the S3 report store (``output_dir=s3://pike-e2e/pike``), no
  ``PIKE_REPORTS_PUBLIC_URL``, so the digests link presigned URLs;
- the Pike sandbox, and an SMTP server (aiosmtpd) that counts messages per recipient;
- two process workers on the same pool, each with its own ``PREFECT_HOME`` (two machines that
  share only the server, the store and the API), ``--limit 1`` each, ``PIKE_API_CONCURRENCY_LIMIT=pike-api``.

How the race is made real: the digest deployment of prefect.yaml has ``concurrency_limit: 1``,
which would queue the second run behind the first and prove nothing about the store. The test
deploys a copy of that deployment from a derived prefect.yaml with the limit removed (same
entrypoint, pull step, pool and parameters) and creates two runs of it for the same as_of at
once. Each worker takes at most one run at a time (``--limit 1``), so each takes one, and both
runs reach every recipient within about a second of each other: only the create-only claims in
the store stand between them and a second email.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from moto_server import MotoServer, start_moto
from postgres_server import postgres_bin, start_postgres
from prefect_server import PrefectServer, Worker, start_server
from processes import poll_until
from smtp_server import RecordingSmtpServer

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "small"
POOL = "pike-reports"
BUCKET = "pike-e2e"
STORE = f"s3://{BUCKET}/pike"
DIGESTS = "send-manager-digests/digests-weekdays-0730"
RACE = "send-manager-digests/digests-race-no-limit"
TEAM = "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"
MANAGERS = ("lead@example.com", "second@example.com", "refused@example.com")
REFUSED = "refused@example.com"
RACE_DAY, RETRY_DAY = date(2026, 4, 9), date(2026, 4, 10)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(postgres_bin() is None,
                       reason="PostgreSQL is not installed (`make services` installs it as root)"),
]


@dataclass
class Cluster:
    server: PrefectServer
    moto: MotoServer
    smtp: RecordingSmtpServer
    workers: dict[str, Worker]
    timings: dict[str, float]


def _race_deployment_file(folder: Path) -> Path:
    """prefect.yaml's digest deployment under another name, without its concurrency limit."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    [digest] = [d for d in spec["deployments"] if d["name"] == DIGESTS.split("/")[1]]
    digest = {**digest, "name": RACE.split("/")[1], "schedules": []}
    digest.pop("concurrency_limit")
    spec["deployments"] = [digest]
    path = folder / "race.prefect.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Everything above, started in order and stopped in reverse in the finally, even on failure."""
    from pike_tasks.sandbox.server import load_data_file, start_sandbox

    folder = tmp_path_factory.mktemp("scale-e2e")
    timings: dict[str, float] = {}
    pg = moto = sandbox = smtp = server = None
    t0 = time.monotonic()
    try:
        pg = start_postgres()
        moto = start_moto(folder)
        moto.client().create_bucket(Bucket=BUCKET)
        sandbox = start_sandbox(load_data_file(FIXTURE / "workspace.json"))
        smtp = RecordingSmtpServer().__enter__()
        timings["postgres+moto+sandbox+smtp"] = time.monotonic() - t0

        t = time.monotonic()
        server = start_server(folder / "server-home",
                              server_env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": pg.url})
        timings["prefect server on postgres"] = time.monotonic() - t

        t = time.monotonic()
        teams = yaml.safe_load((FIXTURE / "teams.yaml").read_text(encoding="utf-8"))
        teams["teams"][TEAM]["managers"] = list(MANAGERS)
        (folder / "teams.yaml").write_text(yaml.safe_dump(teams), encoding="utf-8")
        setup = subprocess.run(
            [str(Path(sys.executable).parent / "pike-reports"), "setup", "--teams-config", str(folder / "teams.yaml")],
            cwd=REPO, capture_output=True, text=True, timeout=120,
            env={**server.env, "PIKE_API_SECRET": sandbox.secret, "PIKE_API_GLOBAL_SLOTS": "2",
                 "PIKE_REPORTS_SMTP_HOST": smtp.host, "PIKE_REPORTS_SMTP_PORT": str(smtp.port),
                 "PIKE_REPORTS_SMTP_SECURITY": "none"},
        )
        assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
        assert "created global concurrency limit 'pike-api' (2 slots)" in setup.stdout, setup.stdout
        server.cli("work-pool", "create", POOL, "--type", "process")
        server.cli("deploy", "--all", cwd=REPO)
        server.cli("deploy", "--all", "--prefect-file", str(_race_deployment_file(folder)), cwd=REPO)
        timings["setup+pool+deploy"] = time.monotonic() - t

        # What each worker machine is given (docs/deployments.md, "Docker / Kubernetes work pool"):
        # the API and its limit, the store's credentials and endpoint, the checkout, the sender.
        worker_env = {
            "PIKE_REPORTS_DIR": str(REPO),
            "PIKE_API_BASE_URL": sandbox.url,
            "PIKE_API_CONCURRENCY_LIMIT": "pike-api",
            "PIKE_REPORTS_EMAIL_FROM": "pike-reports@example.com",
            **moto.env,
        }
        workers = {}
        for name in ("worker-a", "worker-b"):
            home = folder / f"{name}-home"  # a machine of its own: nothing shared on disk
            home.mkdir()
            workers[name] = server.start_worker(POOL, name=name, cwd=REPO, args=("--limit", "1"),
                                                env={**worker_env, "PREFECT_HOME": str(home)})
        yield Cluster(server, moto, smtp, workers, timings)
    finally:
        for stop in (server and server.stop, smtp and (lambda: smtp.__exit__(None, None, None)),
                     sandbox and sandbox.stop, moto and moto.stop, pg and pg.stop):
            if stop:
                try:
                    stop()
                except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                    print(f"teardown: {exc!r}", file=sys.stderr)


# --- Prefect API helpers ----------------------------------------------------------------------


def _client(server: PrefectServer):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    class _Ctx:
        def __enter__(self):
            self._settings = temporary_settings({PREFECT_API_URL: server.api_url})
            self._settings.__enter__()
            self._client = get_client(sync_client=True)
            return self._client.__enter__()

        def __exit__(self, *exc):
            self._client.__exit__(*exc)
            self._settings.__exit__(*exc)

    return _Ctx()


def _create_run(server: PrefectServer, deployment: str, as_of: date):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        return run_deployment(deployment, timeout=0,
                              parameters={"as_of": as_of.isoformat(), "output_dir": STORE})


def _wait_final(cluster: Cluster, run_ids, timeout: float = 150):
    with _client(cluster.server) as client:
        def final():
            runs = [client.read_flow_run(run_id) for run_id in run_ids]
            return runs if all(r.state and r.state.is_final() for r in runs) else None

        try:
            return poll_until(final, timeout=timeout, interval=0.5)
        except TimeoutError:
            states = [client.read_flow_run(run_id).state for run_id in run_ids]
            raise AssertionError(f"runs not final after {timeout:.0f} s: {states!r}" + _explain(cluster)) from None


def _explain(cluster: Cluster) -> str:
    return "".join(f"\n--- {name} log ---\n{w.tail(60)}" for name, w in cluster.workers.items())


def _worker_of(cluster: Cluster, run_id) -> str:
    """Which worker ran the run: the one whose log has the run's own "View at .../flow-run/<id>" line
    (a worker that lost the race to submit a run logs its id too, with "Aborted submission")."""
    names = [name for name, w in cluster.workers.items() if f"flow-run/{run_id}" in w.log.read_text(errors="replace")]
    assert len(names) == 1, f"run {run_id} found in the logs of {names}" + _explain(cluster)
    return names[0]


def _logs(cluster: Cluster, run_id, wanted: str, timeout: float = 20) -> str:
    """The run's log messages, once ``wanted`` shows (a run ships its last batch as it exits)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    def read() -> str:
        with _client(cluster.server) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        return "\n".join(log.message for log in logs)

    def found() -> str | None:
        text = read()
        return text if re.search(wanted, text) else None

    try:
        return poll_until(found, timeout=timeout, interval=0.5)
    except TimeoutError:
        return read()


def _sent_to(smtp: RecordingSmtpServer, as_of: date) -> dict[str, int]:
    """Messages the SMTP server accepted per recipient for one digest day (the subject names it)."""
    counts = dict.fromkeys(MANAGERS, 0)
    for received in smtp.messages:
        if f"Pike digest {as_of.isoformat()}" in str(received.message["Subject"]):
            for rcpt in received.rcpt_tos:
                counts[rcpt.lower()] = counts.get(rcpt.lower(), 0) + 1
    return counts


def _report_link(received) -> str:
    text = received.message.get_body(("plain",)).get_content()
    match = re.search(r"the full report: (https?://\S+?)\.?\s", text)
    assert match, text[-1500:]
    return match.group(1).rstrip(".")


def _acquisitions(cluster: Cluster, limit_id, want_runs: set[str], timeout: float = 30) -> dict[str, int]:
    """Slots of the limit taken per flow run (events ``prefect.concurrency-limit.acquired``), once
    every run of ``want_runs`` shows (the server stores events a moment after they happen)."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    wanted = EventFilter(event=EventNameFilter(name=["prefect.concurrency-limit.acquired"]),
                         resource=EventResourceFilter(id=[f"prefect.concurrency-limit.{limit_id}"]))
    def read() -> dict[str, int]:
        events = []
        with _client(cluster.server) as client:
            page = client.read_events(wanted, limit=50)
            events += page.events
            while page.next_page:
                page = client.read_events_page(page.next_page)
                events += page.events
        by_run: dict[str, int] = {}
        for event in events:
            for related in event.related:
                if related.id.startswith("prefect.flow-run."):
                    run_id = related.id.removeprefix("prefect.flow-run.")
                    by_run[run_id] = by_run.get(run_id, 0) + int(event.resource.get("slots-acquired", "0"))
        return by_run

    def complete() -> dict[str, int] | None:
        by_run = read()
        return by_run if want_runs <= set(by_run) else None

    try:
        return poll_until(complete, timeout=timeout, interval=1.0)
    except TimeoutError:
        return read()


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.timeout(480)  # about 2-3 minutes; a shared 2-core machine under load needs the margin
def test_two_workers_one_store_one_email_per_manager(cluster: Cluster):
    server, moto, smtp, timings = cluster.server, cluster.moto, cluster.smtp, cluster.timings

    # 1. Two runs of the digests for one day at once, one on each worker: one email per manager.
    t = time.monotonic()
    smtp.handler.data_delay = 1.0  # each send takes a second: the two runs' send phases overlap more
    racing = [_create_run(server, RACE, RACE_DAY) for _ in range(2)]
    runs = _wait_final(cluster, [r.id for r in racing])
    timings["two racing digest runs"] = time.monotonic() - t
    assert all(r.state.is_completed() for r in runs), [r.state for r in runs]
    assert {_worker_of(cluster, r.id) for r in runs} == {"worker-a", "worker-b"}
    assert _sent_to(smtp, RACE_DAY) == {m: 1 for m in MANAGERS}
    # each recipient was sent by exactly one of the two runs; the other found its claim or record
    outcomes = {}
    for r in runs:
        logs = _logs(cluster, r.id, r"(?s)" + "".join(f"(?=.*digest for {re.escape(m)})" for m in MANAGERS))
        outcomes[_worker_of(cluster, r.id)] = {
            m: ("sent" if f"digest for {m} sent (" in logs else
                "already-sent" if f"digest for {m} already sent" in logs else
                "claimed-elsewhere" if f"digest for {m} not sent by this run" in logs else "?")
            for m in MANAGERS}
    print("race outcomes per worker:", outcomes)
    for m in MANAGERS:
        assert [o[m] for o in outcomes.values()].count("sent") == 1, outcomes
    smtp.handler.data_delay = 0.0

    # 2. One recipient refused: the run fails naming them; the others got theirs.
    t = time.monotonic()
    smtp.handler.refuse.add(REFUSED)
    [first] = _wait_final(cluster, [_create_run(server, DIGESTS, RETRY_DAY).id])
    assert first.state.is_failed(), first.state
    assert REFUSED in (first.state.message or "") and "1 of 3 digests not delivered" in first.state.message
    assert _sent_to(smtp, RETRY_DAY) == {"lead@example.com": 1, "second@example.com": 1, REFUSED: 0}
    assert REFUSED in smtp.handler.rcpt_attempts

    # ... retried (as the UI's Retry does) with the worker that ran it gone: the other one runs it
    # and sends to that recipient only.
    ran_first = _worker_of(cluster, first.id)
    cluster.workers[ran_first].stop()
    smtp.handler.refuse.clear()
    from prefect.states import Scheduled

    with _client(server) as client:
        client.set_flow_run_state(first.id, Scheduled(), force=True)
    [retried] = _wait_final(cluster, [first.id])
    timings["refused run + retry on the other worker"] = time.monotonic() - t
    assert retried.state.is_completed(), f"{retried.state!r}" + _explain(cluster)
    assert retried.run_count == 2
    other = ({"worker-a", "worker-b"} - {ran_first}).pop()
    assert f"flow-run/{first.id}" in cluster.workers[other].log.read_text(errors="replace")
    assert _sent_to(smtp, RETRY_DAY) == {m: 1 for m in MANAGERS}

    # 3. The store holds every run's reports, complete, and the ledger settled (no claim left).
    keys = moto.keys(BUCKET, "pike/")

    def run_folder(report: str, day) -> str:  # the run folder the .complete pointer names
        pointer = moto.client().get_object(Bucket=BUCKET, Key=f"pike/{report}/{day}/.complete")["Body"].read()
        return f"pike/{report}/{day}/runs/{json.loads(pointer)['run']}"

    for day in (RACE_DAY, RETRY_DAY):
        for report, names in (("overdue", ("index.html", "overdue.csv")), ("digest", ("summary.json",))):
            for name in names:
                assert f"{run_folder(report, day)}/{name}" in keys, (report, day, name, keys)
        claims: dict[str, list[int]] = {}  # each recipient's claim generations: the latest settled sent
        for key in keys:
            if key.startswith(f"pike/_ledger/manager/{day}/") and "/claim." in key:
                folder, generation = key.rsplit("/claim.", 1)
                claims.setdefault(folder, []).append(int(generation))
        stages = [json.loads(moto.client().get_object(Bucket=BUCKET, Key=f"{folder}/claim.{max(gens)}")["Body"].read())
                  ["stage"] for folder, gens in claims.items()]
        assert stages == ["sent"] * 3, claims
    assert not [k for k in keys if "_probe/" in k or ".staging" in k]
    summary_object = moto.client().get_object(Bucket=BUCKET, Key=f"{run_folder('digest', RETRY_DAY)}/summary.json")
    summary = json.loads(summary_object["Body"].read())
    # each recipient's latest real outcome (this run found two already sent by the first try)
    assert {d["recipient"]: (d["status"], d.get("run_status")) for d in summary["digests"]} == {
        "lead@example.com": ("sent", "already-sent"), "second@example.com": ("sent", "already-sent"),
        REFUSED: ("sent", None)}

    # 4. The link in every email is a presigned URL at the store that opens the overdue page.
    for received in smtp.messages:
        link = _report_link(received)
        assert link.startswith(f"{moto.url}/{BUCKET}/pike/overdue/") and "X-Amz-Signature=" in link, link
        with urllib.request.urlopen(link.split("#")[0], timeout=10) as resp:
            page = resp.read().decode("utf-8")
        assert resp.status == 200 and "<html" in page.lower() and "Overdue" in page

    # 5. Both workers' listing fetches held slots of the one pike-api limit (4 listings per run).
    with _client(server) as client:
        limit = client.read_global_concurrency_limit_by_name("pike-api")
    assert limit.limit == 2 and limit.active and limit.active_slots == 0
    run_ids = {str(r.id) for r in runs} | {str(first.id)}
    slots = _acquisitions(cluster, limit.id, run_ids)
    # 4 listings per attempt: 4 for each racing run, 8 for the digest run tried twice
    assert {run_id: slots.get(run_id, 0) for run_id in run_ids} == {
        **{str(r.id): 4 for r in runs}, str(first.id): 8}, slots
    print("scale e2e timings (s):", {k: round(v, 1) for k, v in timings.items()})
