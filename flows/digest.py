"""Flow: manager digests by email (REPORTS.md, Report 3), each sent once and only once.

Recipe: fetch -> resolve -> build one digest per manager address (pure) -> one ``send-digest``
task run per recipient, a few at once (``PIKE_REPORTS_SMTP_CONNECTIONS``, default 4). A recipient
that fails does not stop the others; the flow run then fails naming exactly who did not get their
digest.

Once and only once, for a (workspace, as_of, scope, channel, recipient), across every worker:
the record lives in the report store (``output_dir``), not on the machine that ran the flow,
as create-only claim generations that say how far the send got (``pike_tasks.once``). Two
workers racing for one recipient send one email; a retried flow run on another machine sends
only what was not sent; a run that dies before handing a message over
leaves a claim the next run takes over once its lease lapses; one that dies after (or gets no
final reply) leaves the digest ``unknown``, which is never resent automatically (``resend_to``
resends to those recipients on purpose, ``force`` to everyone).

``preview_to`` sends every digest to that address only, ``[Preview]`` in the subject: a preview
never counts as sent. ``dry_run`` writes ``.eml`` files into the digest folder. Both are written
to the delivery log, and never replace a real send's status in ``summary.json``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from flows.common import AsOfParam, OutputDirParam, TeamsConfigParam, open_report_store, run_name, settings_for
from pike_tasks import rules
from pike_tasks.email_message import build_message, choose_attachment
from pike_tasks.errors import PikeConfigError, PikeError
from pike_tasks.mailer import (
    DigestDeliveryError,
    SmtpAuthFailed,
    SmtpOutcomeUnknown,
    SmtpSettings,
    SmtpUnavailable,
    attachment_max_bytes,
    check_smtp,
    resolve_smtp_settings,
    send_message,
    smtp_connections,
)
from pike_tasks.once import (
    FAILED,
    MANAGER_DIGEST,
    SENT,
    Claim,
    ClaimLost,
    DeliveryLedger,
    Standing,
    bind_workspace,
    claim_info,
    latest_real_outcomes,
    lease_seconds,
    new_run_id,
    recipient_key,
    workspace_name,
)
from pike_tasks.outputs import json_bytes
from pike_tasks.prefect_tasks import (
    OverdueFrames,
    Resolved,
    SendProgress,
    api_source_label,
    apply_retention,
    build_overdue_report,
    check_team_filter,
    fetch_workspace,
    prune_ledger,
    resolve_workspace,
)
from pike_tasks.progress import ProgressLog
from pike_tasks.store import FolderRef, ReportStore, Scope
from pike_tasks.teams_config import TeamsConfig

if TYPE_CHECKING:
    from pike_tasks.digest import Digest  # imports pandas: loaded when digests are built


DIGEST_KIND = MANAGER_DIGEST
DRY_RUN_SENDER = "pike-reports <pike-reports@localhost>"


class DigestSendFailed(PikeError):
    """Some recipients did not get their digest (named in the message)."""


def _retry_transient(task, task_run, state) -> bool:  # noqa: ARG001 (Prefect's signature)
    """Retry a send only for temporary failures of this message (4xx replies, dropped connections).

    An unreachable server is not retried per recipient: the send loop stops at it and the
    remaining digests wait for the next run (``SmtpUnavailable``).
    """
    try:
        state.result()
    except SmtpUnavailable:
        return False
    except DigestDeliveryError as exc:
        return not exc.permanent
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
def send_digest(
    recipient: str,
    as_of: date,
    message: EmailMessage,
    settings: SmtpSettings,
    *,
    store: ReportStore,
    workspace: str,
    team_ids: list[str] | None = None,
    kind: str = DIGEST_KIND,
    resend: bool = False,
    preview: bool = False,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Send one digest unless the store's ledger says it went (or may have gone) already."""
    logger = get_run_logger()
    if preview:
        send_message(settings, message)
        logger.info("preview of %s's digest sent to %s", recipient, message["To"])
        return {"recipient": recipient, "status": "preview", "message_id": str(message["Message-ID"])}
    ledger = DeliveryLedger(store, kind, as_of, workspace, Scope.of(team_ids))
    return deliver_once(recipient, message, settings, ledger, resend=resend, run_id=run_id,
                        flow_run=_flow_run_name(), logger=logger)


def deliver_once(recipient: str, message: EmailMessage, settings: SmtpSettings, ledger: DeliveryLedger, *,
                 resend: bool = False, run_id: str | None = None, flow_run: str | None = None,
                 logger: Any = None) -> dict[str, Any]:
    """Claim, send and settle one digest (``pike_tasks.once`` gives the protocol); no Prefect needed.

    Returns the outcome: ``sent``, ``already-sent``, ``unknown`` (handed over, no final reply: never
    resent unless ``resend``) or ``claimed-elsewhere`` (another run holds a live claim).

    Raises:
        DigestDeliveryError: the server did not take the message (the claim is settled ``failed``,
            so a later try, here or on another worker, sends it).
    """
    logger = logger or logging.getLogger(__name__)
    message_id = str(message["Message-ID"])
    standing = ledger.standing(recipient)
    if not resend:
        held = _not_ours(standing, recipient, logger)
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
        send_message(settings, message, on_stage=claim.stage)
    except SmtpOutcomeUnknown as exc:  # the body went out, no final reply: maybe delivered
        claim.settle("unknown", reason=exc.reason)
        logger.warning("digest for %s: outcome unknown (%s); not resending (--resend-to resends)", recipient,
                       exc.reason)
        return {"recipient": recipient, "status": "unknown", "reason": exc.reason, "message_id": message_id}
    except ClaimLost as exc:  # our lease lapsed and another run took over before the end of the message
        _settle_quietly(claim, FAILED, str(exc))
        return {"recipient": recipient, "status": "claimed-elsewhere", "reason": str(exc)}
    except BaseException as exc:
        _settle_quietly(claim, FAILED, str(exc)[:300])  # not taken: a retry, here or elsewhere, may send it
        raise
    claim.settle(SENT)
    logger.info("digest for %s sent (%s)", recipient, message_id)
    return {"recipient": recipient, "status": "sent", "message_id": message_id}


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

        return flow_run.name
    except Exception:  # noqa: BLE001 - outside a flow run there is no name to give
        return None


@dataclass
class PreparedDigest:
    recipient: str
    subject: str
    overdue_count: int
    message: EmailMessage
    new_count: int = 0  # since the baseline, in the manager's teams
    resolved_count: int = 0
    has_baseline: bool = False  # without one, "unchanged" cannot be told
    attachment: str | None = None  # the attached file's name (overdue.csv or overdue.csv.zip); None: nothing
    attachment_bytes: int = 0


@task(name="build-digests", cache_policy=NO_CACHE, persist_result=False)
def prepare_digests(
    resolved: Resolved,
    *,
    as_of: date,
    config: TeamsConfig,
    sender: str,
    overdue: OverdueFrames,
    team_ids: list[str] | None = None,
    preview_to: str | None = None,
    report_url: str | None = None,
    csv_url: str | None = None,
    attachment_max: int | None = None,
    team_pages: dict[str, str] | None = None,
) -> list[PreparedDigest]:
    """Build, render and assemble every manager's message, its overdue.csv built in memory.

    The CSV is attached as it is up to ``attachment_max`` bytes (default
    ``PIKE_REPORTS_ATTACHMENT_MAX_BYTES``), else zipped if that fits, else not at all: the
    digest then says so and links (or locates) ``csv_url``, the overdue report's stored CSV.
    """
    from pike_tasks import csv_output
    from pike_tasks.digest import CSV_NAME, build_digests, render_digest

    digests: list[Digest] = build_digests(
        resolved.tasks, resolved.members, overdue.rows, config.teams, as_of, team_ids=team_ids or None,
        changes=overdue.changes, due_soon_rows=overdue.due_soon, baseline_as_of=overdue.baseline_as_of,
    )
    generated_at = rules.generated_at()
    limit = attachment_max if attachment_max is not None else attachment_max_bytes()
    prepared = []
    progress = ProgressLog(get_run_logger(), "digests built", len(digests))
    for digest in digests:
        csv = csv_output.csv_bytes(digest.overdue_rows, rules.OVERDUE_COLUMNS)
        attachment = choose_attachment(csv, limit, csv_name=CSV_NAME, stamp=as_of)
        rendered = render_digest(
            digest, report_url=report_url, app_url_template=config.app_url_template,
            generated_at=generated_at, preview_for=digest.recipient if preview_to else None,
            attachment=attachment, csv_url=csv_url, team_pages=team_pages,
        )
        message = build_message(
            digest, rendered.html, rendered.text, sender=sender, attachments=attachment.parts,
            preview=bool(preview_to), preview_to=preview_to,
        )
        kinds = digest.changes["change"].tolist() if digest.changes is not None and len(digest.changes) else []
        prepared.append(PreparedDigest(
            digest.recipient, digest.subject, digest.overdue_count, message,
            new_count=kinds.count("new"), resolved_count=kinds.count("resolved"),
            has_baseline=digest.baseline_as_of is not None,
            attachment=attachment.filename, attachment_bytes=len(attachment.data),
        ))
        progress.update(len(prepared))
    get_run_logger().info("%d manager digests built for %s", len(prepared), as_of)
    return prepared


def eml_name(recipient: str) -> str:
    """The dry run's file name of one digest: distinct for every distinct address."""
    return f"{recipient_key(recipient)}.eml"


def send_prepared(
    prepared: list[PreparedDigest],
    *,
    as_of: date,
    settings: SmtpSettings | None,
    store: ReportStore,
    workspace: str,
    team_ids: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    resend_to: list[str] | None = None,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
    skip_if_unchanged: bool = False,
    connections: int | None = None,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Send (or write) every prepared digest, one task run each; publish the digest folder.

    Up to ``connections`` digests (default ``PIKE_REPORTS_SMTP_CONNECTIONS``, 4) are sent at
    once, each task run on its own SMTP connection, so one slow recipient holds up one slot,
    not the run. Before that, one connection and login (``check_smtp``): a dead server or a
    wrong password fails every digest as "not tried" after a single try. At the first
    unreachable server, refused login or 421 while sending nothing more is started: the sends
    already under way finish, and every digest not yet started fails as "not tried" (a later
    run sends it).

    ``resend_to``: send to these recipients only, whatever their record says (everyone else is
    left alone); ``force``: the same for every recipient.

    Each run appends its outcomes to the ledger's delivery log (``pike_tasks.once``). The folder
    ``digest/<as_of>/`` holds ``summary.json`` (each recipient's latest real outcome from that log,
    sorted by address; ``run_status`` when this run's differs) and, in a dry run, one ``.eml`` per
    digest. Returns (folder, outcomes). Raises ``DigestSendFailed`` naming every recipient that did
    not get their digest, after all were tried.
    """
    logger = get_run_logger()
    entries = {item.recipient: {"recipient": item.recipient, "subject": item.subject,
                                "overdue_count": item.overdue_count, "attachment": item.attachment,
                                "attachment_bytes": item.attachment_bytes} for item in prepared}
    chosen = None if force or resend_to is None else {a.strip().casefold() for a in resend_to}
    outcomes, files, to_send = _sort_out(prepared, entries, chosen, dry_run=dry_run, skip_if_empty=skip_if_empty,
                                         skip_if_unchanged=skip_if_unchanged, logger=logger)
    run = _Run(as_of, store, workspace, team_ids, resend=force or chosen is not None, run_id=new_run_id(),
               preview=bool(preview_to))
    failures = _send_all(to_send, entries, outcomes, cast(SmtpSettings, settings), run,
                         connections if connections is not None else smtp_connections(), logger)
    mode = "preview" if preview_to else ("dry-run" if dry_run else "send")
    ledger = DeliveryLedger(store, DIGEST_KIND, as_of, workspace, Scope.of(team_ids))
    files["summary.json"] = _summary(ledger, run.run_id, mode, as_of, team_ids, entries, outcomes, logger)
    ref = FolderRef("digest", as_of, Scope.of(team_ids))
    folder = store.publish(ref, files)
    apply_retention(store, ref, logger)
    if not dry_run and not preview_to:
        prune_ledger(store, DIGEST_KIND, as_of, logger)
    for status in ("unknown", "claimed-elsewhere"):
        held = sorted(r for r, o in outcomes.items() if o["status"] == status)
        if held:
            logger.warning("%d digests %s (not sent by this run): %s", len(held), status, "; ".join(held))
    if failures:
        names = "; ".join(f"{r} ({failures[r]})" for r in sorted(failures, key=str.casefold))
        tried = sum(1 for o in outcomes.values() if o["status"] != "not-selected")
        raise DigestSendFailed(f"{len(failures)} of {tried} digests not delivered: {names}")
    return folder, {r: outcomes[r] for r in entries if r in outcomes}


@dataclass(frozen=True)
class _Run:
    """What every send of one run shares."""

    as_of: date
    store: ReportStore
    workspace: str
    team_ids: list[str] | None
    resend: bool
    run_id: str
    preview: bool


def _sort_out(prepared: list[PreparedDigest], entries: dict[str, dict[str, Any]], chosen: set[str] | None, *,
              dry_run: bool, skip_if_empty: bool, skip_if_unchanged: bool, logger: Any,
              ) -> tuple[dict[str, dict[str, Any]], dict[str, bytes], list[PreparedDigest]]:
    """(outcomes of the digests this run does not send, the dry run's files, the digests to send)."""
    outcomes: dict[str, dict[str, Any]] = {}
    files: dict[str, bytes] = {}
    to_send: list[PreparedDigest] = []
    for item in prepared:
        entry = entries[item.recipient]
        if chosen is not None and item.recipient.strip().casefold() not in chosen:
            outcomes[item.recipient] = {**entry, "status": "not-selected"}  # --resend-to others: untouched
        elif skip_if_empty and item.overdue_count == 0:
            logger.info("nothing overdue for %s: not sending (skip_if_empty)", item.recipient)
            outcomes[item.recipient] = {**entry, "status": "skipped-empty"}
        elif skip_if_unchanged and item.has_baseline and not (item.new_count or item.resolved_count):
            logger.info("nothing new or resolved for %s: not sending (skip_if_unchanged)", item.recipient)
            outcomes[item.recipient] = {**entry, "status": "skipped-unchanged"}
        elif dry_run:
            name = eml_name(item.recipient)
            files[name] = item.message.as_bytes()
            outcomes[item.recipient] = {**entry, "status": "dry-run", "eml": name}
        else:
            to_send.append(item)
    return outcomes, files, to_send


def _send_all(to_send: list[PreparedDigest], entries: dict[str, dict[str, Any]], outcomes: dict[str, dict[str, Any]],
              smtp: SmtpSettings, run: _Run, window: int, logger: Any) -> dict[str, str]:
    """Send with up to ``window`` at once; stop starting new sends once the server is down.
    Fills ``outcomes``; returns the failure reason per recipient."""
    failures: dict[str, str] = {}
    progress = SendProgress(
        len(to_send), logger, what="previews sent" if run.preview else "digests sent", key="digests-sent",
        description=f"{'Previews' if run.preview else 'Manager digests'} sent for {run.as_of.isoformat()}",
    )
    waiting = deque(to_send)
    running: dict[Any, PreparedDigest] = {}
    server_down: str | None = None  # set at the first unreachable server, refused login or 421
    if window > 1 and len(to_send) > 1:
        # one connection and login first: a dead server or a wrong password then costs one try,
        # not one per connection (a provider may lock the account after a few refused logins)
        try:
            check_smtp(smtp)
        except (SmtpUnavailable, SmtpAuthFailed) as exc:
            server_down = f"the SMTP server failed before any digest was sent ({exc.reason})"
    while running or (waiting and server_down is None):
        while waiting and server_down is None and len(running) < window:
            item = waiting.popleft()
            future = send_digest.submit(
                item.recipient, run.as_of, item.message, smtp, store=run.store, workspace=run.workspace,
                team_ids=run.team_ids, kind=DIGEST_KIND, resend=run.resend, preview=run.preview, run_id=run.run_id,
            )
            running[future] = item
        future = next(as_completed(list(running)))
        item = running.pop(future)
        future.wait()
        outcome, reason, down = _outcome_of(future.state, item.recipient)
        outcomes[item.recipient] = {**entries[item.recipient], **outcome}
        if reason is not None:
            failures[item.recipient] = reason
        if down is not None and server_down is None:
            server_down = down  # every other recipient would wait for the same answer
        progress.advance()
    for item in waiting:  # only left when the server is down
        reason = f"not tried: {server_down}"
        failures[item.recipient] = reason
        outcomes[item.recipient] = {**entries[item.recipient], "status": "failed", "reason": reason}
    progress.finish()
    return failures


def _summary(ledger: DeliveryLedger, run_id: str, mode: str, as_of: date, team_ids: list[str] | None,
             entries: dict[str, dict[str, Any]], outcomes: dict[str, dict[str, Any]], logger: Any) -> bytes:
    """Append this run's outcomes to the delivery log; summary.json from the latest real outcome of each."""
    logged = [{"recipient": r, "status": o["status"], **({"reason": o["reason"]} if o.get("reason") else {})}
              for r, o in outcomes.items() if o["status"] != "not-selected"]
    try:
        ledger.append_log(run_id, mode, logged)
        latest = latest_real_outcomes(ledger.log_entries())
    except PikeError as exc:  # the digests went out; only the log could not be written or read
        logger.warning("delivery log not written or read: %s", exc)
        latest = {}
    digests = []
    for recipient in sorted(outcomes, key=str.casefold):
        row = dict(outcomes[recipient])
        real = latest.get(recipient.casefold())
        if real is not None and real["status"] != row["status"]:
            row.pop("reason", None)
            row.update(run_status=row["status"], status=real["status"],
                       **({"reason": real["reason"]} if real.get("reason") else {}))
        digests.append(row)
    return json_bytes({
        "report": "digest", "as_of": as_of.isoformat(), "filters": Scope.of(team_ids).filters(),
        "mode": mode, "digests": digests,
    })


def _outcome_of(state, recipient: str) -> tuple[dict[str, Any], str | None, str | None]:
    """(what summary.json says, the failure reason or None, why the server is down or None)."""
    if state.is_completed():
        result = state.result()
        return {k: v for k, v in result.items() if k in ("status", "reason")}, None, None
    down = None
    try:
        state.result()
        reason = state.message or "send failed"
    except (SmtpUnavailable, SmtpAuthFailed) as exc:
        reason = exc.reason
        down = f"the SMTP server failed for {recipient} ({exc.reason})"
    except DigestDeliveryError as exc:
        reason = exc.reason
    except PikeError as exc:  # the store failed: nothing was recorded as sent
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure is this recipient's failure
        reason = f"{type(exc).__name__}: {exc}"
    return {"status": "failed", "reason": reason}, reason, down


def deliver_digests(
    resolved: Resolved,
    *,
    as_of: date,
    config: TeamsConfig,
    store: ReportStore,
    settings: SmtpSettings | None,
    overdue: OverdueFrames,
    workspace: str,
    team_ids: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    resend_to: list[str] | None = None,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
    skip_if_unchanged: bool = False,
    report_url: str | None = None,
    csv_url: str | None = None,
) -> str:
    """The digest steps after fetch/resolve (call inside a flow; ``run_all_reports`` reuses it).

    ``workspace``: the identity :func:`digest_workspace` gave before the fetch. ``csv_url``: the
    overdue report's stored overdue.csv (:func:`overdue_csv_location`), which a digest links when
    its CSV is too large to attach even zipped.

    Raises:
        DigestSendFailed: naming every recipient that did not get their digest, after trying all.
    """
    sender = settings.sender if settings else (os.environ.get("PIKE_REPORTS_EMAIL_FROM") or DRY_RUN_SENDER)
    prepared = prepare_digests(
        resolved, as_of=as_of, config=config, sender=sender, overdue=overdue,
        team_ids=team_ids, preview_to=preview_to, report_url=report_url, csv_url=csv_url,
        team_pages=overdue.team_links,
    )
    folder, _ = send_prepared(
        prepared, as_of=as_of, settings=settings, store=store, workspace=workspace, team_ids=team_ids,
        dry_run=dry_run, force=force, resend_to=resend_to, preview_to=preview_to, skip_if_empty=skip_if_empty,
        skip_if_unchanged=skip_if_unchanged,
    )
    return folder


def digest_workspace(config: TeamsConfig, store: ReportStore, team_ids: list[str] | None = None,
                     resend_to: list[str] | None = None) -> str:
    """The workspace name of the once-only records, checked (with every digest setting) before any API
    call: the name and its binding to the config's team ids, the claim lease, and that each
    ``resend_to`` address is a manager of the run's teams.

    Raises:
        PikeConfigError: one line naming what to fix.
    """
    lease_seconds()
    check_resend_to(config, team_ids, resend_to)
    name = workspace_name(config.workspace)
    bind_workspace(store, name, list(config.teams))
    return name


def check_resend_to(config: TeamsConfig, team_ids: list[str] | None, resend_to: list[str] | None) -> None:
    """Each address must be a manager of a team of this run (one line naming the first that is not)."""
    if not resend_to:
        return
    wanted = set(team_ids) if team_ids else None
    managers = {m.strip().casefold() for tid, team in config.teams.items() if wanted is None or tid in wanted
                for m in team.managers}
    for address in resend_to:
        if address.strip().casefold() not in managers:
            where = "the teams of this run (--team)" if wanted else "the teams config"
            raise PikeConfigError(f"--resend-to {address.strip()[:120]!r} is not a manager in {where}; "
                                  "nothing was sent")


def overdue_csv_location(store: ReportStore, as_of: date, team_ids: list[str] | None, folder: str) -> str:
    """Where people get the overdue report's overdue.csv: the store's link for it (public URL
    or presigned), else its place in the store (``folder``, as the report was published), which
    the digest gives in words."""
    from pike_tasks.digest import CSV_NAME

    ref = FolderRef("overdue", as_of, Scope.of(team_ids))  # the folder build_overdue_report publishes
    return store.link(ref, CSV_NAME) or f"{folder.rstrip('/')}/{CSV_NAME}"


def smtp_settings_for(dry_run: bool, smtp_block: str | None) -> SmtpSettings | None:
    """SMTP settings, resolved and tried (connect, log in, quit) before any API call, so a missing
    block, a wrong password or a dead server fails the run in one line before the fetch. The
    digest settings of the environment (``PIKE_REPORTS_ATTACHMENT_MAX_BYTES``, and
    ``PIKE_REPORTS_SMTP_CONNECTIONS`` when sending) are checked here too.

    Raises:
        PikeConfigError: naming the block or variable, or what the server answered.
    """
    attachment_max_bytes()  # a bad PIKE_REPORTS_ATTACHMENT_MAX_BYTES fails here, before any API call
    if dry_run:
        return None
    smtp_connections()  # a bad PIKE_REPORTS_SMTP_CONNECTIONS fails here too, before any API call
    try:
        settings = resolve_smtp_settings(smtp_block)
    except PikeError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. no block of that name: Prefect raises a bare ValueError
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PikeConfigError(f"SMTP block {smtp_block!r} could not be loaded: {first[:200]} "
                              "(create it with `pike-reports setup`, or leave smtp_block empty to use "
                              "PIKE_REPORTS_SMTP_*)") from None
    try:
        check_smtp(settings)
    except DigestDeliveryError as exc:
        raise PikeConfigError(f"digests cannot be sent: {exc}") from None
    return settings


@flow(name="send-manager-digests", flow_run_name=run_name("digest"), validate_parameters=True)
def send_manager_digests(
    as_of: AsOfParam = None,
    teams_config: TeamsConfigParam = None,
    team_ids: list[str] | None = None,
    output_dir: OutputDirParam = None,
    dry_run: bool = False,
    force: bool = False,
    resend_to: list[str] | None = None,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
    skip_if_unchanged: bool = False,
    smtp_block: str | None = None,
    report_url: str | None = None,
) -> dict:
    """One email per manager address in the teams config: their teams' overdue tasks and their
    members' workload. Each (workspace, as_of, scope, channel, recipient) digest is sent once;
    ``resend_to`` resends to those recipients only, ``force`` to everyone.

    Args:
        as_of: Digest date; empty means today in the configured timezone.
        teams_config: Path to a teams YAML, inline JSON, or empty to use the pike-teams-config block saved by pike-reports setup.
        team_ids: Only digest these Pike team ids; empty means every team in the config.
        output_dir: Report store that also holds the once-only email record: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute path); its digest/YYYY-MM-DD subfolder gets the .eml files (dry run) and summary.json; empty means the worker's PIKE_REPORTS_STORE.
        dry_run: Write .eml files instead of sending; nothing is recorded as sent.
        force: Send every digest again even if already sent (or its outcome is unknown): resend_to with every recipient.
        resend_to: Send only to these manager addresses, whatever their record says (e.g. after an unknown outcome); everyone else is left alone.
        preview_to: Send every digest to this one address only, marked [Preview]; not recorded as sent.
        skip_if_empty: Do not send a digest with nothing overdue.
        skip_if_unchanged: Do not send a digest with nothing new and nothing resolved since the previous report.
        smtp_block: Name of a prefect-email EmailServerCredentials block; empty means the PIKE_REPORTS_SMTP_* environment variables.
        report_url: Where the full HTML report is published, linked from each digest.
    """  # noqa: E501 - each Args line is one parameter's description in the Prefect UI; wrapping adds line breaks

    as_of, config = settings_for(as_of, teams_config)
    store = open_report_store(output_dir)
    smtp = smtp_settings_for(dry_run, smtp_block)
    workspace = digest_workspace(config, store, team_ids, resend_to)
    resolved = resolve_workspace(fetch_workspace(), config)
    check_team_filter(resolved, team_ids)
    overdue = build_overdue_report(  # stored too: it is the page the digests link and tomorrow's baseline
        resolved, as_of=as_of, config=config, store=store, team_ids=team_ids, source=api_source_label()
    )
    folder = deliver_digests(
        resolved, as_of=as_of, config=config, store=store, settings=smtp,
        overdue=cast(OverdueFrames, overdue.frames),  # the overdue report always carries its frames
        workspace=workspace, team_ids=team_ids, dry_run=dry_run,
        force=force, resend_to=resend_to, preview_to=preview_to, skip_if_empty=skip_if_empty,
        skip_if_unchanged=skip_if_unchanged,
        report_url=report_url or overdue.link or overdue.folder,
        csv_url=overdue_csv_location(store, as_of, team_ids, overdue.folder),
    )
    return {"overdue": overdue.folder, "digest": folder}
