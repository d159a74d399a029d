"""The report store on S3 (a real ``moto_server`` on 127.0.0.1) and its failures.

A bad store must fail before any API call, in one line naming the setting (``output_dir``); a
store that goes away mid-publish must leave no ``.complete`` marker; readers trust only folders
with a marker; once-only records are create-only on S3; presigned links open with a plain GET.
"""

from __future__ import annotations

import os
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from moto_server import CREDENTIALS, MotoServer, start_moto

from pike_tasks.store import MARKER, FolderRef, Scope, StoreError, open_store

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "small"
AS_OF = date(2026, 4, 9)
FILES = {"index.html": b"<h1>Overdue</h1>", "overdue.csv": b"a,b\r\n1,2\r\n", "summary.json": b"{}\n"}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


def _fresh_s3fs() -> None:
    """fsspec caches one S3FileSystem per set of arguments, credentials and endpoint included:
    a test that changes the environment needs a new one, as a new worker process would get."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def aws_env(moto: MotoServer, monkeypatch):
    """The environment of a worker that can reach ``moto`` (and no real AWS settings)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in moto.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.delenv("PIKE_REPORTS_PUBLIC_URL", raising=False)
    _fresh_s3fs()
    yield monkeypatch
    _fresh_s3fs()


@pytest.fixture
def bucket(moto: MotoServer, aws_env) -> str:
    name = f"pike-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    assert "output_dir" in text, text
    return text


# --- bad input fails before any API call, in one line naming the setting -----------------------


def _run_overdue_flow(sandbox, monkeypatch, output_dir: str) -> None:
    """The overdue flow's own code (``.fn``: no Prefect engine needed) against the sandbox."""
    from flows.overdue import report_overdue_tasks

    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    report_overdue_tasks.fn(as_of=AS_OF, output_dir=output_dir, teams_config=str(FIXTURE / "teams.yaml"))


def test_unknown_scheme_fails_before_any_api_call(sandbox, monkeypatch):
    with pytest.raises(StoreError) as info:
        _run_overdue_flow(sandbox, monkeypatch, "ftp://files.example.com/pike")
    text = _one_line(info.value)
    assert "unknown store scheme 'ftp'" in text and "s3" in text
    assert sandbox.requests == []


@pytest.mark.parametrize("url", ["s3://", "s3:///", "gs://"])
def test_a_url_without_bucket_is_named(url):
    with pytest.raises(StoreError, match="name a bucket") as info:
        open_store(url, setting="output_dir").check_writable()
    _one_line(info.value)


def test_missing_bucket_fails_before_any_api_call(sandbox, aws_env, moto):
    with pytest.raises(StoreError) as info:
        _run_overdue_flow(sandbox, aws_env, "s3://no-such-bucket-here/pike")
    text = _one_line(info.value)
    assert "bucket 'no-such-bucket-here' does not exist" in text
    assert sandbox.requests == []


def test_missing_credentials_fail_before_any_api_call_naming_the_variables(sandbox, aws_env, bucket):
    aws_env.delenv("AWS_ACCESS_KEY_ID")
    aws_env.delenv("AWS_SECRET_ACCESS_KEY")
    _fresh_s3fs()
    with pytest.raises(StoreError) as info:
        _run_overdue_flow(sandbox, aws_env, f"s3://{bucket}/pike")
    text = _one_line(info.value)
    assert "no AWS credentials" in text and "AWS_ACCESS_KEY_ID" in text, text
    assert "does not exist" not in text  # not mistaken for a missing bucket
    assert sandbox.requests == []


def test_unreachable_endpoint_names_it(aws_env):
    from prefect_server import free_port

    aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    _fresh_s3fs()
    with pytest.raises(StoreError) as info:
        open_store("s3://pike-reports/pike", setting="output_dir").check_writable()
    text = _one_line(info.value)
    assert "cannot reach" in text and "AWS_ENDPOINT_URL" in text, text


def _as_nobody(fn) -> str:
    """Run ``fn`` in a forked child with the uid of ``nobody`` (root ignores folder permissions)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, run, report one line, exit without pytest's cleanup
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            try:
                fn()
                out = "OK"
            except StoreError as exc:
                out = "StoreError: " + str(exc)
            except BaseException as exc:  # noqa: BLE001 - the child reports whatever it raised
                out = f"{type(exc).__name__}: {exc}"
            os.write(write, out.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    os.waitpid(pid, 0)
    return out


def test_read_only_folder_fails_before_any_api_call(sandbox, monkeypatch, tmp_path):
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pike-ro-"))  # not under pytest's 0700 tmp: nobody must reach it
    try:
        base.chmod(0o755)
        readonly = base / "reports"
        readonly.mkdir(mode=0o555)
        readonly.chmod(0o555)
        if os.geteuid() == 0:
            out = _as_nobody(lambda: _run_overdue_flow(sandbox, monkeypatch, str(readonly / "out")))
        else:
            try:
                _run_overdue_flow(sandbox, monkeypatch, str(readonly / "out"))
                out = "OK"
            except StoreError as exc:
                out = "StoreError: " + str(exc)
        assert out.startswith("StoreError: "), out
        _one_line(out)
        assert "permission denied" in out and str(readonly / "out") in out
        assert sandbox.requests == []
    finally:
        readonly.chmod(0o755)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


# --- publishing and reading back --------------------------------------------------------------


def test_publish_read_and_completed_dates_on_s3(moto, bucket):
    store = open_store(f"s3://{bucket}/pike", setting="output_dir")
    store.check_writable()
    ref = FolderRef("overdue", AS_OF)
    location = store.publish(ref, FILES)
    run = location.rsplit("/", 1)[-1]
    assert location == f"s3://{bucket}/pike/overdue/2026-04-09/runs/{run}"
    assert moto.keys(bucket) == sorted([f"pike/overdue/2026-04-09/runs/{run}/{n}" for n in FILES]
                                       + ["pike/overdue/2026-04-09/.complete", "pike/_store.json"])
    assert store.read(ref, "overdue.csv") == FILES["overdue.csv"]
    assert store.list_files(ref) == sorted(FILES)
    assert store.files_at(location) == sorted(FILES)

    # republished with one file fewer: a new run folder, the pointer names it; the old run stays
    second = store.publish(ref, {"index.html": b"<h1>v2</h1>"})
    assert second != location and store.list_files(ref) == ["index.html"]
    assert store.read(ref, "index.html") == b"<h1>v2</h1>" and store.read(ref, "overdue.csv") is None
    assert f"pike/overdue/2026-04-09/runs/{run}/overdue.csv" in moto.keys(bucket)  # links handed out still work
    assert [k for k in moto.keys(bucket) if not k.startswith("pike/overdue/")] == ["pike/_store.json"]


def test_retention_on_s3_removes_old_folders_and_ledger_days_and_keeps_the_newest(moto, bucket):
    from datetime import timedelta

    from pike_tasks.once import DeliveryLedger

    store = open_store(f"s3://{bucket}/pike", setting="output_dir")
    days = [AS_OF - timedelta(weeks=w) for w in reversed(range(12))]
    for day in days:
        store.publish(FolderRef("overdue", day), FILES)
        DeliveryLedger(store, "manager", day, "src").settle_sent("lead@example.com", {"message_id": "m"})
    assert store.prune("overdue", Scope(), AS_OF, 30, keep_newest=8, today=AS_OF) == days[:4]
    assert store.prune_ledger("manager", AS_OF, 30, today=AS_OF) == days[:-5]
    assert store.completed_dates("overdue", Scope()) == days[4:]  # 30 days would keep 5: the newest 8 stay
    kept = {k.split("/")[2] for k in moto.keys(bucket, "pike/overdue/")}
    assert kept == {d.isoformat() for d in days[4:]}  # nothing of a removed folder is left behind
    assert store.ledger_dates("manager") == days[-5:]


def test_completed_dates_ignores_folders_without_marker(moto, bucket):
    s3 = moto.client()
    s3.put_object(Bucket=bucket, Key="pike/overdue/2026-04-07/index.html", Body=b"half")  # a run that died
    s3.put_object(Bucket=bucket, Key="pike/overdue/notes/.complete", Body=b"{}")  # not a date
    store = open_store(f"s3://{bucket}/pike")
    store.publish(FolderRef("overdue", AS_OF), FILES)
    store.publish(FolderRef("overdue", date(2026, 4, 8), Scope.of(["team-a"])), FILES)  # filtered: stored apart

    assert store.completed_dates("overdue", Scope()) == [AS_OF]
    assert store.read(FolderRef("overdue", date(2026, 4, 7)), "index.html") is None
    assert store.list_files(FolderRef("overdue", date(2026, 4, 7))) == []
    assert store.completed_dates("overdue", Scope.of(["team-a"])) == [date(2026, 4, 8)]
    assert store.completed_dates("workload", Scope()) == []


def test_a_failed_republish_leaves_the_previous_report(moto, bucket, monkeypatch):
    store = open_store(f"s3://{bucket}/pike")
    ref = FolderRef("overdue", AS_OF)
    store.publish(ref, FILES)
    real_pipe = store.fs.pipe_file
    calls = []

    def failing_pipe(path, data, **kwargs):
        calls.append(path.rsplit("/", 1)[-1])
        if len(calls) == 2:
            raise ConnectionResetError("connection reset by peer")
        return real_pipe(path, data, **kwargs)

    monkeypatch.setattr(store.fs, "pipe_file", failing_pipe)
    with pytest.raises(StoreError, match="not published; the previous report, if any, stays") as info:
        store.publish(ref, {"index.html": b"new", "overdue.csv": b"new"})
    assert "\n" not in str(info.value)
    # the pointer was not touched: the previous report is whole, still the baseline of the next run
    assert store.completed_dates("overdue", Scope()) == [AS_OF]
    assert {n: store.read(ref, n) for n in FILES} == FILES


def test_a_store_that_goes_away_mid_publish_fails_without_marker(tmp_path, aws_env):
    """A store of its own, killed (SIGKILL) right after the first file of the folder is written."""
    import time

    own = start_moto(tmp_path)
    try:
        for name, value in own.env.items():
            aws_env.setenv(name, value)
        _fresh_s3fs()
        own.client().create_bucket(Bucket="pike-dies")
        store = open_store("s3://pike-dies/pike", setting="output_dir")
        store.check_writable()
        real_pipe = store.fs.pipe_file
        written = []

        def pipe_then_die(path, data, **kwargs):
            result = real_pipe(path, data, **kwargs)
            written.append(path.rsplit("/", 1)[-1])
            if len(written) == 1:
                own.kill()
            return result

        aws_env.setattr(store.fs, "pipe_file", pipe_then_die)
        t = time.monotonic()
        with pytest.raises(StoreError) as info:
            store.publish(FolderRef("overdue", AS_OF), FILES)
        elapsed = time.monotonic() - t
        text = _one_line(info.value)
        assert "could not publish overdue/2026-04-09" in text and "not published" in text, text
        assert written == ["index.html"] and MARKER not in written
        assert elapsed < 60, f"publish took {elapsed:.0f} s to give up"
    finally:
        own.stop()


# --- once-only records ------------------------------------------------------------------------


def test_create_record_is_create_only_on_s3(moto, bucket):
    store = open_store(f"s3://{bucket}/pike")
    key = "_ledger/manager/2026-04-09/src/lead-abc.claim"
    assert store.create_record(key, b"first") is True
    assert store.create_record(key, b"second") is False
    assert store.read_record(key) == b"first"
    store.delete_record(key)
    assert store.read_record(key) is None
    assert store.create_record(key, b"third") is True


def test_racing_creates_have_one_winner(moto, bucket):
    """Eight threads, each with its own S3 connection (as eight workers), race for one claim."""
    import s3fs

    key = f"{bucket}/pike/_ledger/manager/2026-04-09/src/race.claim"
    barrier = threading.Barrier(8)

    def race(i: int) -> bool:
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.ls(bucket)  # connect before the start line
        barrier.wait()
        try:
            fs.pipe_file(key, f"worker {i}".encode(), mode="create")
        except FileExistsError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(race, range(8)))
    assert wins.count(True) == 1, wins


# --- links ------------------------------------------------------------------------------------


def test_presigned_link_fetches_with_a_plain_get(moto, bucket, aws_env):
    store = open_store(f"s3://{bucket}/pike")
    ref = FolderRef("overdue", AS_OF)
    store.publish(ref, FILES)
    link = store.link(ref, anchor="team-1")
    run_folder = store.folder_location(ref).split("://", 1)[1]
    assert link.startswith(f"{moto.url}/{run_folder}/index.html?") and "/overdue/2026-04-09/runs/" in link
    assert "X-Amz-Signature=" in link and link.endswith("#team-1")
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in link
    with urllib.request.urlopen(link.split("#")[0], timeout=10) as resp:
        assert resp.status == 200 and resp.read() == FILES["index.html"]

    aws_env.setenv("PIKE_REPORTS_LINK_DAYS", "0.5")
    assert "X-Amz-Expires=43200" in store.link(ref, "overdue.csv")
    aws_env.setenv("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike/")
    assert store.link(ref) == f"https://reports.example.com/pike/{run_folder.split('/', 2)[2]}/index.html"


def test_team_pages_open_from_a_presigned_index(moto, bucket, aws_env):
    """Each object needs its own signature: the links between the overdue report's pages are presigned."""
    import re
    from html import unescape

    import pandas as pd
    from agency_frames import agency_tasks
    from prefect.logging import disable_run_logger

    from pike_tasks.prefect_tasks import Resolved, build_overdue_report
    from pike_tasks.teams_config import parse_teams_config

    store = open_store(f"s3://{bucket}/pike")
    resolved = Resolved(tasks=agency_tasks(AS_OF, teams=3, rows_per_team=4), members=pd.DataFrame(), data_quality={})
    with disable_run_logger():
        result = build_overdue_report.fn(resolved, as_of=AS_OF, config=parse_teams_config(None), store=store)

    def get(url: str) -> str:
        with urllib.request.urlopen(url.split("#")[0], timeout=10) as resp:
            assert resp.status == 200
            return resp.read().decode("utf-8")

    index = get(result.link)
    team_links = [unescape(h) for h in re.findall(r'href="([^"]*)"', index) if "/team-" in h and "#" not in h]
    assert len(set(team_links)) == 3 and all("X-Amz-Signature=" in h for h in team_links)
    team_page = get(team_links[0])
    assert "Overdue tasks of" in team_page
    back = [unescape(h) for h in re.findall(r'href="([^"]*)"', team_page) if "/index.html?" in h]
    assert back and "#team-" in back[0] and get(back[0]) == index
