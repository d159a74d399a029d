"""`pike-reports sandbox`: serve the sandbox in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import datetime
import shlex
import signal
import sys
import threading

from pike_tasks.sandbox.data import WorkspaceSizes
from pike_tasks.sandbox.server import ALL_SCOPES, DEFAULT_SECRET, FaultConfig, load_data_file, start_sandbox


def _faults(args: argparse.Namespace) -> FaultConfig:
    return FaultConfig(p429=args.p429, p5xx=args.p5xx, pdrop=args.pdrop, latency_ms=args.latency_ms,
                       rate=args.rate, burst=args.burst)


def _sizes(args: argparse.Namespace) -> WorkspaceSizes:
    """The record counts given as flags (the others keep generate_workspace's defaults)."""
    sizes = WorkspaceSizes()
    if args.tasks is not None:
        sizes["tasks"] = args.tasks
    if args.projects is not None:
        sizes["projects"] = args.projects
    if args.members is not None:
        sizes["members"] = args.members
    if args.customers is not None:
        sizes["customers"] = args.customers
    if args.teams is not None:
        sizes["teams"] = args.teams
    return sizes


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM; both mean a clean stop (exit 0), not an interruption."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _error(message: str) -> int:
    print(f"pike-reports sandbox: error: {message}", file=sys.stderr)
    return 2


def run_sandbox_command(args: argparse.Namespace) -> int:
    """Start the sandbox from the `sandbox` sub-command's flags, print how to use it, serve."""
    try:
        today = datetime.date.fromisoformat(args.today) if args.today else None
    except ValueError:
        return _error(f"--today must be a date like 2026-04-09, not {args.today!r}")
    if args.teams is not None and args.teams < 1:
        return _error("--teams must be at least 1")
    for flag in ("p429", "p5xx", "pdrop"):
        if not 0 <= getattr(args, flag) <= 1:
            return _error(f"--{flag} must be a probability between 0 and 1")
    try:
        data = load_data_file(args.data) if args.data else None
    except (ValueError, OSError) as exc:
        return _error(f"cannot read --data file: {exc}")
    secret = args.secret or DEFAULT_SECRET
    server = start_sandbox(data, secrets={secret: set(ALL_SCOPES)}, faults=_faults(args), host=args.host,
                           port=args.port, seed=args.seed, today=today, sizes=_sizes(args))
    if args.warm:
        server.warm()
    counts = ", ".join(f"{len(server.data.get(r) or [])} {r}" for r in ("projects", "tasks", "customers", "members"))
    print(f"Pike sandbox serving at {server.url} ({counts})")
    print(f"Secret: {server.secret}")
    print(f"export PIKE_API_BASE_URL={shlex.quote(server.url)}")
    print(f"export PIKE_API_SECRET={shlex.quote(server.secret)}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        _wait_for_signal()
    finally:
        server.stop()
    return 0
