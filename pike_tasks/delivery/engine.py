"""The delivery engine: once-only sends with bounded concurrency, for any channel.

A channel (email, Slack, Teams) says how to turn digests into outbound items and how to send one;
the engine owns everything else, the same for every channel:

- **once and only once** per (workspace, as_of, scope, channel, recipient), across every worker
  (``pike_tasks.once``: claim generations in the report store, a lease, stages, ``unknown`` when a
  message was handed over and no final reply came: never resent automatically; ``resend_to``
  resends on purpose, ``force`` to everyone). A channel that can read back what it posted
  (``settle_unknown``) settles an ``unknown`` as sent or not sent on the next run;
- **one Prefect task run per recipient and channel** (``send-digest-<recipient>``), Prefect's
  retries for a failure the channel calls retryable (a 4xx reply, a dropped connection);
- **bounded concurrency**: up to ``connections`` sends at once per channel; at the first
  :class:`ChannelDown` (unreachable server, refused login, 421) nothing more is started, the sends
  under way finish and every item not started fails as "not tried" (a later run sends it);
- **the record of the run**: each channel's outcomes appended to the delivery log, a
  ``pike.digest.*`` event per recipient and channel after a real send, and the digest folder
  (``digest/<as_of>/``: ``summary.json``, the dry run's files) published whole.

Errors a channel's ``send`` raises: :class:`ChannelDown`, :class:`DeliveryFailed` (``retryable``
or not), :class:`OutcomeUnknown`; anything else is that recipient's failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed

from pike_tasks import events
from pike_tasks.delivery.channel import (
    Channel,
    ChannelDown,
    DeliveryError,
    DeliveryFailed,
    Outbound,
    OutcomeUnknown,
    SettlesUnknown,
)
from pike_tasks.delivery.options import DeliveryOptions
from pike_tasks.errors import PikeError
from pike_tasks.home import refresh_home
from pike_tasks.once import (
    FAILED,
    MANAGER_DIGEST,
    SENT,
    Claim,
    ClaimLost,
    DeliveryLedger,
    Standing,
    claim_info,
    latest_real_outcomes,
    new_run_id,
    recipient_key,
)
from pike_tasks.outputs import json_bytes
from pike_tasks.prefect_tasks import SendProgress, apply_retention, prune_ledger
from pike_tasks.store import FolderRef, ReportStore, Scope

DIGEST_KIND = MANAGER_DIGEST


class DigestSendFailed(PikeError):
    """Some recipients did not get their digest (named in the message)."""


@dataclass(frozen=True)
class DeliveryTarget:
    """Where one run's records go: the day, the store, the workspace and scope of the once-only identity."""

    as_of: date
    store: ReportStore
    workspace: str
    team_ids: list[str] | None = None
    team_names: tuple[tuple[str, str], ...] = ()  # (id, name): the filtered scopes' names on the store's home

    @property
    def scope(self) -> Scope:
        return Scope.of(self.team_ids)

    def ledger(self, channel: str) -> DeliveryLedger:
        return DeliveryLedger(self.store, DIGEST_KIND, self.as_of, self.workspace, self.scope, channel)


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:  # noqa: ARG001 (Prefect's signature)
    """Retry a send only for a failure the channel calls retryable (a 4xx reply, a dropped connection).

    A channel that is down is not retried per recipient: the send loop stops at it and the
    remaining digests wait for the next run (:class:`ChannelDown`).
    """
    try:
        state.result()
    except DeliveryFailed as exc:
        return exc.retryable
    except Exception:  # noqa: BLE001 - an unexpected failure is not retried
        return False
    return False


@task(
    name="send-digest",
    task_run_name="send-digest-{recipient}",
    cache_policy=NO_CACHE,  # the once-only record is the store's ledger, which every worker sees
    persist_result=False,
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_transient,
)
def send_digest(recipient: str, channel: Channel, item: Outbound, target: DeliveryTarget, *, resend: bool = False,
                preview: bool = False, run_id: str | None = None) -> dict[str, Any]:
    """Send one item unless the store's ledger says it went (or may have gone) already.
    ``recipient`` names the task run (the address, or ``slack:<id>``)."""
    logger = get_run_logger()
    if preview:
        channel.send(item, lambda stage: None)
        logger.info("preview of %s's digest sent (%s)", recipient, channel.name)
        return {"recipient": item.recipient, "status": "preview", "message_id": item.reference}
    return deliver_once(channel, item, target.ledger(channel.name), resend=resend, run_id=run_id,
                        flow_run=_flow_run_name(), logger=logger)


def deliver_once(channel: Channel, item: Outbound, ledger: DeliveryLedger, *, resend: bool = False,
                 run_id: str | None = None, flow_run: str | None = None, logger: Any = None) -> dict[str, Any]:
    """Claim, send and settle one item (``pike_tasks.once`` gives the protocol); no Prefect needed.

    Returns the outcome: ``sent``, ``already-sent``, ``unknown`` (handed over, no final reply: never
    resent unless ``resend``) or ``claimed-elsewhere`` (another run holds a live claim).

    Raises:
        DeliveryFailed, ChannelDown: the service did not take it (the claim is settled ``failed``, so
            a later try, here or on another worker, sends it).
    """
    logger = logger or logging.getLogger(__name__)
    recipient, message_id = item.recipient, item.reference
    standing = ledger.standing(recipient)
    if not resend:
        standing, settled = _settle_unknown(channel, item, ledger, standing, logger)
        held = settled or _not_ours(standing, recipient, logger)
        if held is not None:
            return held
        if standing.status == "lapsed":
            logger.warning("digest for %s: taking over a claim whose run stopped before handing it over (%s)",
                           recipient, standing.describe())
    claim = ledger.claim(recipient, {**claim_info(flow_run, run_id), "message_id": message_id, "resend": resend},
                         after=standing.generation)
    if claim is None:  # another run created that generation first: it sends
        return {"recipient": recipient, "status": "claimed-elsewhere",
                "reason": ledger.standing(recipient).describe() + "; that run is sending it"}
    claim.start_heartbeat()
    try:
        channel.send(item, claim.stage)
    except OutcomeUnknown as exc:  # the message went out, no final reply: maybe delivered
        claim.settle("unknown", reason=exc.reason)
        logger.warning("digest for %s: outcome unknown (%s); not resending (--resend-to resends)", recipient,
                       exc.reason)
        return {"recipient": recipient, "status": "unknown", "reason": exc.reason, "message_id": message_id,
                "attempted": True}
    except ClaimLost as exc:  # our lease lapsed and another run took over before the end of the message
        _settle_quietly(claim, FAILED, str(exc))
        return {"recipient": recipient, "status": "claimed-elsewhere", "reason": str(exc)}
    except BaseException as exc:
        _settle_quietly(claim, FAILED, str(exc)[:300])  # not taken: a retry, here or elsewhere, may send it
        raise
    claim.settle(SENT)
    logger.info("digest for %s sent (%s)", recipient, message_id)
    return {"recipient": recipient, "status": "sent", "message_id": message_id, "attempted": True}


def _settle_unknown(channel: Channel, item: Outbound, ledger: DeliveryLedger, standing: Standing,
                    logger: Any) -> tuple[Standing, dict[str, Any] | None]:
    """An ``unknown`` the channel can settle (it reads back what it posted): posted -> a settled ``sent``
    generation and this run's outcome ``sent``; not posted -> a ``failed`` generation (this run then
    sends). Else the standing as it was and no outcome."""
    if standing.status != "unknown" or not isinstance(channel, SettlesUnknown):
        return standing, None
    try:
        arrived = channel.settle_unknown(item, standing)
    except Exception as exc:  # noqa: BLE001 - reading history is a courtesy; unknown stays unknown
        logger.warning("digest for %s: could not settle the unknown outcome (%s)", item.recipient, exc)
        return standing, None
    if arrived is None:
        return standing, None
    claim = ledger.claim(item.recipient, {"settled_from": "history", "message_id": standing.info.get("message_id")},
                         after=standing.generation)
    if claim is None:  # another run settles it
        return ledger.standing(item.recipient), None
    reason = "the earlier post was found in the conversation's history" if arrived else \
        "the earlier post is not in the conversation's history: sending it"
    claim.settle(SENT if arrived else FAILED, reason=reason)
    logger.info("digest for %s: unknown outcome settled: %s", item.recipient, reason)
    if arrived:
        return ledger.standing(item.recipient), {"recipient": item.recipient, "status": "sent", "reason": reason,
                                                 "message_id": standing.info.get("message_id"), "attempted": True}
    return ledger.standing(item.recipient), None


def _not_ours(standing: Standing, recipient: str, logger: Any) -> dict[str, Any] | None:
    """The outcome when the record says this run must not send, else None."""
    if standing.status == "sent":
        logger.info("digest for %s already sent at %s; not sending again", recipient, standing.info.get("settled_at"))
        return {"recipient": recipient, "status": "already-sent", "message_id": standing.info.get("message_id")}
    if standing.status not in ("unknown", "in-progress"):
        return None
    unknown = standing.status == "unknown"
    reason = standing.describe() + ("; the message was handed over and no final reply came, so it may have "
                                    "been sent: not resending (resend with --resend-to ADDRESS)"
                                    if unknown else "; that run is sending it")
    logger.warning("digest for %s not sent by this run: %s", recipient, reason)
    return {"recipient": recipient, "status": "unknown" if unknown else "claimed-elsewhere", "reason": reason}


def _settle_quietly(claim: Claim, outcome: str, reason: str) -> None:
    with contextlib.suppress(Exception):  # the store may be what failed; the lease then lapses
        claim.settle(outcome, reason=reason)


def _flow_run_name() -> str | None:
    try:
        from prefect.runtime import flow_run

        return str(flow_run.name)
    except Exception:  # noqa: BLE001 - outside a flow run there is no name to give
        return None


# --- one run over every channel ----------------------------------------------------------------


@dataclass
class _ChannelRun:
    """One channel's part of a run: its items, their outcomes, failures and the dry run's files."""

    channel: Channel
    items: Sequence[Outbound]
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def deliver(batches: Sequence[tuple[Channel, Sequence[Outbound]]], target: DeliveryTarget,
            options: DeliveryOptions) -> tuple[str, dict[str, dict[str, dict[str, Any]]]]:
    """Send (or write) every channel's items, one task run each; publish the digest folder.

    Each run appends its outcomes to the ledger's delivery log (per channel). The folder
    ``digest/<as_of>/`` holds ``summary.json`` (each recipient's latest real outcome from that log,
    sorted by recipient; ``run_status`` when this run's differs; email under ``digests``, other
    channels under ``channels``) and, in a dry run, each item's files. Returns (folder, outcomes per
    channel). Raises ``DigestSendFailed`` naming every recipient that did not get their digest,
    after all were tried.
    """
    logger = get_run_logger()
    run_id = new_run_id()
    runs = [_ChannelRun(channel, items) for channel, items in batches]
    files: dict[str, bytes] = {}
    for run in runs:
        to_send = _sort_out(run, options, files, logger)
        _send_all(run, to_send, target, options, run_id, logger)
    files["summary.json"] = _summary(runs, target, run_id, options.mode, logger)
    ref = FolderRef("digest", target.as_of, target.scope)
    folder = target.store.publish(ref, files)
    apply_retention(target.store, ref, logger)
    if options.mode == "send":
        prune_ledger(target.store, DIGEST_KIND, target.as_of, logger)
    refresh_home(target.store, logger, dict(target.team_names))  # the day's delivery summary on the store's home
    _raise_for_failures(runs, logger)
    return folder, {run.channel.name: run.outcomes for run in runs}


def _sort_out(run: _ChannelRun, options: DeliveryOptions, files: dict[str, bytes], logger: Any) -> list[Outbound]:
    """Fill the outcomes of the items this run does not send and the dry run's files; the items to send."""
    chosen = options.chosen()
    to_send: list[Outbound] = []
    for item in run.items:
        entry = dict(item.entry)
        if chosen is not None and not {item.recipient.strip().casefold(), str(entry.get("recipient", "")).strip()
                                       .casefold()} & chosen:
            run.outcomes[item.recipient] = {**entry, "status": "not-selected"}  # --resend-to others: untouched
        elif item.status is not None:  # decided while preparing (not-in-slack; failed: a lookup failed)
            run.outcomes[item.recipient] = {**entry, "status": item.status,
                                            **({"reason": item.reason} if item.reason else {})}
            if item.status == "failed" and not options.dry_run:
                run.failures[item.recipient] = item.reason or "failed"
        elif options.skip_if_empty and item.overdue_count == 0:
            logger.info("nothing overdue for %s: not sending (skip_if_empty)", item.recipient)
            run.outcomes[item.recipient] = {**entry, "status": "skipped-empty"}
        elif options.skip_if_unchanged and item.changed is False:
            logger.info("nothing new or resolved for %s: not sending (skip_if_unchanged)", item.recipient)
            run.outcomes[item.recipient] = {**entry, "status": "skipped-unchanged"}
        elif options.dry_run:
            files.update(item.files)
            run.outcomes[item.recipient] = {**entry, "status": "dry-run", **_file_names(run.channel, item)}
        else:
            to_send.append(item)
    return to_send


def _file_names(channel: Channel, item: Outbound) -> dict[str, str]:
    """What summary.json names of the dry run's files (email: ``eml``; Slack: ``slack_json``)."""
    out = {}
    for name in item.files:
        out["eml" if name.endswith(".eml") else name.rsplit(".", 2)[-2] + "_json"] = name
    return out


def _send_all(run: _ChannelRun, to_send: list[Outbound], target: DeliveryTarget, options: DeliveryOptions,
              run_id: str, logger: Any) -> None:
    """Send with up to the channel's window at once; stop starting new sends once the service is down."""
    channel, preview = run.channel, bool(options.preview_to)
    suffix = "" if channel.name == "email" else f"-{channel.name}"
    progress = SendProgress(
        len(to_send), logger, what="previews sent" if preview else "digests sent", key=f"digests-sent{suffix}",
        description=f"{'Previews' if preview else 'Manager digests'} sent for {target.as_of.isoformat()}"
                    + (f" ({channel.name})" if suffix else ""),
    )
    window = channel.concurrency(options.connections)
    down = _check_first(channel) if window > 1 and len(to_send) > 1 else None
    waiting = deque(to_send)
    running: dict[PrefectFuture[dict[str, Any]], Outbound] = {}
    while running or (waiting and down is None):
        while waiting and down is None and len(running) < window:
            item = waiting.popleft()
            future = send_digest.submit(_task_label(channel, item), channel, item, target, resend=options.resend,
                                        preview=preview, run_id=run_id)
            running[future] = item
        future = next(as_completed(list(running)))
        item = running.pop(future)
        future.wait()
        outcome, reason, now_down = _outcome_of(future.state, item.recipient)
        _record(run, item, outcome, reason, target, options)
        down = down or now_down
        progress.advance()
    for item in waiting:  # only left when the service is down
        _record(run, item, {"status": "failed", "reason": f"not tried: {down}", "attempted": True},
                f"not tried: {down}", target, options)
    progress.finish()


def _check_first(channel: Channel) -> str | None:
    """One connection (and login) first: a dead server or a wrong password then costs one try, not one
    per connection (a provider may lock the account after a few refused logins)."""
    try:
        channel.check()
    except ChannelDown as exc:
        return f"{channel.service} failed before any digest was sent ({exc.reason})"
    return None


def _task_label(channel: Channel, item: Outbound) -> str:
    return item.recipient if channel.name == "email" else f"{channel.name}-{item.recipient}"


def _record(run: _ChannelRun, item: Outbound, outcome: dict[str, Any], reason: str | None, target: DeliveryTarget,
            options: DeliveryOptions) -> None:
    """One item's outcome into the run (and a ``pike.digest.*`` event after a real send)."""
    run.outcomes[item.recipient] = {**item.entry, **{k: v for k, v in outcome.items() if k in ("status", "reason")}}
    if reason is not None:
        run.failures[item.recipient] = reason
    if options.mode == "send" and outcome.get("attempted"):
        events.digest_outcome(run.channel.name, recipient_key(item.recipient), item.recipient, outcome["status"],
                              as_of=target.as_of, scope_prefix=target.scope.prefix, reason=outcome.get("reason"))


def _outcome_of(state: Any, recipient: str) -> tuple[dict[str, Any], str | None, str | None]:
    """(the outcome, the failure reason or None, why the channel is down or None)."""
    if state.is_completed():
        return dict(state.result()), None, None
    down = None
    try:
        state.result()
        reason = state.message or "send failed"
    except ChannelDown as exc:
        reason = exc.reason
        down = f"{exc.service} failed for {recipient} ({exc.reason})"
    except DeliveryError as exc:
        reason = exc.reason
    except PikeError as exc:  # the store failed: nothing was recorded as sent
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure is this recipient's failure
        reason = f"{type(exc).__name__}: {exc}"
    return {"status": "failed", "reason": reason, "attempted": True}, reason, down


def _summary(runs: list[_ChannelRun], target: DeliveryTarget, run_id: str, mode: str, logger: Any) -> bytes:
    """Append each channel's outcomes to the delivery log; summary.json from the latest real outcome of each."""
    body: dict[str, Any] = {"report": "digest", "as_of": target.as_of.isoformat(),
                            "filters": target.scope.filters(), "mode": mode}
    others: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        rows = _channel_rows(run, target.ledger(run.channel.name), run_id, mode, logger)
        if run.channel.name == "email":
            body["digests"] = rows
        else:
            others[run.channel.name] = rows
    body.setdefault("digests", [])
    if others:
        body["channels"] = others
    return json_bytes(body)


def _channel_rows(run: _ChannelRun, ledger: DeliveryLedger, run_id: str, mode: str,
                  logger: Any) -> list[dict[str, Any]]:
    outcomes = run.outcomes
    logged = [{"recipient": r, "status": o["status"], **({"reason": o["reason"]} if o.get("reason") else {}),
               **({"for": o["recipient"]} if o.get("recipient", r) != r else {})}  # a Slack id: whose digest
              for r, o in outcomes.items() if o["status"] != "not-selected"]
    try:
        ledger.append_log(run_id, mode, logged)
        mine = [e for e in ledger.log_entries() if e.get("channel", "email") == run.channel.name]
        latest = latest_real_outcomes(mine)
    except PikeError as exc:  # the digests went out; only the log could not be written or read
        logger.warning("delivery log not written or read: %s", exc)
        latest = {}
    rows = []
    for recipient in sorted(outcomes, key=str.casefold):
        row = dict(outcomes[recipient])
        real = latest.get(recipient.casefold())
        if real is not None and real["status"] != row["status"]:
            row.pop("reason", None)
            row.update(run_status=row["status"], status=real["status"],
                       **({"reason": real["reason"]} if real.get("reason") else {}))
        rows.append(row)
    return rows


def _raise_for_failures(runs: list[_ChannelRun], logger: Any) -> None:
    failures: dict[str, str] = {}
    tried = 0
    for run in runs:
        name = run.channel.name
        for status in ("unknown", "claimed-elsewhere"):
            held = sorted(str(o.get("recipient", r)) for r, o in run.outcomes.items() if o["status"] == status)
            if held:
                logger.warning("%d %sdigests %s (not sent by this run): %s", len(held),
                               "" if name == "email" else f"{name} ", status, "; ".join(held))
        tried += sum(1 for o in run.outcomes.values() if o["status"] != "not-selected")
        for recipient, reason in run.failures.items():
            who = str(run.outcomes[recipient].get("recipient", recipient))
            failures[who if name == "email" else f"{name} {who}"] = reason
    if failures:
        names = "; ".join(f"{r} ({failures[r]})" for r in sorted(failures, key=str.casefold))
        raise DigestSendFailed(f"{len(failures)} of {tried} digests not delivered: {names}")
