"""The store's home (issue 23, item 6): ``<store>/index.html`` lists every stored report by date,
newest first, with the overdue count, its change and the day's digests; ``<store>/<report>/latest.html``
redirects to the newest complete whole-workspace report. Both are rewritten at each publish from a
listing of the store, in one write each, and survive retention.

Real stores (a folder; S3 on a ``moto_server``), real reports built by the flows' Prefect tasks
(their functions) from the sandbox's demo data, the real rendered pages parsed back, and headless
Chromium at 390 and 1280 px.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import urllib.request
import uuid
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest

from pike_tasks import frames, transforms
from pike_tasks.config.settings import load_store_settings
from pike_tasks.home import rebuild_home, refresh_home
from pike_tasks.once import DeliveryLedger
from pike_tasks.sandbox import DEMO_TEAMS, generate_workspace
from pike_tasks.store import FolderRef, Scope, open_store
from pike_tasks.store.home import home_address
from pike_tasks.teams_config import parse_teams_config

sys.path.insert(0, str(Path(__file__).parent))
from chromium import Chromium, find_chromium  # noqa: E402 - after sys.path.insert (a tests/ helper)

D3 = date(2026, 12, 1)
D2, D1 = D3 - timedelta(days=1), D3 - timedelta(days=3)  # a gap: days are stored days, not calendar days
HOSTILE = "<script>alert(1)</script> Ops & Co"
WIDTHS = (390, 1280)


# --- reading the pages back ------------------------------------------------------------------------


class _Page(HTMLParser):
    """The home's tables (caption -> rows of {label: text}, with ``as_of`` and ``links``), its
    headings, and a latest.html's refresh URL, canonical link and visible links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self.headings: list[str] = []
        self.refresh = self.canonical = None
        self.links: list[str] = []
        self._caption: str | None = None
        self._row: dict | None = None
        self._cell: str | None = None
        self._text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            self.refresh = a["content"]
        elif tag == "link" and a.get("rel") == "canonical":
            self.canonical = a["href"]
        elif tag == "a":
            self.links.append(a["href"])
            if self._row is not None:
                self._row["links"].append(a["href"])
        elif tag == "caption":
            self._in, self._text = "caption", []
        elif tag in ("h1", "h2"):
            self._in, self._text = "heading", []
        elif tag == "tr" and self._caption is not None:
            self._row = {"links": []}
        elif tag == "time" and self._row is not None and self._cell == "th":
            self._row["as_of"] = a["datetime"]
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._text = (a.get("data-label") or "th"), []

    def handle_endtag(self, tag):
        text = " ".join("".join(self._text).split())
        if tag == "caption" and self._in == "caption":
            self._caption, self._in = text, None
            self.tables[text] = []
        elif tag in ("h1", "h2") and self._in == "heading":
            self.headings.append(text)
            self._in = None
        elif tag in ("td", "th") and self._row is not None and self._cell:
            self._row[self._cell] = text
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if "as_of" in self._row:
                self.tables[self._caption].append(self._row)
            self._row = None
        elif tag == "table":
            self._caption = None

    def handle_data(self, data):
        self._text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


WHOLE = "Every stored report of the whole workspace, newest first"


def refresh_target(html: str) -> str:
    page = parse(html)
    match = re.fullmatch(r"0;\s*url=(.+)", page.refresh or "")
    assert match, page.refresh
    assert page.canonical == match.group(1) and match.group(1) in page.links
    return match.group(1)


# --- a local store with three stored days, a filtered run and a day with digests -------------------


def _resolved(config):
    """The demo workspace as it stands on D3: an earlier as_of sees fewer tasks past due."""
    from pike_tasks.prefect_tasks import Resolved

    workspace = generate_workspace(today=D3)
    built = frames.build_frames(workspace["projects"], workspace["tasks"], workspace["customers"],
                                workspace["members"])
    return Resolved(tasks=transforms.resolve_tasks(built, config.team_names()), members=built.members,
                    data_quality={})


def _config():
    teams = {tid: dict(team) for tid, team in DEMO_TEAMS.items()}
    hostile_id = next(iter(teams))
    teams[hostile_id]["name"] = HOSTILE
    return parse_teams_config({"teams": teams}), hostile_id


def _publish_day(store, config, as_of: date, team_ids=None, workload: bool = True) -> None:
    from prefect.logging import disable_run_logger

    from pike_tasks.prefect_tasks import build_overdue_report, build_workload_report

    resolved = _resolved(config)
    with disable_run_logger():
        build_overdue_report.fn(resolved, as_of=as_of, config=config, store=store, team_ids=team_ids,
                                source="sandbox")
        if workload:
            build_workload_report.fn(resolved, as_of=as_of, store=store, team_ids=team_ids, source="sandbox")


def _log_digests(store, as_of: date) -> None:
    """Two runs' delivery logs for the day, as the digest engine appends them: b@ failed, then was
    sent by a second run; c@ was handed over with no final reply; a dry run counts for nothing."""
    email = DeliveryLedger(store, "manager", as_of, "acme", Scope(), "email")
    email.append_log("run-1", "send", [{"recipient": "a@example.com", "status": "sent"},
                                        {"recipient": "b@example.com", "status": "failed"},
                                        {"recipient": "c@example.com", "status": "unknown"}])
    email.append_log("run-2", "send", [{"recipient": "a@example.com", "status": "already-sent"},
                                        {"recipient": "b@example.com", "status": "sent"}])
    email.append_log("run-3", "dry-run", [{"recipient": "d@example.com", "status": "dry-run"}])
    slack = DeliveryLedger(store, "manager", as_of, "acme", Scope(), "slack")
    slack.append_log("run-2", "send", [{"recipient": "U123", "status": "failed"}])


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    """Whole runs for D1 and D2, the digests of D2, a run filtered to one team for D3 (latest.html
    read right after it), then the whole workspace's D3: what the pages say at each step."""
    config, hostile_id = _config()
    root = tmp_path_factory.mktemp("store")
    store = open_store(str(root))
    _publish_day(store, config, D1)
    _publish_day(store, config, D2)
    _log_digests(store, D2)
    _publish_day(store, config, D3, team_ids=[hostile_id], workload=False)
    after_filtered = (root / "overdue" / "latest.html").read_text(encoding="utf-8")
    _publish_day(store, config, D3)
    return {"root": root, "store": store, "after_filtered": after_filtered, "hostile_id": hostile_id}


def _overdue_count(folder: Path) -> int:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))["totals"]["overdue_tasks"]


def test_home_lists_every_stored_day_newest_first_with_counts_change_and_digests(local_store):
    root = local_store["root"]
    page = parse((root / "index.html").read_text(encoding="utf-8"))
    rows = page.tables[WHOLE]
    assert [r["as_of"] for r in rows] == [D3.isoformat(), D2.isoformat(), D1.isoformat()]
    counts = {d: _overdue_count(root / "overdue" / d.isoformat()) for d in (D1, D2, D3)}
    assert [int(r["Overdue"].replace(",", "")) for r in rows] == [counts[D3], counts[D2], counts[D1]]

    def change(new: int, old: int) -> str:
        return f"+{new - old:,}" if new > old else (f"−{old - new:,}" if new < old else "0")

    assert len(set(counts.values())) == 3  # an earlier as_of sees fewer tasks past due: every change is one
    assert [r["Change"] for r in rows] == [change(counts[D3], counts[D2]), change(counts[D2], counts[D1]), "—"]
    # D2's digests, from the delivery log: a@ sent; b@ failed, then sent; c@ unknown; Slack's U123 failed
    assert rows[1]["Digests"] == "2 sent · 1 failed · 1 unknown"
    assert rows[0]["Digests"] == rows[2]["Digests"] == "—"
    # each day links its reports, relative to the store root, and each link opens a stored page
    assert rows[0]["links"] == [f"overdue/{D3}/index.html", f"workload/{D3}/index.html"]
    for link in page.links:
        assert not link.startswith(("/", "file:", "http")), link
        assert (root / unquote(link.split("#")[0])).is_file(), link


def test_latest_redirects_to_the_newest_whole_workspace_report(local_store):
    root = local_store["root"]
    for report in ("overdue", "workload"):
        latest = root / report / "latest.html"
        target = (latest.parent / unquote(refresh_target(latest.read_text(encoding="utf-8")))).resolve()
        assert target == (root / report / D3.isoformat() / "index.html").resolve()
        assert target.is_file()
    assert not (root / "digest" / "latest.html").exists()  # no digest folder here, and it has no page anyway


def test_a_filtered_run_does_not_move_latest_and_is_listed_apart_with_its_name(local_store):
    root = local_store["root"]
    assert refresh_target(local_store["after_filtered"]) == f"{D2}/index.html"
    page = parse((root / "index.html").read_text(encoding="utf-8"))
    filtered = [caption for caption in page.tables if caption != WHOLE]
    assert len(filtered) == 1 and HOSTILE in filtered[0], page.tables.keys()
    assert [r["as_of"] for r in page.tables[filtered[0]]] == [D3.isoformat()]
    link = page.tables[filtered[0]][0]["links"][0]
    assert link.startswith("filtered/teams-") and link.endswith(f"/overdue/{D3}/index.html")
    assert (root / link).is_file()
    assert any(h.startswith("Filtered: Teams: " + HOSTILE) for h in page.headings), page.headings


ALL_REPORTS = re.compile(r'<a href="([^"]+)">All reports</a>')


def test_every_report_page_links_back_to_the_home(local_store):
    """The overdue index, a team page, the workload page and a filtered run's page: "All reports"
    opens <store>/index.html, relative, so it works from disk and from a served copy."""
    root = local_store["root"]
    pages = [root / "overdue" / D3.isoformat() / "index.html", root / "workload" / D3.isoformat() / "index.html",
             next((root / "overdue" / D2.isoformat()).glob("team-*.html")),
             next(root.glob(f"filtered/*/overdue/{D3}/index.html"))]
    for page in pages:
        found = ALL_REPORTS.findall(page.read_text(encoding="utf-8"))
        assert len(found) == 1 and not found[0].startswith(("/", "file:", "http")), (page, found)
        assert (page.parent / found[0]).resolve() == (root / "index.html").resolve(), (page, found)


def test_hostile_team_names_are_escaped(local_store):
    html = (local_store["root"] / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ops &amp; Co" in html


def test_the_home_address_is_the_public_url_when_one_is_set(local_store, monkeypatch):
    store = local_store["store"]
    assert home_address(store) == f"{store.location}/index.html"
    settings = replace(load_store_settings({}), public_url="https://reports.example.com/pike")
    public = open_store(store.location, settings=settings)
    assert home_address(public) == "https://reports.example.com/pike/index.html"


# --- retention, races, failures --------------------------------------------------------------------


def _summary(count: int) -> bytes:
    return json.dumps({"report": "overdue", "totals": {"overdue_tasks": count}}).encode()


def _quick_publish(store, as_of: date, count: int) -> None:
    """A small overdue folder published the way the report's task does (publish, retention, home)."""
    from prefect.logging import disable_run_logger

    from pike_tasks.prefect_tasks import _publish

    with disable_run_logger():
        _publish(store, FolderRef("overdue", as_of), {"index.html": f"<p>{as_of}</p>".encode(),
                                                    "summary.json": _summary(count)}, {})


def test_retention_drops_a_date_from_the_home_and_never_removes_the_pages(tmp_path):
    settings = replace(load_store_settings({}), keep_days=3)
    store = open_store(str(tmp_path), settings=settings)
    days = [D3 - timedelta(days=i) for i in range(11, -1, -1)]  # 12 days; the newest 8 are always kept
    for i, day in enumerate(days[:-1]):
        _quick_publish(store, day, 10 + i)
    listed = [r["as_of"] for r in parse((tmp_path / "index.html").read_text()).tables[WHOLE]]
    assert days[0].isoformat() not in listed  # already gone: 11 stored, the oldest 3 past the newest 8
    assert listed[-1] == days[3].isoformat() and len(listed) == 8
    _quick_publish(store, days[-1], 99)
    assert not (tmp_path / "overdue" / days[3].isoformat()).exists()
    rows = parse((tmp_path / "index.html").read_text()).tables[WHOLE]
    assert [r["as_of"] for r in rows] == [d.isoformat() for d in reversed(days[4:])]
    assert rows[0]["Overdue"] == "99" and rows[0]["Change"] == "+79"  # against the day before: 20
    assert refresh_target((tmp_path / "overdue" / "latest.html").read_text()) == f"{days[-1]}/index.html"
    # the pages are files beside the date folders: retention neither lists nor removes them
    assert store.folder_dates("overdue", Scope()) == days[4:]
    assert store.list_folders("overdue/") == [d.isoformat() for d in days[4:]]


def test_racing_publishes_leave_a_home_that_lists_both(tmp_path):
    store = open_store(str(tmp_path))
    _quick_publish(store, D1, 1)
    barrier = threading.Barrier(2)
    errors = []

    def publish(day: date, count: int) -> None:
        try:
            barrier.wait()
            store.publish(FolderRef("overdue", day), {"index.html": b"<p>x</p>", "summary.json": _summary(count)})
            rebuild_home(open_store(str(tmp_path)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for _ in range(5):
        threads = [threading.Thread(target=publish, args=(day, n)) for day, n in ((D2, 2), (D3, 3))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        rows = parse((tmp_path / "index.html").read_text()).tables[WHOLE]
        assert [r["as_of"] for r in rows] == [D3.isoformat(), D2.isoformat(), D1.isoformat()]
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_rewrite_killed_mid_way_leaves_the_previous_home(tmp_path):
    store = open_store(str(tmp_path))
    _quick_publish(store, D1, 5)
    before = (tmp_path / "index.html").read_bytes()
    store.publish(FolderRef("overdue", D2), {"index.html": b"<p>x</p>", "summary.json": _summary(6)})
    pid = os.fork()
    if pid == 0:  # the child dies half way through writing the new index.html
        try:
            import pike_tasks.store.local as local

            def half_then_die(path, data):
                with open(path, "wb") as out:
                    out.write(data[: len(data) // 2])
                    out.flush()
                if path.name.startswith(".index.html"):
                    os._exit(9)

            local._write_synced = half_then_die
            rebuild_home(store)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 9
    assert (tmp_path / "index.html").read_bytes() == before  # whole, and the previous one
    rebuild_home(store)  # the next publish writes it whole
    assert [r["as_of"] for r in parse((tmp_path / "index.html").read_text()).tables[WHOLE]] == [
        D2.isoformat(), D1.isoformat()]


def test_a_store_with_only_a_filtered_run_has_a_home_and_no_latest(tmp_path):
    store = open_store(str(tmp_path))
    store.publish(FolderRef("overdue", D1, Scope.of(["T1"])), {"index.html": b"<p>x</p>", "summary.json": json.dumps(
        {"filters": {"teams": ["T1"]}, "totals": {"overdue_tasks": 4}}).encode()})
    rebuild_home(store, {"T1": "Delivery"})
    html = (tmp_path / "index.html").read_text()
    page = parse(html)
    assert WHOLE not in page.tables and "No complete report of the whole workspace" in html
    assert [r["Overdue"] for r in page.tables["Stored reports of Teams: Delivery, newest first"]] == ["4"]
    assert not (tmp_path / "overdue" / "latest.html").exists()


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.infos: list[str] = []

    def warning(self, fmt, *args):
        self.lines.append(fmt % args)

    def info(self, fmt, *args):
        self.infos.append(fmt % args)


def test_a_failed_home_rewrite_is_one_warning_and_the_report_stays_published(tmp_path, monkeypatch):
    store = open_store(str(tmp_path))

    def refuse(key, data):
        raise PermissionError(13, "Permission denied", str(tmp_path / key))

    monkeypatch.setattr(store, "put_record", refuse)
    log = _Log()
    store.publish(FolderRef("overdue", D1), {"index.html": b"<p>x</p>", "summary.json": _summary(1)})
    refresh_home(store, log)
    assert len(log.lines) == 1 and "\n" not in log.lines[0]
    assert log.lines[0].startswith("store home not rewritten") and "permission denied" in log.lines[0]
    assert log.infos == []
    monkeypatch.undo()
    refresh_home(store, log)  # the next publish rewrites it, and says where it is
    assert log.infos == [f"store home: {tmp_path.resolve() / 'index.html'}"] and len(log.lines) == 1
    (tmp_path / "index.html").unlink()
    monkeypatch.setattr(store, "put_record", refuse)
    _quick_publish(store, D2, 2)  # through the report's own publish: no exception
    assert store.completed_dates("overdue", Scope()) == [D1, D2]
    assert not (tmp_path / "index.html").exists()


# --- S3 (moto_server) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    from moto_server import start_moto

    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_store(moto, monkeypatch):
    import s3fs
    from moto_server import use_moto

    use_moto(moto, monkeypatch)
    bucket = f"pike-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    moto.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    # the bucket served over HTTP is the public URL (moto answers plain GETs)
    settings = replace(load_store_settings({}), public_url=f"{moto.url}/{bucket}/pike")
    store = open_store(f"s3://{bucket}/pike", setting="output_dir", settings=settings)
    store.check_writable()
    yield store, bucket
    s3fs.S3FileSystem.clear_instance_cache()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - the test's own moto server
        return answer.read().decode("utf-8")


def test_on_s3_the_home_and_latest_exist_and_link_into_the_run_folders(moto, s3_store):
    store, bucket = s3_store
    config, hostile_id = _config()
    _publish_day(store, config, D1, workload=False)
    _publish_day(store, config, D2)
    _publish_day(store, config, D3, team_ids=[hostile_id], workload=False)
    keys = set(moto.keys(bucket))
    assert {"pike/index.html", "pike/overdue/latest.html", "pike/workload/latest.html"} <= keys
    # latest.html, resolved against its own key: D2's run folder (the filtered D3 run did not move it)
    latest = _get(f"{moto.url}/{bucket}/pike/overdue/latest.html")
    target = unquote(urljoin("pike/overdue/latest.html", refresh_target(latest)))
    assert re.fullmatch(rf"pike/overdue/{D2}/runs/[0-9A-Za-z-]+/index\.html", target) and target in keys
    pointer = json.loads(moto.client().get_object(Bucket=bucket, Key=f"pike/overdue/{D2}/.complete")["Body"].read())
    assert target == f"pike/overdue/{D2}/runs/{pointer['run']}/index.html"
    # the home, opened at its public address, links pages that open over HTTP
    home_url = home_address(store)
    assert home_url == f"{moto.url}/{bucket}/pike/index.html"
    page = parse(_get(home_url))
    assert [r["as_of"] for r in page.tables[WHOLE]] == [D2.isoformat(), D1.isoformat()]
    for link in page.links:
        assert unquote(urljoin("pike/index.html", link)) in keys, link
        assert "<title>" in _get(urljoin(home_url, link))
    assert "<script" not in _get(home_url).lower()
    # and back: a report page in its run folder links the home ("All reports"), over HTTP too
    report_url = urljoin(f"{moto.url}/{bucket}/pike/overdue/latest.html", refresh_target(latest))
    (back,) = ALL_REPORTS.findall(_get(report_url))
    assert urljoin(report_url, back) == home_url


def test_where_links_are_presigned_the_pages_name_no_home_link(moto, s3_store):
    # a presigned page can follow no relative link, and the home's own links are relative
    from pike_tasks.store import FolderRef, Scope
    from pike_tasks.store.links import home_href

    store, bucket = s3_store
    presigned = open_store(f"s3://{bucket}/pike", setting="output_dir", settings=load_store_settings({}))
    ref = FolderRef("overdue", D3, Scope.of(None))
    assert presigned.link(ref) is not None and "Signature" in presigned.link(ref)
    assert home_href(presigned, ref) is None
    assert home_href(store, ref) == "../../../../index.html"  # overdue/<date>/runs/<run>/ -> the root


# --- in a browser ----------------------------------------------------------------------------------

MEASURE = """JSON.stringify({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  rows: document.querySelectorAll('table.home-days tbody tr').length,
  bars: [...document.querySelectorAll('.trend-bars li')].map(li => [
    parseInt(li.querySelector('.trend-count').textContent.replace(/,/g, '')),
    li.querySelector('.trend-bar').getBoundingClientRect().height])})"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed: `make browsers` installs it (as root, on Debian)")
    chromium = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_home_never_scrolls_sideways_in_a_browser(browser, local_store, width):
    seen = browser.measure((local_store["root"] / "index.html").as_uri(), width, MEASURE)
    assert seen["innerWidth"] == width and seen["scrollWidth"] <= width, seen
    assert seen["rows"] == 4  # three days of the whole workspace, one of the filtered scope
    # the trend: oldest first, each bar as tall as its count's share of the largest (within a pixel)
    counts = [count for count, _ in seen["bars"]]
    assert counts == sorted(counts) and len(set(counts)) == 3, seen["bars"]
    tallest = seen["bars"][-1][1]
    for count, height in seen["bars"]:
        assert abs(height - tallest * count / counts[-1]) <= 1, seen["bars"]


@pytest.mark.parametrize("width", WIDTHS)
def test_following_latest_in_a_browser_lands_on_the_newest_report(browser, local_store, width):
    import time

    root = local_store["root"]
    target, session = browser.load((root / "overdue" / "latest.html").as_uri(), width)
    try:
        wanted = (root / "overdue" / D3.isoformat() / "index.html").as_uri()
        deadline = time.monotonic() + 10
        while browser.evaluate("location.href", session) != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        assert browser.evaluate("location.href", session) == wanted
        while browser.evaluate("document.readyState", session) != "complete" and time.monotonic() < deadline:
            time.sleep(0.1)
        seen = json.loads(browser.evaluate(
            "JSON.stringify({h1: document.querySelector('h1').innerText, sw: document.documentElement.scrollWidth,"
            " iw: window.innerWidth})", session))
        assert "Overdue" in seen["h1"] and seen["sw"] <= seen["iw"] == width, seen
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


def test_on_s3_racing_publishes_from_two_workers_leave_a_home_that_lists_both(moto, s3_store):
    store, bucket = s3_store
    _quick_publish(store, D1, 1)
    barrier = threading.Barrier(2)
    errors = []

    def worker(day: date, count: int) -> None:
        try:  # a store object of its own, as another worker's process has
            mine = open_store(store.location, settings=store.settings)
            barrier.wait()
            mine.publish(FolderRef("overdue", day), {"index.html": b"<p>x</p>", "summary.json": _summary(count)})
            rebuild_home(mine)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(day, n)) for day, n in ((D2, 2), (D3, 3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = parse(_get(home_address(store))).tables[WHOLE]
    assert [(r["as_of"], r["Overdue"]) for r in rows] == [(D3.isoformat(), "3"), (D2.isoformat(), "2"),
                                                         (D1.isoformat(), "1")]
    assert refresh_target(_get(f"{moto.url}/{bucket}/pike/overdue/latest.html")).startswith(f"{D3}/runs/")
