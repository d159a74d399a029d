"""`make demo`: every report, the change view and the manager digests against the built-in sandbox.

Starts the sandbox (demo data relative to today), a local SMTP server and a small web server
for the report store, all on 127.0.0.1. It first stores yesterday's overdue report (the
sandbox serving the workspace as it stood the day before), then runs all of today's reports
in one Prefect flow run and sends the digests, so they show what changed since yesterday,
with links that open. Emails are saved as .eml files in ``demo-out/inbox/<date>/``.
No account and no network needed.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from datetime import date, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pike_tasks.cli import set_prefect_defaults
from pike_tasks.local_smtp import LocalSmtpServer
from pike_tasks.sandbox.data import day_before, generate_workspace
from pike_tasks.sandbox.server import start_sandbox

REPO = Path(__file__).resolve().parent.parent
DEMO_PORT = 8642  # the same every run, so links in earlier demo emails open again while it serves


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass


def serve_store(folder: Path, port: int = DEMO_PORT) -> ThreadingHTTPServer:
    """Serve ``folder`` read-only on 127.0.0.1 (``port``, or a free one if it is taken)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="demo-store-http").start()
    return server


def _point_at(sandbox) -> None:
    # PIKE_REPORTS_SANDBOX_RUN: the demo's once-only records are the sandbox's, never a real workspace's
    os.environ.update(PIKE_API_BASE_URL=sandbox.url, PIKE_API_SECRET=sandbox.secret, PIKE_REPORTS_SANDBOX_RUN="1")


def main(out: str = "demo-out") -> int:
    started = time.perf_counter()
    as_of = date.today()
    yesterday = as_of - timedelta(days=1)
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    inbox = out_dir / "inbox" / as_of.isoformat()
    inbox.mkdir(parents=True, exist_ok=True)
    for old in inbox.glob("*.eml"):  # a re-run shows this run's mail only
        old.unlink()
    teams_config = str(REPO / "teams.example.yaml")
    today_data = generate_workspace(today=as_of)
    web = serve_store(out_dir)
    public_url = f"http://127.0.0.1:{web.server_address[1]}"
    try:
        with LocalSmtpServer(inbox) as smtp:
            os.environ.update(
                PIKE_REPORTS_SMTP_HOST=smtp.host,
                PIKE_REPORTS_SMTP_PORT=str(smtp.port),
                PIKE_REPORTS_SMTP_SECURITY="none",
                PIKE_REPORTS_EMAIL_FROM="pike-reports demo <reports@example.com>",
                PIKE_REPORTS_PUBLIC_URL=public_url,
            )
            set_prefect_defaults()
            from flows.all_reports import run_all_reports
            from flows.overdue import report_overdue_tasks

            print(f"report store: {out_dir} (served at {public_url}); SMTP: {smtp.host}:{smtp.port}", flush=True)
            try:
                with start_sandbox(day_before(today_data, as_of)) as sandbox:
                    _point_at(sandbox)
                    print(f"\n1/2 yesterday ({yesterday}): the overdue report the change view compares with",
                          flush=True)
                    first = report_overdue_tasks(as_of=yesterday, output_dir=str(out_dir),
                                                 teams_config=teams_config, return_state=True)
                if not first.is_completed():
                    print(f"demo failed: {first.message}", file=sys.stderr)
                    return 1
                with start_sandbox(today_data) as sandbox:
                    _point_at(sandbox)
                    print(f"\n2/2 today ({as_of}): every report, and the digests by email", flush=True)
                    state = run_all_reports(
                        as_of=as_of, output_dir=str(out_dir), teams_config=teams_config,
                        digests="send", force_digests=True, return_state=True,
                    )
            except Exception as exc:  # noqa: BLE001 - Prefect itself could not run (no flow state to report)
                print(f"demo failed: Prefect could not run the flow: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    finally:
        web.shutdown()
    if not state.is_completed():
        print(f"demo failed: {state.message}", file=sys.stderr)
        return 1
    folders = state.result()
    print("\nReports (open the files, or the links while a server runs, see below):")
    for report in ("overdue", "workload"):
        print(f"  {report:9s} {Path(folders[report]) / 'index.html'}")
    mails = sorted(inbox.glob("*.eml"))
    print(f"\nDigests: {len(mails)} emails received by the local SMTP server, saved in {inbox}")
    for path in mails:
        print(f"  {path.name}")
    print(f"\nThe links in the digests point at {public_url}/. To open them now, serve the store:\n"
          f"  python3 -m http.server {web.server_address[1]} --bind 127.0.0.1 --directory {out_dir}")
    print(f"\nDone in {time.perf_counter() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
