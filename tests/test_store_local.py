"""The report store on a local folder: whole-folder publication, scopes, bad locations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from pike_tasks.once import ledger_dates, prune_ledger_days
from pike_tasks.store import FolderRef, Scope, StoreError, open_store

DAY = date(2026, 4, 9)
REPO = Path(__file__).resolve().parent.parent


def _files(n: int) -> dict[str, bytes]:
    return {"overdue.csv": b"rows %d\n" % n, "index.html": b"<p>%d</p>" % n, "summary.json": b'{"n": %d}' % n}


def test_publish_replaces_the_folder_whole_and_marks_it_complete(tmp_path):
    store = open_store(str(tmp_path))
    ref = FolderRef("overdue", DAY)
    store.publish(ref, {**_files(1), "extra.csv": b"old"})
    store.publish(ref, _files(2))
    folder = tmp_path / "overdue" / DAY.isoformat()
    assert sorted(p.name for p in folder.iterdir()) == [".complete", "index.html", "overdue.csv", "summary.json"]
    assert (folder / "overdue.csv").read_bytes() == b"rows 2\n"
    assert store.completed_dates("overdue", Scope()) == [DAY]
    assert store.read(ref, "summary.json") == b'{"n": 2}'
    assert [p.name for p in folder.parent.iterdir()] == [DAY.isoformat()]  # no staging or old folder left


def test_a_failure_while_writing_leaves_the_previous_complete_folder(tmp_path, monkeypatch):
    import pike_tasks.store.local as store_module

    store = open_store(str(tmp_path))
    ref = FolderRef("overdue", DAY)
    store.publish(ref, _files(1))
    real_write = store_module._write_synced
    calls = []

    def disk_full_on_second_file(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(store_module, "_write_synced", disk_full_on_second_file)
    with pytest.raises(StoreError, match="No space left on device"):
        store.publish(ref, _files(2))
    folder = tmp_path / "overdue" / DAY.isoformat()
    assert (folder / "overdue.csv").read_bytes() == b"rows 1\n" and (folder / "index.html").read_bytes() == b"<p>1</p>"
    assert [p.name for p in folder.parent.iterdir()] == [DAY.isoformat()]


_SLOW_PUBLISHER = textwrap.dedent("""
    import sys, time
    import pike_tasks.store.local as s
    from pike_tasks.store import FolderRef, open_store
    real = s._write_synced
    def slow(path, data):
        real(path, data)
        print("wrote", path.name, flush=True)
        time.sleep(30)
    s._write_synced = slow
    from datetime import date
    open_store(sys.argv[1]).publish(FolderRef("overdue", date(2026, 4, 9)), {
        "overdue.csv": b"new", "index.html": b"new", "summary.json": b"new"})
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_publisher_leaves_the_old_folder_and_its_leftovers_are_cleaned(tmp_path, sig):
    store = open_store(str(tmp_path))
    ref = FolderRef("overdue", DAY)
    store.publish(ref, _files(1))
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_PUBLISHER, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    assert proc.stdout.readline().startswith("wrote overdue.csv")
    proc.send_signal(sig)
    proc.wait(timeout=20)
    folder = tmp_path / "overdue" / DAY.isoformat()
    assert (folder / "overdue.csv").read_bytes() == b"rows 1\n"  # the reader still sees the old, whole folder
    assert store.read(ref, "index.html") == b"<p>1</p>"
    leftovers = [p for p in folder.parent.iterdir() if p.name.startswith(".staging-")]
    assert leftovers  # a dead run's staging folder ...
    old = time.time() - 2 * 3600
    for p in leftovers:
        os.utime(p, (old, old))
    store.publish(ref, _files(3))  # ... is removed by the next publish once it is clearly stale
    assert [p.name for p in folder.parent.iterdir()] == [DAY.isoformat()]


def test_a_crash_between_the_two_renames_is_repaired_by_the_next_reader(tmp_path):
    store = open_store(str(tmp_path))
    ref = FolderRef("overdue", DAY)
    store.publish(ref, _files(1))
    folder = tmp_path / "overdue" / DAY.isoformat()
    folder.rename(folder.with_name(f".old-{DAY.isoformat()}-deadbeef"))  # killed right after the first rename
    assert store.completed_dates("overdue", Scope()) == [DAY]
    assert store.read(ref, "overdue.csv") == b"rows 1\n"


def test_a_filtered_run_is_stored_apart_from_the_whole_workspace_report(tmp_path):
    store = open_store(str(tmp_path))
    store.publish(FolderRef("overdue", DAY), _files(297))
    filtered = FolderRef("overdue", DAY, Scope.of(["team-b", "team-a"]))
    store.publish(filtered, _files(27))
    assert store.read(FolderRef("overdue", DAY), "overdue.csv") == b"rows 297\n"
    assert store.read(filtered, "overdue.csv") == b"rows 27\n"
    assert Scope.of(["team-a", "team-b"]).prefix == Scope.of(["team-b", "team-a", "team-a"]).prefix
    assert Scope.of(["team-a"]).prefix != Scope.of(["team-a", "team-b"]).prefix
    assert Scope.of(["a,b"]).prefix != Scope.of(["a", "b"]).prefix
    assert store.completed_dates("overdue", Scope.of(["team-c"])) == []


def test_a_folder_without_its_marker_is_not_trusted(tmp_path):
    store = open_store(str(tmp_path))
    half = tmp_path / "overdue" / "2026-04-08"
    half.mkdir(parents=True)
    (half / "overdue.csv").write_text("half")
    assert store.completed_dates("overdue", Scope()) == []
    assert store.read(FolderRef("overdue", date(2026, 4, 8)), "overdue.csv") is None


@pytest.mark.parametrize("location, message", [
    ("ftp://host/x", "unknown store scheme 'ftp'"),
    ("s3://", "name a bucket"),
    ("", "is empty"),
])
def test_locations_we_cannot_handle_are_one_clear_error(location, message):
    with pytest.raises(StoreError, match=message):
        open_store(location).check_writable()


def test_a_read_only_folder_fails_before_any_api_call(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file-not-folder"
        target.write_text("x")
        with pytest.raises(StoreError, match="not a folder|cannot create"):
            open_store(str(target)).check_writable()
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    with pytest.raises(StoreError, match="not writable"):
        open_store(str(ro)).check_writable()


def test_create_record_is_create_only(tmp_path):
    store = open_store(str(tmp_path))
    assert store.create_record("_ledger/k.claim", b"1")
    assert not store.create_record("_ledger/k.claim", b"2")
    assert store.read_record("_ledger/k.claim") == b"1"


def test_public_url_maps_the_store_to_links(tmp_path, monkeypatch):
    store = open_store(str(tmp_path))
    ref = FolderRef("overdue", DAY, Scope.of(["t 1"]))
    assert store.link(ref) is None  # a local folder has no URL of its own
    monkeypatch.setenv("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike/")
    assert store.link(ref, anchor="team-1").startswith("https://reports.example.com/pike/filtered/teams-t1-")
    assert store.link(ref, anchor="team-1").endswith("/overdue/2026-04-09/index.html#team-1")
    monkeypatch.setenv("PIKE_REPORTS_PUBLIC_URL", "file:///srv/reports")
    with pytest.raises(StoreError, match="PIKE_REPORTS_PUBLIC_URL"):
        store.link(ref)


def test_page_links_between_a_folders_files_are_relative_without_signing(tmp_path, monkeypatch):
    store = open_store(str(tmp_path))
    ref = FolderRef("overdue", DAY)
    monkeypatch.delenv("PIKE_REPORTS_PUBLIC_URL", raising=False)
    assert store.page_link(ref, "team-a b.html") == "team-a%20b.html"  # opened from disk
    assert store.page_link(ref, "index.html", "team-1") == "index.html#team-1"
    monkeypatch.setenv("PIKE_REPORTS_PUBLIC_URL", "https://reports.example.com/pike/")
    assert store.page_link(ref, "index.html", "team-1") == "index.html#team-1"  # works in any copy too
    for bad in ("../index.html", "a/b.html", ".complete", ""):
        with pytest.raises(ValueError):
            store.page_link(ref, bad)


# --- retention (PIKE_REPORTS_KEEP_DAYS) --------------------------------------------------------

def _weekly(store, report: str, weeks: int, scope: Scope = Scope()) -> list[date]:
    from datetime import timedelta

    days = [DAY - timedelta(weeks=w) for w in reversed(range(weeks))]
    for day in days:
        store.publish(FolderRef(report, day, scope), _files(day.toordinal()))
    return days


def test_retention_removes_old_folders_of_the_same_report_and_scope_only(tmp_path):
    from datetime import timedelta

    store = open_store(str(tmp_path))
    team = Scope.of(["T1"])
    days = _weekly(store, "overdue", 20)
    _weekly(store, "overdue", 20, team)
    _weekly(store, "workload", 3)
    removed = store.prune("overdue", Scope(), DAY, 90, keep_newest=8, today=DAY)
    assert removed == [d for d in days if d < DAY - timedelta(days=90)] and len(removed) == 7
    assert store.completed_dates("overdue", Scope()) == [d for d in days if d >= DAY - timedelta(days=90)]
    assert len(store.completed_dates("overdue", team)) == 20  # another scope: its own runs prune it
    assert len(store.completed_dates("workload", Scope())) == 3
    assert sorted(p.name for p in (tmp_path / "overdue").iterdir()) == [d.isoformat() for d in days[7:]]
    assert store.prune("overdue", Scope(), DAY, 0, keep_newest=8, today=DAY) == []  # 0 keeps everything


def test_retention_never_removes_the_baseline_and_trend_of_the_change_view(tmp_path):
    """Whatever the setting, the newest 8 complete reports stay: the next run's baseline and trend."""
    from pike_tasks.prefect_tasks import HISTORY_POINTS

    store = open_store(str(tmp_path))
    days = _weekly(store, "overdue", 12)
    store.prune("overdue", Scope(), DAY, 1, keep_newest=HISTORY_POINTS, today=DAY)
    assert store.completed_dates("overdue", Scope()) == days[-8:]
    # a re-run of an earlier date keeps the 8 up to it as well (its baseline and trend)
    store = open_store(str(tmp_path / "rerun"))
    days = _weekly(store, "overdue", 20)
    store.prune("overdue", Scope(), days[9], 1, keep_newest=8, today=DAY)
    assert store.completed_dates("overdue", Scope()) == days[2:]  # 8 up to days[9], and everything newer
    earlier = [d for d in store.completed_dates("overdue", Scope()) if d < days[9]]
    assert earlier == days[2:9]  # what read_baseline reads for days[9]: its baseline and 7 trend points


def test_a_half_removed_folder_is_never_complete_and_the_next_prune_finishes_it(tmp_path, monkeypatch):
    import shutil

    import pike_tasks.store.local as store_module

    store = open_store(str(tmp_path))
    days = _weekly(store, "overdue", 12)
    real_rmtree = shutil.rmtree

    def crash(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(store_module.shutil, "rmtree", crash)
    with pytest.raises(StoreError, match="could not remove overdue/"):
        store.prune("overdue", Scope(), DAY, 1, keep_newest=8, today=DAY)
    oldest = tmp_path / "overdue" / days[0].isoformat()
    assert oldest.is_dir() and not (oldest / ".complete").exists()  # marker went first
    assert days[0] not in store.completed_dates("overdue", Scope())
    assert store.read(FolderRef("overdue", days[0]), "summary.json") is None
    monkeypatch.setattr(store_module.shutil, "rmtree", real_rmtree)
    store.prune("overdue", Scope(), DAY, 1, keep_newest=8, today=DAY)
    assert sorted(p.name for p in (tmp_path / "overdue").iterdir()) == [d.isoformat() for d in days[-8:]]


def test_an_incomplete_folder_newer_than_the_kept_ones_is_left_alone(tmp_path):
    """It may be a publish under way (object stores remove the marker first)."""
    store = open_store(str(tmp_path))
    days = _weekly(store, "overdue", 12)
    (tmp_path / "overdue" / days[-1].isoformat() / ".complete").unlink()
    store.prune("overdue", Scope(), DAY, 1, keep_newest=8, today=DAY)
    left = sorted(p.name for p in (tmp_path / "overdue").iterdir())
    assert left == [d.isoformat() for d in days[-9:]]  # 8 complete ones, and the incomplete newest


def test_a_future_as_of_cannot_sweep_the_store(tmp_path):
    from datetime import timedelta

    store = open_store(str(tmp_path))
    _weekly(store, "overdue", 20)
    store.prune("overdue", Scope(), DAY + timedelta(days=3650), 90, keep_newest=8, today=DAY)
    assert len(store.completed_dates("overdue", Scope())) == 13  # counted from tomorrow, not from 2036


def test_ledger_days_past_the_setting_are_removed(tmp_path):
    from datetime import timedelta

    from pike_tasks.once import DeliveryLedger

    store = open_store(str(tmp_path))
    for weeks in (0, 5, 12, 14, 30):
        day = DAY - timedelta(weeks=weeks)
        for source in ("src-a", "src-b"):
            DeliveryLedger(store, "manager", day, source).settle_sent("lead@example.com", {"message_id": "m"})
    removed = prune_ledger_days(store, "manager", DAY, 90, today=DAY)
    assert removed == [DAY - timedelta(weeks=30), DAY - timedelta(weeks=14)]
    assert ledger_dates(store, "manager") == [DAY - timedelta(weeks=w) for w in (12, 5, 0)]
    assert DeliveryLedger(store, "manager", DAY, "src-a").sent("lead@example.com") is not None


@pytest.mark.parametrize("raw, expected", [("", 90), ("0", 0), (" 30 ", 30)])
def test_keep_days_setting(monkeypatch, raw, expected):
    from pike_tasks.store import keep_days_setting

    monkeypatch.setenv("PIKE_REPORTS_KEEP_DAYS", raw)
    assert keep_days_setting() == expected


@pytest.mark.parametrize("raw", ["-1", "ninety", "1.5"])
def test_a_bad_keep_days_is_one_line_naming_the_variable(monkeypatch, raw):
    from pike_tasks.store import keep_days_setting

    monkeypatch.setenv("PIKE_REPORTS_KEEP_DAYS", raw)
    with pytest.raises(StoreError, match="PIKE_REPORTS_KEEP_DAYS") as info:
        keep_days_setting()
    assert len(str(info.value).splitlines()) == 1


def test_the_writable_check_leaves_nothing_behind(tmp_path):
    store = open_store(str(tmp_path / "store"))
    store.check_writable()
    store.check_writable()
    assert list((tmp_path / "store").iterdir()) == []  # no _probe/ folder, no probe file
    assert store.can_delete is True


def test_retention_never_follows_a_symlink_and_goes_on_past_a_bad_entry(tmp_path, monkeypatch):
    """A symlinked date folder is removed as a link (its target untouched); a folder that cannot
    be removed is skipped with one warning line, the others go, and the next run finishes it."""
    import shutil

    import pike_tasks.store.local as store_module
    from pike_tasks.store import RetentionIncomplete

    store = open_store(str(tmp_path / "store"))
    days = _weekly(store, "overdue", 12)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "store" / "overdue" / days[0].isoformat(), elsewhere)
    linked = tmp_path / "store" / "overdue" / days[0].isoformat()
    shutil.rmtree(linked)
    linked.symlink_to(elsewhere, target_is_directory=True)
    stuck = tmp_path / "store" / "overdue" / days[1].isoformat()
    real_rmtree = shutil.rmtree

    def refuse_one(path, *args, **kwargs):
        if Path(path) == stuck:
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(store_module.shutil, "rmtree", refuse_one)
    with pytest.raises(RetentionIncomplete) as info:
        store.prune("overdue", Scope(), DAY, 1, keep_newest=8, today=DAY)
    assert len(str(info.value).splitlines()) == 1 and "1 of 4 old overdue folders not removed" in str(info.value)
    assert info.value.removed == [days[0], days[2], days[3]]
    assert sorted(p.name for p in elsewhere.iterdir()) == [".complete", "index.html", "overdue.csv", "summary.json"]
    assert not linked.is_symlink() and not linked.exists()
    monkeypatch.setattr(store_module.shutil, "rmtree", real_rmtree)
    assert store.prune("overdue", Scope(), DAY, 1, keep_newest=8, today=DAY) == [days[1]]
    assert sorted(p.name for p in (tmp_path / "store" / "overdue").iterdir()) == [d.isoformat() for d in days[-8:]]


def test_a_symlinked_ledger_day_is_removed_as_a_link(tmp_path):
    store = open_store(str(tmp_path / "store"))
    store.put_record(f"_ledger/manager/{DAY.isoformat()}/src/lead.sent", b"{}")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "src").mkdir(parents=True)
    (elsewhere / "src" / "keep.sent").write_text("not the store's")
    (tmp_path / "store" / "_ledger" / "manager" / "2025-01-01").symlink_to(elsewhere, target_is_directory=True)
    assert prune_ledger_days(store, "manager", DAY, 30, today=DAY) == [date(2025, 1, 1)]
    assert (elsewhere / "src" / "keep.sent").read_text() == "not the store's"
    assert ledger_dates(store, "manager") == [DAY]


@pytest.mark.parametrize("raw", ["1000000", "36501"])
def test_keep_days_has_an_upper_bound(monkeypatch, raw):
    from pike_tasks.store import keep_days_setting

    monkeypatch.setenv("PIKE_REPORTS_KEEP_DAYS", raw)
    with pytest.raises(StoreError, match="PIKE_REPORTS_KEEP_DAYS must be a whole number of days from 0"):
        keep_days_setting()


def test_store_urls_and_errors_are_shown_without_credentials():
    from pike_tasks.store import describe_error, redact_url

    assert redact_url("sftp://u:pw@h:22/x?token=t#f") == "sftp://***@h:22/x?***"
    assert redact_url("memory://u:pw@x") == "memory://***@x"
    assert redact_url("/srv/reports") == "/srv/reports"
    assert "pw" not in describe_error(ConnectionError('Could not connect to "https://u:pw@h.example.com/b/k"'))
