"""PikeClient against the sandbox over real HTTP: paging, retries, errors, rate limit, secrecy."""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import logging
import math
import socket
import threading
import time

import pytest
import requests
from processes import free_port, poll_until

from pike_tasks import client as client_module
from pike_tasks import deadlines
from pike_tasks import settings as settings_module
from pike_tasks.client import ListingStats, PikeClient, parse_retry_after
from pike_tasks.errors import (
    PikeAuthError,
    PikeConfigError,
    PikeConnectionError,
    PikeDeadlineExceeded,
    PikeError,
    PikeForbidden,
    PikeInvalidRequest,
    PikeNotFound,
    PikePaginationError,
    PikeRateLimited,
    PikeServerError,
)
from pike_tasks.sandbox import FaultConfig, ScriptedResponse
from pike_tasks.sandbox.server import encode_cursor
from pike_tasks.settings import ApiSettings, resolve_api_settings

RESOURCES = ("projects", "tasks", "customers", "members")
SECRET = "sk-live-0123456789-DO-NOT-LEAK"


class Sleeps(list):
    """An injectable ``sleep`` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(server, *, secret=None, sleep=None, rate=0.0, **settings_kwargs) -> PikeClient:
    settings = ApiSettings(server.url, secret or server.secret, rate_limit_per_sec=rate, **settings_kwargs)
    return PikeClient(settings, sleep=sleep if sleep is not None else Sleeps())


def logged(server, at_least=1):
    """The server's request log. The sandbox logs a request before its answer leaves, so once the
    client has its answers every request it made (a stray extra one too) is in the log; the wait
    for ``at_least`` entries (2 s at most) only covers a request whose answer nobody waited for."""
    with contextlib.suppress(TimeoutError):
        poll_until(lambda: len(server.requests) >= at_least, timeout=2.0, interval=0.005)
    return list(server.requests)


def listing_requests(server, resource, at_least=1):
    return [r for r in logged(server, at_least) if r.path == f"/{resource}"]


def as_listed(resource, record):
    """A record as the list endpoint sends it (projects omit ``phases``)."""
    if resource == "projects":
        return {k: v for k, v in record.items() if k != "phases"}
    return record


def page(items, next_cursor=None, has_more=False):
    return {"items": items, "nextCursor": next_cursor, "hasMore": has_more}


def error_body(code, message="Nope.", request_id="req-123"):
    return {"error": {"code": code, "message": message, "requestId": request_id}}


@pytest.fixture(scope="module")
def big_workspace():
    from pike_tasks.sandbox import generate_workspace

    return generate_workspace(7, datetime.date(2026, 4, 9), tasks=3000, projects=401, members=230, customers=199)


# -- listings --------------------------------------------------------------------------------

def test_minimal_requests_without_faults_and_records_exactly_as_sent(sandbox_factory, big_workspace):
    server = sandbox_factory(big_workspace)
    with make_client(server) as client:
        for resource in RESOURCES:
            records = client.list_all(resource)
            expected = [as_listed(resource, r) for r in big_workspace[resource]]
            assert records == expected
            requests_made = listing_requests(server, resource)
            assert len(requests_made) == math.ceil(len(expected) / 200)
            assert all(r.query["limit"] == "200" and r.status == 200 for r in requests_made)
            stats = client.stats[resource]
            assert (stats.pages, stats.records, stats.retries, stats.duplicates_dropped) == (
                len(requests_made), len(expected), 0, 0)
    assert not any(r.path.startswith("/v") for r in server.requests)


def test_every_record_exactly_once_under_429s_5xx_and_dropped_connections(sandbox_factory, big_workspace):
    faults = FaultConfig(p429=0.2, p5xx=0.1, pdrop=0.02, retry_after="0", seed=11)
    server = sandbox_factory(big_workspace, faults=faults)
    sleeps = Sleeps()
    with make_client(server, sleep=sleeps, max_attempts=30) as client:
        for resource in RESOURCES:
            ids = [r["id"] for r in client.iter_list(resource)]
            assert ids == [r["id"] for r in big_workspace[resource]]
            served = [r for r in listing_requests(server, resource) if r.status == 200]
            assert len(served) == math.ceil(len(ids) / 200)  # each page delivered exactly once
            assert client.stats[resource].duplicates_dropped == 0
        total_retries = sum(client.stats[r].retries for r in RESOURCES)
    log = logged(server)
    statuses = {r.status for r in log}
    assert {429, 500, 502, 503, None} <= statuses  # every fault kind really happened
    assert total_retries == sum(1 for r in log if r.status != 200) == len(sleeps)


def test_filters_use_documented_query_names(sandbox):
    task = next(t for t in sandbox.data["tasks"] if t.get("projectId") and t.get("teamId"))
    with make_client(sandbox) as client:
        found = list(client.iter_tasks(project_id=task["projectId"], status=task["status"], team_id=task["teamId"]))
        projects = list(client.iter_projects(team_id=task["teamId"]))
        members = list(client.iter_members(status="invited"))
        customers = list(client.iter_customers(q=sandbox.data["customers"][0]["customerName"][:4]))
    assert task in found
    assert all(t["projectId"] == task["projectId"] and t["status"] == task["status"] for t in found)
    assert projects and all(p["teamId"] == task["teamId"] for p in projects)
    assert members and all(m["status"] == "invited" for m in members)
    assert customers
    first = listing_requests(sandbox, "tasks", 4)[0]
    assert first.query == {"projectId": task["projectId"], "status": task["status"],
                           "teamId": task["teamId"], "limit": "200"}
    with pytest.raises(ValueError, match="allowed: q"):
        make_client(sandbox).iter_list("customers", status="x")


def test_retried_page_requests_the_same_cursor(sandbox_factory):
    data = {"tasks": [{"id": f"t{i}", "n": i} for i in range(450)]}
    server = sandbox_factory(data)
    sleeps = Sleeps()
    client = make_client(server, sleep=sleeps)
    # page 1 as the sandbox would send it, then page 2 fails once of each kind
    page_two = encode_cursor(200, "tasks", ())
    server.enqueue(ScriptedResponse(200, page(data["tasks"][:200], page_two, True), path="/tasks"),
                   ScriptedResponse(503, error_body("internal_error"), path="/tasks"),
                   ScriptedResponse(200, drop=True, path="/tasks"),
                   ScriptedResponse(429, error_body("rate_limited"), {"Retry-After": "0"}, path="/tasks"))
    assert list(client.iter_tasks()) == data["tasks"]
    log = listing_requests(server, "tasks", 6)
    assert [r.status for r in log] == [200, 503, None, 429, 200, 200]
    assert len({r.query["cursor"] for r in log[1:5]}) == 1  # all four tries asked for page 2
    assert client.stats["tasks"].retries == 3 and len(sleeps) == 3


def test_next_page_is_requested_while_this_one_is_decoded_but_only_used_if_the_cursor_matches(sandbox_factory):
    # An item carrying its own "nextCursor" field, after the envelope's: reading the cursor from
    # the page's bytes guesses "B", the decoded page says "A". The request for "B" is dropped.
    server = sandbox_factory({"tasks": []})
    server.enqueue(
        ScriptedResponse(200, b'{"nextCursor":"A","hasMore":true,"items":[{"id":"1","nextCursor":"B"}]}',
                         {"Content-Type": "application/json"}, path="/tasks"),
        ScriptedResponse(200, page([{"id": "wrong"}]), path="/tasks"),  # answers the guess "B"
        ScriptedResponse(200, page([{"id": "2"}]), path="/tasks"),
    )
    client = make_client(server)
    assert [t["id"] for t in client.iter_tasks()] == ["1", "2"]
    log = listing_requests(server, "tasks", 3)
    assert [r.query.get("cursor") for r in log] == [None, "B", "A"]
    assert client.stats["tasks"].pages == 2


def test_no_request_is_made_ahead_of_the_last_page(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    server.enqueue(
        ScriptedResponse(200,
                         b'{"hasMore":false,"nextCursor":null,"items":[{"id":"1","x":"\\"nextCursor\\":\\"Z\\""}]}',
                         {"Content-Type": "application/json"}, path="/tasks"),
    )
    client = make_client(server)
    assert [t["id"] for t in client.iter_tasks()] == ["1"]
    assert len(listing_requests(server, "tasks")) == 1  # an item text quoting a cursor is not read as one


def test_cursor_loop_a_b_a_is_detected(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    server.enqueue(ScriptedResponse(200, page([{"id": "1"}], "A", True), path="/tasks"),
                   ScriptedResponse(200, page([{"id": "2"}], "B", True), path="/tasks"),
                   ScriptedResponse(200, page([{"id": "3"}], "A", True), path="/tasks"))
    with pytest.raises(PikePaginationError, match="Cursor loop") as info:
        make_client(server).list_all("tasks")
    assert info.value.code == "cursor_loop" and info.value.retryable
    assert [r.query.get("cursor") for r in listing_requests(server, "tasks", 3)] == [None, "A", "B"]


@pytest.mark.parametrize("cursor", [None, ""])
def test_has_more_without_cursor_is_detected(sandbox_factory, cursor):
    server = sandbox_factory({"tasks": []})
    server.enqueue(ScriptedResponse(200, page([{"id": "1"}], cursor, True), path="/tasks"))
    with pytest.raises(PikePaginationError, match="no nextCursor"):
        make_client(server).list_all("tasks")
    assert len(logged(server, 1)) == 1


def test_page_cap(sandbox_factory):
    server = sandbox_factory({"tasks": [{"id": str(i)} for i in range(450)]})
    client = PikeClient(ApiSettings(server.url, server.secret, rate_limit_per_sec=0), max_pages=2)
    with pytest.raises(PikePaginationError, match="after 2 pages"):
        client.list_all("tasks")
    assert len(logged(server, 2)) == 2


def test_duplicate_ids_are_dropped_and_counted(sandbox_factory, caplog):
    server = sandbox_factory({"tasks": []})
    server.enqueue(ScriptedResponse(200, page([{"id": "1"}, {"id": "2"}, {"id": "1", "dup": True}], "c1", True),
                                    path="/tasks"),
                   ScriptedResponse(200, page([{"id": "2"}, {"id": "3", "newField": [1]}]), path="/tasks"))
    caplog.set_level(logging.INFO, logger="pike_tasks.client")
    client = make_client(server)
    assert client.list_all("tasks") == [{"id": "1"}, {"id": "2"}, {"id": "3", "newField": [1]}]
    stats = client.stats["tasks"]
    assert (stats.pages, stats.records, stats.duplicates_dropped) == (2, 3, 2)
    assert "fetched 3 tasks in 2 pages (0 retries, 2 duplicate ids dropped)" in caplog.text


def test_iter_pages_gives_each_page_as_a_list_with_duplicates_across_pages_dropped(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    server.enqueue(ScriptedResponse(200, page([{"id": "1"}, {"id": "2"}, {"id": "1", "dup": True}], "c1", True),
                                    path="/tasks"),
                   ScriptedResponse(200, page([{"id": "2"}, {"id": "3"}], "c2", True), path="/tasks"),
                   ScriptedResponse(200, page([]), path="/tasks"))
    client = make_client(server)
    assert list(client.iter_pages("tasks")) == [[{"id": "1"}, {"id": "2"}], [{"id": "3"}], []]
    stats = client.stats["tasks"]
    assert (stats.pages, stats.records, stats.duplicates_dropped) == (3, 3, 2)


@pytest.mark.parametrize("body", [[], {"items": {}}, {"items": None}, {"items": [], "hasMore": "yes"},
                                  {"items": ["not-an-object"]}, {"items": [{"id": "1"}], "nextCursor": "c2"}])
def test_malformed_envelope_is_a_clear_server_error(sandbox_factory, body):
    server = sandbox_factory({"tasks": []})
    server.enqueue(ScriptedResponse(200, body, path="/tasks"))
    with pytest.raises(PikeServerError, match="Malformed tasks page") as info:
        make_client(server).list_all("tasks")
    assert info.value.code == "malformed_response"


def test_a_last_page_may_leave_out_has_more_and_next_cursor(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    server.enqueue(ScriptedResponse(200, {"items": [{"id": "1"}]}, path="/tasks"),
                   ScriptedResponse(200, {"items": [{"id": "2"}], "nextCursor": None}, path="/tasks"))
    assert make_client(server).list_all("tasks") == [{"id": "1"}]
    assert make_client(server).list_all("tasks") == [{"id": "2"}]


def test_truncated_200_body_is_retried(sandbox_factory):
    server = sandbox_factory({"tasks": [{"id": "1"}]})
    server.enqueue(ScriptedResponse(200, b'{"items": [{"id"', {"Content-Type": "application/json"}, path="/tasks"))
    assert make_client(server).list_all("tasks") == [{"id": "1"}]
    assert [r.status for r in logged(server, 2)] == [200, 200]


# -- retrieves -------------------------------------------------------------------------------

def test_retrieve_each_resource_and_quote_ids(sandbox):
    with make_client(sandbox) as client:
        project = sandbox.data["projects"][0]
        assert client.get_project(project["id"]) == project  # with phases
        assert client.get_task(sandbox.data["tasks"][0]["id"]) == sandbox.data["tasks"][0]
        assert client.get_customer(sandbox.data["customers"][0]["id"]) == sandbox.data["customers"][0]
        assert client.get_member(sandbox.data["members"][0]["id"]) == sandbox.data["members"][0]
        with pytest.raises(PikeNotFound) as info:
            client.get_task("a/b?c")
    assert logged(sandbox, 5)[-1].path == "/tasks/a%2Fb%3Fc"
    assert info.value.status == 404 and info.value.code == "not_found" and info.value.request_id


# -- error mapping and retry policy ----------------------------------------------------------

@pytest.mark.parametrize(
    ("status", "code", "exc_type", "tries"),
    [
        (400, "invalid_request", PikeInvalidRequest, 1),
        (401, "unauthorized", PikeAuthError, 1),
        (403, "forbidden", PikeForbidden, 1),
        (404, "not_found", PikeNotFound, 1),
        (422, "invalid_request", PikeInvalidRequest, 1),
        (429, "rate_limited", PikeRateLimited, 3),
        (500, "internal_error", PikeServerError, 3),
        (503, "internal_error", PikeServerError, 3),
    ],
)
def test_each_error_code_gives_its_typed_exception(sandbox_factory, status, code, exc_type, tries):
    server = sandbox_factory({"tasks": [{"id": "1"}]})
    server.enqueue(*[ScriptedResponse(status, error_body(code, request_id=f"req-{i}"),
                                      {"Retry-After": "0"}, path="/tasks") for i in range(5)])
    sleeps = Sleeps()
    with pytest.raises(exc_type) as info:
        make_client(server, sleep=sleeps, max_attempts=3).list_all("tasks")
    err = info.value
    assert (err.status, err.code, err.resource) == (status, code, "tasks")
    assert err.request_id == f"req-{tries - 1}"  # the id of the response we gave up on
    assert len(logged(server, tries)) == tries  # 4xx other than 429: exactly one request
    assert len(sleeps) == tries - 1
    assert f"requestId req-{tries - 1}" in str(err)


def test_real_401_and_403_from_the_server(sandbox_factory):
    server = sandbox_factory({"tasks": [], "projects": []},
                             secrets={"limited": {"projects:read"}, "other": {"tasks:read"}})
    with pytest.raises(PikeForbidden) as info:
        make_client(server, secret="limited").list_all("tasks")
    assert "lacks the tasks:read scope needed to read tasks" in str(info.value)
    assert info.value.scope == "tasks:read" and info.value.request_id
    with pytest.raises(PikeAuthError) as info:
        make_client(server, secret="wrong").get_project("p1")
    assert info.value.status == 401 and info.value.request_id and not info.value.retryable
    assert len(logged(server, 2)) == 2


def test_html_502_gives_a_clean_server_error(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    html = b"<html><body><h1>502 Bad Gateway</h1>" + b"<p>nginx</p>" * 500 + b"</body></html>"
    server.enqueue(*[ScriptedResponse(502, html, {"Content-Type": "text/html", "X-Request-Id": f"gw-{i}"},
                                      path="/tasks") for i in range(2)])
    with pytest.raises(PikeServerError) as info:
        make_client(server, max_attempts=2).list_all("tasks")
    err = info.value
    assert (err.status, err.request_id) == (502, "gw-1")
    assert "<" not in str(err) and len(str(err)) < 300
    assert "not JSON (text/html)" in str(err)


def test_retry_after_seconds_and_http_date_are_honoured(sandbox_factory):
    server = sandbox_factory({"tasks": [{"id": "1"}]})
    in_5s = email.utils.format_datetime(datetime.datetime.now(datetime.UTC)
                                        + datetime.timedelta(seconds=5), usegmt=True)
    for retry_after in ("3", in_5s, "3600", "garbage"):
        server.enqueue(ScriptedResponse(429, error_body("rate_limited"), {"Retry-After": retry_after}, path="/tasks"))
    server.enqueue(ScriptedResponse(429, error_body("rate_limited"), path="/tasks"))  # no Retry-After
    sleeps = Sleeps()
    assert make_client(server, sleep=sleeps, max_attempts=10, max_retry_seconds=500).list_all("tasks") == [{"id": "1"}]
    assert sleeps[0] == 3.0
    assert 3.0 <= sleeps[1] <= 5.0
    assert sleeps[2] == 60.0  # clamped
    assert 0 <= sleeps[3] <= 2.0 and 0 <= sleeps[4] <= 4.0  # backoff after tries 4 and 5: 0.25 * 2**3, 2**4


def test_parse_retry_after():
    now = datetime.datetime(2026, 4, 9, 12, 0, 0, tzinfo=datetime.UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after("Thu, 09 Apr 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 09 Apr 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("Fri, 10 Apr 2026 12:00:00 GMT", now) == 60.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_backoff_is_exponential_with_full_jitter_and_bounded(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    server.enqueue(*[ScriptedResponse(500, error_body("internal_error"), path="/tasks") for _ in range(6)])
    sleeps = Sleeps()
    with pytest.raises(PikeServerError, match="Gave up after 6 attempts"):
        make_client(server, sleep=sleeps, max_attempts=6).list_all("tasks")
    assert len(logged(server, 6)) == 6 and len(sleeps) == 5
    for retry, slept in enumerate(sleeps, start=1):
        assert 0 <= slept <= min(8.0, 0.25 * 2 ** (retry - 1))


def test_total_retry_time_is_bounded(sandbox_factory):
    server = sandbox_factory({"tasks": []})
    server.enqueue(*[ScriptedResponse(429, error_body("rate_limited"), {"Retry-After": "4"}, path="/tasks")
                     for _ in range(5)])
    sleeps = Sleeps()
    with pytest.raises(PikeRateLimited):
        make_client(server, sleep=sleeps, max_retry_seconds=10).list_all("tasks")
    assert sleeps == [4.0, 4.0]  # a third wait would pass 10 s
    assert len(logged(server, 3)) == 3


def test_read_timeout_and_refused_connection_become_connection_errors(sandbox_factory):
    server = sandbox_factory({"tasks": []}, faults=FaultConfig(latency_ms=400))
    with pytest.raises(PikeConnectionError, match="timed out") as info:
        make_client(server, timeout_read=0.1, max_attempts=2).list_all("tasks")
    assert info.value.retryable
    port = free_port()  # closed again before use: nothing listens there
    closed = ApiSettings(f"http://127.0.0.1:{port}", SECRET, rate_limit_per_sec=0, max_attempts=3)
    sleeps = Sleeps()
    with pytest.raises(PikeConnectionError, match="Gave up after 3 attempts"):
        PikeClient(closed, sleep=sleeps).list_all("projects")
    assert len(sleeps) == 2


# -- deadlines -------------------------------------------------------------------------------

class TrickleServer:
    """A real HTTP/1.1 server on 127.0.0.1 that answers every request one byte at a time.

    Each byte comes ``every`` seconds, well inside the client's read timeout, so only a total
    deadline can stop the request. ``headers_too``: the status line and headers trickle as well
    (else they arrive at once and only the body trickles).
    """

    def __init__(self, *, every: float = 0.05, headers_too: bool = False, body_bytes: int = 200) -> None:
        body = b'{"items": [], "hasMore": false}'
        self.body = body + b" " * (body_bytes - len(body))
        self.head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(self.body))
        self.every, self.headers_too = every, headers_too
        self.connections = 0
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                if not self.headers_too:
                    conn.sendall(self.head)
                for byte in (self.head if self.headers_too else b"") + self.body:
                    if self._stopped.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.every)
            except OSError:  # the client gave up and closed the connection
                return

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()


@pytest.fixture
def trickle():
    servers: list[TrickleServer] = []

    def start(**kwargs) -> TrickleServer:
        servers.append(TrickleServer(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def trickle_client(server, sleeps=None, **settings_kwargs) -> PikeClient:
    settings = ApiSettings(server.url, SECRET, rate_limit_per_sec=0, timeout_read=2.0, **settings_kwargs)
    return PikeClient(settings, sleep=sleeps if sleeps is not None else Sleeps())


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_answer_is_cut_at_the_request_deadline_and_retried(trickle, headers_too):
    server = trickle(headers_too=headers_too)  # 200+ bytes at 20/s: more than 10 s per answer
    sleeps = Sleeps()
    started = time.monotonic()
    with pytest.raises(PikeConnectionError) as info:
        trickle_client(server, sleeps, request_deadline=0.3, max_attempts=3).list_all("tasks")
    elapsed = time.monotonic() - started
    err = info.value
    assert err.code == "request_deadline" and err.retryable
    assert str(err).startswith("The Pike API did not complete GET /tasks within 0.3 s (PIKE_API_REQUEST_DEADLINE).")
    assert "Gave up after 3 attempts" in str(err) and "\n" not in str(err)
    assert len(sleeps) == 2 and server.connections == 3  # each try on a fresh connection
    assert 0.85 < elapsed < 3.0


def test_the_listing_deadline_stops_a_request_and_is_not_retried(trickle):
    server = trickle()
    started = time.monotonic()
    with pytest.raises(PikeDeadlineExceeded) as info:
        trickle_client(server, request_deadline=30, fetch_deadline=0.4).list_all("tasks")
    elapsed = time.monotonic() - started
    err = info.value
    assert err.code == "fetch_deadline" and not err.retryable and err.resource == "tasks"
    assert str(err) == ("Listing tasks did not finish within 0.4 s (PIKE_API_FETCH_DEADLINE); "
                        "0 records in 0 pages had arrived. (code fetch_deadline)")
    assert server.connections == 1
    assert 0.35 < elapsed < 2.0


def test_the_listing_deadline_ends_retries_that_would_pass_it(sandbox_factory):
    server = sandbox_factory({"tasks": [{"id": str(i)} for i in range(3)]})
    server.enqueue(ScriptedResponse(200, page([{"id": "0"}], "c1", True), path="/tasks"),
                   *[ScriptedResponse(429, error_body("rate_limited"), {"Retry-After": "0.4"}, path="/tasks")
                     for _ in range(9)])
    sleeps = Sleeps()
    client = PikeClient(ApiSettings(server.url, server.secret, rate_limit_per_sec=0, fetch_deadline=1.0),
                        page_limit=1, sleep=sleeps)
    with pytest.raises(PikeDeadlineExceeded) as info:
        client.list_all("tasks")
    assert sleeps == [0.4, 0.4]  # a third wait would end past the listing's deadline
    assert "1 records in 1 pages had arrived. The last try failed: HTTP 429." in str(info.value)


def test_requests_within_their_deadline_are_untouched(sandbox_factory):
    server = sandbox_factory({"tasks": [{"id": str(i)} for i in range(450)]}, faults=FaultConfig(latency_ms=50))
    client = make_client(server, request_deadline=1.0, fetch_deadline=5.0)
    assert len(client.list_all("tasks")) == 450
    assert client.stats["tasks"].retries == 0
    # past every request's deadline: the watchdog must not touch the pooled connection. Its guards
    # fire in deadline order, so once a guard armed just after the last of them has fired, the
    # watchdog has dealt with them all (an event, not a guess at how long a busy machine needs)
    with deadlines.guard(time.monotonic() + 1.05) as after_every_deadline:
        poll_until(lambda: after_every_deadline.expired, timeout=30, interval=0.02,
                   message="the deadline watchdog never fired")
    assert len(client.list_all("tasks")) == 450 and client.stats["tasks"].retries == 0


# -- secrecy ---------------------------------------------------------------------------------

def test_secret_never_in_logs_exceptions_or_reprs(sandbox_factory, caplog):
    caplog.set_level(logging.DEBUG)  # root: includes urllib3's connection logs
    server = sandbox_factory({"tasks": [{"id": "1"}]}, secrets={SECRET: {"tasks:read"}})
    sleeps = Sleeps()
    settings = ApiSettings(server.url, server.secret, rate_limit_per_sec=0, max_attempts=2)
    client = PikeClient(settings, sleep=sleeps)
    errors: list[PikeError] = []
    scripted = [
        ScriptedResponse(400, error_body("invalid_request", f"bad token {SECRET}"), path="/tasks"),  # echoed
        ScriptedResponse(502, f"<html>{SECRET}</html>".encode(), {"Content-Type": "text/html"}, path="/tasks"),
        ScriptedResponse(502, b"<html/>", path="/tasks"),
        ScriptedResponse(200, [], path="/tasks"),
        ScriptedResponse(200, page([], None, True), path="/tasks"),
        ScriptedResponse(200, drop=True, path="/tasks"),
        ScriptedResponse(200, drop=True, path="/tasks"),
    ]
    calls = [lambda: client.list_all("tasks")] * 5
    server.enqueue(*scripted)
    calls += [lambda: client.list_all("projects"), lambda: client.get_member("x"),
              lambda: make_client(server, secret=SECRET + "x").list_all("tasks")]
    for call in calls:
        with pytest.raises(PikeError) as info:
            call()
        errors.append(info.value)
    assert client.list_all("tasks") == [{"id": "1"}]
    unreachable = PikeClient(ApiSettings("http://127.0.0.1:9", SECRET, rate_limit_per_sec=0, max_attempts=1))
    with pytest.raises(PikeConnectionError) as info:
        unreachable.list_all("tasks")
    errors.append(info.value)

    assert {type(e) for e in errors} >= {PikeInvalidRequest, PikeServerError, PikePaginationError,
                                          PikeConnectionError, PikeForbidden, PikeAuthError}
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(client), repr(settings)]
    texts += [caplog.text] + [str(r.args) for r in caplog.records]
    assert any("urllib3" in r.name for r in caplog.records)
    for text in texts:
        assert SECRET not in text
    assert "<secret>" in str(errors[0])
    assert repr(client) == f"PikeClient(base_url={server.url!r})"


def test_a_header_value_the_http_stack_refuses_never_shows_in_errors_or_logs(caplog):
    # ApiSettings refuses such secrets up front; this is the client's own belt and braces, for
    # any header value http.client or requests reject with the value quoted in the message.
    caplog.set_level(logging.DEBUG)
    for bad in (SECRET + "\nX-Evil: 1", SECRET + "🚀"):
        settings = ApiSettings("http://127.0.0.1:9", "sk-ok", rate_limit_per_sec=0, max_attempts=1)
        object.__setattr__(settings, "secret", bad)  # past ApiSettings' own check (frozen dataclass)
        client = PikeClient(settings)
        with pytest.raises(PikeConnectionError) as info:
            client.list_all("tasks")
        err = info.value
        assert err.code == "request_error"
        assert err.__cause__ is None and err.__suppress_context__
        for text in (str(err), repr(err), caplog.text):
            assert SECRET not in text and "Bearer" not in text


# -- rate limiter ----------------------------------------------------------------------------

def test_parallel_listings_stay_under_the_workspace_limit(sandbox_factory):
    # the server allows 20 req/s (burst 20); four threads share the client-side ceiling of 10 req/s
    server = sandbox_factory({"tasks": [{"id": str(i)} for i in range(200)],
                              "projects": [{"id": str(i)} for i in range(60)],
                              "customers": [{"id": "c"}], "members": [{"id": "m"}]},
                             faults=FaultConfig(rate=20))
    results: dict[str, int] = {}

    def fetch(resource):
        settings = ApiSettings(server.url, server.secret, rate_limit_per_sec=10)
        client = PikeClient(settings, page_limit=10, sleep=Sleeps())
        results[resource] = len(client.list_all(resource))

    threads = [threading.Thread(target=fetch, args=(r,)) for r in RESOURCES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"tasks": 200, "projects": 60, "customers": 1, "members": 1}
    assert len(logged(server, 20)) == 20 + 6 + 1 + 1
    assert all(r.status == 200 for r in server.requests)  # no 429 provoked


# -- settings --------------------------------------------------------------------------------

@pytest.fixture
def no_block(monkeypatch):
    monkeypatch.setattr(settings_module, "load_secret_block", lambda: None)
    for name in ("PIKE_API_BASE_URL", "PIKE_API_SECRET", "PIKE_API_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)


def test_settings_resolution_order(monkeypatch, no_block):
    with pytest.raises(PikeConfigError, match="set PIKE_API_SECRET or create a Prefect Secret block"):
        resolve_api_settings()
    monkeypatch.setattr(settings_module, "load_secret_block", lambda: "from-block")
    assert resolve_api_settings().secret == "from-block"
    assert resolve_api_settings().base_url == settings_module.DEFAULT_BASE_URL
    monkeypatch.setenv("PIKE_API_SECRET", "from-env")
    monkeypatch.setenv("PIKE_API_BASE_URL", "http://localhost:8080/")
    monkeypatch.setenv("PIKE_API_RATE_LIMIT", "2.5")
    s = resolve_api_settings()
    assert (s.base_url, s.secret, s.rate_limit_per_sec) == ("http://localhost:8080", "from-env", 2.5)
    s = resolve_api_settings("https://proxy.example/pike//", "explicit")
    assert (s.base_url, s.secret) == ("https://proxy.example/pike", "explicit")
    assert "explicit" not in repr(s)
    monkeypatch.setenv("PIKE_API_RATE_LIMIT", "fast")
    with pytest.raises(PikeConfigError, match="PIKE_API_RATE_LIMIT"):
        resolve_api_settings()


@pytest.mark.parametrize("url", ["api.example.com", "ftp://api.example.com", "https://api.example.com/v1",
                                 "https://api.example.com/V2/", "https://u:pw@api.example.com", "https://"])
def test_bad_base_urls_are_rejected(no_block, url):
    with pytest.raises(PikeConfigError) as info:
        resolve_api_settings(url, "s")
    assert "pw" not in str(info.value)


def test_from_env_and_headers(sandbox, point_api, monkeypatch, no_block):
    point_api(sandbox)
    limiters = []  # the rate limit each client asks for: rate_limit_per_sec=0 means none
    real_shared_limiter = client_module.shared_limiter

    def recording(base_url, secret, rate_limit):
        limiters.append((base_url, rate_limit))
        return real_shared_limiter(base_url, secret, rate_limit)

    monkeypatch.setattr(client_module, "shared_limiter", recording)
    sent = []  # the headers of every request as it left (a session hook, no private attribute)
    with requests.Session() as session:
        session.hooks["response"].append(lambda response, **kwargs: sent.append(response.request.headers))
        with PikeClient.from_env(rate_limit_per_sec=0, page_limit=20, session=session) as client:
            assert len(client.list_all("customers")) == len(sandbox.data["customers"])
            assert client.page_limit == 20
            assert isinstance(client.stats["customers"], ListingStats)
    assert limiters == [(sandbox.url, 0)]
    assert sent and all(h["Accept"] == "application/json" and h["User-Agent"].startswith("pike-reports/")
                        for h in sent)
    assert all(r.authorized for r in logged(sandbox))
    assert all(r.query.get("limit") == "20" for r in logged(sandbox))


def test_a_session_reused_for_every_page(sandbox_factory, monkeypatch):
    server = sandbox_factory({"tasks": [{"id": str(i)} for i in range(1000)]})
    import urllib3.util.connection

    opened = []
    real_connect = urllib3.util.connection.create_connection

    def counting(*args, **kwargs):
        opened.append(args[0])
        return real_connect(*args, **kwargs)

    monkeypatch.setattr("urllib3.connection.connection.create_connection", counting)
    assert len(make_client(server).list_all("tasks")) == 1000
    assert len(opened) == 1
    assert len(logged(server, 5)) == 5



def test_a_short_secret_is_redacted_as_a_whole_token_in_what_the_server_said_never_in_our_words(sandbox_factory):
    """Issue 23: with the secret ``wrong`` the 401 line read "(missing, <secret> or revoked)"."""
    server = sandbox_factory(secrets={"wrong": {"tasks:read"}})
    server.enqueue(ScriptedResponse(401, {"error": {"code": "unauthorized", "requestId": "r-1",
                                                    "message": "token wrong is revoked; wrongly formed"}},
                                    path="/tasks"))
    client = PikeClient(ApiSettings(server.url, "wrong", rate_limit_per_sec=0, max_attempts=1))
    with pytest.raises(PikeAuthError) as info:
        client.list_all("tasks")
    text = str(info.value)
    assert "(missing, wrong or revoked)" in text
    assert "token <secret> is revoked; wrongly formed" in text


def test_nothing_listening_is_final_after_a_few_quick_tries():
    """Issue 23: a wrong base URL took 85-93 s to fail (10 tries x 4 listings x 3 task tries)."""
    from pike_tasks.client import UNREACHABLE_ATTEMPTS
    from pike_tasks.errors import PikeUnreachable

    port = free_port()  # a port nobody listens on
    client = PikeClient(ApiSettings(f"http://127.0.0.1:{port}", SECRET, rate_limit_per_sec=0))
    started = time.monotonic()
    with pytest.raises(PikeUnreachable) as info:
        client.list_all("tasks")
    assert time.monotonic() - started < 10
    assert not info.value.retryable  # Prefect's task retries leave it alone too
    assert f"Gave up after {UNREACHABLE_ATTEMPTS} attempts" in str(info.value)
    assert "PIKE_API_BASE_URL" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "http://nowhere.invalid"])
def test_run_says_in_one_line_and_in_seconds_that_nothing_answers(url, tmp_path):
    import subprocess
    import sys

    port = free_port()  # nothing listens there
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("PIKE_", "PREFECT_API_URL"))}
    env.update(PIKE_API_BASE_URL=url.format(port=port), PIKE_API_SECRET=SECRET, PIKE_API_ALLOW_INSECURE_HTTP="1")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "overdue", "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Nothing answers at the Pike API address" in lines[0], done.stderr
    assert "PIKE_API_BASE_URL" in lines[0] and "Traceback" not in done.stderr and SECRET not in done.stderr
