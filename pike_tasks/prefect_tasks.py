"""Prefect tasks: the I/O steps of every report (fetch, write, publish).

Each task does one thing and calls the pure modules for the work. A report run makes
about ten task runs in all (MEASURED.md: budget tens, never one per page or row):
four concurrent listing fetches, one resolve, one build per report, one publish per report.

Retry layers: the client retries single requests (429, 5xx, dropped connections);
the ``fetch-listing`` task retries a whole listing the client gave up on, except for
permanent failures (bad secret, missing scope, bad request), which fail at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from pike_tasks.client import RESOURCES, PikeClient
from pike_tasks.errors import PikeError
from pike_tasks.outputs import report_dir, write_json, write_text_atomic
from pike_tasks.settings import resolve_api_settings
from pike_tasks.teams_config import TeamsConfig

if TYPE_CHECKING:
    import pandas as pd

    from pike_tasks import frames

# pandas and the modules built on it (frames, transforms, views, csv_output, render) are imported
# where they are used, not here: loading them costs about 1.5 s of CPU, which fetch_workspace
# spends while the listings download instead of before the first request (benchmarks, figure 2).
TOP_ROWS = 20


def load_report_code() -> None:
    """Import pandas, jinja2 and the report modules now (a no-op once done)."""
    from pike_tasks import csv_output, frames, render, transforms, views  # noqa: F401


def retry_unless_permanent(task, task_run, state) -> bool:  # noqa: ARG001 (Prefect's signature)
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


def api_source_label() -> str:
    """Where the data came from, for page footers: the API host, never the secret."""
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
def fetch_listing(resource: str) -> pd.DataFrame:
    """Read every record of one listing (limit 200 per page) and return it as a typed frame."""
    from pike_tasks import frames

    logger = get_run_logger()
    with _api_slot(), PikeClient(resolve_api_settings(), log=logger) as client:  # logs records, pages, retries
        records = client.list_all(resource)
    return getattr(frames, f"{resource}_frame")(records)


def _api_slot():
    """One slot of the global concurrency limit named by PIKE_API_CONCURRENCY_LIMIT, for a whole listing.

    Opt-in: many report runs (one per team, several workers) then share the workspace's rate limit.
    Unset, it costs nothing; set, about 70 ms per listing (docs/deployments.md, "Scale").
    """
    name = os.environ.get("PIKE_API_CONCURRENCY_LIMIT", "").strip()
    return concurrency(name, occupy=1, strict=True) if name else nullcontext()


def fetch_workspace() -> frames.Frames:
    """Fetch the four listings concurrently (call inside a flow); one listing per resource per run."""
    futures = {resource: fetch_listing.submit(resource) for resource in RESOURCES}
    load_report_code()  # this thread would only wait for the downloads meanwhile
    from pike_tasks import frames

    return frames.Frames(**{resource: future.result() for resource, future in futures.items()})


@dataclass(frozen=True)
class Resolved:
    """Tasks joined to their labels, plus what the run log says about the data."""

    tasks: pd.DataFrame
    members: pd.DataFrame
    data_quality: dict[str, Any]


@task(name="resolve-tasks", cache_policy=NO_CACHE, persist_result=False)
def resolve_workspace(workspace: frames.Frames, config: TeamsConfig) -> Resolved:
    """Join tasks to teams, projects, customers and members; log data problems once."""
    from pike_tasks import transforms

    logger = get_run_logger()
    resolved = transforms.resolve_tasks(workspace, config.team_names())
    quality = transforms.data_quality(workspace, resolved)
    for key, value in quality.items():
        if value:
            logger.warning("data: %s = %s (reported with fallback labels, not an error)", key, value)
    logger.info("resolved %d tasks (%d open)", len(resolved), int(resolved["is_open"].sum()))
    return Resolved(tasks=resolved, members=workspace.members, data_quality=_plain(quality))


@dataclass
class ReportResult:
    """What one report wrote, and its headline numbers for artifacts and the CLI."""

    report: str
    as_of: date
    folder: Path
    files: list[Path]
    totals: dict[str, Any]
    top_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def html(self) -> Path:
        return self.folder / "index.html"


def _filters(team_ids=None, project_ids=None, customer_ids=None) -> dict[str, list[str]]:
    given = {"teams": team_ids, "projects": project_ids, "customers": customer_ids}
    return {key: sorted(ids) for key, ids in given.items() if ids}


def _summary(report: str, as_of: date, filters: dict, totals: dict, quality: dict) -> dict[str, Any]:
    return {"report": report, "as_of": as_of.isoformat(), "filters": filters, "totals": totals, "data_quality": quality}


def _generated_at() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@task(name="build-overdue-report", cache_policy=NO_CACHE, persist_result=False)
def build_overdue_report(
    resolved: Resolved,
    *,
    as_of: date,
    config: TeamsConfig,
    output_dir: str,
    team_ids: Collection[str] | None = None,
    source: str = "",
) -> ReportResult:
    """Report 1: overdue.csv, index.html and summary.json under <output_dir>/overdue/<as_of>/."""
    from pike_tasks import csv_output, transforms, views
    from pike_tasks.render import render_overdue_html

    rows = transforms.overdue_tasks(resolved.tasks, as_of, team_ids=team_ids or None)
    summary = transforms.overdue_team_summary(rows)
    folder = report_dir(output_dir, "overdue", as_of)
    filters = _filters(team_ids)
    totals = views.overdue_totals(rows, summary)
    csv_output.write_csv(rows, csv_output.OVERDUE_COLUMNS, folder / "overdue.csv")
    view = views.overdue_view(
        rows, summary, as_of=as_of, generated_at=_generated_at(), filters=filters,
        app_url_template=config.app_url_template, source=source,
    )
    write_text_atomic(folder / "index.html", render_overdue_html(view))
    write_json(folder / "summary.json", _summary("overdue", as_of, filters, totals, resolved.data_quality))
    get_run_logger().info("overdue report: %d tasks in %d teams -> %s", len(rows), len(summary), folder)
    top = rows.head(TOP_ROWS)[["team", "title", "priority", "due_date", "days_overdue", "assignees"]]
    return ReportResult(
        "overdue", as_of, folder,
        [folder / "overdue.csv", folder / "index.html", folder / "summary.json"],
        totals, _records(top),
    )


@task(name="build-workload-report", cache_policy=NO_CACHE, persist_result=False)
def build_workload_report(
    resolved: Resolved,
    *,
    as_of: date,
    output_dir: str,
    team_ids: Collection[str] | None = None,
    project_ids: Collection[str] | None = None,
    customer_ids: Collection[str] | None = None,
    source: str = "",
) -> ReportResult:
    """Report 2: workload.csv, workload_by_customer.csv, index.html, summary.json."""
    from pike_tasks import csv_output, transforms, views
    from pike_tasks.render import render_workload_html

    scope = {"team_ids": team_ids or None, "project_ids": project_ids or None, "customer_ids": customer_ids or None}
    by_member = transforms.workload_by_member(resolved.tasks, resolved.members, as_of, **scope)
    by_customer = transforms.workload_by_customer(resolved.tasks, as_of, **scope)
    folder = report_dir(output_dir, "workload", as_of)
    filters = _filters(team_ids, project_ids, customer_ids)
    totals = views.workload_totals(by_member, by_customer)
    csv_output.write_csv(by_member, csv_output.WORKLOAD_COLUMNS, folder / "workload.csv")
    csv_output.write_csv(by_customer, csv_output.WORKLOAD_BY_CUSTOMER_COLUMNS, folder / "workload_by_customer.csv")
    view = views.workload_view(
        by_member, by_customer, as_of=as_of, generated_at=_generated_at(), filters=filters, source=source,
    )
    write_text_atomic(folder / "index.html", render_workload_html(view))
    write_json(folder / "summary.json", _summary("workload", as_of, filters, totals, resolved.data_quality))
    get_run_logger().info("workload report: %d members, %d customers -> %s", len(by_member), len(by_customer), folder)
    top = by_member.head(TOP_ROWS)[["member", "status", "open", "billable", "billable_share", "overdue", "flag"]]
    return ReportResult(
        "workload", as_of, folder,
        [folder / "workload.csv", folder / "workload_by_customer.csv", folder / "index.html", folder / "summary.json"],
        totals, _records(top),
    )


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
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


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
