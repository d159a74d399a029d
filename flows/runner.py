"""`pike-reports run`: validate the inputs, then build reports as one Prefect flow run.

Bad input (a malformed date, an unreadable teams config, no secret, an SMTP server that cannot
be reached or refuses the login when digests are to be sent) is reported in one line before
Prefect starts, so the user does not wait for Prefect to learn of a typo.

The data comes from the Pike API (``PIKE_API_SECRET``, or the Prefect Secret block) or, only
when asked with ``--sandbox``, from the built-in sandbox: falling back to it silently once
emailed invented numbers to the real managers of the teams config.

On POSIX the work runs in a child process group (see ``pike_tasks.supervise``), so stopping
`run` also stops the temporary API server Prefect starts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pike_tasks import settings as api_settings
from pike_tasks import supervise
from pike_tasks.config import StoreSettings, load_settings
from pike_tasks.config.settings import env_text, load_store_settings
from pike_tasks.errors import PikeConfigError, PikeError
from pike_tasks.once import ENV_SANDBOX_RUN
from pike_tasks.settings import ENV_BASE_URL, ENV_SECRET, SECRET_BLOCK_NAME, resolve_api_settings
from pike_tasks.store import ReportStore, StoreSpec
from pike_tasks.store.home import home_address
from pike_tasks.teams_config import read_teams_source

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.client.schemas.objects import State
    from prefect.server.api.server import SubprocessASGIServer

    from pike_tasks.sandbox.server import SandboxServer


def parse_as_of(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PikeConfigError(f"--as-of must be a date like 2026-04-09, not {text!r}") from None


def digest_mode(args: argparse.Namespace) -> str:
    """What this run does with the manager digests: ``send``, ``dry-run`` or ``off``."""
    if args.report == "digest":
        return "dry-run" if args.dry_run else "send"
    if args.report == "all":
        return "dry-run" if args.dry_run else ("send" if getattr(args, "send_digests", False) else "off")
    return "off"


def _env(name: str) -> str | None:
    return env_text(name)


def check_before_start(args: argparse.Namespace) -> tuple[ReportStore, StoreSpec]:
    """The checks that need neither Prefect nor the API: a bad env URL, the digest attachment
    limit when there are digests, the report store (opened and checked here, once) and SMTP when
    sending. Returns the store and its checked spec, which the flow opens without a second probe.

    Raises:
        PikeConfigError: one line naming what to fix.
    """
    # every environment setting, parsed and validated once (the API's too when its secret is in the
    # environment; else the child looks for the block): one line naming the first bad one, nothing started
    settings = load_settings(api=not args.sandbox)
    if digest_mode(args) != "off":
        from pike_tasks.delivery.options import parse_channels

        parse_channels(getattr(args, "channels", None))  # an unknown channel: one line, nothing started
    if getattr(args, "resend_to", None) and digest_mode(args) != "send":
        raise PikeConfigError("--resend-to sends digests: use it with `run digest` (or `run all --send-digests`), "
                              "not with --dry-run")
    store, spec = cli_store_spec(args, settings.store).check()  # a bad store: one line, before any API call
    if digest_mode(args) != "off":
        check_digest_identity(args, store)
    if digest_mode(args) == "send" and "email" in _channels(args):
        check_smtp_settings()
    if not args.sandbox and _env(ENV_SECRET):
        from pike_tasks.client import check_reachable

        # last, after every setting: nobody listening at the base URL fails in seconds, not after
        # every retry layer's patience
        check_reachable(resolve_api_settings().base_url)
    return store, spec


def check_digest_identity(args: argparse.Namespace, store: ReportStore) -> None:
    """The once-only identity's settings (workspace name and its binding, lease, --resend-to), with
    the teams config when it is a file (else the flow checks them, still before any API call)."""
    from flows.digest import check_resend_to
    from pike_tasks.once import bind_workspace, workspace_name

    if not args.teams_config:
        workspace_name(None, {} if args.sandbox else None)
        return
    config = read_teams_source(args.teams_config)  # a file given: no Prefect needed to read it
    check_resend_to(config, args.team or None, getattr(args, "resend_to", None))
    if not args.sandbox:
        bind_workspace(store, workspace_name(config.workspace), list(config.teams))


def cli_store_spec(args: argparse.Namespace, settings: StoreSettings | None = None) -> StoreSpec:
    """The store of ``--out``; without it ``PIKE_REPORTS_STORE`` if set, else ./out (errors name which),
    with the store settings (loaded here when not given)."""
    return StoreSpec.from_cli(args.out, settings=settings or load_store_settings())


def open_cli_store(args: argparse.Namespace) -> ReportStore:
    """The store ``cli_store_spec`` names, opened (not checked)."""
    return cli_store_spec(args).open()


def check_smtp_settings() -> None:
    """Resolve the SMTP settings from the environment and log in once (nothing is sent)."""
    from pike_tasks.mailer import DigestDeliveryError, check_smtp, resolve_smtp_settings

    settings = resolve_smtp_settings()
    try:
        check_smtp(settings)
    except DigestDeliveryError as exc:
        raise PikeConfigError(f"digests cannot be sent: {exc}") from None


def _start_sandbox(as_of: date | None) -> SandboxServer:
    """Start the embedded sandbox and point this process at it (``--sandbox``), saying so."""
    from pike_tasks.sandbox.server import start_sandbox

    overridden = [name for name in (ENV_BASE_URL, ENV_SECRET) if _env(name)]
    server = start_sandbox(today=as_of or date.today())
    os.environ[ENV_BASE_URL] = server.url
    os.environ[ENV_SECRET] = server.secret
    os.environ[ENV_SANDBOX_RUN] = "1"  # its own once-only identity: demo data never marks a manager served
    ignoring = f"ignoring {' and '.join(overridden)} from the environment; " if overridden else ""
    print(f"pike-reports: --sandbox: {ignoring}using the built-in sandbox at {server.url} (demo data, "
          "not your workspace)", file=sys.stderr)
    return server


def _require_api_settings() -> None:
    """The API settings, with one line naming both ways out when there is no secret at all."""
    if _env(ENV_SECRET):
        resolve_api_settings()
        return
    secret = api_settings.load_secret_block()  # starts Prefect's temporary API if PREFECT_API_URL is not set
    if not secret:
        raise PikeConfigError(
            f"no Pike API secret: set {ENV_SECRET} (or the Prefect Secret block '{SECRET_BLOCK_NAME}') "
            "to read your workspace, or pass --sandbox to use the built-in demo data"
        )
    resolve_api_settings(secret=secret)


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


def _stop_prefect(flow_run_id: UUID | None = None, keep: SubprocessASGIServer | None = None) -> None:
    """Stop Prefect's temporary server once it has written what this run sent it.

    The server records task runs from the client's events, one database write per event. Stopped
    in the middle of one (at interpreter exit, right after the last events arrived; more often
    on a busy machine), it logged "Error flushing 1 events" with a traceback after "Completed".
    So, with ``flow_run_id`` (a finished run): flush the client's log and event queues, as
    Prefect's own test harness does before stopping its server, and wait (10 s at most) until
    the server shows every task run of the flow run in a final state. Without it (interrupted,
    or failed before the flow ran) the server is stopped at once.
    """
    server = _temporary_server()
    if server is None or server is keep:  # none, or one that was running before this run (not ours)
        return
    if flow_run_id is not None:
        with contextlib.suppress(Exception):  # waiting is a courtesy; stopping is what matters
            _wait_until_recorded(flow_run_id)
    server.stop()


def _temporary_server() -> SubprocessASGIServer | None:
    """Prefect's running temporary server in this process, or None.

    Prefect imports its server module only to start one; importing it here (the whole server
    stack) cost a run against a running server 3-8 s, for nothing to stop.
    """
    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is None:
        return None
    server: SubprocessASGIServer | None = server_module.SubprocessASGIServer._instances.get(None)
    return server if server is not None and server.running else None


def _wait_until_recorded(flow_run_id: UUID, timeout: float = 10.0) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)  # the last task-run events reach the server
    runs_of_flow = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + timeout
    seen = None
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(flow_run_filter=runs_of_flow)
            now = (len(runs), all(run.state is not None and run.state.is_final() for run in runs))
            if now[1] and now == seen:  # all final, and nothing new for one poll
                return
            seen = now
            time.sleep(0.5)


def _failure_reason(state: State[dict[str, str]]) -> str:
    try:
        state.result()
    except PikeError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - anything else still gets one line
        return f"{type(exc).__name__}: {exc}"
    return state.message or "flow run failed"


def run_command(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    teams_source = args.teams_config
    if teams_source:
        read_teams_source(teams_source)  # fail fast on an unreadable or invalid file
        teams_source = str(Path(teams_source).resolve())
    argv = getattr(args, "argv", None)
    checked = None
    if supervise.is_child():
        supervise.become_child()  # the parent already ran check_before_start
    else:
        checked = check_before_start(args)
        if argv is not None and supervise.available():
            return supervise.supervise(argv, "flows.cli")  # the console script's module
    return _build(args, as_of, teams_source, checked)


def _build(args: argparse.Namespace, as_of: date | None, teams_source: str | None,
           checked: tuple[ReportStore, StoreSpec] | None = None) -> int:
    sandbox = _start_sandbox(as_of) if args.sandbox else None
    state = None
    already_running = _temporary_server()  # e.g. a test harness's: stopping it is not this run's business
    try:
        if sandbox is None:
            _require_api_settings()  # no secret or a bad URL: one line, before the flow starts
        # the store checked once in this process (a supervised child checks its own): the flow opens the spec
        store, spec = checked or cli_store_spec(args).check()
        try:
            state = _run_flow(args, as_of, teams_source, spec)
        except Exception as exc:  # noqa: BLE001 - Prefect itself failed (no flow state): still one line
            first_line = (str(exc).strip().splitlines() or [""])[0]
            print(f"pike-reports: error: Prefect could not run the flow: {type(exc).__name__}: {first_line}",
                  file=sys.stderr)
            return 1
    finally:
        _stop_prefect(state.state_details.flow_run_id if state is not None else None, keep=already_running)
        if sandbox is not None:
            sandbox.stop()
            os.environ.pop(ENV_SANDBOX_RUN, None)
    if state.is_failed() or state.is_crashed():
        print(f"pike-reports: error: {_failure_reason(state)}", file=sys.stderr)
        return 1
    # one line per report folder, in the flow's order (`digest` used to be listed twice)
    for name, folder in state.result().items():
        print(f"{name}: {folder}/ ({', '.join(store.files_at(folder))})")
    # the bookmarkable address: every stored report by date (the public URL with PIKE_REPORTS_PUBLIC_URL)
    print(f"store home: {home_address(store)}")
    return 0


def _run_flow(args: argparse.Namespace, as_of: date | None, teams_source: str | None,
              out: StoreSpec) -> State[dict[str, str]]:
    from flows.all_reports import run_all_reports
    from flows.digest import send_manager_digests
    from flows.overdue import report_overdue_tasks
    from flows.workload import report_billable_workload

    _quiet_prefect_tracebacks()  # after the imports: importing Prefect sets up its handlers
    team_ids = args.team or None
    if args.report == "overdue":
        return report_overdue_tasks(
            as_of=as_of, team_ids=team_ids, output_dir=out, teams_config=teams_source, return_state=True
        )
    if args.report == "workload":
        return report_billable_workload(
            as_of=as_of, team_ids=team_ids, project_ids=args.project or None, customer_ids=args.customer or None,
            output_dir=out, teams_config=teams_source, return_state=True,
        )
    if args.report == "digest":
        return send_manager_digests(
            as_of=as_of, team_ids=team_ids, output_dir=out, teams_config=teams_source,
            dry_run=args.dry_run, force=args.force, resend_to=args.resend_to or None, preview_to=args.preview_to,
            skip_if_empty=args.skip_if_empty, skip_if_unchanged=args.skip_if_unchanged, return_state=True,
            channels=_channels(args),
        )
    return run_all_reports(
        as_of=as_of, team_ids=team_ids, output_dir=out, teams_config=teams_source,
        digests=digest_mode(args), force_digests=args.force, resend_to=args.resend_to or None, return_state=True,
        channels=_channels(args),
    )


def _channels(args: argparse.Namespace) -> list[str]:
    """``--channels email,slack`` as the flows' ``channels`` parameter."""
    from pike_tasks.delivery.options import parse_channels

    return list(parse_channels(getattr(args, "channels", None)))
