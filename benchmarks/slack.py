"""Figure 8 (issue 22): the Slack digests of a 100,000-task workspace (65 teams, 150 managers).

One process, nothing from the network:

1. the workspace figure 7 generates (``generate_workspace`` with 65 teams; 100,000 tasks, or
   20,000 with ``--quick``) and figure 7's teams config (``agency_teams_config``: 150 manager
   addresses, 20 of them managing 5-9 teams), every team with a ``slack_channel``; the 65 teams
   share 13 channels (5 teams each, as departments do), so Slack's per-channel limit binds;
2. the channel-neutral digests as a run builds them (``build_digests`` with due-soon rows and
   the changes since the day before; the team summaries as ``build-digests`` makes them), then
   the real Slack channel's ``prepare`` (``digest_view`` -> ``slack_blocks.digest_message`` /
   ``team_message``); every payload checked with ``slack_blocks.check_limits``;
3. the sends through the real ``SlackChannel.send`` / ``SlackClient`` (slack_sdk's ``WebClient``,
   default settings) against the local Slack stand-in (``pike_tasks.sandbox.slack``) enforcing
   one post per second per channel (429 with ``Retry-After``), ``SlackChannel.concurrency(None)``
   sends at once (the engine's default window) and the engine's retry of a still-rate-limited
   send (after 2 s, then 10 s). The ledger and Prefect's task runs are left out: they cost the
   same per message whatever the channel (figure 7 measures them).

The lower bound: the busiest channel's N posts, 1 s apart, take (N - 1) x 1 s after the first
(each DM is a conversation of its own); N x 1 s is reported beside it.
See docs/benchmarks.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date, timedelta
from typing import Any

from benchmarks.scale import APP_URL, MANAGERS, agency_teams_config
from benchmarks.workers import _frames, sizes_for

AS_OF = date(2026, 4, 9)
TEAMS, CHANNELS = 65, 13
POST_INTERVAL_S = 1.0
ENGINE_RETRY_DELAYS = (2, 10)  # send_digest's retry_delay_seconds
REPORTS = "https://reports.example/overdue/2026-04-09"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(tasks: int) -> tuple[dict[str, Any], Any]:
    """(the teams config, the DigestSet) of a generated workspace of ``tasks`` tasks and 65 teams."""
    from pike_tasks import transforms
    from pike_tasks.changes import compute_changes
    from pike_tasks.delivery.channel import DigestSet
    from pike_tasks.delivery.digest import build_digests
    from pike_tasks.sandbox.data import generate_workspace, workspace_teams
    from pike_tasks.team_digest import team_digest

    teams = workspace_teams(TEAMS)
    config = agency_teams_config(teams)
    ids = sorted(config["teams"])
    for i, tid in enumerate(ids):
        config["teams"][tid]["slack_channel"] = f"C0DEPT{i % CHANNELS:02d}"
    data = generate_workspace(42, AS_OF, **sizes_for(tasks), teams=TEAMS)
    frames = _frames(data)
    resolved = transforms.resolve_tasks(frames, {tid: t["name"] for tid, t in config["teams"].items()})
    rows = transforms.overdue_tasks(resolved, AS_OF)
    soon = transforms.due_soon_tasks(resolved, AS_OF)
    baseline_day = AS_OF - timedelta(days=1)
    changes = compute_changes(rows, transforms.overdue_tasks(resolved, baseline_day), resolved, AS_OF,
                              baseline_as_of=baseline_day)

    def digests(teams_config: dict[str, Any]) -> list[Any]:
        return build_digests(resolved, frames.members, rows, teams_config, AS_OF, changes=changes,
                             due_soon_rows=soon, baseline_as_of=baseline_day)

    managers = digests(config["teams"])
    pseudo = {tid: {"name": config["teams"][tid]["name"], "managers": [f"team:{tid}"]} for tid in ids}
    by_team = {d.team_ids[0]: team_digest(d, d.team_ids[0], d.team_ids[0]) for d in digests(pseudo)}
    return config, DigestSet(managers, by_team)


def _send_all(channel: Any, items: list[Any]) -> dict[str, int]:
    """The engine's send loop without the ledger: ``channel.concurrency(None)`` sends at once, a
    retryable failure (still rate limited after slack_sdk's waits) sent again after 2 s, then 10 s."""
    from pike_tasks.delivery.channel import DeliveryFailed

    def one(item: Any) -> str:
        for delay in (*ENGINE_RETRY_DELAYS, None):
            try:
                channel.send(item, lambda stage: None)
                return "sent"
            except DeliveryFailed as exc:
                if not exc.retryable or delay is None:
                    return "failed"
                outcomes["engine_retries"] += 1
                time.sleep(delay)
        return "failed"

    outcomes: Counter[str] = Counter()
    window = channel.concurrency(None)
    waiting = deque(items)
    with ThreadPoolExecutor(window) as pool:
        running: set[Future[str]] = set()
        while running or waiting:
            while waiting and len(running) < window:
                running.add(pool.submit(one, waiting.popleft()))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes[future.result()] += 1
    outcomes["window"] = window
    return dict(outcomes)


def figure_slack(opts: Any) -> dict[str, Any]:
    from pike_tasks import slack_blocks
    from pike_tasks.delivery.slack import SlackChannel, SlackLinks
    from pike_tasks.sandbox.slack import TOKEN, SlackFake
    from pike_tasks.slack_client import ENV_API_URL, ENV_TOKEN, SlackClient

    tasks = 20_000 if opts.quick else 100_000
    log(f"figure 8: {tasks:,} tasks, {TEAMS} teams, {MANAGERS} managers: building the digests")
    t = time.perf_counter()
    config, digest_set = build(tasks)
    build_s = time.perf_counter() - t
    team_channels = {tid: team["slack_channel"] for tid, team in config["teams"].items()}
    links = SlackLinks(report_url=f"{REPORTS}/index.html", app_url_template=APP_URL,
                       team_pages={tid: f"{REPORTS}/{tid}.html" for tid in team_channels})
    managers = sorted({m for team in config["teams"].values() for m in team["managers"]})
    with SlackFake() as fake:
        for n, address in enumerate(managers):
            fake.add_user(address, f"U0M{n:04d}")
        for n in range(CHANNELS):
            fake.add_channel(f"C0DEPT{n:02d}", f"dept-{n:02d}")
        client = SlackClient.from_env({ENV_TOKEN: TOKEN, ENV_API_URL: fake.url})  # default settings
        channel = SlackChannel(client, direct_messages=True, team_channels=team_channels,
                               key_prefix=f"bench/{AS_OF.isoformat()}/all", links=links)
        t = time.perf_counter()
        items = channel.prepare(digest_set)
        prepare_s = time.perf_counter() - t
        payloads = [item.payload["message"] for item in items]
        invalid = [i for i, p in enumerate(payloads) if slack_blocks.check_limits(p)]
        sizes = [len(json.dumps(p, ensure_ascii=False).encode("utf-8")) for p in payloads]
        blocks = [len(p.get("blocks") or []) for p in payloads]
        to_send = [item for item in items if item.status is None]
        per_channel = Counter("dm" + item.recipient if item.payload.get("dm") else str(item.payload["channel"])
                              for item in to_send)
        busiest = max(per_channel.values())
        log(f"figure 8: {len(items)} messages ({len(invalid)} invalid), sending {len(to_send)} with "
            f"{POST_INTERVAL_S:g} post/s/channel; busiest channel {busiest} posts")
        fake.limit_posts_per_channel(POST_INTERVAL_S)
        channel.check()
        t = time.perf_counter()
        outcomes = _send_all(channel, to_send)
        send_s = time.perf_counter() - t
        posts = len(fake.calls_of("chat.postMessage"))
        accepted = len(fake.messages)
        rate_429s = fake.state.post_429s
        calls = len(fake.state.calls)
    lower = (busiest - 1) * POST_INTERVAL_S
    result = {
        "tasks": tasks, "teams": TEAMS, "managers": len(digest_set.managers), "team_channels": CHANNELS,
        "messages": len(items), "dms": sum(1 for i in items if i.payload.get("dm")),
        "team_posts": sum(1 for i in items if not i.payload.get("dm")), "invalid": len(invalid),
        "largest_payload_bytes": max(sizes), "largest_blocks": max(blocks),
        "build_s": build_s, "prepare_s": prepare_s, "send_s": send_s,
        "posts_per_s": accepted / send_s if send_s else None, "accepted": accepted,
        "post_requests": posts, "post_429s": rate_429s, "api_calls": calls, "outcomes": outcomes,
        "busiest_channel_posts": busiest, "lower_bound_s": lower, "posts_x_interval_s": busiest * POST_INTERVAL_S,
        "ratio": send_s / lower if lower else None,
        "concurrency": outcomes.get("window"), "target": "0 invalid; every message sent",
    }
    result["ok"] = not invalid and accepted == len(to_send) and outcomes.get("failed", 0) == 0
    log(f"figure 8: sent {accepted} in {send_s:.1f} s ({rate_429s} answers 429), lower bound {lower:.0f} s")
    return result


def slack_rows(f: dict[str, Any]) -> list[str]:
    """The row of figure 8 in the benchmark table."""
    if "error" in f:
        return [f"| 8 | Slack digests | error: {f['error']} | 0 invalid, all sent | n/a |"]
    met = {True: "yes", False: "**no**"}.get(f.get("ok"), "n/a")
    return [f"| 8 | Slack digests, {f['tasks']:,} tasks, {f['teams']} teams in {f['team_channels']} channels, "
            f"{f['managers']} managers; stand-in at 1 post/s/channel, default settings ({f['concurrency']} at once) | "
            f"{f['messages']} messages ({f['dms']} DMs, {f['team_posts']} team posts), **{f['invalid']} invalid**, "
            f"largest {f['largest_payload_bytes']:,} B / {f['largest_blocks']} blocks; sent in "
            f"**{f['send_s']:.1f} s** ({f['posts_per_s']:.1f} posts/s, {f['post_429s']} answers 429) vs lower bound "
            f"{f['lower_bound_s']:.0f} s (busiest channel: {f['busiest_channel_posts']} posts 1 s apart; "
            f"posts x 1 s = {f['posts_x_interval_s']:.0f} s); build {f['build_s']:.1f} s, "
            f"render + users.lookupByEmail {f['prepare_s']:.1f} s | 0 invalid, all sent | {met} |"]
