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
from moto_server import CREDENTIALS, MotoServer, start_moto, use_moto

from pike_tasks.once import ledger_dates, prune_ledger_days
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
    use_moto(moto, monkeypatch)
    monkeypatch.delenv("PIKE_REPORTS_PUBLIC_URL", raising=False)
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
    assert prune_ledger_days(store, "manager", AS_OF, 30, today=AS_OF) == days[:-5]
    assert store.completed_dates("overdue", Scope()) == days[4:]  # 30 days would keep 5: the newest 8 stay
    kept = {k.split("/")[2] for k in moto.keys(bucket, "pike/overdue/")}
    assert kept == {d.isoformat() for d in days[4:]}  # nothing of a removed folder is left behind
    assert ledger_dates(store, "manager") == days[-5:]


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


# --- issue 20: publishing without rename, literal prefixes, least privilege, deadlines ---------

CHILD = REPO / "tests" / "publish_child.py"
OLD_FILES = {"overdue.csv": b"old rows\r\n", "index.html": b"<p>old</p>", "summary.json": b"{}\n"}


def _whole(store, ref) -> dict[str, bytes | None]:
    """The folder as a reader sees it: every listed file, read back."""
    return {name: store.read(ref, name) for name in store.list_files(ref)}


def test_a_publisher_killed_at_any_step_leaves_a_whole_report(moto, bucket):
    """SIGKILL before the first object, between objects, before and after the pointer."""
    import signal
    import subprocess
    import sys

    from publish_child import KILL_FILES, REF

    url = f"s3://{bucket}/pike"
    store = open_store(url)
    store.publish(REF, OLD_FILES)
    for step in ["1", "2", "3", "4", "after"]:
        proc = subprocess.run([sys.executable, str(CHILD), url, f"kill:{step}"], cwd=REPO, env=dict(os.environ),
                              capture_output=True, timeout=60)
        assert proc.returncode == -signal.SIGKILL, (step, proc.stderr[-2000:])
        expected = KILL_FILES if step == "after" else OLD_FILES
        assert _whole(store, REF) == expected, step
        assert store.completed_dates("overdue", Scope()) == [AS_OF], step


def test_racing_publishes_leave_exactly_one_runs_files(moto, bucket):
    """Two processes publish different files to one folder at once, 10 rounds: never a mix."""
    import subprocess
    import sys

    from publish_child import REF, race_files

    url = f"s3://{bucket}/pike"
    procs = {tag: subprocess.Popen([sys.executable, str(CHILD), url, f"race:{tag}"], cwd=REPO, env=dict(os.environ),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for tag in "ab"}
    store = open_store(url)
    try:
        for round_ in range(1, 11):
            for proc in procs.values():
                proc.stdin.write(f"go {round_}\n")
                proc.stdin.flush()
            for proc in procs.values():
                assert proc.stdout.readline().strip() == f"done {round_}"
            seen = _whole(store, REF)
            assert seen in (race_files("a", round_), race_files("b", round_)), (round_, sorted(seen))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait(timeout=30)


@pytest.mark.parametrize("prefix", ["x[1]", "x?", "x*"])
def test_prefixes_are_literal_never_patterns(moto, bucket, prefix):
    from datetime import timedelta

    days = [AS_OF - timedelta(weeks=w) for w in reversed(range(12))]
    others = {name: open_store(f"s3://{bucket}/{name}") for name in ("x1", "xa")}  # what a glob would match
    for other in others.values():
        for day in days:
            other.publish(FolderRef("overdue", day), {"index.html": b"other"})
    before = moto.keys(bucket, "x")
    store = open_store(f"s3://{bucket}/{prefix}", setting="output_dir")
    store.check_writable()
    mine = days[-3:]
    for day in mine:
        store.publish(FolderRef("overdue", day), {"index.html": b"mine"})
    assert store.completed_dates("overdue", Scope()) == mine
    assert store.read(FolderRef("overdue", days[0]), "index.html") is None
    assert store.prune("overdue", Scope(), AS_OF, 7, keep_newest=1, today=AS_OF) == mine[:1]
    assert store.completed_dates("overdue", Scope()) == mine[1:]
    assert [k for k in moto.keys(bucket, "x") if not k.startswith(prefix + "/")] == before  # others untouched
    assert prune_ledger_days(store, "manager", AS_OF, 7, today=AS_OF) == []


@pytest.mark.parametrize("url", ["s3://b/x//y", "s3://b//x", "s3://b/x/./y", "s3://b/x/../y"])
def test_a_prefix_with_an_empty_or_dot_segment_is_refused_in_one_line(url):
    with pytest.raises(StoreError, match="empty, '.' or '..' segment") as info:
        open_store(url, setting="output_dir")
    _one_line(info.value)


def _least_privilege_moto(folder: Path) -> tuple[MotoServer, dict[str, str]]:
    """A moto of its own enforcing IAM: a user that may get, put and list, but not delete."""
    import json

    import boto3

    own = start_moto(folder)
    iam = boto3.client("iam", endpoint_url=own.url, region_name="us-east-1",
                       aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    iam.create_user(UserName="reports")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"], "Resource": "*"}]}
    iam.put_user_policy(UserName="reports", PolicyName="no-delete", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reports")["AccessKey"]
    own.client().create_bucket(Bucket="least")
    request = urllib.request.Request(f"{own.url}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).close()  # from now on every request is checked
    return own, {**own.env, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_a_bucket_without_delete_works_with_one_warning_and_leaves_no_probe(tmp_path, aws_env, monkeypatch):
    from datetime import timedelta

    import flows.common as common
    from pike_tasks.prefect_tasks import apply_retention

    own, env = _least_privilege_moto(tmp_path)
    try:
        for name, value in env.items():
            aws_env.setenv(name, value)
        _fresh_s3fs()
        warnings: list[str] = []

        class Collect:
            def warning(self, msg, *args):
                warnings.append(msg % args)

            info = warning

        monkeypatch.setattr(common, "_run_logger", Collect)
        for _ in range(2):  # the second run finds _store.json: its 412 proves write access too
            store = common.open_report_store("s3://least/pike")
            assert store.can_delete is False
            for weeks in (30, 20, 0):
                ref = FolderRef("overdue", AS_OF - timedelta(weeks=weeks))
                store.publish(ref, FILES)
                assert apply_retention(store, ref, logger=Collect()) == []
        assert len(warnings) == 2 and all("refuses deletes: retention" in w for w in warnings), warnings
        _fresh_s3fs()
        keys = sorted(obj["Key"] for obj in boto_keys(own, env))
        assert not [k for k in keys if "probe" in k], keys
        assert [k for k in keys if not k.startswith("pike/overdue/")] == ["pike/_store.json"]
        assert store.completed_dates("overdue", Scope()) == [AS_OF - timedelta(weeks=w) for w in (30, 20, 0)]
    finally:
        own.stop()


def boto_keys(server: MotoServer, env: dict[str, str]) -> list[dict]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    return s3.list_objects_v2(Bucket="least").get("Contents", [])


def test_a_frozen_store_fails_within_the_request_deadline(moto, bucket, aws_env):
    """moto SIGSTOPped: the store gives up after PIKE_API_REQUEST_DEADLINE (2 s here), in one line."""
    import signal
    import time

    aws_env.setenv("PIKE_API_REQUEST_DEADLINE", "2")
    _fresh_s3fs()
    store = open_store(f"s3://{bucket}/pike", setting="output_dir")
    outcome: list[BaseException | None] = []
    done = threading.Event()

    def check() -> None:
        try:
            store.check_writable()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test reads what it raised
            outcome.append(exc)
        done.set()

    os.kill(moto.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        threading.Thread(target=check, daemon=True).start()
        assert done.wait(20), "still waiting for a frozen store after 20 s"
        elapsed = time.monotonic() - started
    finally:
        os.kill(moto.process.pid, signal.SIGCONT)
    assert isinstance(outcome[0], StoreError), outcome
    text = _one_line(outcome[0])
    assert "no answer within 2 s (PIKE_API_REQUEST_DEADLINE)" in text, text
    assert elapsed < 8, f"took {elapsed:.1f} s"


# --- settings checked before any API call; credentials in a store URL never shown ---------------

BAD_STORE_SETTINGS = [
    ("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike?token=abc", "query", "abc"),
    ("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike#frag-x1", "fragment", "frag-x1"),
    ("PIKE_REPORTS_PUBLIC_URL", "https://user:pw-secret@reports.example.com/pike", "user or password", "pw-secret"),
    ("PIKE_REPORTS_PUBLIC_URL", "ftp://reports.example.com/pike", "http(s)", None),
    ("PIKE_REPORTS_LINK_DAYS", "30", "at most 7", None),
    ("PIKE_REPORTS_LINK_DAYS", "0", "more than 0", None),
    ("PIKE_REPORTS_KEEP_DAYS", "1000000", "36500", None),
]


@pytest.mark.parametrize("name, value, says, hidden", BAD_STORE_SETTINGS)
def test_bad_store_settings_fail_before_any_api_call(sandbox, monkeypatch, capsys, tmp_path, name, value, says, hidden):
    from flows.cli import main

    monkeypatch.setenv(name, value)
    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    assert main(["run", "overdue", "--out", str(tmp_path / "out"), "--teams-config", str(FIXTURE / "teams.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert name in err and says in err, err
    with pytest.raises(StoreError) as info:  # a flow run: the same line, before the fetch
        _run_overdue_flow(sandbox, monkeypatch, str(tmp_path / "flow"))
    text = _one_line(str(info.value)) if "output_dir" in str(info.value) else str(info.value)
    assert name in text and says in text and "\n" not in text, text
    if hidden:
        assert hidden not in err and hidden not in text
    assert sandbox.requests == []


@pytest.mark.parametrize("url", ["sftp://u:pw-secret@files.example.com/x", "webdav://files.example.com/x?pw-secret",
                                 "ftp://u:pw-secret@files.example.com:21/x#pw-secret"])
def test_a_store_url_with_credentials_is_never_shown(sandbox, monkeypatch, capsys, url):
    from flows.cli import main
    from flows.common import choose_store
    from pike_tasks.errors import PikeConfigError

    monkeypatch.setenv("PIKE_API_BASE_URL", sandbox.url)
    monkeypatch.setenv("PIKE_API_SECRET", sandbox.secret)
    assert main(["run", "overdue", "--out", url]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown store scheme" in err and "pw-secret" not in err and "files.example.com" in err, err
    with pytest.raises(StoreError) as info:
        _run_overdue_flow(sandbox, monkeypatch, url)
    assert "pw-secret" not in str(info.value) and "***" in str(info.value)
    with pytest.raises(PikeConfigError) as config:
        choose_store("memory://u:pw-secret@x/y", in_deployment=True)
    assert "pw-secret" not in str(config.value)
    assert sandbox.requests == []


def test_a_folder_of_the_old_layout_is_still_read_and_retention_removes_all_of_a_date(moto, bucket, aws_env):
    """A ``.complete`` without a run id: the files lie in the folder itself (before run folders)."""
    s3 = moto.client()
    old = FolderRef("overdue", AS_OF)
    for name, data in FILES.items():
        s3.put_object(Bucket=bucket, Key=f"pike/overdue/2026-04-09/{name}", Body=data)
    s3.put_object(Bucket=bucket, Key="pike/overdue/2026-04-09/.complete", Body=b'{"files": []}\n')
    store = open_store(f"s3://{bucket}/pike")
    assert store.completed_dates("overdue", Scope()) == [AS_OF]
    assert _whole(store, old) == FILES
    assert store.folder_location(old) == f"s3://{bucket}/pike/overdue/2026-04-09"
    aws_env.setenv("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike")
    assert store.link(old) == "https://reports.example.com/pike/overdue/2026-04-09/index.html"

    fresh = open_store(f"s3://{bucket}/pike")  # another run re-publishes the date in run folders
    fresh.publish(old, {"index.html": b"v2"})
    assert _whole(store, old) == {"index.html": b"v2"}
    assert "/runs/" in open_store(f"s3://{bucket}/pike").link(old)
    newer = FolderRef("overdue", date(2026, 4, 20))
    fresh.publish(newer, FILES)
    assert fresh.prune("overdue", Scope(), newer.as_of, 5, keep_newest=1, today=newer.as_of) == [AS_OF]
    assert not moto.keys(bucket, "pike/overdue/2026-04-09/")  # the old files, the run folder, the pointer
