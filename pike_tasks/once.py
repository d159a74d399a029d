"""Once-only delivery: the record of how far each digest's send got, kept in the report store.

Identity of a record: (workspace, report day, scope, channel, recipient). Layout (this module is
the only place that knows it)::

    _ledger/workspaces/<workspace>.json                                  the team ids the name serves
    _ledger/<kind>/<as_of>/<workspace>/<scope>/<channel>/<recipient>/claim.<n>   claim generations
    _ledger/<kind>/<as_of>/<workspace>/<scope>/log/<time>-<run>.json     one delivery log per run

- ``workspace``: a name (``workspace:`` in the teams config and/or ``PIKE_REPORTS_WORKSPACE``;
  ``default`` when neither is given), never the API URL's spelling or the secret, so a rotated
  secret or ``HTTP://`` vs ``http://localhost`` is the same workspace. A name is bound to the team
  ids of the teams config that first used it (``workspaces/<name>.json``): a later run whose
  config shares no team id with it is refused before any API call (Pike team ids are unique per
  workspace). ``--sandbox`` runs and the demo always use ``sandbox``.
- ``scope``: ``whole``, or the slug of a filtered run (``Scope.prefix``): a team-filtered digest
  never uses up the whole-workspace one, nor the reverse.
- ``channel``: ``email``, ``slack`` or ``teams`` (``pike_tasks.delivery``); the recipient (an
  address, a Slack user id or ``<channel>:<team id>``, a Teams team id): a readable prefix plus a
  hash of it exactly, casefolded (``o'brien@`` and ``o_brien@`` never share a record).

Every day's records live under ``_ledger/<kind>/<as_of>/``, so retention removes whole days.

Protocol for one send (create-only writes only; no delete, no compare-and-swap):

1. The latest claim generation says where the recipient stands: ``sent`` (done), ``failed`` (the
   server did not take it: a later run may send), ``claimed`` / ``connected`` with a live lease
   (a run is sending), ``handed-over`` (the message's end was on its way: ``unknown`` once the
   lease lapsed, never resent automatically).
2. A run claims by creating generation ``n+1`` create-only (``O_EXCL`` + link locally,
   ``If-None-Match: *`` on S3): of two runs racing, one wins. That is also how a claim whose run
   died before handing the message over is taken over, once its lease has lapsed.
3. The owner renews its lease (``PIKE_REPORTS_CLAIM_LEASE_SECONDS``, default 60 s, renewed every
   third of it) while it works, and writes each stage: ``connected``, then ``handed-over`` just
   before the message's final ``CRLF.CRLF`` goes out, after checking that no newer generation
   exists (else it stops without finishing the message). A dead run's claim lapses at most one
   lease after its last renewal: within 60 s of the death with the default.
4. An empty or unreadable claim counts as "not handed over"; its age is the record's own
   modification time, so a claim being written right now is never taken.
5. ``resend`` (``--resend-to``, ``--force``) creates the next generation whatever the last says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pike_tasks.config import settings as _config
from pike_tasks.errors import PikeConfigError
from pike_tasks.store import ReportStore, Scope
from pike_tasks.store.retention import remove_each, retention_cutoff

# parsed in pike_tasks.config.settings, the one home of the environment; the names stay this module's
DEFAULT_LEASE_SECONDS = _config.DEFAULT_LEASE_SECONDS
ENV_LEASE = _config.ENV_LEASE
ENV_SANDBOX_RUN = _config.ENV_SANDBOX_RUN
ENV_WORKSPACE = _config.ENV_WORKSPACE
MAX_LEASE_SECONDS = _config.MAX_LEASE_SECONDS
MIN_LEASE_SECONDS = _config.MIN_LEASE_SECONDS
SANDBOX_WORKSPACE = _config.SANDBOX_WORKSPACE
check_workspace_name = _config.check_workspace_name
env_workspace = _config.env_workspace
lease_seconds = _config.lease_seconds
sandbox_run = _config.sandbox_run

logger = logging.getLogger(__name__)

CHANNEL_EMAIL = "email"
MANAGER_DIGEST = "manager"  # the ledger kind of the manager digests
DEFAULT_WORKSPACE = "default"
_DAY_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# stages of a claim, in order; sent and failed are settled
CLAIMED, CONNECTED, HANDED_OVER, SENT, FAILED = "claimed", "connected", "handed-over", "sent", "failed"


# ---- retention: whole days of records -----------------------------------------------------------
def _day_prefix(kind: str, day: date | None = None) -> str:
    return f"_ledger/{kind}/" + (f"{day.isoformat()}/" if day else "")


def ledger_dates(store: ReportStore, kind: str) -> list[date]:
    """The days that have once-only records of ``kind``, oldest first."""
    return sorted(date.fromisoformat(n) for n in store.list_folders(_day_prefix(kind)) if _DAY_NAME.match(n))


def remove_ledger_day(store: ReportStore, kind: str, day: date) -> None:
    """Remove the once-only records of ``kind`` for ``day`` (every workspace and scope)."""
    store.remove_prefix(_day_prefix(kind, day))


def prune_ledger_days(store: ReportStore, kind: str, as_of: date, keep_days: int, *,
                      today: date | None = None) -> list[date]:
    """Remove the once-only records of ``kind`` for days older than ``as_of - keep_days``; returns those days.

    Raises:
        RetentionIncomplete: some days could not be removed; ``removed`` lists those that were.
    """
    cutoff = retention_cutoff(as_of, keep_days, today)
    if cutoff is None or store.can_delete is False:
        return []
    doomed = [day for day in ledger_dates(store, kind) if day < cutoff]
    return remove_each(doomed, lambda day: remove_ledger_day(store, kind, day), f"{kind} ledger days")


# ---- the workspace ----------------------------------------------------------------------------
def workspace_name(configured: str | None, env: Mapping[str, str] | None = None) -> str:
    """The workspace part of the identity: ``sandbox`` in a sandbox run; else the teams config's
    ``workspace:`` and/or ``PIKE_REPORTS_WORKSPACE`` (both given: they must agree); else ``default``.

    Raises:
        PikeConfigError: a malformed name, or two different names (one line).
    """
    if sandbox_run(env):
        return SANDBOX_WORKSPACE
    named = env_workspace(env)
    if configured and named and configured != named:
        raise PikeConfigError(f"{ENV_WORKSPACE} {named!r} and the teams config's workspace {configured!r} differ: "
                              "set one, or make them the same (each name keeps its own delivery records)")
    return named or configured or DEFAULT_WORKSPACE


def bind_workspace(store: ReportStore, name: str, team_ids: list[str]) -> None:
    """Bind ``name`` to the teams config's team ids in the store (first use), or check it serves them.

    A name whose bound set shares no team id with ``team_ids`` belongs to another workspace: refused.
    An overlapping set is the same workspace (teams come and go): the bound set grows.

    Raises:
        PikeConfigError: the name already serves another workspace (one line).
    """
    if name == SANDBOX_WORKSPACE or not team_ids:
        return
    key = f"_ledger/workspaces/{name}.json"
    wanted = sorted(set(team_ids))
    if store.create_record(key, _dump({"workspace": name, "teams": wanted})):
        return
    bound = set((_load(store.read_record(key)) or {}).get("teams") or [])
    if bound and not bound & set(wanted):
        raise PikeConfigError(
            f"this store already serves another workspace under the name {name!r}: set {ENV_WORKSPACE} or "
            "workspace: in the teams config")
    if not set(wanted) <= bound:
        store.put_record(key, _dump({"workspace": name, "teams": sorted(bound | set(wanted))}))


def scope_slug(scope: Scope) -> str:
    """``whole``, or the slug of the filtered scope (the one its report folders use)."""
    return "whole" if scope.is_whole else scope.prefix.strip("/").split("/")[-1]


def recipient_key(address: str) -> str:
    """``<readable prefix>-<hash of the address, casefolded>``: injective and safe as a file name."""
    folded = address.strip().casefold()
    readable = re.sub(r"[^a-z0-9]+", "-", folded.split("@", 1)[0]).strip("-")[:24] or "x"
    return f"{readable}-{hashlib.sha256(folded.encode('utf-8')).hexdigest()[:20]}"


# ---- where a recipient stands ------------------------------------------------------------------
@dataclass(frozen=True)
class Standing:
    """The latest claim generation of one recipient, read once.

    ``status``: ``free`` (nothing yet, or the last try failed), ``sent``, ``unknown`` (handed over,
    no final reply, lease lapsed), ``in-progress`` (a live lease), ``lapsed`` (a dead run's claim,
    not handed over: the next claim takes it over).
    """

    status: str
    generation: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    unreadable: bool = False

    def describe(self) -> str:
        where = self.info.get("flow_run") or self.info.get("host") or "another run"
        stage = self.info.get("stage", "unreadable claim" if self.unreadable else "?")
        return f"claimed by {where} at {self.info.get('claimed_at', '?')} ({stage})"


class ClaimLost(Exception):
    """A newer generation exists: another run took this claim over; this one must not hand over."""


class DeliveryLedger:
    """The once-only records of one (kind, as_of, workspace, scope, channel) in a report store."""

    def __init__(self, store: ReportStore, kind: str, as_of: date, workspace: str, scope: Scope | str | None = None,
                 channel: str = CHANNEL_EMAIL, lease: float | None = None) -> None:
        self.store = store
        slug = scope if isinstance(scope, str) else scope_slug(scope or Scope())  # a str: a slug as listed
        self.day = f"_ledger/{kind}/{as_of.isoformat()}/{workspace}/{slug}/"
        self.prefix = f"{self.day}{channel}/"
        self.channel = channel
        self.lease = float(lease if lease is not None else lease_seconds())
        self._warned: set[str] = set()

    def _folder(self, recipient: str) -> str:
        return f"{self.prefix}{recipient_key(recipient)}/"

    def generations(self, recipient: str) -> list[int]:
        """The claim generations of ``recipient``, oldest first."""
        return _generations(self.store.list_records(self._folder(recipient)))

    def standing(self, recipient: str) -> Standing:
        """Where the recipient stands now (see :class:`Standing`)."""
        return self._standing_at(self._folder(recipient))

    def _standing_at(self, folder: str) -> Standing:
        numbers = _generations(self.store.list_records(folder))
        if not numbers:
            return Standing("free")
        key = f"{folder}claim.{numbers[-1]}"
        info = _load(self.store.read_record(key))
        if info is None or info.get("unreadable"):
            age = record_age_seconds(self.store, key)
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("claim %s is empty or unreadable (age %.0f s): taken as not handed over", key, age)
            status = "lapsed" if age > self.lease else "in-progress"
            return Standing(status, numbers[-1], {}, unreadable=True)
        return Standing(_status(info, self.lease), numbers[-1], info)

    def sent(self, recipient: str) -> dict[str, Any] | None:
        """The settled ``sent`` claim, or None."""
        standing = self.standing(recipient)
        return standing.info if standing.status == "sent" else None

    def claim(self, recipient: str, info: dict[str, Any], *, after: int) -> Claim | None:
        """Create generation ``after + 1`` (create-only); None when another run created it first."""
        claim = Claim(self, recipient, after + 1, {**info, "recipient": recipient, "channel": self.channel,
                                                      "generation": after + 1, "lease_seconds": self.lease})
        return claim if claim.create() else None

    def settle_sent(self, recipient: str, info: dict[str, Any]) -> None:
        """Record ``recipient`` as sent outright (a claim settled at once; tools and tests)."""
        claim = self.claim(recipient, info, after=(self.generations(recipient) or [0])[-1])
        if claim is not None:
            claim.settle(SENT)

    # ---- the delivery log -------------------------------------------------------------------
    def append_log(self, run: str, mode: str, entries: list[dict[str, Any]]) -> None:
        """Add this run's outcomes as its own create-only object (racing runs never erase each other's)."""
        now = datetime.now(UTC)
        key = f"{self.day}log/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}.json"
        lines = [{"run": run, "at": now.isoformat(timespec="microseconds"), "mode": mode, "channel": self.channel,
                  **entry} for entry in entries]
        self.store.create_record(key, _dump({"run": run, "mode": mode, "entries": lines}))

    def log_entries(self) -> list[dict[str, Any]]:
        """Every logged outcome of the day (every run), oldest first."""
        entries: list[dict[str, Any]] = []
        for key in self.store.list_records(f"{self.day}log/"):
            if key.endswith("/"):
                continue
            data = _load(self.store.read_record(key)) or {}
            entries.extend(e for e in data.get("entries") or [] if isinstance(e, dict))
        return sorted(entries, key=lambda e: str(e.get("at", "")))


    def recipients(self) -> list[Standing]:
        """The standing of every recipient with a record in this ledger (``info["recipient"]`` names them)."""
        return [self._standing_at(key) for key in self.store.list_records(self.prefix) if key.endswith("/")]


@dataclass(frozen=True)
class Delivery:
    """One line of ``pike-reports deliveries``: where one recipient stands in one scope and channel."""

    scope: str
    channel: str
    recipient: str
    status: str
    detail: str


def day_deliveries(store: ReportStore, kind: str, as_of: date, workspace: str,
                   managers: list[str] | None = None) -> list[Delivery]:
    """Every recipient's standing for the day, per scope and channel (read-only). ``managers`` (from
    the teams config) without a record in the whole-workspace email ledger are listed ``not tried``."""
    out: list[Delivery] = []
    for scope_key in store.list_records(f"_ledger/{kind}/{as_of.isoformat()}/{workspace}/"):
        if not scope_key.endswith("/"):
            continue
        scope = scope_key.rstrip("/").rsplit("/", 1)[-1]
        for channel_key in store.list_records(scope_key):
            channel = channel_key.rstrip("/").rsplit("/", 1)[-1]
            if not channel_key.endswith("/") or channel == "log":
                continue
            ledger = DeliveryLedger(store, kind, as_of, workspace, scope, channel)
            for standing in ledger.recipients():
                who = str(standing.info.get("recipient") or "(unreadable claim)")
                out.append(Delivery(scope, channel, who, *_explain(standing)))
    seen = {(d.scope, d.channel, d.recipient.casefold()) for d in out}
    for manager in managers or []:
        if ("whole", CHANNEL_EMAIL, manager.casefold()) not in seen:
            out.append(Delivery("whole", CHANNEL_EMAIL, manager, "not tried", "no record for this day"))
    return sorted(out, key=lambda d: (d.scope != "whole", d.scope, d.channel, d.recipient.casefold()))


def _explain(standing: Standing) -> tuple[str, str]:
    """(status, what it means) for people."""
    info = standing.info
    run = info.get("flow_run") or info.get("host") or "?"
    if standing.status == "sent":
        return "sent", f"at {info.get('settled_at', '?')} by {run}"
    if standing.status == "unknown":
        return "unknown", (f"handed over at {info.get('renewed_at', '?')} by {run}, no final reply: it may have "
                           "arrived; resend with --resend-to if it did not")
    if standing.status == "in-progress":
        stage = info.get("stage", "unreadable claim")
        return "in progress", f"{stage} by {run}, lease renewed {info.get('renewed_at', '?')}"
    if standing.status == "lapsed":
        return "lapsed", f"{info.get('stage', 'unreadable claim')} by {run}, which stopped: the next run sends it"
    return "failed", f"{info.get('reason', 'not taken by the server')}: the next run sends it"


# the outcomes that say what happened to a message; the others say what a run saw
SETTLED_OUTCOMES = ("sent", "unknown", "failed", "skipped-empty", "skipped-unchanged")


def latest_real_outcomes(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per recipient (casefolded), the latest outcome of a real send (not a dry run or preview): the
    latest settled one when there is one, else the latest observation (``already-sent`` ...)."""
    settled: dict[str, dict[str, Any]] = {}
    seen: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.get("mode") != "send":
            continue
        who = str(entry.get("recipient", "")).casefold()
        (settled if entry.get("status") in SETTLED_OUTCOMES else seen)[who] = entry
    return {**seen, **settled}


DELIVERY_COUNTED = ("sent", "failed", "unknown")  # what the store's home counts per day


def day_delivery_counts(store: ReportStore, kind: str, day: date, scope: str,
                        read: Callable[[str], bytes | None] | None = None) -> dict[str, int]:
    """How the day's digests of ``scope`` (``whole`` or a filtered slug) stand, from the delivery log of
    every workspace: per recipient and channel its latest real outcome, counted as ``sent``,
    ``failed``, ``unknown`` (and ``other``: skipped ones). {} when no digest was sent that day.

    ``read`` reads one log object (they are create-only, so a caller may keep what it read).
    """
    read = read or store.read_record
    entries: list[dict[str, Any]] = []
    for workspace in store.list_records(_day_prefix(kind, day)):
        if not workspace.endswith("/"):
            continue
        for key in store.list_records(f"{workspace}{scope}/log/"):
            if not key.endswith("/"):
                data = _load(read(key)) or {}
                entries.extend(e for e in data.get("entries") or [] if isinstance(e, dict))
    entries.sort(key=lambda e: str(e.get("at", "")))
    counts: dict[str, int] = {}
    for channel in sorted({str(e.get("channel", CHANNEL_EMAIL)) for e in entries}):
        mine = [e for e in entries if str(e.get("channel", CHANNEL_EMAIL)) == channel]
        for outcome in latest_real_outcomes(mine).values():
            status = "sent" if outcome.get("status") == "already-sent" else str(outcome.get("status"))
            name = status if status in DELIVERY_COUNTED else "other"
            counts[name] = counts.get(name, 0) + 1
    return counts


class Claim:
    """One generation this run created: its stages, its lease (renewed by a thread), its settlement."""

    def __init__(self, ledger: DeliveryLedger, recipient: str, generation: int, info: dict[str, Any]) -> None:
        self.ledger, self.recipient, self.generation = ledger, recipient, generation
        self.key = f"{ledger._folder(recipient)}claim.{generation}"
        now = _now()
        self.info = {**info, "claimed_at": now, "renewed_at": now, "stage": CLAIMED}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create(self) -> bool:
        return self.ledger.store.create_record(self.key, _dump(self.info))

    def _write(self, **changes: Any) -> None:
        with self._lock:
            self.info.update(changes, renewed_at=_now())
            self.ledger.store.put_record(self.key, _dump(self.info))

    def stage(self, name: str) -> None:
        """Record a stage; ``handed-over`` only while no newer generation exists (else ClaimLost)."""
        if name == HANDED_OVER and self.ledger.generations(self.recipient)[-1:] != [self.generation]:
            raise ClaimLost(f"the claim of {self.recipient} was taken over by another run")
        self._write(stage=name)

    def start_heartbeat(self) -> None:
        """Renew the lease every third of it until :meth:`settle` (a failed renewal is retried)."""
        def beat() -> None:
            while not self._stop.wait(self.ledger.lease / 3):
                with contextlib.suppress(Exception):  # the next beat tries again; the lease has room for two
                    self._write()

        self._thread = threading.Thread(target=beat, name=f"lease-{self.generation}", daemon=True)
        self._thread.start()

    def settle(self, outcome: str, **extra: Any) -> None:
        """Stop renewing; record ``sent`` or ``failed``, or keep ``handed-over`` marked unknown."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if outcome == "unknown":
            self._write(outcome="unknown", settled_at=_now(), **extra)
        else:
            self._write(stage=outcome, settled_at=_now(), **extra)


def _status(info: dict[str, Any], lease: float) -> str:
    stage = info.get("stage")
    if stage == SENT:
        return "sent"
    if stage == FAILED:
        return "free"
    live = _age_seconds(info.get("renewed_at") or info.get("claimed_at")) <= float(info.get("lease_seconds") or lease)
    if stage == HANDED_OVER:
        return "unknown" if info.get("outcome") == "unknown" or not live else "in-progress"
    return "in-progress" if live else "lapsed"


def _generations(keys: list[str]) -> list[int]:
    numbers = []
    for key in keys:
        if key.endswith("/"):
            continue
        name = key.rsplit("/", 1)[-1]
        if name.startswith("claim.") and name[6:].isdigit():
            numbers.append(int(name[6:]))
    return sorted(numbers)


def record_age_seconds(store: ReportStore, key: str) -> float:
    """Seconds since the record was last written, from the backend's own timestamp (local mtime,
    S3 LastModified); infinity when the backend gives none (then an unreadable claim is old)."""
    path = store._path(key)  # type: ignore[attr-defined]  # both backends map a key to a path
    try:
        if hasattr(store, "fs"):
            meta = store.fs.info(path)
            stamp = meta.get("LastModified") or meta.get("mtime") or meta.get("updated")
            if isinstance(stamp, datetime):
                return _age_seconds(stamp.isoformat())
            return time.time() - float(stamp) if isinstance(stamp, (int, float)) else float("inf")
        return time.time() - os.stat(path).st_mtime
    except Exception:  # noqa: BLE001 - gone or no timestamp: old
        return float("inf")


def claim_info(flow_run: str | None = None, run_id: str | None = None) -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "flow_run": flow_run, "run": run_id}


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_stamp(stamp: Any) -> datetime | None:
    """An ISO time; one without a timezone is UTC. None when it is not a time."""
    try:
        then = datetime.fromisoformat(str(stamp))
    except (TypeError, ValueError):
        return None
    return then if then.tzinfo is not None else then.replace(tzinfo=UTC)


def _age_seconds(stamp: Any) -> float:
    then = parse_stamp(stamp)
    return float("inf") if then is None else (datetime.now(UTC) - then).total_seconds()


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _load(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"unreadable": True}

