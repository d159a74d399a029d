"""Prefect tasks: the I/O steps of every report (fetch, write, publish).

Each task does one thing and calls the pure modules for the work. A report run makes
about ten task runs in all (MEASURED.md: budget tens, never one per page or row):
four concurrent listing fetches, one resolve, one build per report, one publish per report.

Retry layers: the client retries single requests (429, 5xx, dropped connections);
the ``fetch-listing`` task retries a whole listing the client gave up on, except for
permanent failures (bad secret, missing scope, bad request), which fail at once.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from pike_tasks import events, phases, rules
from pike_tasks.client import RESOURCES, PikeClient
from pike_tasks.config.settings import api_concurrency_limit, sandbox_run
from pike_tasks.errors import PikeConfigError, PikeError
from pike_tasks.home import refresh_home
from pike_tasks.once import prune_ledger_days
from pike_tasks.outputs import json_bytes
from pike_tasks.progress import ProgressLog
from pike_tasks.settings import resolve_api_settings
from pike_tasks.store import FolderRef, Links, ReportStore, RetentionIncomplete, Scope, StoreError
from pike_tasks.store.links import home_href
from pike_tasks.store.settings import keep_days_of
from pike_tasks.teams_config import TeamsConfig

if TYPE_CHECKING:
    from uuid import UUID

    import pandas as pd
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

    from pike_tasks import frames
    from pike_tasks.progress import Log

# pandas and the modules built on it (frames, transforms, views, csv_output, render) are imported
# where they are used, not here: loading them costs about 1.5 s of CPU, which fetch_workspace
# spends while the listings download instead of before the first request (benchmarks, figure 2).
TOP_ROWS = 20


def load_report_code() -> None:
    """Import pandas, jinja2 and the report modules now (a no-op once done)."""
    from pike_tasks import csv_output, frames, render, transforms, views  # noqa: F401 - imported to load them, not to use them here


def retry_unless_permanent(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:  # noqa: ARG001 (Prefect's signature)
    """Retry a fetch only for failures a later try can fix (throttling, 5xx, network, paging).

    A bad secret, a missing scope, a bad request or our own configuration fails at once.
    """
    try:
        state.result()
    except PikeError as exc:  # the task's exception, re-raised by result()
        return exc.retryable
    except Exception:  # noqa: BLE001 - not the API's fault (a bad limit name, a bug): retrying won't help
        return False
    return True


SANDBOX_SOURCE = "built-in sandbox (demo data)"


def api_source_label() -> str:
    """Where the data came from, for page footers: the API host, never the secret; a sandbox run
    (``run --sandbox``, ``make demo``) says it is demo data, not the loopback port it happened on."""
    if sandbox_run():
        return SANDBOX_SOURCE
    settings = resolve_api_settings()
    return urlsplit(settings.base_url).netloc or settings.base_url


@task(
    name="fetch-listing",
    task_run_name="fetch-{resource}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_unless_permanent,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def fetch_listing(resource: str, joins: TasksJoin | None = None) -> pd.DataFrame:
    """Read every record of one listing (limit 200 per page) and return it as a typed frame.

    With ``joins`` (the tasks listing): the pages are turned into columns as they arrive
    (:func:`frame_while_fetching`), and joined as well once ``fetch_workspace`` puts the small
    listings' join in ``joins``.
    """
    from pike_tasks.progress import listing_progress

    logger = get_run_logger()
    with _api_slot(), PikeClient(resolve_api_settings(), log=logger, progress=listing_progress(logger)) as client:
        # logs pages so far every 2 s, then records, pages, retries
        if joins is not None:
            return frame_while_fetching(client.iter_pages(resource), joins)
        records = client.list_all(resource)
    from pike_tasks import frames

    with phases.phase("frames (small listings)"):
        frame: pd.DataFrame = getattr(frames, f"{resource}_frame")(records)
    return frame


GIL_SWITCH_SECONDS = 0.001  # while a listing is turned into columns beside its download


_HANDOFF_LOCK = threading.Lock()
_handoffs = {"active": 0, "before": 0.0}  # listings converting at once in this process; the interval before them


@contextmanager
def _quick_gil_handoff() -> Iterator[None]:
    """Python's thread switch interval at 1 ms instead of 5 while pages are converted beside the
    download: when a page's bytes arrive, the fetching thread waits at most that long for the
    converter to let go of the GIL before it asks for the next page (at 20 ms a page, 5 ms is a
    quarter of a page). Restored when the last listing converting in this process ends (two flows
    in one process overlap: the first to start keeps the interval to restore); it only changes how
    often threads take turns."""
    with _HANDOFF_LOCK:
        if not _handoffs["active"]:
            _handoffs["before"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_handoffs["before"], GIL_SWITCH_SECONDS))
        _handoffs["active"] += 1
    try:
        yield
    finally:
        with _HANDOFF_LOCK:
            _handoffs["active"] -= 1
            if not _handoffs["active"]:
                sys.setswitchinterval(_handoffs["before"])


class TasksJoin:
    """Between ``fetch_workspace`` and the tasks listing's ``fetch_listing``: the join of the small
    listings (``transforms.TaskJoiner.join``), set once they are fetched, and the joined tasks
    handed back (``frames.Frames.tasks_joined``). No pandas here: the listing starts before it loads."""

    def __init__(self) -> None:
        self.join: Callable[[pd.DataFrame], pd.DataFrame] | None = None
        self.joined: pd.DataFrame | None = None


PAGE_BATCH_RECORDS = 10_000  # records turned into columns at once: fifty full pages, about 20 MB of dicts
PENDING_BATCHES = 2  # batches waiting for the converter at most (the fetch waits beyond that)


def frame_while_fetching(pages: Iterator[list[dict[str, Any]]], joins: TasksJoin) -> pd.DataFrame:
    """The tasks frame of a listing whose pages are turned into columns (``frames.TasksFrameBuilder``)
    on a helper thread, about ``PAGE_BATCH_RECORDS`` records at a time, while the next pages
    download; each batch's record dicts are dropped once converted, and once ``joins.join`` is
    set each batch is joined too. When the last page lands, only the last batch and
    ``builder.finish()`` (concatenation, first-by-id) are left. The helper thread holds the GIL
    only while it computes; the fetching thread mostly waits on the network meanwhile.
    """
    log = phases.current()
    built: list[frames.TasksFrameBuilder] = []  # made on the helper thread: pandas loads there, not here

    def convert(batch: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        if not built:
            from pike_tasks import frames

            built.append(frames.TasksFrameBuilder())
        if joins.join is not None:
            built[0].join_with(joins.join)
        built[0].add(batch)
        phases.add("frames and join (during fetch)", time.perf_counter() - started, log)

    pending: deque[Future[None]] = deque()
    with _quick_gil_handoff(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="pike-frames") as converter:
        batch: list[dict[str, Any]] = []
        for page in pages:
            batch += page
            del page
            if len(batch) >= PAGE_BATCH_RECORDS:
                pending.append(converter.submit(convert, batch))
                batch = []
                while pending and (pending[0].done() or len(pending) > PENDING_BATCHES):
                    pending.popleft().result()  # a conversion's error is raised here
        with phases.phase("frames and join (after last page)"):  # the last batch, then the whole listing
            pending.append(converter.submit(convert, batch))  # also when empty: makes the builder
            del batch
            while pending:
                pending.popleft().result()
            builder = built[0]
            if joins.join is not None:
                builder.join_with(joins.join)
            frame = builder.finish()
            joins.joined = builder.take_joined()
            return frame


def _api_slot() -> AbstractContextManager[None]:
    """One slot of the global concurrency limit named by PIKE_API_CONCURRENCY_LIMIT, for a whole listing.

    Opt-in: many report runs (one per team, several workers) then share the workspace's rate limit.
    Unset, it costs nothing; set, about 70 ms per listing (docs/deployments.md, "Scale").
    """
    name = api_concurrency_limit()
    return concurrency(name, occupy=1, strict=True) if name else nullcontext()


def fetch_workspace() -> frames.Frames:
    """Fetch the four listings concurrently (call inside a flow); one listing per resource per run."""
    with phases.phase("fetch (until every frame is ready)"):
        joins = TasksJoin()
        futures = {resource: fetch_listing.submit(resource, joins if resource == "tasks" else None)
                   for resource in RESOURCES}
        load_report_code()  # this thread would only wait for the downloads meanwhile
        from pike_tasks import frames, transforms

        small = {resource: future.result() for resource, future in futures.items() if resource != "tasks"}
        # the small listings end long before the tasks: from now on each batch of tasks is joined as it arrives
        joins.join = transforms.TaskJoiner(small["projects"], small["customers"], small["members"]).join
        tasks = futures["tasks"].result()
        return frames.Frames(tasks=tasks, **small, tasks_joined=joins.joined)


@dataclass(frozen=True)
class Resolved:
    """Tasks joined to their labels, plus what the run log says about the data."""

    tasks: pd.DataFrame
    members: pd.DataFrame
    data_quality: dict[str, Any]
    known_team_ids: frozenset[str] = frozenset()


@task(name="resolve-tasks", cache_policy=NO_CACHE, persist_result=False)
def resolve_workspace(workspace: frames.Frames, config: TeamsConfig) -> Resolved:
    """Join tasks to teams, projects, customers and members; log data problems once."""
    from pike_tasks import transforms

    logger = get_run_logger()
    with phases.phase("join"):
        resolved = transforms.resolve_tasks(workspace, config.team_names())
        quality = transforms.data_quality(workspace, resolved)
    for key, value in quality.items():
        if value:
            logger.warning("data: %s = %s (reported with fallback labels, not an error)", key, value)
    logger.info("resolved %d tasks (%d open)", len(resolved), int(resolved["is_open"].sum()))
    known = {*config.teams, *_ids_in(workspace.tasks["team_id"]), *_ids_in(workspace.projects["team_id"])}
    for team_ids in workspace.members["team_ids"]:
        known.update(t for t in team_ids if t)
    return Resolved(
        tasks=resolved, members=workspace.members, data_quality=_plain(quality), known_team_ids=frozenset(known)
    )


def _ids_in(column: pd.Series) -> set[str]:
    return {str(v) for v in column.dropna().unique() if str(v)}


def check_team_filter(resolved: Resolved, team_ids: Collection[str] | None) -> None:
    """A team id that no task, project, member or config team has is a typo: fail naming it.

    Raises:
        PikeConfigError: naming the unknown ids (a run would otherwise write empty reports and exit 0).
    """
    unknown = sorted({str(t) for t in team_ids or ()} - resolved.known_team_ids)
    if unknown:
        shown = ", ".join(repr(t[:80]) for t in unknown[:5])
        shown += f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise PikeConfigError(
            f"unknown team id {shown}: no task, project, member or teams-config entry has it "
            "(check --team / team_ids)."
        )


@dataclass
class ReportResult:
    """What one report published, and its headline numbers for artifacts and the CLI."""

    report: str
    as_of: date
    folder: str
    files: list[str]
    totals: dict[str, Any]
    top_rows: list[dict[str, Any]] = field(default_factory=list)
    link: str | None = None
    frames: OverdueFrames | None = None  # the overdue report's frames, handed to the digests


@dataclass(frozen=True)
class OverdueFrames:
    """What the overdue report computed, so the digests reuse it instead of computing it again."""

    rows: pd.DataFrame
    changes: pd.DataFrame
    due_soon: pd.DataFrame
    baseline_as_of: date | None
    # team id -> the store's link (public URL or presigned) of that team's own page; empty where
    # the store gives no links (a local folder without PIKE_REPORTS_PUBLIC_URL)
    team_links: dict[str, str] = field(default_factory=dict)


def _summary(report: str, as_of: date, filters: dict[str, list[str]], totals: dict[str, Any],
             quality: dict[str, Any]) -> dict[str, Any]:
    return {"report": report, "as_of": as_of.isoformat(), "filters": filters, "totals": totals, "data_quality": quality}


def _generated_at() -> str:
    return rules.generated_at()


def _publish(store: ReportStore, ref: FolderRef, files: dict[str, bytes],
             counts: dict[str, Any], labels: Mapping[str, str] | None = None) -> tuple[str, list[str], str | None]:
    """Publish the folder whole, apply retention, rewrite the store's home (``pike_tasks.home``; team
    ``labels`` name its filtered scopes) and tell Prefect's event feed (``pike.report.published``)."""
    location = store.publish(ref, files)
    apply_retention(store, ref)
    refresh_home(store, get_run_logger(), labels)
    link = store.link(ref)
    events.report_published(ref.report, ref.scope.prefix, ref.as_of, counts, link)
    return location, sorted(files), link


def apply_retention(store: ReportStore, published: FolderRef, logger: Log | None = None) -> list[date]:
    """After publishing ``published``: remove its report's folders (same scope) past ``PIKE_REPORTS_KEEP_DAYS``.

    The newest ``HISTORY_POINTS`` complete folders always stay (the change view's baseline and
    trend). A store that refuses deletes (a bucket policy without DeleteObject) costs a warning,
    not the report: it is published already.
    """
    logger = logger or get_run_logger()
    try:
        removed = store.prune(published.report, published.scope, published.as_of, keep_days_of(store),
                              keep_newest=HISTORY_POINTS)
    except RetentionIncomplete as exc:  # the others went; the next run tries the rest again
        logger.warning("retention: %s", exc)
        removed = exc.removed
    except StoreError as exc:
        logger.warning("retention: old %s folders not removed: %s", published.report, exc)
        return []
    if removed:
        logger.info("retention: removed %d %s %s older than %d days (%s .. %s)", len(removed), published.report,
                    "folder" if len(removed) == 1 else "folders", keep_days_of(store),
                    removed[0].isoformat(), removed[-1].isoformat())
    return removed


def prune_ledger(store: ReportStore, kind: str, as_of: date, logger: Log | None = None) -> list[date]:
    """Remove the once-only records of days past ``PIKE_REPORTS_KEEP_DAYS`` (a warning if the store refuses)."""
    logger = logger or get_run_logger()
    try:
        removed = prune_ledger_days(store, kind, as_of, keep_days_of(store))
    except RetentionIncomplete as exc:
        logger.warning("retention: %s", exc)
        removed = exc.removed
    except StoreError as exc:
        logger.warning("retention: old %s email records not removed: %s", kind, exc)
        return []
    if removed:
        logger.info("retention: removed the %s email records of %d days older than %d days", kind, len(removed),
                    keep_days_of(store))
    return removed


class SendProgress:
    """Progress of a phase with a known count, in the log and as a Prefect progress artifact.

    The artifact (0..100 %, shown on the flow run's page) is created at the first step and
    updated only when the percentage passes another ``ARTIFACT_STEP`` (at most 20 updates a
    run, whatever the count); a log line every 2 s (``ProgressLog``). An artifact the API
    refuses costs a warning, never the phase.
    """

    ARTIFACT_STEP = 5  # percent

    def __init__(self, total: int, logger: Log, *, what: str, key: str, description: str) -> None:
        self.total, self.done, self._logger = total, 0, logger
        self._log = ProgressLog(logger, what, total)
        self._key, self._description = key, description
        self._artifact: UUID | None = None
        self._shown = -1  # the percentage the artifact shows
        if total:
            self._show(0)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._log.update(self.done)
        percent = 100 * self.done // self.total if self.total else 100
        if percent >= self._shown + self.ARTIFACT_STEP or (percent == 100 and self._shown < 100):
            self._show(percent)

    def finish(self) -> None:
        if self.total and self._shown < 100:
            self._show(100)
        if self.total and self._log.lines:  # the phase was long enough to report progress: close it
            self._logger.info("%s", self._log.line(self.done))

    def _show(self, percent: int) -> None:
        description = f"{self._description}: {self.done} of {self.total}"
        try:
            if self._artifact is None:
                # called from sync code: @sync_compatible returns the UUID itself, not a coroutine
                self._artifact = cast("UUID", create_progress_artifact(float(percent), key=self._key,
                                                                     description=description))
            else:
                update_progress_artifact(self._artifact, float(percent), description=description)
            self._shown = percent
        except Exception as exc:  # noqa: BLE001 - progress is a courtesy; the sends go on
            self._logger.warning("progress artifact not updated: %s", type(exc).__name__)
            self._shown = 100  # do not keep trying


@dataclass(frozen=True)
class Baseline:
    """What the change view compares against: the latest stored report of the scope before as_of."""

    as_of: date | None
    rows: pd.DataFrame | None
    history: list[tuple[date, int]]


HISTORY_POINTS = 8


def read_baseline(store: ReportStore, scope: Scope, as_of: date) -> Baseline:
    """The baseline of an overdue report for ``as_of`` (REPORTS.md Report 4): only earlier dates.

    Raises:
        StoreError: the baseline's stored ``overdue.csv`` cannot be read back.
    """
    from pike_tasks import changes

    earlier = [d for d in store.completed_dates("overdue", scope) if d < as_of]
    history = []
    for day in earlier[-(HISTORY_POINTS - 1):]:
        raw = store.read(FolderRef("overdue", day, scope), rules.SUMMARY_JSON)
        try:
            history.append((day, int(json.loads(raw or b"{}")["totals"]["overdue_tasks"])))
        except (KeyError, TypeError, ValueError):
            continue  # a summary we cannot read leaves a gap in the trend, nothing worse
    if not earlier:
        return Baseline(None, None, history)
    ref = FolderRef("overdue", earlier[-1], scope)
    try:
        rows = changes.read_report_rows(store.read(ref, rules.OVERDUE_CSV) or b"")
    except ValueError as exc:
        raise StoreError(
            f"the baseline {store.folder_location(ref)}/overdue.csv cannot be read ({exc}); "
            "remove that folder to compare with the report before it"
        ) from None
    return Baseline(earlier[-1], rows, history)


@task(name="build-overdue-report", cache_policy=NO_CACHE, persist_result=False)
def build_overdue_report(
    resolved: Resolved,
    *,
    as_of: date,
    config: TeamsConfig,
    store: ReportStore,
    team_ids: Collection[str] | None = None,
    source: str = "",
) -> ReportResult:
    """Report 1 and the change view (Report 4), published whole as overdue/<as_of>/.

    Files: overdue.csv, due_soon.csv, changes.csv, index.html, summary.json, and one page per
    team with overdue tasks (``team-<id>.html``, ``no-team.html``) that index.html links to.
    """
    from pike_tasks import changes, csv_output, transforms, views
    from pike_tasks.render import render_overdue_html, render_overdue_team_html

    scope = Scope.of(team_ids)
    wanted = team_ids or None
    with phases.phase("overdue build"):
        rows = transforms.overdue_tasks(resolved.tasks, as_of, team_ids=wanted)
        summary = transforms.overdue_team_summary(rows)
        due_soon = transforms.due_soon_tasks(resolved.tasks, as_of, team_ids=wanted)
        undated = transforms.open_without_due_date(resolved.tasks, team_ids=wanted)
        baseline = read_baseline(store, scope, as_of)
        changed = changes.compute_changes(rows, baseline.rows, resolved.tasks, as_of, team_ids=wanted,
                                          baseline_as_of=baseline.as_of)
        counts = changes.change_counts(changed)
        filters = scope.filters()
        totals = views.overdue_totals(rows, summary)
        trend = changes.history(baseline.history, as_of=as_of, overdue_tasks=totals["overdue_tasks"])
    ref = FolderRef("overdue", as_of, scope)
    with phases.phase("overdue render"):
        page: dict[str, Any] = {
            "as_of": as_of, "generated_at": _generated_at(), "filters": filters,
            "app_url_template": config.app_url_template, "source": source,
            "change": views.ChangeInputs(baseline.as_of, changed, counts, trend, due_soon, undated),
            # links between the folder's pages, made before the views: relative, or presigned where the store signs
            "link": overdue_page_links(store, ref, summary),
        }
        view = views.overdue_view(rows, summary, **page)
        team_views = views.overdue_team_views(rows, summary, **page)
        for each in (view, *team_views.values()):  # the "All reports" link: the store's home
            each["home"] = home_href(store, ref)
        progress = ProgressLog(get_run_logger(), "overdue team pages rendered", len(team_views))
        team_pages = {}
        for done, (name, team_view) in enumerate(team_views.items(), start=1):
            team_pages[name] = render_overdue_team_html(team_view).encode("utf-8")
            progress.update(done)
        report = _summary("overdue", as_of, filters, totals, resolved.data_quality)
        report.update({
            "baseline_as_of": baseline.as_of.isoformat() if baseline.as_of else None,
            "new": counts["new"], "resolved": counts["resolved"], "changes_by_team": counts["teams"],
            "history": trend, "open_without_due_date": undated, "due_soon_tasks": int(len(due_soon)),
        })
        files = {
            rules.OVERDUE_CSV: csv_output.csv_bytes(rows, rules.OVERDUE_COLUMNS),
            rules.DUE_SOON_CSV: csv_output.csv_bytes(due_soon, rules.DUE_SOON_COLUMNS),
            rules.CHANGES_CSV: csv_output.csv_bytes(changed, rules.CHANGES_COLUMNS),
            rules.INDEX_HTML: render_overdue_html(view).encode("utf-8"),
            rules.SUMMARY_JSON: json_bytes(report),
            **team_pages,
        }
    with phases.phase("overdue publish"):
        folder, names, link = _publish(store, ref, files, {**totals, "new": counts["new"],
                                                           "resolved": counts["resolved"],
                                                           "baseline_as_of": report["baseline_as_of"]},
                                       config.team_names())
    get_run_logger().info(
        "overdue report: %d tasks in %d teams (%d new, %d resolved since %s) -> %s",
        len(rows), len(summary), counts["new"], counts["resolved"], report["baseline_as_of"] or "no baseline", folder,
    )
    top = rows.head(TOP_ROWS)[["team", "title", "priority", "due_date", "days_overdue", "assignees"]]
    team_links = {tid: url for tid, url in ((view["team"]["team_id"], store.link(ref, name))
                                            for name, view in team_views.items()) if tid and url}
    frames = OverdueFrames(rows, changed, due_soon, baseline.as_of, team_links)
    return ReportResult("overdue", as_of, folder, names, totals, _records(top), link, frames)


def overdue_page_links(store: ReportStore, ref: FolderRef, summary: pd.DataFrame) -> Links:
    """The hrefs between the pages of an overdue folder: index.html, overdue.csv and each team's page
    (named as the views name them: ``wording.team_page_names``), as a value the views call."""
    import pandas as pd

    from pike_tasks.wording import team_anchors, team_page_names

    team_ids = ["" if pd.isna(tid) else str(tid) for tid in summary["team_id"]] if len(summary) else []
    pages = team_page_names(team_anchors(team_ids))
    return Links.of(store, ref, [rules.INDEX_HTML, rules.OVERDUE_CSV, *pages.values()])


@task(name="build-workload-report", cache_policy=NO_CACHE, persist_result=False)
def build_workload_report(
    resolved: Resolved,
    *,
    as_of: date,
    store: ReportStore,
    team_ids: Collection[str] | None = None,
    project_ids: Collection[str] | None = None,
    customer_ids: Collection[str] | None = None,
    source: str = "",
) -> ReportResult:
    """Report 2: workload.csv, workload_by_customer.csv, index.html, summary.json, published whole."""
    from pike_tasks import csv_output, transforms, views
    from pike_tasks.render import render_workload_html

    scope = Scope.of(team_ids, project_ids, customer_ids)
    wanted = {"team_ids": team_ids or None, "project_ids": project_ids or None, "customer_ids": customer_ids or None}
    with phases.phase("workload build"):
        by_member = transforms.workload_by_member(resolved.tasks, resolved.members, as_of, **wanted)
        by_customer = transforms.workload_by_customer(resolved.tasks, as_of, **wanted)
    filters = scope.filters()
    totals = views.workload_totals(by_member, by_customer)
    ref = FolderRef("workload", as_of, scope)
    links = {"workload_csv": store.page_link(ref, rules.WORKLOAD_CSV),
             "customers_csv": store.page_link(ref, rules.WORKLOAD_BY_CUSTOMER_CSV)}  # relative, or presigned
    with phases.phase("workload render"):
        view = views.workload_view(
            by_member, by_customer, as_of=as_of, generated_at=_generated_at(), filters=filters, source=source,
            links=links,
        )
        view["home"] = home_href(store, ref)
        files = {
            rules.WORKLOAD_CSV: csv_output.csv_bytes(by_member, rules.WORKLOAD_COLUMNS),
            rules.WORKLOAD_BY_CUSTOMER_CSV: csv_output.csv_bytes(by_customer, rules.WORKLOAD_BY_CUSTOMER_COLUMNS),
            rules.INDEX_HTML: render_workload_html(view).encode("utf-8"),
            rules.SUMMARY_JSON: json_bytes(_summary("workload", as_of, filters, totals, resolved.data_quality)),
        }
    with phases.phase("workload publish"):
        folder, names, link = _publish(store, ref, files, totals, _team_labels(resolved.tasks))
    get_run_logger().info("workload report: %d members, %d customers -> %s", len(by_member), len(by_customer), folder)
    top = by_member.head(TOP_ROWS)[["member", "status", "open", "billable", "billable_share", "overdue", "flag"]]
    return ReportResult("workload", as_of, folder, names, totals, _records(top), link)


def _team_labels(tasks: pd.DataFrame) -> dict[str, str]:
    """team id -> the label the report uses (the teams config's name, else ``Team <id>``)."""
    if not len(tasks):
        return {}
    pairs = tasks[["team_id", "team"]].dropna().drop_duplicates("team_id")
    return {str(tid): str(name) for tid, name in zip(pairs["team_id"], pairs["team"], strict=True)}


@task(name="publish-artifacts", task_run_name="publish-{result.report}", cache_policy=NO_CACHE, persist_result=False)
def publish_artifacts(result: ReportResult) -> None:
    """A markdown artifact with the headline numbers and a table artifact of the top rows.

    Keys are per report (``overdue-report``), so the Prefect UI shows each report's history.
    """
    lines = [f"# {result.report.title()} report, {result.as_of.isoformat()}", ""]
    lines += [f"- **{_md(key.replace('_', ' '))}**: {_md(_fmt(value))}" for key, value in result.totals.items()]
    lines += ["", f"Files: {_code(str(result.folder))}"]
    create_markdown_artifact("\n".join(lines), key=f"{result.report}-report",
                             description=f"{result.report} report as of {result.as_of.isoformat()}")
    if result.top_rows:
        table = [{k: _cell(v) for k, v in row.items()} for row in result.top_rows]
        create_table_artifact(table, key=f"{result.report}-top-rows",
                              description=f"First {len(table)} rows of the {result.report} report")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows = cast("list[dict[str, Any]]", df.to_dict(orient="records"))  # the column labels are str
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    """numpy/pandas scalars and containers -> JSON-safe Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if value is _pandas_na() or (isinstance(value, float) and value != value):
        return None
    return value


def _pandas_na() -> Any:
    import pandas as pd

    return pd.NA


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()<>#+-.!|"})


def _md(text: str) -> str:
    """Escape untrusted text for markdown prose (no HTML, links or table breaks survive).

    Not for code spans: inside backticks a backslash is literal, so ``2026\\-12\\-01`` would show.
    """
    return _one_line(text).translate(_MD_SPECIAL)


def _code(text: str) -> str:
    """``text`` as a markdown code span, shown exactly as it is (nothing inside is markdown).

    The fence is one backtick longer than the longest run of backticks inside, and padded with
    spaces when the text starts or ends with one (CommonMark's rule; the padding is not shown).
    """
    text = _one_line(text)
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(value: Any) -> Any:
    """A table artifact cell: the raw value (numbers stay numbers), text on one line.

    Prefect 3.9's default UI (V2) shows table cells as plain text, so markdown escapes would
    show as backslashes (``Fix\\-login``); raw text is both exact and safe there (React escapes
    it). The legacy V1 UI renders string cells as markdown instead: there such a title may show
    formatted or linked, a trade-off taken for the default UI's exact text.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _one_line(_fmt(value))


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")
