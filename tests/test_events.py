"""Prefect events (issue 23): what a run learns reaches Prefect's event feed, where Automations
can match on it. Read back from a real Prefect API (the test harness) over its /events/filter."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from pathlib import Path

import pytest

from pike_tasks import events
from pike_tasks.sandbox.server import load_data_file, start_sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "small"
AS_OF = date(2026, 4, 9)


def read_events(name: str, resource_prefix: str, want: int, timeout: float = 30.0) -> list[dict]:
    """The events called ``name`` whose resource id starts with ``resource_prefix``, polled until
    ``want`` have arrived (events reach the server in the background)."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    found: list[dict] = []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            reply = client._client.post("/events/filter", json={
                "filter": {"event": {"name": [name]}, "resource": {"id_prefix": [resource_prefix]}}, "limit": 50})
            reply.raise_for_status()
            found = reply.json().get("events", [])
            if len(found) >= want:
                return found
            time.sleep(0.2)
    return found


def test_published_reports_reach_the_event_feed_with_their_counts(prefect_harness, monkeypatch, tmp_path):
    from flows.all_reports import run_all_reports

    with start_sandbox(load_data_file(FIXTURE / "workspace.json")) as server:
        monkeypatch.setenv("PIKE_API_BASE_URL", server.url)
        monkeypatch.setenv("PIKE_API_SECRET", server.secret)
        folders = run_all_reports(as_of=AS_OF, output_dir=str(tmp_path), teams_config=str(FIXTURE / "teams.yaml"),
                                  team_ids=None)
    summary = json.loads((Path(folders["overdue"]) / "summary.json").read_text(encoding="utf-8"))
    found = read_events(events.REPORT_PUBLISHED, "pike.report.overdue.all", 1)
    assert found, "no pike.report.published event for the overdue report"
    payload = found[0]["payload"]
    assert payload["as_of"] == "2026-04-09" and payload["scope"] == "all" and payload["report"] == "overdue"
    assert payload["overdue_tasks"] == summary["totals"]["overdue_tasks"] > 0
    assert payload["new"] == summary["new"] and payload["resolved"] == summary["resolved"]
    assert payload["link"] is None  # a local folder gives no https link, and never a file path
    assert read_events(events.REPORT_PUBLISHED, "pike.report.workload.all", 1)
    related = {r["prefect.resource.role"] for r in found[0]["related"]}
    assert "flow-run" in related  # an Automation can tell which run published it


def test_digest_events_carry_no_address_in_the_resource_id(prefect_harness):
    key = f"lead-{uuid.uuid4().hex[:20]}"  # this test's own resource: other tests emit digest events too
    events.digest_outcome("email", key, "lead@example.com", "failed", as_of=AS_OF, reason="550 mailbox unavailable")
    events.digest_outcome("email", key, "lead@example.com", "already-sent", as_of=AS_OF)
    found = read_events(events.DIGEST_FAILED, f"pike.digest.email.{key}", 1)
    assert [e["resource"]["prefect.resource.id"] for e in found] == [f"pike.digest.email.{key}"]
    assert "@" not in json.dumps(found[0]["resource"])
    assert found[0]["payload"]["recipient"] == "lead@example.com" and found[0]["payload"]["status"] == "failed"
    assert not read_events(events.DIGEST_DELIVERED, f"pike.digest.email.{key}", 1, timeout=1.0)


@pytest.mark.parametrize(("prefix", "scope"), [
    ("", "all"), ("filtered/teams-91ab2c3d-0123456789/", "teams-91ab2c3d-0123456789")])
def test_scope_names(prefix, scope):
    assert events.scope_name(prefix) == scope


@pytest.mark.parametrize(("rise", "step"), [(-3, "0"), (0, "0"), (1, "1+"), (19, "10+"), (20, "20+"), (400, "50+")])
def test_rise_steps_let_an_automation_match_a_jump(rise, step):
    assert events.rise_step(rise) == step


@pytest.mark.parametrize("name", ["overdue-jumped.yaml", "digest-failed.yaml"])
def test_documented_automations_are_accepted_by_a_real_prefect_server(prefect_harness, name):
    """docs/automations/*.yaml, with a real notification block's id, create an Automation on the
    server, whose trigger expects our event and matches our resource."""
    import yaml
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block_id = CustomWebhookNotificationBlock(name="ops", url="http://127.0.0.1:9/hook").save(
        f"pike-ops-{uuid.uuid4().hex[:8]}")
    text = (Path(__file__).parent.parent / "docs" / "automations" / name).read_text(encoding="utf-8")
    spec = yaml.safe_load(text.replace("BLOCK_DOCUMENT_ID", str(block_id)))
    created = Automation(**spec).create()
    try:
        stored = Automation.read(id=created.id)
        assert stored.trigger.expect <= {events.REPORT_PUBLISHED, events.DIGEST_FAILED}
        assert str(stored.actions[0].block_document_id) == str(block_id)
    finally:
        created.delete()
