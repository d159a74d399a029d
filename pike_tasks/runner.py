"""`pike-reports run`: validate the inputs, then build reports as one Prefect flow run.

Bad input (a malformed date, an unreadable teams config, no secret) is reported in one
line before Prefect starts, so the user does not wait for Prefect to learn of a typo.
With neither PIKE_API_BASE_URL nor PIKE_API_SECRET set, the built-in sandbox serves the
data, so a new user sees real reports without a Pike account.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import date
from pathlib import Path

from pike_tasks.errors import PikeConfigError, PikeError
from pike_tasks.settings import resolve_api_settings
from pike_tasks.teams_config import load_teams_config


def parse_as_of(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PikeConfigError(f"--as-of must be a date like 2026-04-09, not {text!r}") from None


def _use_builtin_sandbox(as_of: date | None):
    """Start the embedded sandbox and point this process at it."""
    from pike_tasks.sandbox.server import start_sandbox

    server = start_sandbox(today=as_of or date.today())
    os.environ["PIKE_API_BASE_URL"] = server.url
    os.environ["PIKE_API_SECRET"] = server.secret
    print(
        f"pike-reports: PIKE_API_BASE_URL and PIKE_API_SECRET are not set: using the built-in sandbox at "
        f"{server.url} (demo data). Set both to read a real workspace.",
        file=sys.stderr,
    )
    return server


def _quiet_prefect_tracebacks() -> None:
    """Keep Prefect's console log but drop tracebacks: the CLI ends with its own one-line reason."""

    class _NoTraceback(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info or record.exc_text:
                record.exc_info = None
                record.exc_text = None
            return True

    from prefect.logging.handlers import PrefectConsoleHandler

    for name in ["", *logging.root.manager.loggerDict]:
        for handler in getattr(logging.getLogger(name), "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.addFilter(_NoTraceback())


def _failure_reason(state) -> str:
    try:
        state.result()
    except PikeError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - anything else still gets one line
        return f"{type(exc).__name__}: {exc}"
    return state.message or "flow run failed"


def run_command(args) -> int:
    as_of = parse_as_of(args.as_of)
    teams_source = args.teams_config
    if teams_source:
        load_teams_config(teams_source)  # fail fast on an unreadable or invalid file
        teams_source = str(Path(teams_source).resolve())
    sandbox = None
    if not os.environ.get("PIKE_API_BASE_URL") and not os.environ.get("PIKE_API_SECRET"):
        sandbox = _use_builtin_sandbox(as_of)
    try:
        resolve_api_settings()  # no secret or a bad URL: one line, before Prefect starts
        out = str(Path(args.out).resolve())
        state, report_names = _run_flow(args, as_of, teams_source, out)
    finally:
        if sandbox is not None:
            sandbox.stop()
    if state.is_failed() or state.is_crashed():
        print(f"pike-reports: error: {_failure_reason(state)}", file=sys.stderr)
        return 1
    folders = state.result()
    for name in [*report_names, "digest"]:
        if name in folders:
            folder = Path(folders[name])
            files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
            print(f"{name}: {folder}/ ({', '.join(files)})")
    return 0


def _run_flow(args, as_of: date | None, teams_source: str | None, out: str):
    from flows.all_reports import run_all_reports
    from flows.digest import send_manager_digests
    from flows.overdue import report_overdue_tasks
    from flows.workload import report_billable_workload

    _quiet_prefect_tracebacks()  # after the imports: importing Prefect sets up its handlers
    team_ids = args.team or None
    if args.report == "overdue":
        return report_overdue_tasks(
            as_of=as_of, team_ids=team_ids, output_dir=out, teams_config=teams_source, return_state=True
        ), ["overdue"]
    if args.report == "workload":
        return report_billable_workload(
            as_of=as_of, team_ids=team_ids, project_ids=args.project or None, customer_ids=args.customer or None,
            output_dir=out, teams_config=teams_source, return_state=True,
        ), ["workload"]
    if args.report == "digest":
        return send_manager_digests(
            as_of=as_of, team_ids=team_ids, output_dir=out, teams_config=teams_source,
            dry_run=args.dry_run, force=args.force, preview_to=args.preview_to,
            skip_if_empty=args.skip_if_empty, return_state=True,
        ), ["digest"]
    return run_all_reports(
        as_of=as_of, team_ids=team_ids, output_dir=out, teams_config=teams_source,
        digests="dry-run" if args.dry_run else "off", return_state=True,
    ), ["overdue", "workload"]
