"""The `pike-reports` command line.

Each sub-command lives in its own module and is imported only when used, so
`pike-reports export` and `pike-reports sandbox` never pay for importing Prefect.
A handler returns the process exit code; any PikeError becomes one readable line on
stderr and exit code 2 (never a traceback).

`run` is the application's (it runs the flows): the console script, ``flows.cli``, hands its
handler in, so this library never imports ``flows``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from pike_tasks import __version__
from pike_tasks.errors import PikeError

# command name -> "module:function"; each function takes the parsed args and returns an exit code
# (`run` is not among them: the application passes its handler to ``main``)
HANDLERS = {
    "export": "pike_tasks.export:run_export_command",
    "sandbox": "pike_tasks.sandbox.cli:run_sandbox_command",
    "setup": "pike_tasks.setup_blocks:run_setup_command",
    "deliveries": "pike_tasks.deliveries:run_deliveries_command",
}


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="Write every record of a listing as JSON Lines.",
        description="Write every record of a Pike listing as JSON Lines (one record per line, "
        "exactly as the API sent it). Progress goes to stderr.",
    )
    p.add_argument("resource", choices=["projects", "tasks", "customers", "members"])
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A documented filter: status, teamId, projectId (tasks), q (customers). Repeatable.",
    )
    p.add_argument("--out", metavar="FILE", help="Write to FILE instead of stdout.")


def _add_sandbox(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sandbox",
        help="Serve a local Pike API with demo data (and optional faults).",
        description="Start a local implementation of the Pike Open API on 127.0.0.1 with demo "
        "data, so reports run without a Pike account. Prints its URL and secret, then serves "
        "until interrupted.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="Port (default: a free one).")
    p.add_argument("--seed", type=int, default=42, help="Seed of the generated demo data.")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="Date the demo data is relative to (default: today).")
    p.add_argument("--tasks", type=int, default=None, help="Number of generated tasks.")
    p.add_argument("--projects", type=int, default=None, help="Number of generated projects.")
    p.add_argument("--members", type=int, default=None, help="Number of generated members.")
    p.add_argument("--customers", type=int, default=None, help="Number of generated customers.")
    p.add_argument("--teams", type=int, default=None,
                   help="Number of teams the generated projects and members are spread over "
                   "(default: the 4 demo teams of teams.example.yaml).")
    p.add_argument("--data", metavar="FILE", help="Serve the records of this JSON file instead.")
    p.add_argument("--secret", default=None, help="Secret to accept (default: sandbox-secret).")
    p.add_argument("--p429", type=float, default=0.0, help="Probability of a 429 with Retry-After.")
    p.add_argument("--p5xx", type=float, default=0.0, help="Probability of a 500/502/503.")
    p.add_argument("--pdrop", type=float, default=0.0, help="Probability of a dropped connection.")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="Latency per request: each answer is sent this many ms after its request arrived "
                   "(the server's own work included).")
    p.add_argument("--rate", type=float, default=0.0, help="Token-bucket requests/s per secret (0: off).")
    p.add_argument("--burst", type=int, default=None, help="Token-bucket burst size.")
    p.add_argument("--warm", action="store_true",
                   help="Encode every record before serving, so first reads cost what later ones do (benchmarks).")


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="Build reports (overdue, workload, digest, or all) as a Prefect flow run.",
        description="Build reports as a Prefect flow run (Prefect's temporary local API unless "
        "PREFECT_API_URL is set). Reads PIKE_API_BASE_URL and PIKE_API_SECRET (or the Prefect "
        "Secret block pike-api-secret); --sandbox uses the built-in demo data instead.",
    )
    p.add_argument("report", choices=["overdue", "workload", "digest", "all"])
    p.add_argument("--sandbox", action="store_true",
                   help="Read the built-in sandbox's demo data instead of a Pike workspace (wins over PIKE_API_*).")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="Report date (default: today in the configured timezone).")
    p.add_argument("--out", metavar="DIR|URL",
                   help="Report store: a folder or a URL such as s3://bucket/prefix "
                   "(default: PIKE_REPORTS_STORE if set, else ./out).")
    p.add_argument("--teams-config", metavar="FILE", help="Teams config YAML/JSON (names, managers, timezone).")
    p.add_argument("--team", action="append", default=[], metavar="ID", help="Only this team id. Repeatable.")
    p.add_argument("--project", action="append", default=[], metavar="ID",
                   help="Workload: only this project id. Repeatable.")
    p.add_argument("--customer", action="append", default=[], metavar="ID",
                   help="Workload: only this customer id. Repeatable.")
    p.add_argument("--dry-run", action="store_true",
                   help="digest: write .eml files instead of sending; all: also write the digests as .eml files.")
    p.add_argument("--send-digests", action="store_true",
                   help="all: also email the manager digests (once per day and manager).")
    p.add_argument("--force", action="store_true",
                   help="Digest: send every digest again even if already sent (or its outcome is unknown); "
                   "--resend-to for everyone.")
    p.add_argument("--resend-to", action="append", default=[], metavar="ADDRESS|#CHANNEL",
                   help="Digest: send only to this manager (or a team's Slack channel), whatever the record says "
                   "(the way out of 'unknown'); everyone else is left alone. Repeatable.")
    p.add_argument("--preview-to", metavar="ADDRESS|#CHANNEL",
                   help="Digest: send every digest to this address (or every Slack message to this Slack "
                   "channel) only, as a preview.")
    p.add_argument("--channels", metavar="LIST", default=None,
                   help="Digest: where digests go, comma-separated: email, slack, teams (default: email).")
    p.add_argument("--skip-if-empty", action="store_true", help="Digest: do not send a digest with nothing overdue.")
    p.add_argument("--skip-if-unchanged", action="store_true",
                   help="Digest: do not send a digest with nothing new and nothing resolved since the previous report.")


def _add_setup(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "setup",
        help="Create the Prefect blocks and limit the deployments read.",
        description="Create the `pike-api-secret` Secret block, the email credentials block, the "
        "`pike-teams-config` block and the `pike-api` limit from environment variables and a teams config file.",
    )
    p.add_argument("--teams-config", metavar="FILE",
                   help="Teams config (YAML/JSON, any size) to store as the Prefect block pike-teams-config.")


def _add_deliveries(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "deliveries",
        help="List where each digest of a day stands (sent, unknown, in progress, ...); read-only.",
        description="Read the report store's once-only records of one day and print each recipient's "
        "state per scope and channel. Changes nothing.",
    )
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="Digest date (default: today in the configured timezone).")
    p.add_argument("--out", metavar="DIR|URL",
                   help="Report store (default: PIKE_REPORTS_STORE if set, else ./out).")
    p.add_argument("--teams-config", metavar="FILE",
                   help="Teams config: its workspace name, and its managers listed even without a record.")
    p.add_argument("--sandbox", action="store_true", help="The records of `run --sandbox` runs and the demo.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pike-reports",
        description="Reporting jobs for Pike workspaces: overdue tasks, billable workload and "
        "manager digests, orchestrated by Prefect.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_export(sub)
    _add_sandbox(sub)
    _add_run(sub)
    _add_setup(sub)
    _add_deliveries(sub)
    return parser


def set_prefect_defaults() -> None:
    """Prefect settings this tool's processes need unless the user set them (call before importing Prefect).

    Prefect's own variables, written (never parsed) here: not ours to validate in ``pike_tasks.config``.
    """
    # Prefect's local server would otherwise phone home and, when two start at once, lock its DB.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect gives its temporary local API 20 s to start; the first start on a new database on a
    # busy 2-core machine can take longer (it timed out in a fresh clone's `make demo`).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


Handler = Callable[[argparse.Namespace], "int | None"]


def main(argv: list[str] | None = None, *, run: Handler | None = None) -> int:
    """Parse ``argv`` and call the command's handler; ``run`` is the application's `run` handler."""
    args = build_parser().parse_args(argv)
    # `run` starts itself again as a supervised child (pike_tasks.supervise) with these arguments
    args.argv = list(sys.argv[1:] if argv is None else argv)
    set_prefect_defaults()
    handler: Handler
    if args.command == "run":
        if run is None:
            print("pike-reports: error: `run` belongs to the application: start it as pike-reports "
                  "(python -m flows.cli).", file=sys.stderr)
            return 2
        handler = run
    else:
        module_name, func_name = HANDLERS[args.command].split(":")
        handler = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(handler(args) or 0)
    except PikeError as exc:
        print(f"pike-reports: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pike-reports: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
