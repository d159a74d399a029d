"""Prefect events for what a run learns, so operators can build Automations on them.

- ``pike.report.published``: a report folder was published whole. Resource
  ``pike.report.<report>.<scope>`` (``scope`` is ``all`` for the whole workspace, else the
  store's filtered slug); payload: ``as_of``, the report's counts (``overdue_tasks``, ``new``,
  ``resolved``... whatever its summary totals hold) and ``link`` (an https link when the store
  gives one, else null: never a ``file://`` path). Automations match resources, not payload
  numbers, so an overdue report's resource also carries ``pike.overdue.rise``: how far the
  overdue count rose since the baseline (new minus resolved) as the largest step reached of
  ``1+``, ``5+``, ``10+``, ``20+``, ``50+`` (``0`` when it did not rise; absent without a baseline).
- ``pike.digest.delivered`` / ``pike.digest.failed``: one per recipient and channel after a real
  send (dry runs and previews emit nothing). Resource ``pike.digest.<channel>.<recipient key>``:
  the recipient key is the ledger's (a readable prefix and a hash), so the resource id, which
  Automations match on and Prefect indexes, carries no address. The address itself is in the
  payload (with ``as_of``, ``scope``, ``status``, ``reason``), where the operator who reads the
  event feed needs it, as the delivery log already does.

Emitting never fails a run: Prefect buffers events and sends them in the background; an error
here is logged once and the report goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

REPORT_PUBLISHED = "pike.report.published"
DIGEST_DELIVERED = "pike.digest.delivered"
DIGEST_FAILED = "pike.digest.failed"
WHOLE_SCOPE = "all"
RISE_STEPS = (50, 20, 10, 5, 1)

logger = logging.getLogger(__name__)


def scope_name(prefix: str) -> str:
    """``all`` for the whole workspace; else the store's slug (``filtered/<slug>/`` -> ``<slug>``)."""
    slug = prefix.strip("/").removeprefix("filtered/")
    return slug or WHOLE_SCOPE


def report_published(report: str, scope_prefix: str, as_of: date, counts: Mapping[str, Any],
                     link: str | None) -> None:
    """Emit ``pike.report.published`` for a report folder just published."""
    scope = scope_name(scope_prefix)
    payload = {"report": report, "scope": scope, "as_of": as_of.isoformat(), **dict(counts),
               "link": link if link and link.startswith(("https://", "http://")) else None}
    resource = {"prefect.resource.id": f"pike.report.{report}.{scope}",
                "prefect.resource.name": f"{report} report ({scope})"}
    if counts.get("baseline_as_of") and "new" in counts and "resolved" in counts:
        resource["pike.overdue.rise"] = rise_step(int(counts["new"]) - int(counts["resolved"]))
    _emit(REPORT_PUBLISHED, resource, payload)


def rise_step(rise: int) -> str:
    """The largest of ``RISE_STEPS`` that ``rise`` reached, as ``20+``; ``0`` when it did not rise."""
    return next((f"{step}+" for step in RISE_STEPS if rise >= step), "0")


def digest_outcome(channel: str, recipient_key: str, recipient: str, status: str, *, as_of: date,
                   scope_prefix: str = "", reason: str | None = None) -> None:
    """Emit ``pike.digest.delivered`` (``sent``) or ``pike.digest.failed`` (``failed``, ``unknown``)
    for one recipient of one channel; other statuses (already sent, skipped) emit nothing."""
    if status == "sent":
        event = DIGEST_DELIVERED
    elif status in ("failed", "unknown"):
        event = DIGEST_FAILED
    else:
        return
    payload = {"channel": channel, "recipient": recipient, "status": status, "as_of": as_of.isoformat(),
               "scope": scope_name(scope_prefix), "reason": reason}
    _emit(event, {"prefect.resource.id": f"pike.digest.{channel}.{recipient_key}",
                  "prefect.resource.name": f"{channel} digest"}, payload)


def _emit(event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
    try:
        from prefect.events import emit_event

        emit_event(event=event, resource=resource, payload=payload)
    except Exception as exc:  # noqa: BLE001 - an event is a courtesy: it never fails a report
        logger.warning("could not emit the Prefect event %s: %s", event, type(exc).__name__)
