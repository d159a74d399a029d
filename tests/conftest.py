"""Shared fixtures: the Pike sandbox server over real HTTP on 127.0.0.1, the environment that points
the code at it, and one Prefect API per test session (per xdist worker under ``make test``).

Record builders live in tests/records.py, process helpers (free ports, starting, polling, stopping)
in tests/processes.py.
"""

from __future__ import annotations

import datetime
import importlib.util

import pytest

from pike_tasks.sandbox import SandboxServer, start_sandbox


@pytest.fixture(scope="session")
def sandbox():
    """One sandbox for the session: default demo data relative to today, no faults.

    Tests may change ``sandbox.faults`` or ``enqueue`` responses; both are reset, and the
    request log cleared, before every test that uses this fixture.
    """
    server = start_sandbox(today=datetime.date.today())
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_sandbox(request):
    """Give each test a clean shared sandbox, without starting one for tests that don't use it."""
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


@pytest.fixture
def sandbox_factory():
    """``start_sandbox`` for servers of a test's own (data, secrets, faults); all stopped at teardown."""
    servers: list[SandboxServer] = []

    def factory(*args, **kwargs) -> SandboxServer:
        server = start_sandbox(*args, **kwargs)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One real Prefect API for the whole session (a temporary database), started on first use.

    Starting Prefect's local API costs 10-25 s here, so every test module shares this one.
    Results are stored under a session temp folder so tests never touch ~/.prefect.
    """
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-storage")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}), prefect_test_harness(server_startup_timeout=120):
        yield


# --- the environment a test runs in ------------------------------------------------------------


@pytest.fixture
def point_api(monkeypatch):
    """``point_api(server, secret=None)``: PIKE_API_BASE_URL and PIKE_API_SECRET name ``server``
    (its own secret unless one is given) for the rest of the test; returns ``server``."""

    def point(server, secret: str | None = None):
        monkeypatch.setenv("PIKE_API_BASE_URL", server.url)
        monkeypatch.setenv("PIKE_API_SECRET", server.secret if secret is None else secret)
        return server

    return point


@pytest.fixture
def api_server(sandbox):
    """The Pike API that ``api_env`` points at: the session sandbox, unless a module overrides
    this fixture (e.g. with a server of its own fixture data)."""
    return sandbox


@pytest.fixture
def api_env(point_api, api_server):
    """The Pike API settings in the environment, naming ``api_server``; returns that server."""
    return point_api(api_server)


@pytest.fixture
def flow_env(api_env, tmp_path, monkeypatch, prefect_harness):
    """A flow run in this process: ``api_env``, a sender address for the digests, and Prefect's
    results under ``tmp_path / "storage"``; yields ``tmp_path``."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    monkeypatch.setenv("PIKE_REPORTS_EMAIL_FROM", "reports@example.com")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "storage"}):
        yield tmp_path


# --- which tests share an xdist worker ---------------------------------------------------------
# `make test` runs the suite on every core with pytest-xdist (-n auto --dist loadgroup). The test
# files below run on one worker each, one test after another: everything else is spread over the
# workers one test at a time, as they free up. (Grouping by file here rather than by xdist_group
# marks: with pytest 9.2, xdist 3.8's loadgroup silently ignores the marks, pytest-xdist#1386.)
XDIST_GROUPS = {
    # a Prefect server and workers each (PostgreSQL-backed in test_scale_e2e), `prefect deploy` from
    # the checkout, and test_deployments' module-scoped `deployed` cluster started once, not per worker
    "test_deployments.py": "e2e",
    "test_scale_e2e.py": "e2e",
    # one headless Chromium at a time (module-scoped browsers; layout and render-time checks)
    "test_pages_browser.py": "browser",
    "test_digest_browser.py": "browser",
    # the store's home: a module-scoped store built once, a moto_server, and Chromium
    "test_store_home.py": "browser",
    # a Prefect server with its UI, read in Chromium
    "test_flow_form_browser.py": "browser",
}


def xdist_scope(nodeid: str) -> str:
    """The unit of work a test belongs to under ``--dist loadgroup``: its group, or itself."""
    return XDIST_GROUPS.get(nodeid.split("::", 1)[0].rsplit("/", 1)[-1], nodeid)


if importlib.util.find_spec("xdist") is not None:  # the hook exists only with pytest-xdist installed

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") != "loadgroup":
            return None
        from xdist.scheduler import LoadGroupScheduling

        class FileGroupScheduling(LoadGroupScheduling):
            """Scopes by ``XDIST_GROUPS``; the biggest groups are handed out first."""

            def _split_scope(self, nodeid: str) -> str:
                return xdist_scope(nodeid)

        return FileGroupScheduling(config, log)
