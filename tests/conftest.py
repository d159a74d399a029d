"""Shared fixtures: the Pike sandbox server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime

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
