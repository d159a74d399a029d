"""Flow: manager digests by email (REPORTS.md, Report 3), each sent once and only once.

Recipe: fetch -> resolve -> build one digest per manager address (pure) -> one ``send-digest``
task run per recipient (tens at most). A recipient that fails does not stop the others; the
flow run then fails naming exactly who did not get their digest.

Once and only once, for a (digest kind, as_of, recipient):

1. ``send-digest`` has a cache key ``pike-digest-manager-<as_of>-<recipient casefolded>`` with
   ``persist_result=True`` and no expiry: Prefect writes the record to result storage (by default
   ``$PREFECT_HOME/storage``) when the task completes, so a retried flow, a re-run, or a second
   ``pike-reports run digest`` process sharing that storage sees it and does not run the task
   (state ``Cached``). A failed send writes no record, so retries retry only what failed.
2. Inside the task, a ledger under ``$PREFECT_HOME/pike-reports/sent-digests`` (override with
   ``PIKE_REPORTS_STATE_DIR``) is checked and written under an OS file lock, right after the
   server accepts the message: this covers two runs racing for the same key and a crash
   between the SMTP ``250`` and Prefect's record (see ``mailer.SentLedger``).

``force`` refreshes the cache and bypasses the ledger check (a deliberate resend, recorded
again). ``preview_to`` sends every digest to that address only, ``[Preview]`` in the subject,
with caching off and no ledger entry: a preview never counts as sent. ``dry_run`` writes
``.eml`` files and records nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import AsOfParam, TeamsConfigParam, run_name, settings_for
from pike_tasks.email_message import build_message
from pike_tasks.errors import PikeError
from pike_tasks.mailer import (
    DigestDeliveryError,
    SentLedger,
    SmtpSettings,
    resolve_smtp_settings,
    send_message,
    write_eml,
)
from pike_tasks.outputs import report_dir, write_json
from pike_tasks.prefect_tasks import Resolved, fetch_workspace, resolve_workspace
from pike_tasks.teams_config import TeamsConfig

if TYPE_CHECKING:
    from pike_tasks.digest import Digest  # imports pandas: loaded when digests are built


DIGEST_KIND = "manager"
DRY_RUN_SENDER = "pike-reports <pike-reports@localhost>"


class DigestSendFailed(PikeError):
    """Some recipients did not get their digest (named in the message)."""


def digest_key(kind: str, as_of: date | str, recipient: str) -> str:
    """The once-only key: one per (digest kind, as_of, recipient address casefolded)."""
    as_of_text = as_of.isoformat() if isinstance(as_of, date) else str(as_of)
    safe = re.sub(r"[^a-z0-9@._+-]", "_", recipient.strip().casefold())
    return f"pike-digest-{kind}-{as_of_text}-{safe}"


def digest_cache_key(context: Any, parameters: dict[str, Any]) -> str:  # noqa: ARG001 (Prefect's signature)
    """Cache key of ``send-digest``: kept trivial, since a key function that raises disables caching."""
    return digest_key(parameters["kind"], parameters["as_of"], parameters["recipient"])


def state_dir() -> Path:
    """``$PIKE_REPORTS_STATE_DIR``, else ``$PREFECT_HOME/pike-reports``."""
    override = os.environ.get("PIKE_REPORTS_STATE_DIR")
    if override:
        return Path(override)
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home) / "pike-reports"


def _retry_transient(task, task_run, state) -> bool:  # noqa: ARG001 (Prefect's signature)
    """Retry a send only for temporary failures (4xx replies, dropped connections)."""
    try:
        state.result()
    except DigestDeliveryError as exc:
        return not exc.permanent
    except Exception:  # noqa: BLE001
        return False
    return False


@task(
    name="send-digest",
    task_run_name="send-digest-{recipient}",
    cache_key_fn=digest_cache_key,
    persist_result=True,
    cache_expiration=None,  # never expires: a backfill of a past day does not resend either
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_transient,
)
def send_digest(
    recipient: str,
    as_of: date,
    message: EmailMessage,
    settings: SmtpSettings,
    kind: str = DIGEST_KIND,
    ledger_dir: str | None = None,
    force: bool = False,
    preview: bool = False,
) -> dict[str, Any]:
    """Send one digest; returns what was done (persisted as the 'sent' record)."""
    logger = get_run_logger()
    message_id = str(message["Message-ID"])
    if preview:
        send_message(settings, message)
        logger.info("preview of %s's digest sent to %s", recipient, message["To"])
        return {"recipient": recipient, "status": "preview", "message_id": message_id}
    key = digest_key(kind, as_of, recipient)
    ledger = SentLedger(ledger_dir or state_dir() / "sent-digests")
    with ledger.claim(key):
        previous = ledger.sent(key)
        if previous and not force:
            logger.info("digest %s already sent at %s; not sending again", key, previous.get("sent_at"))
            return {"recipient": recipient, "status": "already-sent", "message_id": previous.get("message_id")}
        send_message(settings, message)
        ledger.record(key, {"recipient": recipient, "message_id": message_id, "forced": force})
    logger.info("digest for %s sent (%s)", recipient, message_id)
    return {"recipient": recipient, "status": "sent", "message_id": message_id}


@dataclass
class PreparedDigest:
    recipient: str
    subject: str
    overdue_count: int
    message: EmailMessage
    csv_path: Path


def _safe_name(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]", "_", address)


@task(name="build-digests", cache_policy=NO_CACHE, persist_result=False)
def prepare_digests(
    resolved: Resolved,
    *,
    as_of: date,
    config: TeamsConfig,
    folder: Path,
    sender: str,
    team_ids: list[str] | None = None,
    preview_to: str | None = None,
    report_url: str | None = None,
) -> list[PreparedDigest]:
    """Build, render and assemble every manager's message; write each digest's overdue.csv."""
    from pike_tasks import csv_output, transforms
    from pike_tasks.digest import build_digests, render_digest

    rows = transforms.overdue_tasks(resolved.tasks, as_of)
    digests: list[Digest] = build_digests(
        resolved.tasks, resolved.members, rows, config.teams, as_of, team_ids=team_ids or None
    )
    generated_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    prepared = []
    for digest in digests:
        rendered = render_digest(
            digest, report_url=report_url, app_url_template=config.app_url_template,
            generated_at=generated_at, preview_for=digest.recipient if preview_to else None,
        )
        csv_path = folder / _safe_name(digest.recipient) / "overdue.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_output.write_csv(digest.overdue_rows, csv_output.OVERDUE_COLUMNS, csv_path)
        message = build_message(
            digest, rendered.html, rendered.text, sender=sender,
            attachments=[("overdue.csv", csv_path.read_bytes(), "text/csv")],
            preview=bool(preview_to), preview_to=preview_to,
        )
        prepared.append(PreparedDigest(digest.recipient, digest.subject, digest.overdue_count, message, csv_path))
    get_run_logger().info("%d manager digests built for %s", len(prepared), as_of)
    return prepared


@task(name="write-digest-eml", task_run_name="write-eml-{recipient}", cache_policy=NO_CACHE, persist_result=False)
def write_digest_eml(recipient: str, message: EmailMessage, path: str) -> str:
    """Dry run: the message as an .eml file; nothing is sent or recorded."""
    write_eml(message, path)
    return path


def send_prepared(
    prepared: list[PreparedDigest],
    *,
    as_of: date,
    settings: SmtpSettings | None,
    folder: Path,
    team_ids: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
) -> dict[str, dict[str, Any]]:
    """Send (or write) every prepared digest, one task run each; write summary.json.

    Returns each recipient's outcome. Raises ``DigestSendFailed`` naming every recipient that
    did not get their digest, after all of them were tried.
    """
    logger = get_run_logger()
    ledger_dir = str(state_dir() / "sent-digests")
    sender_task = send_digest
    if preview_to:
        sender_task = send_digest.with_options(cache_policy=NO_CACHE, persist_result=False)
    elif force:
        sender_task = send_digest.with_options(refresh_cache=True)

    outcomes: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for item in prepared:
        entry = {"recipient": item.recipient, "subject": item.subject, "overdue_count": item.overdue_count}
        if skip_if_empty and item.overdue_count == 0:
            logger.info("nothing overdue for %s: not sending (skip_if_empty)", item.recipient)
            outcomes[item.recipient] = {**entry, "status": "skipped-empty"}
            continue
        if dry_run:
            path = folder / f"{_safe_name(item.recipient)}.eml"
            write_digest_eml(item.recipient, item.message, str(path))
            outcomes[item.recipient] = {**entry, "status": "dry-run", "eml": str(path)}
            continue
        state = sender_task(
            item.recipient, as_of, item.message, settings, kind=DIGEST_KIND, ledger_dir=ledger_dir,
            force=force, preview=bool(preview_to), return_state=True,
        )
        if state.is_completed():
            result = state.result()
            status = "already-sent" if state.name == "Cached" else result.get("status", "sent")
            outcomes[item.recipient] = {**entry, "status": status}
        else:
            try:
                state.result()
                reason = state.message or "send failed"
            except DigestDeliveryError as exc:
                reason = exc.reason
            except Exception as exc:  # noqa: BLE001 - any failure is this recipient's failure
                reason = f"{type(exc).__name__}: {exc}"
            failures[item.recipient] = reason
            outcomes[item.recipient] = {**entry, "status": "failed", "reason": reason}

    write_json(folder / "summary.json", {
        "report": "digest", "as_of": as_of.isoformat(),
        "filters": {"teams": sorted(team_ids)} if team_ids else {},
        "mode": "preview" if preview_to else ("dry-run" if dry_run else "send"),
        "digests": [outcomes[r] for r in sorted(outcomes, key=str.casefold)],
    })
    if failures:
        names = "; ".join(f"{r} ({failures[r]})" for r in sorted(failures, key=str.casefold))
        raise DigestSendFailed(f"{len(failures)} of {len(prepared)} digests not delivered: {names}")
    return outcomes


def deliver_digests(
    resolved: Resolved,
    *,
    as_of: date,
    config: TeamsConfig,
    output_dir: str,
    team_ids: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
    smtp_block: str | None = None,
    report_url: str | None = None,
) -> Path:
    """The digest steps after fetch/resolve (call inside a flow; ``run_all_reports`` can reuse it).

    Raises:
        DigestSendFailed: naming every recipient that did not get their digest, after trying all.
    """
    settings = None if dry_run else resolve_smtp_settings(smtp_block)
    sender = settings.sender if settings else (os.environ.get("PIKE_REPORTS_EMAIL_FROM") or DRY_RUN_SENDER)
    folder = report_dir(output_dir, "digest", as_of)
    prepared = prepare_digests(
        resolved, as_of=as_of, config=config, folder=folder, sender=sender,
        team_ids=team_ids, preview_to=preview_to, report_url=report_url,
    )
    send_prepared(
        prepared, as_of=as_of, settings=settings, folder=folder, team_ids=team_ids, dry_run=dry_run,
        force=force, preview_to=preview_to, skip_if_empty=skip_if_empty,
    )
    return folder


@flow(name="send-manager-digests", flow_run_name=run_name("digest"), validate_parameters=True)
def send_manager_digests(
    as_of: AsOfParam = None,
    teams_config: TeamsConfigParam = None,
    team_ids: list[str] | None = None,
    output_dir: str = "out",
    dry_run: bool = False,
    force: bool = False,
    preview_to: str | None = None,
    skip_if_empty: bool = False,
    smtp_block: str | None = None,
    report_url: str | None = None,
) -> dict:
    """One email per manager address in the teams config: their teams' overdue tasks and their
    members' workload. Each (as_of, recipient) digest is sent once; ``force`` resends.

    Args:
        as_of: Digest date; empty means today in the configured timezone.
        teams_config: Path to a teams YAML, inline JSON, or empty to use the pike-teams-config Variable.
        team_ids: Only digest these Pike team ids; empty means every team in the config.
        output_dir: Folder whose digest/YYYY-MM-DD subfolder gets the per-digest CSVs, .eml files (dry run) and summary.json.
        dry_run: Write .eml files instead of sending; nothing is recorded as sent.
        force: Send again even if this as-of date's digest was already sent.
        preview_to: Send every digest to this one address only, marked [Preview]; not recorded as sent.
        skip_if_empty: Do not send a digest with nothing overdue.
        smtp_block: Name of a prefect-email EmailServerCredentials block; empty means the PIKE_REPORTS_SMTP_* environment variables.
        report_url: Where the full HTML report is published, linked from each digest.
    """

    as_of, config = settings_for(as_of, teams_config)
    resolved = resolve_workspace(fetch_workspace(), config)
    folder = deliver_digests(
        resolved, as_of=as_of, config=config, output_dir=output_dir, team_ids=team_ids, dry_run=dry_run,
        force=force, preview_to=preview_to, skip_if_empty=skip_if_empty, smtp_block=smtp_block,
        report_url=report_url,
    )
    return {"digest": str(folder)}
