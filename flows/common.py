"""Small helpers shared by the flows (run names, settings that every report reads)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic.json_schema import SkipJsonSchema

from pike_tasks import phases
from pike_tasks.config import load_settings
from pike_tasks.config.settings import reports_store
from pike_tasks.errors import PikeConfigError, PikeError
from pike_tasks.store import ENV_REPORTS_STORE, ReportStore, StoreSpec, redact_url
from pike_tasks.teams_config import TeamsConfig
from pike_tasks.teams_store import load_teams_config

# Flow parameter type for the teams config: a path to YAML/JSON, inline JSON, or a mapping.
TeamsConfigParam = str | dict[str, Any] | None

# Flow parameter type for as_of: a date, or None for "today in the config's timezone".
# SkipJsonSchema keeps None out of the form's schema only (None is still accepted): with
# `date | None` the Prefect UI draws a "date | None" switch set to None ('Property is type
# "None"'); with a plain `format: date` string it draws a date picker, and leaving it empty
# leaves as_of out of the run's parameters (the UI drops a null or cleared string field).
AsOfParam = date | SkipJsonSchema[None]

# Flow parameter type for output_dir: the report store, or None for PIKE_REPORTS_STORE. A plain
# text field in the UI form (SkipJsonSchema, as for as_of); left empty, the run uses the store the
# worker names in PIKE_REPORTS_STORE. `pike-reports run` passes the StoreSpec it checked.
OutputDirParam = str | SkipJsonSchema[StoreSpec] | SkipJsonSchema[None]

# Outside a deployment (a flow called directly, `make demo`, tests) with neither output_dir nor
# PIKE_REPORTS_STORE: ./out, as `pike-reports run --out` defaults to.
LOCAL_DEFAULT_STORE = "out"

_NEEDS_SHARED_STORE = "a deployment run needs a report store that every worker reaches"
_WHAT_TO_SET = (f"set {ENV_REPORTS_STORE} in the worker's environment (the work pool's job variables env) or the "
                "output_dir parameter to a URL such as s3://bucket/prefix or a folder every worker shares (an absolute "
                "path); see docs/deployments.md")

logger = logging.getLogger(__name__)


def run_name(report: str) -> Callable[[], str]:
    """Flow run names like ``overdue-2026-04-09``: the date the run reports on.

    A run left to the default as_of is named by today in its teams config's timezone, the date
    :func:`settings_for` will give it (every scheduled run used to be ``overdue-today``).
    """

    def _name() -> str:
        from prefect.runtime import flow_run

        parameters = flow_run.parameters
        return f"{report}-{parameters.get('as_of') or _default_as_of(parameters.get('teams_config'))}"

    return _name


def _default_as_of(teams_config: TeamsConfigParam) -> date:
    try:
        return load_teams_config(teams_config).default_as_of()
    except PikeError:  # the flow itself fails on this config, in one line; the name must not
        return TeamsConfig().default_as_of()


@contextmanager
def logged_phases() -> Iterator[None]:
    """Time the run's phases (``pike_tasks.phases``) and log them in one line when the run's work is done:
    ``phases: fetch ... s, join ... s, ...; peak RSS (MiB) by the end of: ...`` (benchmarks/big.py reads it)."""
    with phases.collecting() as timing:
        yield
    _run_logger().info("%s", timing.line())


def settings_for(as_of: date | None, teams_config: TeamsConfigParam) -> tuple[date, TeamsConfig]:
    """The teams config, and as_of defaulted to today in the config's timezone."""
    config = load_teams_config(teams_config)
    return (as_of or config.default_as_of()), config


@dataclass(frozen=True)
class StoreChoice:
    """Where a run's report store is, and which setting named it (for one-line errors)."""

    location: str
    setting: str  # "output_dir", "PIKE_REPORTS_STORE", or "the default" (./out outside a deployment)
    worker_local: bool = False  # an absolute local folder in a deployment: it must be a shared mount


def choose_store(output_dir: str | None, *, in_deployment: bool,
                 env: Mapping[str, str] | None = None) -> StoreChoice:
    """The report store of a run: ``output_dir`` if given, else ``PIKE_REPORTS_STORE``, else ./out.

    In a deployment (a run a worker started) the store must be one that every worker and reader
    reaches, because the reports, the next run's baseline and the once-only email ledger live in
    it: a URL (s3://, gs://, az://, ...) or an absolute folder (a shared mount; ``worker_local``
    is set so the run can say it must be shared). A relative folder (each worker's checkout
    would get its own ledger, and two workers could email the same manager), ``memory://`` (one
    process only), or no store at all is refused. Outside a deployment nothing changes: a
    relative folder is fine, and with no setting the store is ./out.

    Raises:
        PikeConfigError: in a deployment, one line saying what to set.
    """
    named = reports_store(env)
    if output_dir is not None and output_dir.strip():
        location, setting = output_dir.strip(), "output_dir"
    elif named:
        location, setting = named, ENV_REPORTS_STORE
    elif in_deployment:
        raise PikeConfigError(f"{_NEEDS_SHARED_STORE}, and none is set: {_WHAT_TO_SET}")
    else:
        return StoreChoice(LOCAL_DEFAULT_STORE, "the default")
    if not in_deployment:
        return StoreChoice(location, setting)
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    shown = redact_url(location)[:120]
    if scheme == "memory":
        raise PikeConfigError(f"{_NEEDS_SHARED_STORE}, but {setting} {shown!r} is an in-memory store "
                              f"that only this run's process sees: {_WHAT_TO_SET}")
    if scheme not in ("", "file"):
        return StoreChoice(location, setting)
    path = urlsplit(location).path if scheme == "file" else location
    if not Path(path).expanduser().is_absolute():
        raise PikeConfigError(f"{_NEEDS_SHARED_STORE}, but {setting} {shown!r} is a folder relative to "
                              "this worker (each worker would keep its own reports and once-only email record): "
                              f"{_WHAT_TO_SET}")
    return StoreChoice(location, setting, worker_local=True)


def in_deployment_run() -> bool:
    """Whether the current flow run was started from a deployment (by a worker)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    flow_run = context.flow_run if context is not None else None
    return flow_run is not None and flow_run.deployment_id is not None


def open_report_store(output_dir: str | StoreSpec | None) -> ReportStore:
    """The run's report store, opened once here and handed down as an object.

    A ``StoreSpec`` that ``pike-reports run`` checked is opened as it is (no second probe). Else
    the store is ``choose_store``'s, checked writable before any API call (one line if not), with
    the store settings (``PIKE_REPORTS_KEEP_DAYS``, ``PIKE_REPORTS_LINK_DAYS``,
    ``PIKE_REPORTS_PUBLIC_URL``, the deadline), so a bad value fails before any API call. A store
    that refuses deletes costs one warning: retention is off.
    """
    if isinstance(output_dir, StoreSpec) and output_dir.checked:
        store = output_dir.open()
        _warn_no_deletes(store)
        return store
    settings = load_settings(api=False)  # every environment setting (the API's: when the flow resolves them)
    if isinstance(output_dir, StoreSpec):
        output_dir = output_dir.location
    choice = choose_store(output_dir, in_deployment=in_deployment_run())
    spec = StoreSpec(choice.location, "output_dir" if choice.setting == "the default" else choice.setting,
                     settings=settings.store)
    store, _ = spec.check()
    if choice.worker_local:
        _run_logger().warning(
            "report store %s is a folder on this machine: every worker must see the same folder (a shared "
            "mount), or reports and the once-only email record split between workers", store.location)
    _warn_no_deletes(store)
    return store


def _warn_no_deletes(store: ReportStore) -> None:
    if store.can_delete is False:
        _run_logger().warning(
            "report store %s refuses deletes: retention (PIKE_REPORTS_KEEP_DAYS) is off for this run; reports "
            "are published as usual (allow DeleteObject to turn it on)", store.location)


def _run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a run context: the module's logger
        return logger
