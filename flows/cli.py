"""The `pike-reports` console script: the library's command line (``pike_tasks.cli``) with the
application's `run` command (``flows.runner``) handed in, so the library never names the flows.

`python -m flows.cli ...` is the same program (what ``pike_tasks.supervise`` starts as the child
of a supervised `run`).
"""

from __future__ import annotations

import argparse
import sys

from pike_tasks import cli

ENTRY_MODULE = "flows.cli"  # `python -m flows.cli` starts this program again


def run_command(args: argparse.Namespace) -> int:
    """`pike-reports run`: imported when used, so the other commands never pay for Prefect."""
    from flows.runner import run_command as run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, run=run_command)


if __name__ == "__main__":
    sys.exit(main())
