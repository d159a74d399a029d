"""`make demo`: every report and the manager digests against the built-in sandbox.

Starts the sandbox (demo data relative to today) and a local SMTP server on 127.0.0.1,
runs all reports in one Prefect flow run, sends the digests to the local SMTP server
(saved as .eml files beside the reports), and prints where everything went.
No account and no network needed.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path

from pike_tasks.cli import set_prefect_defaults
from pike_tasks.local_smtp import LocalSmtpServer
from pike_tasks.sandbox.server import start_sandbox

REPO = Path(__file__).resolve().parent.parent


def main(out: str = "demo-out") -> int:
    started = time.perf_counter()
    as_of = date.today()
    out_dir = Path(out).resolve()
    inbox = out_dir / "digest" / as_of.isoformat() / "inbox"
    teams_config = str(REPO / "teams.example.yaml")
    for old in inbox.glob("*.eml"):  # a re-run shows this run's mail only
        old.unlink()
    with start_sandbox(today=as_of) as sandbox, LocalSmtpServer(inbox) as smtp:
        os.environ.update(
            PIKE_API_BASE_URL=sandbox.url,
            PIKE_API_SECRET=sandbox.secret,
            PIKE_REPORTS_SMTP_HOST=smtp.host,
            PIKE_REPORTS_SMTP_PORT=str(smtp.port),
            PIKE_REPORTS_SMTP_SECURITY="none",
            PIKE_REPORTS_EMAIL_FROM="pike-reports demo <reports@example.com>",
        )
        print(f"sandbox: {sandbox.url} (demo data as of {as_of}); SMTP: {smtp.host}:{smtp.port}", flush=True)
        set_prefect_defaults()
        from flows.all_reports import run_all_reports

        try:
            state = run_all_reports(
                as_of=as_of, output_dir=str(out_dir), teams_config=teams_config,
                digests="send", force_digests=True, return_state=True,
            )
        except Exception as exc:  # noqa: BLE001 - Prefect itself could not start (no flow state to report)
            print(f"demo failed: Prefect could not run the flow: {exc}", file=sys.stderr)
            return 1
    if not state.is_completed():
        print(f"demo failed: {state.message}", file=sys.stderr)
        return 1
    folders = state.result()
    print("\nReports:")
    for report in ("overdue", "workload"):
        print(f"  {report:9s} {Path(folders[report]) / 'index.html'}")
    mails = sorted(inbox.glob("*.eml"))
    print(f"\nDigests: {len(mails)} emails received by the local SMTP server, saved in {inbox}")
    for path in mails:
        print(f"  {path.name}")
    print(f"\nDone in {time.perf_counter() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
