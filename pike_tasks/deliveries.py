"""`pike-reports deliveries`: where each digest of a day stands, read from the store's ledger (read-only).

One line per recipient, scope and channel: ``sent``, ``unknown`` (handed over, no final reply: resend
with ``run digest --resend-to``), ``in progress``, ``lapsed`` (its run stopped before handing it over:
the next run sends it), ``failed`` (the next run sends it), ``not tried`` (a manager of the teams
config with no record for the day).
"""

from __future__ import annotations

import argparse
from datetime import date

from pike_tasks.config.settings import environ
from pike_tasks.errors import PikeConfigError
from pike_tasks.once import MANAGER_DIGEST, SANDBOX_WORKSPACE, day_deliveries, workspace_name
from pike_tasks.store import StoreSpec
from pike_tasks.teams_config import TeamsConfig, read_teams_source


def run_deliveries_command(args: argparse.Namespace) -> int:
    config = read_teams_source(args.teams_config) if args.teams_config else TeamsConfig()
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else config.default_as_of()
    except ValueError:
        raise PikeConfigError(f"--as-of must be a date like 2026-04-09, not {args.as_of!r}") from None
    store = StoreSpec.from_cli(args.out).open()
    workspace = SANDBOX_WORKSPACE if args.sandbox else workspace_name(config.workspace, {
        k: v for k, v in environ().items() if k != "PIKE_REPORTS_SANDBOX_RUN"})
    managers = sorted({m for team in config.teams.values() for m in team.managers}, key=str.casefold)
    rows = day_deliveries(store, MANAGER_DIGEST, as_of, workspace, managers)
    print(f"digest deliveries of {as_of.isoformat()}, workspace {workspace!r}, store {store.location}:")
    if not rows:
        hint = "" if args.teams_config else " (give --teams-config to list every manager)"
        print(f"  no records for this day{hint}")
        return 0
    width = max(len(r.recipient) for r in rows)
    for row in rows:
        print(f"  {row.scope:<12} {row.channel:<6} {row.recipient:<{width}}  {row.status:<11} {row.detail}")
    return 0
