"""`make demo`: every report, the change view and the manager digests against the built-in sandbox.

Starts the sandbox (demo data relative to today), a local SMTP server and a small web server
for the report store, all on 127.0.0.1. It first stores yesterday's overdue report (the
sandbox serving the workspace as it stood the day before), then runs all of today's reports
in one Prefect flow run and sends the digests, so they show what changed since yesterday,
with links that open. Emails are saved as .eml files in ``demo-out/inbox/<date>/``; the digests
also go to a local Slack stand-in (``pike_tasks.sandbox.slack``: a DM per manager, a post in the
Delivery and Platform channels), each message saved as an HTML preview in ``demo-out/slack/<date>/``.
No account and no network needed.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pike_tasks.cli import set_prefect_defaults
from pike_tasks.email_message import address_file_stem
from pike_tasks.local_smtp import LocalSmtpServer
from pike_tasks.sandbox.data import day_before, generate_workspace
from pike_tasks.sandbox.server import SandboxServer, start_sandbox
from pike_tasks.sandbox.slack import TOKEN as SLACK_TOKEN
from pike_tasks.sandbox.slack import SlackFake

REPO = Path(__file__).resolve().parent.parent
DEMO_PORT = 8642  # the same every run, so links in earlier demo emails open again while it serves


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
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


def _point_at(sandbox: SandboxServer) -> None:
    # PIKE_REPORTS_SANDBOX_RUN: the demo's once-only records are the sandbox's, never a real workspace's
    os.environ.update(PIKE_API_BASE_URL=sandbox.url, PIKE_API_SECRET=sandbox.secret, PIKE_REPORTS_SANDBOX_RUN="1")


DEMO_SLACK_CHANNELS = {"91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b": ("C0DELIVERY", "delivery"),
                       "e5f6a7b8-c9d0-4123-e456-789abcdef012": ("C0PLATFORM", "platform")}


def demo_teams_config(out_dir: Path) -> str:
    """teams.example.yaml with Slack turned on: a DM per manager, two team channels."""
    import yaml

    config = yaml.safe_load((REPO / "teams.example.yaml").read_text(encoding="utf-8"))
    config["slack"] = {"direct_messages": True}
    for tid, (channel_id, _name) in DEMO_SLACK_CHANNELS.items():
        config["teams"][tid]["slack_channel"] = channel_id
    path = out_dir / "teams.demo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return str(path)


def start_slack(config_path: str) -> SlackFake:
    """The Slack stand-in, knowing every manager of the config and the demo's team channels."""
    from pike_tasks.teams_config import read_teams_source

    slack = SlackFake().__enter__()
    managers = sorted({m for team in read_teams_source(config_path).teams.values() for m in team.managers})
    for n, address in enumerate(managers, 1):
        slack.add_user(address, f"U0DEMO{n:02d}")
    for channel_id, name in DEMO_SLACK_CHANNELS.values():
        slack.add_channel(channel_id, name)
    os.environ.update(PIKE_REPORTS_SLACK_TOKEN=SLACK_TOKEN, PIKE_REPORTS_SLACK_API_URL=slack.url)
    return slack


def save_slack_messages(slack: SlackFake, folder: Path) -> list[str]:
    """Each message the stand-in received as an HTML page (roughly as Slack shows it); lines to print."""
    from pike_tasks.slack_preview import preview_html

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.html"):
        old.unlink()
    users = {"D" + uid[1:]: address for address, uid in slack.state.users.items()}
    lines, seen = [], Counter[str]()
    for message in slack.messages:
        channel = slack.state.channels.get(message.channel)
        where = (f"DM to {users[message.channel]}" if message.channel in users
                 else f"#{channel.name if channel else '?'}")
        # by recipient, as the .eml files: the same names every run, whatever order the posts arrived in
        stem = address_file_stem(where.replace("DM to ", "dm-").lstrip("#"))
        seen[stem] += 1
        name = f"{stem}.html" if seen[stem] == 1 else f"{stem}~{seen[stem]}.html"
        payload = {"text": message.text, "blocks": message.blocks or []}
        (folder / name).write_text(preview_html(payload, subtitle=where), encoding="utf-8")
        lines.append(f"  {where:40s} {message.text[:60]!r} -> {name}")
    return sorted(lines, key=lambda line: (" #" in line[:3], line))  # the DMs, then the channels


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
    teams_config = demo_teams_config(out_dir)
    slack = start_slack(teams_config)
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
                    print(f"\n2/2 today ({as_of}): every report, and the digests by email and in Slack", flush=True)
                    state = run_all_reports(
                        as_of=as_of, output_dir=str(out_dir), teams_config=teams_config,
                        digests="send", force_digests=True, channels=["email", "slack"], return_state=True,
                    )
            except Exception as exc:  # noqa: BLE001 - Prefect itself could not run (no flow state to report)
                print(f"demo failed: Prefect could not run the flow: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    finally:
        web.shutdown()
        slack.__exit__(None, None, None)
    if not state.is_completed():
        print(f"demo failed: {state.message}", file=sys.stderr)
        return 1
    folders = state.result()
    print("\nReports (open the files, or the links while a server runs, see below):")
    for report in ("overdue", "workload"):
        print(f"  {report:9s} {Path(folders[report]) / 'index.html'}")
    print(f"  {'home':9s} {Path(out_dir) / 'index.html'} (every stored report by date; newest: <report>/latest.html)")
    mails = sorted(inbox.glob("*.eml"))
    print(f"\nDigests: {len(mails)} emails received by the local SMTP server, saved in {inbox}")
    for path in mails:
        print(f"  {path.name}")
    slack_lines = save_slack_messages(slack, out_dir / "slack" / as_of.isoformat())
    print(f"\nSlack: {len(slack_lines)} messages received by the local Slack stand-in at {slack.url} "
          f"(HTML previews in {out_dir / 'slack' / as_of.isoformat()}):")
    for line in slack_lines:
        print(line)
    print(f"\nThe links in the digests point at {public_url}/. To open them now, serve the store:\n"
          f"  python3 -m http.server {web.server_address[1]} --bind 127.0.0.1 --directory {out_dir}")
    print(f"\nDone in {time.perf_counter() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
