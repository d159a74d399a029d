"""The report store: every report folder, the once-only email record and the next run's baseline.

Everything that is written or read back goes through this module (STYLE.md, "Storage behind one
small interface"); code above it never builds paths by hand. A store is addressed by what the
user gives as ``--out`` / ``output_dir``:

- a local folder (``out``, ``/srv/reports``, ``file:///srv/reports``), or
- an fsspec URL: ``s3://bucket/prefix`` (s3fs; endpoint, region and credentials from the standard
  AWS variables and chain, so MinIO, Ceph, R2 and moto work unchanged), ``gs://`` (gcsfs) and
  ``az://`` / ``abfs://`` (adlfs) by the same code path, and ``memory://`` for tests.

Layout (``<scope>`` is empty for the whole workspace, ``filtered/<slug>/`` for a filtered run, so
a team-filtered run never overwrites the whole-workspace report of the same date)::

    <store>/<scope><report>/<as_of>/...            one report folder, published whole
    <store>/_ledger/<kind>/<as_of>/<source>/...    once-only records of sent email

Prefixes are literal: nothing here globs (fsspec's ``glob`` reads ``[``, ``?``, ``*`` as
patterns); a URL whose prefix has an empty, ``.`` or ``..`` segment is refused.

Retention (``PIKE_REPORTS_KEEP_DAYS``, default 90, 0 keeps everything): the run that publishes
a folder removes the folders of the same report and scope older than ``as_of - keep_days``
(``prune``), and a digest run the ledger days older than that (``prune_ledger``), but never
the newest few complete folders the change view reads (its baseline and trend). A folder is
removed marker first, so a reader never takes a half-removed folder for a complete one; one
that cannot be removed is skipped (``RetentionIncomplete``), a symlink removed as a link.

Publishing a folder whole or not at all:

- local: the files are written (and fsynced) into a hidden staging folder beside the target,
  with a ``.complete`` marker; then the old folder is renamed aside and the staging folder
  renamed into place, and the old one removed. A reader sees the old complete folder or the new
  one, never a mix (between the two renames the folder is briefly absent; a crash there is
  repaired by the next publish or read, which puts the old folder back).
- object stores (no rename): every file is written into the run's own folder
  ``<folder>/runs/<run id>/``, then the ``.complete`` pointer (JSON: run id and files) is
  written last: that write is the commit. Readers and links follow the pointer, so a kill at
  any step leaves the previous complete report, and of two racing publishes the last pointer
  wins whole. Earlier run folders stay (links handed out stay valid) until retention removes
  the date. A marker without a run id is the old layout (files in the folder itself), still read.
  Every store request is cut at ``PIKE_API_REQUEST_DEADLINE`` (default 60 s).

Once-only records use create-only writes: ``O_CREAT | O_EXCL`` locally, a conditional put
(``If-None-Match: *``) on S3, so two workers racing for one key cannot both win.

``check_writable`` leaves nothing behind but an object store's ``_store.json`` (written once,
create-only); a store that refuses deletes gets ``can_delete`` False: retention off, one warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from pike_tasks.errors import PikeError
from pike_tasks.settings import DEFAULT_REQUEST_DEADLINE, ENV_REQUEST_DEADLINE

MARKER = ".complete"
# The store a run uses when neither output_dir nor --out names one; what a deployment's worker sets
# (flows.common.choose_store: in a deployment it must be a URL or an absolute, shared folder).
ENV_REPORTS_STORE = "PIKE_REPORTS_STORE"
ENV_PUBLIC_URL = "PIKE_REPORTS_PUBLIC_URL"
ENV_LINK_DAYS = "PIKE_REPORTS_LINK_DAYS"
DEFAULT_LINK_DAYS = 7  # the SigV4 maximum for presigned URLs
ENV_KEEP_DAYS = "PIKE_REPORTS_KEEP_DAYS"
DEFAULT_KEEP_DAYS = 90
MAX_KEEP_DAYS = 36500  # a century; more overflows the date arithmetic of retention
RUNS = "runs"  # object stores: <folder>/runs/<run id>/ holds each publish's files
STORE_INFO = "_store.json"  # object stores: written once, create-only; later runs' 412 proves write access
DELETE_PROBE = "_store.delete-probe"  # never written: deleting it tells whether the store allows deletes
MIN_UPLOAD_RATE = 256 * 1024  # bytes per second a store write may be as slow as, past the deadline
STALE_STAGING_SECONDS = 3600  # a staging folder this old belongs to a run that died

# scheme -> the package that implements it (named in the error when it is missing)
REMOTE_SCHEMES = {
    "s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs",
    "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs", "memory": "fsspec",
}
_BUCKET_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
_T = TypeVar("_T")
_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


class StoreError(PikeError):
    """The report store cannot be read or written (one line, naming the setting)."""

    retryable = False


@dataclass(frozen=True)
class Scope:
    """What a run reports on: the whole workspace, or only some teams, projects or customers."""

    teams: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        team_ids: Iterable[str] | None = None,
        project_ids: Iterable[str] | None = None,
        customer_ids: Iterable[str] | None = None,
    ) -> Scope:
        def norm(ids: Iterable[str] | None) -> tuple[str, ...]:
            return tuple(sorted({str(i) for i in ids or () if str(i)}))

        return cls(norm(team_ids), norm(project_ids), norm(customer_ids))

    @property
    def is_whole(self) -> bool:
        return not (self.teams or self.projects or self.customers)

    def filters(self) -> dict[str, list[str]]:
        """The filters as summary.json shows them (only those given)."""
        given = {"teams": self.teams, "projects": self.projects, "customers": self.customers}
        return {key: list(ids) for key, ids in given.items() if ids}

    @property
    def prefix(self) -> str:
        """``""`` for the whole workspace, else ``filtered/<slug>/``: injective, readable, path-safe."""
        if self.is_whole:
            return ""
        canonical = json.dumps(self.filters(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
        parts = []
        for kind, ids in self.filters().items():
            first = re.sub(r"[^A-Za-z0-9]", "", ids[0])[:8] or "id"
            parts.append(f"{kind}-{first}" + (f"-and-{len(ids) - 1}" if len(ids) > 1 else ""))
        return f"filtered/{'-'.join(parts)}-{digest}/"


@dataclass(frozen=True)
class FolderRef:
    """One report folder: (report, as_of, scope)."""

    report: str
    as_of: date
    scope: Scope = Scope()

    @property
    def key(self) -> str:
        return f"{self.scope.prefix}{self.report}/{self.as_of.isoformat()}"


def open_store(location: str | os.PathLike[str], setting: str = "--out") -> ReportStore:
    """The store at ``location`` (a local folder or an fsspec URL).

    Raises:
        StoreError: a URL whose scheme we cannot handle, or whose backend is not installed.
    """
    text = os.fspath(location).strip()
    if not text:
        raise StoreError(f"{setting} is empty: give a folder or a URL such as s3://bucket/prefix.")
    if text.startswith("file://"):
        return LocalStore(Path(urlsplit(text).path), setting)
    if not _URL_LIKE.match(text):
        return LocalStore(Path(text), setting)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in REMOTE_SCHEMES:
        known = ", ".join(sorted({"file", *REMOTE_SCHEMES} - {"memory"}))
        raise StoreError(f"{setting} {redact_url(text)[:120]!r}: unknown store scheme {scheme!r} (known: {known}).")
    return RemoteStore(text, scheme, setting)


def redact_url(text: str) -> str:
    """``text`` fit to show: a URL's user and password, query and fragment replaced by ``***``.

    ``sftp://u:pw@h/x?token=t`` -> ``sftp://***@h/x?***``. Text that is no URL is returned as is.
    """
    if not _URL_LIKE.match(text):
        return text
    scheme, rest = text.split("://", 1)
    authority, sep, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    for mark in ("?", "#"):
        if mark in authority:
            authority = authority.split(mark, 1)[0] + mark + "***"
            sep = path = ""
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=-1)
    if cut >= 0:
        path = path[:cut + 1] + "***"
    return f"{scheme}://{authority}{sep}{path}"


class ReportStore:
    """The operations every backend provides (see the module docstring)."""

    location: str
    setting: str
    # False once check_writable found that the store refuses deletes: retention is then off (one
    # warning, by the caller); None: not probed, so retention tries and reports what fails
    can_delete: bool | None = None

    # ---- report folders ------------------------------------------------------------------
    def publish(self, ref: FolderRef, files: Mapping[str, bytes]) -> str:
        """Publish ``files`` as the whole folder ``ref`` (replacing what was there); returns its location."""
        raise NotImplementedError

    def completed_dates(self, report: str, scope: Scope) -> list[date]:
        """The as_of dates of the complete folders of ``report`` in ``scope``, oldest first."""
        raise NotImplementedError

    def read(self, ref: FolderRef, name: str) -> bytes | None:
        """A file of a complete folder, or None (folder incomplete or missing, or no such file)."""
        raise NotImplementedError

    def folder_location(self, ref: FolderRef) -> str:
        """Where the folder is, for people: an absolute path or the store URL."""
        raise NotImplementedError

    def list_files(self, ref: FolderRef) -> list[str]:
        """File names of a complete folder (no marker, no hidden files)."""
        raise NotImplementedError

    def files_at(self, location: str) -> list[str]:
        """File names in a folder given by its location (what ``publish`` returned), for people."""
        raise NotImplementedError

    # ---- once-only records ---------------------------------------------------------------
    def create_record(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist; True if this call created it."""
        raise NotImplementedError

    def read_record(self, key: str) -> bytes | None:
        raise NotImplementedError

    def put_record(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def delete_record(self, key: str) -> None:
        raise NotImplementedError

    def list_records(self, prefix: str) -> list[str]:
        """The keys directly in the folder ``prefix`` (``a/b/``), sorted: records, and sub-folders
        with a trailing ``/`` (as S3 lists common prefixes); [] when none. Hidden names are left out.

        Literal: no character of ``prefix`` is a pattern (fsspec's glob treats ``[ ? *`` specially).
        """
        raise NotImplementedError

    # ---- retention -----------------------------------------------------------------------
    def folder_dates(self, report: str, scope: Scope) -> list[date]:
        """The as_of dates of every folder of ``report`` in ``scope``, complete or not, oldest first."""
        raise NotImplementedError

    def remove_folder(self, ref: FolderRef) -> None:
        """Remove a report folder: its marker first (from then on readers skip it), then the rest."""
        raise NotImplementedError

    def ledger_dates(self, kind: str) -> list[date]:
        """The days that have once-only records of ``kind``, oldest first."""
        raise NotImplementedError

    def remove_ledger_day(self, kind: str, day: date) -> None:
        """Remove the once-only records of ``kind`` for ``day`` (every source)."""
        raise NotImplementedError

    def prune(self, report: str, scope: Scope, as_of: date, keep_days: int, *, keep_newest: int,
              today: date | None = None) -> list[date]:
        """Remove the folders of ``report`` in ``scope`` older than ``as_of - keep_days``; returns their dates.

        Always kept, whatever ``keep_days``: the ``keep_newest`` newest complete folders, and the
        ``keep_newest`` newest up to ``as_of`` (the baseline and trend of the next run and of a
        re-run of this one). A folder without its marker is removed only when it is older than
        all of those (a newer one may be a publish under way). ``keep_days`` 0 removes nothing.
        The cutoff counts from ``as_of`` or tomorrow, whichever is earlier, so a mistyped future
        as_of cannot sweep the store.
        """
        cutoff = retention_cutoff(as_of, keep_days, today)
        if cutoff is None or self.can_delete is False:
            return []
        complete = self.completed_dates(report, scope)
        protected = set(complete[-keep_newest:] if keep_newest > 0 else [])
        protected |= set([d for d in complete if d <= as_of][-keep_newest:] if keep_newest > 0 else [])
        floor = min(protected, default=cutoff)
        done = set(complete)
        doomed = [day for day in self.folder_dates(report, scope)
                  if not (day >= cutoff or day in protected or (day not in done and day >= floor))]
        return self._remove_each(doomed, lambda day: self.remove_folder(FolderRef(report, day, scope)),
                                 f"{scope.prefix}{report} folders")

    def prune_ledger(self, kind: str, as_of: date, keep_days: int, *, today: date | None = None) -> list[date]:
        """Remove the once-only records of ``kind`` for days older than ``as_of - keep_days``."""
        cutoff = retention_cutoff(as_of, keep_days, today)
        if cutoff is None or self.can_delete is False:
            return []
        doomed = [day for day in self.ledger_dates(kind) if day < cutoff]
        return self._remove_each(doomed, lambda day: self.remove_ledger_day(kind, day), f"{kind} ledger days")

    @staticmethod
    def _remove_each(days: list[date], remove: Callable[[date], None], what: str) -> list[date]:
        """Remove each day; one that fails is skipped (the next run tries it again), never the rest.

        Raises:
            RetentionIncomplete: some could not be removed; ``removed`` lists those that were.
        """
        removed, failed = [], []
        for day in days:
            try:
                remove(day)
            except StoreError as exc:
                failed.append(str(exc))
                continue
            removed.append(day)
        if failed:
            raise RetentionIncomplete(f"{len(failed)} of {len(days)} old {what} not removed (the next run tries "
                                      f"again): {failed[0]}", removed)
        return removed

    # ---- checks and links ----------------------------------------------------------------
    def check_writable(self) -> None:
        """Prove the store can be written, leaving nothing behind, so a bad store fails before any
        API call (one line); sets ``can_delete``."""
        raise NotImplementedError

    def link(self, ref: FolderRef, name: str | None = None, anchor: str | None = None) -> str | None:
        """A URL a person can open for the folder (or one of its files), or None when there is none.

        ``PIKE_REPORTS_PUBLIC_URL`` maps the store root to https links; without it, object
        stores give presigned URLs (``PIKE_REPORTS_LINK_DAYS``, default 7); a local folder gives none.
        """
        public = public_base_url()
        path = self._link_folder(ref) + "/" + (name or "index.html")
        url = public + "/" + quote(path) if public else self._signed_url(path)
        if url and anchor:
            url += "#" + quote(anchor)
        return url

    def page_link(self, ref: FolderRef, name: str, anchor: str | None = None) -> str:
        """The href from one page of ``ref``'s folder to its file ``name`` (e.g. a team page).

        Relative (``name#anchor``): it works from disk, behind ``PIKE_REPORTS_PUBLIC_URL`` and in
        any copy of the folder. Except where links are presigned: each object then needs its own
        signature (a relative link from a presigned page is refused), so it is that object's
        presigned URL. Signing needs no object to exist, so links can be made before publishing.
        """
        _check_name(name)
        signed = None if public_base_url() else self._signed_url(self._draft_folder(ref) + "/" + name)
        return (signed or quote(name)) + ("#" + quote(anchor) if anchor else "")

    def _signed_url(self, path: str) -> str | None:
        return None

    def _link_folder(self, ref: FolderRef) -> str:
        """The store key of the folder the links of ``ref`` point into (the folder itself here)."""
        return ref.key

    def _draft_folder(self, ref: FolderRef) -> str:
        """The key of the folder the next ``publish`` of ``ref`` writes (the folder itself here)."""
        return ref.key


class RetentionIncomplete(StoreError):
    """Retention removed what it could; ``removed`` lists those days, the message the first failure."""

    def __init__(self, message: str, removed: list[date]) -> None:
        super().__init__(message)
        self.removed = removed


def public_base_url() -> str | None:
    """``PIKE_REPORTS_PUBLIC_URL`` without trailing slashes, after checking it.

    Raises:
        StoreError: not http(s) with a host, or with credentials, a query or a fragment (each would
            end up in every link: a secret in every digest, a broken path); one line.
    """
    raw = os.environ.get(ENV_PUBLIC_URL, "").strip().rstrip("/")
    if not raw:
        return None
    example = "such as https://reports.example.com/pike"
    try:
        parts = urlsplit(raw)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - a malformed port raises ValueError here
    except ValueError:
        ok = False
    if not ok:
        raise StoreError(f"{ENV_PUBLIC_URL} must be an http(s) URL {example}, not {redact_url(raw)[:120]!r}.")
    wrong = [what for what, present in (("a user or password", "@" in parts.netloc), ("a query (?...)", "?" in raw),
                                        ("a fragment (#...)", "#" in raw)) if present]
    if wrong:
        raise StoreError(f"{ENV_PUBLIC_URL} must not carry {' or '.join(wrong)}: every link of every report and digest "
                         f"is made from it; give the plain base URL {example} ({redact_url(raw)[:120]!r}).")
    return raw


def keep_days_setting() -> int:
    """``PIKE_REPORTS_KEEP_DAYS``: days of reports the store keeps (default 90; 0 keeps everything).

    Raises:
        StoreError: not a whole number of days from 0 to ``MAX_KEEP_DAYS`` (one line naming the variable).
    """
    raw = os.environ.get(ENV_KEEP_DAYS, "").strip()
    if not raw:
        return DEFAULT_KEEP_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_KEEP_DAYS:
        raise StoreError(f"{ENV_KEEP_DAYS} must be a whole number of days from 0 (keep every report) to "
                         f"{MAX_KEEP_DAYS}, not {raw[:40]!r}.")
    return days


def retention_cutoff(as_of: date, keep_days: int, today: date | None = None) -> date | None:
    """The oldest date kept: ``as_of - keep_days``, counted from tomorrow at the latest; None keeps all."""
    if keep_days <= 0:
        return None
    latest = (today or date.today()) + timedelta(days=1)
    return min(as_of, latest) - timedelta(days=keep_days)


def link_lifetime_seconds() -> int:
    """``PIKE_REPORTS_LINK_DAYS``: how long a presigned link works (more than 0, at most 7 days; default 7)."""
    raw = os.environ.get(ENV_LINK_DAYS, "").strip()
    if not raw:
        return DEFAULT_LINK_DAYS * 86400
    try:
        days = float(raw)
    except ValueError:
        days = -1
    if not (0 < days <= DEFAULT_LINK_DAYS and days * 86400 >= 1):
        raise StoreError(f"{ENV_LINK_DAYS} must be a number of days more than 0 and at most 7 (the presigned-URL "
                         f"maximum), not {raw[:40]!r}.")
    return int(days * 86400)


def store_deadline_seconds() -> float:
    """Seconds one store request may take in all: ``PIKE_API_REQUEST_DEADLINE`` (default 60), as for the API."""
    raw = os.environ.get(ENV_REQUEST_DEADLINE, "").strip()
    if not raw:
        return DEFAULT_REQUEST_DEADLINE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise StoreError(f"{ENV_REQUEST_DEADLINE} must be a positive number of seconds, not {raw[:40]!r}.")
    return seconds


def check_store_settings() -> None:
    """Every store setting read later (keep days, link days, public URL, deadline): one line, before any API call.

    Raises:
        StoreError: the first bad setting, named.
    """
    keep_days_setting()
    link_lifetime_seconds()
    public_base_url()
    store_deadline_seconds()


def describe_error(exc: BaseException) -> str:
    """One line for a storage error: its kind and first line, no traceback, no user or password of a URL."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _USERINFO.sub(r"\1***@", text)
    kinds: dict[type[BaseException], str] = {FileNotFoundError: "not found", PermissionError: "permission denied"}
    kind = kinds.get(type(exc))
    name = kind or type(exc).__name__
    return f"{name}: {text[:200]}" if text else name


# ------------------------------------------------------------------------------------------
# local folders
# ------------------------------------------------------------------------------------------
class LocalStore(ReportStore):
    def __init__(self, root: Path, setting: str = "--out") -> None:
        self.root = root.expanduser().resolve()
        self.location = str(self.root)
        self.setting = setting

    def __repr__(self) -> str:
        return f"LocalStore({self.location!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def folder_location(self, ref: FolderRef) -> str:
        return str(self._path(ref.key))

    def publish(self, ref: FolderRef, files: Mapping[str, bytes]) -> str:
        final = self._path(ref.key)
        parent = final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._repair(parent, final.name)
            stage = Path(tempfile.mkdtemp(prefix=f".staging-{final.name}-", dir=parent))
            try:
                os.chmod(stage, 0o777 & ~_umask())
                for name, data in files.items():
                    _check_name(name)
                    _write_synced(stage / name, data)
                _write_synced(stage / MARKER, _marker(files))
                _fsync_dir(stage)
                self._swap(stage, final)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
            _fsync_dir(parent)
        except OSError as exc:
            raise StoreError(f"could not publish {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None
        return str(final)

    def _swap(self, stage: Path, final: Path) -> None:
        """Rename the old folder aside and the staging folder into place (retried if a peer races us)."""
        for _ in range(20):
            old = None
            if final.exists():
                old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
                try:
                    os.rename(final, old)
                except FileNotFoundError:  # a concurrent publisher moved it first
                    old = None
            try:
                os.rename(stage, final)
            except OSError:  # a concurrent publisher put its folder in place between our renames
                if old is not None and not final.exists():
                    os.rename(old, final)
                time.sleep(0.05)
                continue
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return
        raise OSError(f"could not replace {final.name}: another run keeps publishing it")

    def _repair(self, parent: Path, name: str | None = None) -> None:
        """Undo what a killed publisher left: put a lone old folder back, drop stale staging folders."""
        try:
            entries = list(parent.iterdir())
        except FileNotFoundError:
            return
        now = time.time()
        for entry in entries:
            if entry.name.startswith(".old-"):
                target_name = entry.name[len(".old-"):].rsplit("-", 1)[0]
                if name is not None and target_name != name:
                    continue
                target = parent / target_name
                if not target.exists() and (entry / MARKER).exists():
                    try:
                        os.rename(entry, target)
                        continue
                    except OSError:
                        pass
                if target.exists() and now - _mtime(entry) > 60:
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(".staging-") and now - _mtime(entry) > STALE_STAGING_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)

    def completed_dates(self, report: str, scope: Scope) -> list[date]:
        base = self._path(f"{scope.prefix}{report}")
        self._repair(base)
        try:
            names = [p.name for p in base.iterdir() if _DATE_NAME.match(p.name) and (p / MARKER).is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(date.fromisoformat(n) for n in names)

    def read(self, ref: FolderRef, name: str) -> bytes | None:
        folder = self._path(ref.key)
        if not (folder / MARKER).is_file():
            self._repair(folder.parent, folder.name)
            if not (folder / MARKER).is_file():
                return None
        try:
            return (folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def list_files(self, ref: FolderRef) -> list[str]:
        folder = self._path(ref.key)
        if not (folder / MARKER).is_file():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def files_at(self, location: str) -> list[str]:
        try:
            return sorted(p.name for p in Path(location).iterdir() if p.is_file() and not p.name.startswith("."))
        except OSError:
            return []

    def folder_dates(self, report: str, scope: Scope) -> list[date]:
        return _local_dates(self._path(f"{scope.prefix}{report}"))

    def remove_folder(self, ref: FolderRef) -> None:
        folder = self._path(ref.key)
        if _unlink_if_symlink(folder, ref.key, self):
            return
        try:
            (folder / MARKER).unlink(missing_ok=True)
            _fsync_dir(folder)
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass  # another run removed it first
        except OSError as exc:
            raise StoreError(f"could not remove {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None

    def ledger_dates(self, kind: str) -> list[date]:
        return _local_dates(self._path(f"_ledger/{kind}"))

    def remove_ledger_day(self, kind: str, day: date) -> None:
        if _unlink_if_symlink(self._path(f"_ledger/{kind}/{day.isoformat()}"), f"_ledger/{kind}/{day}", self):
            return
        try:
            shutil.rmtree(self._path(f"_ledger/{kind}/{day.isoformat()}"))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"could not remove _ledger/{kind}/{day.isoformat()} in {self.setting} "
                             f"{self.location}: {describe_error(exc)}") from None

    def create_record(self, key: str, data: bytes) -> bool:
        # written whole beside the target, then linked into place: link fails if the target exists
        # (create-only), and a reader never sees a half-written record (a full disk leaves no empty one)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        _write_synced(tmp, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links (some SMB mounts): create-only in place
            return _create_exclusive(path, data)
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def read_record(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put_record(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        _write_synced(tmp, data)
        os.replace(tmp, path)

    def delete_record(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_records(self, prefix: str) -> list[str]:
        base = prefix if prefix.endswith("/") else f"{prefix}/"
        try:
            with os.scandir(self._path(prefix)) as entries:
                names = [e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries
                         if not e.name.startswith(".")
                         and (e.is_file(follow_symlinks=False) or e.is_dir(follow_symlinks=False))]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [f"{base}{name}" for name in sorted(names)]

    def check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.setting} {self.location}: cannot create the folder: {describe_error(exc)}"
            ) from None
        if not self.root.is_dir():
            raise StoreError(f"{self.setting} {self.location} is not a folder.")
        try:  # a hidden file, created and removed at once: nothing is left behind
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StoreError(f"{self.setting} {self.location} is not writable: {describe_error(exc)}") from None
        self.can_delete = True


def _unlink_if_symlink(path: Path, key: str, store: LocalStore) -> bool:
    """Retention removes a symlinked folder as the link it is, never what it points to."""
    if not path.is_symlink():
        return False
    try:
        path.unlink()
    except OSError as exc:
        raise StoreError(f"could not remove the link {key} in {store.setting} {store.location}: "
                         f"{describe_error(exc)}") from None
    return True


def _local_dates(base: Path) -> list[date]:
    try:
        return sorted(date.fromisoformat(p.name) for p in base.iterdir() if _DATE_NAME.match(p.name) and p.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _check_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith(".") or name in (".", ".."):
        raise ValueError(f"not a plain file name: {name!r}")


def _create_exclusive(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _marker(files: Mapping[str, bytes]) -> bytes:
    """The completion marker: which files make the folder (no time, so nothing varies by run)."""
    return (json.dumps({"files": sorted(files)}, sort_keys=True) + "\n").encode()


# ------------------------------------------------------------------------------------------
# object stores through fsspec
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pointer:
    """What an object-store folder's ``.complete`` names: the run folder (None: the files lie in the
    folder itself, the layout before run folders) and, with a run, its files."""

    run: str | None
    files: tuple[str, ...] = ()


def _pointer_bytes(run: str, files: Mapping[str, bytes]) -> bytes:
    return (json.dumps({"files": sorted(files), "run": run}, sort_keys=True) + "\n").encode()


def _parse_pointer(raw: bytes) -> Pointer | None:
    """The pointer in ``raw``; a marker without a run is the old layout; a bad run id is no pointer."""
    try:
        data = json.loads(raw)
    except ValueError:
        return Pointer(None)  # an old marker we cannot parse still marks the old folder complete
    if not isinstance(data, dict) or data.get("run") is None:
        return Pointer(None)
    run, files = data.get("run"), data.get("files")
    if not isinstance(run, str) or not _RUN_ID.match(run) or not isinstance(files, list):
        return None
    return Pointer(run, tuple(sorted(f for f in files if isinstance(f, str) and _plain_name(f))))


def _plain_name(name: str) -> bool:
    try:
        _check_name(name)
    except ValueError:
        return False
    return True


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------------------
# object stores through fsspec
# ------------------------------------------------------------------------------------------
class RemoteStore(ReportStore):
    """An fsspec store. A publish writes its own run folder, then the pointer (see the module docstring)."""

    def __init__(self, url: str, scheme: str, setting: str = "--out") -> None:
        self.scheme = scheme
        self.setting = setting
        rest = _remote_rest(url, scheme, setting)
        self.location = f"{scheme}://{rest}"
        self.deadline = store_deadline_seconds()
        self._drafts: dict[FolderRef, str] = {}  # run ids handed to links before their publish
        self._runs: dict[FolderRef, str] = {}  # run ids this store published, or read from a pointer for links
        try:
            import fsspec

            self.fs, self.base = fsspec.core.url_to_fs(self.location, **_fs_options(scheme, self.deadline))
        except ImportError as exc:
            package = REMOTE_SCHEMES[scheme]
            raise StoreError(
                f"{setting} {self.location}: the {scheme}:// store needs the {package} package "
                f"(pip install 'pike-reports[{_extra(scheme)}]'): {describe_error(exc)}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - a malformed URL or backend option
            raise StoreError(f"{setting} {self.location}: {describe_error(exc)}") from None
        self.base = self.base.rstrip("/")
        from fsspec.asyn import AsyncFileSystem

        self._bounded = isinstance(self.fs, AsyncFileSystem)

    def __repr__(self) -> str:
        return f"RemoteStore({self.location!r})"

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}" if self.base else key

    def _io(self, fn: Callable[..., _T], *args: Any, size: int = 0, **kwargs: Any) -> _T:
        """``fn(*args)`` within the deadline: an async backend's call is abandoned past it (TimeoutError).

        A write of ``size`` bytes gets a second more per ``MIN_UPLOAD_RATE`` bytes, so a large page
        on a slow link is not cut where a frozen store is.
        """
        if not self._bounded:
            return fn(*args, **kwargs)
        seconds = self.deadline + size / MIN_UPLOAD_RATE
        try:
            return fn(*args, timeout=seconds, **kwargs)
        except TimeoutError:  # fsspec's FSTimeoutError; botocore's own timeouts are ConnectionErrors
            raise TimeoutError(f"no answer within {seconds:g} s ({ENV_REQUEST_DEADLINE})") from None

    def _call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return self._io(fn, *args, **kwargs)
        except (FileNotFoundError, FileExistsError):
            raise
        except Exception as exc:  # noqa: BLE001 - network, credentials, permissions: one line
            raise StoreError(f"{what} in {self.setting} {self.location} failed: {describe_error(exc)}") from None

    # ---- the pointer and the run folders ------------------------------------------------
    def _pointer(self, ref: FolderRef) -> Pointer | None:
        """The folder's pointer, or None when it has none (incomplete or missing)."""
        try:
            raw: bytes = self._call("reading", self.fs.cat_file, f"{self._path(ref.key)}/{MARKER}")
        except FileNotFoundError:
            return None
        return _parse_pointer(raw)

    def _folder_of(self, ref: FolderRef, pointer: Pointer) -> str:
        key = f"{ref.key}/{RUNS}/{pointer.run}" if pointer.run else ref.key
        return self._path(key)

    def _draft_folder(self, ref: FolderRef) -> str:
        run = self._drafts.setdefault(ref, _new_run_id())
        return f"{ref.key}/{RUNS}/{run}"

    def _link_folder(self, ref: FolderRef) -> str:
        """A draft of this store's (links made for the publish under way), else what it published,
        else what the pointer names: a run folder, which no later publish changes."""
        run = self._drafts.get(ref) or self._runs.get(ref)
        if run is None:
            pointer = self._pointer(ref)
            run = pointer.run if pointer else None
            if run:  # a run folder never changes: one read per folder, however many links
                self._runs[ref] = run
        return f"{ref.key}/{RUNS}/{run}" if run else ref.key

    def folder_location(self, ref: FolderRef) -> str:
        return f"{self.location}/{self._link_folder(ref)}"

    def publish(self, ref: FolderRef, files: Mapping[str, bytes]) -> str:
        """Write the files into a run folder of their own, then the pointer: that write is the commit.

        A failure or kill before the pointer leaves the previous complete report as it was (and
        an unnamed run folder, removed with the date by retention); racing publishes each write
        their own run folder and the last pointer wins whole. Earlier run folders stay, so links
        handed out keep working.
        """
        for name in files:
            _check_name(name)
        run = self._drafts.pop(ref, None) or _new_run_id()
        folder = self._path(f"{ref.key}/{RUNS}/{run}")
        try:
            for name, data in files.items():
                self._io(self.fs.pipe_file, f"{folder}/{name}", data, size=len(data))
            self._io(self.fs.pipe_file, f"{self._path(ref.key)}/{MARKER}", _pointer_bytes(run, files))
        except Exception as exc:  # noqa: BLE001 - any backend error becomes one StoreError line
            raise StoreError(f"could not publish {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)} (not published; the previous report, if any, stays)") from None
        finally:
            self.fs.invalidate_cache()
        self._runs[ref] = run
        return f"{self.location}/{ref.key}/{RUNS}/{run}"

    def _names(self, folder: str) -> set[str]:
        try:
            entries = self._io(self.fs.ls, folder, detail=True, refresh=True)
        except FileNotFoundError:
            return set()
        return {e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") != "directory"} - {MARKER}

    def completed_dates(self, report: str, scope: Scope) -> list[date]:
        return [day for day in self.folder_dates(report, scope)
                if self._pointer(FolderRef(report, day, scope)) is not None]

    def read(self, ref: FolderRef, name: str) -> bytes | None:
        pointer = self._pointer(ref)
        if pointer is None:
            return None
        try:
            data: bytes = self._call("reading", self.fs.cat_file, f"{self._folder_of(ref, pointer)}/{name}")
            return data
        except FileNotFoundError:
            return None

    def list_files(self, ref: FolderRef) -> list[str]:
        pointer = self._pointer(ref)
        if pointer is None:
            return []
        if pointer.run:
            return list(pointer.files)
        return sorted(n for n in self._names(self._path(ref.key)) if not n.startswith("."))

    def files_at(self, location: str) -> list[str]:
        path = location.split("://", 1)[-1]
        return sorted(n for n in self._names(path) if not n.startswith("."))

    # ---- retention: literal listings, one object at a time (no glob anywhere) ------------
    def folder_dates(self, report: str, scope: Scope) -> list[date]:
        return self._dates(self._path(f"{scope.prefix}{report}"))

    def remove_folder(self, ref: FolderRef) -> None:
        folder = self._path(ref.key)
        try:
            self._io(self.fs.rm_file, f"{folder}/{MARKER}")  # from here on readers treat the folder as incomplete
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - any backend error becomes one StoreError line
            raise StoreError(f"could not remove {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None
        self._remove_tree(folder, ref.key)

    def ledger_dates(self, kind: str) -> list[date]:
        return self._dates(self._path(f"_ledger/{kind}"))

    def remove_ledger_day(self, kind: str, day: date) -> None:
        key = f"_ledger/{kind}/{day.isoformat()}"
        self._remove_tree(self._path(key), key)

    def _dates(self, base: str) -> list[date]:
        self.fs.invalidate_cache()
        try:
            entries = self._call("listing reports", self.fs.ls, base, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        names = {e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"}
        return sorted(date.fromisoformat(n) for n in names if _DATE_NAME.match(n))

    def _remove_tree(self, path: str, key: str) -> None:
        """Every object under ``path/``, found by a literal listing and removed one by one."""
        try:
            found = self._io(self.fs.find, path, refresh=True)
            for item in found:
                if item.startswith(path + "/"):
                    with contextlib.suppress(FileNotFoundError):
                        self._io(self.fs.rm_file, item)
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - any backend error becomes one StoreError line
            raise StoreError(f"could not remove {key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None
        finally:
            self.fs.invalidate_cache()

    # ---- once-only records ---------------------------------------------------------------
    def create_record(self, key: str, data: bytes) -> bool:
        try:
            self._call("writing a record", self.fs.pipe_file, self._path(key), data, mode="create")
        except FileExistsError:
            return False
        except TypeError:  # an fsspec backend without create-only writes
            raise StoreError(
                f"{self.setting} {self.location}: this store cannot write create-only objects, which the "
                "once-only email record needs (S3 and S3-compatible stores can)."
            ) from None
        return True

    def read_record(self, key: str) -> bytes | None:
        try:
            record: bytes = self._call("reading a record", self.fs.cat_file, self._path(key))
            return record
        except FileNotFoundError:
            return None

    def put_record(self, key: str, data: bytes) -> None:
        self._call("writing a record", self.fs.pipe_file, self._path(key), data)

    def delete_record(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call("deleting a record", self.fs.rm_file, self._path(key))

    def list_records(self, prefix: str) -> list[str]:
        base = prefix if prefix.endswith("/") else f"{prefix}/"
        try:  # ls is literal (never a glob); refresh: another worker may have written since
            entries = self._call("listing records", self.fs.ls, self._path(base.rstrip("/")), detail=True, refresh=True)
        except FileNotFoundError:
            return []
        names = {str(e["name"]).rstrip("/").rsplit("/", 1)[-1] + ("/" if e.get("type") == "directory" else "")
                 for e in entries}
        return [f"{base}{name}" for name in sorted(names) if name.strip("/") and not name.startswith(".")]

    # ---- checks and links ----------------------------------------------------------------
    def check_writable(self) -> None:
        """Probe writes and deletes, leaving nothing behind; any failure is one line naming the cause.

        Writes: a create-only put of ``_store.json``, which stays; on later runs its 412 (the
        object exists) proves write access as well, since a store checks access first. Deletes:
        deleting ``_store.delete-probe``, which never exists (allowed: 204; refused: 403, and
        ``can_delete`` is False: retention is off, the caller warns once). No separate bucket
        lookup first: s3fs's ``exists(bucket)`` answers False for missing credentials and an
        unreachable endpoint alike, which read as "bucket does not exist".
        """
        info = (json.dumps({"store": "pike-reports", "layout": "run folders and a .complete pointer"}) + "\n").encode()
        try:
            with contextlib.suppress(FileExistsError):
                self._io(self.fs.pipe_file, self._path(STORE_INFO), info, mode="create")
            self.can_delete = self._may_delete()
        except TypeError:  # an fsspec backend without create-only writes
            raise StoreError(
                f"{self.setting} {self.location}: this store cannot write create-only objects, which the "
                "once-only email record needs (S3 and S3-compatible stores can)."
            ) from None
        except Exception as exc:  # noqa: BLE001 - every backend error becomes one line naming the setting
            raise StoreError(f"{self.setting} {self.location}: {self._explain(exc)}") from None
        finally:
            self.fs.invalidate_cache()

    def _may_delete(self) -> bool:
        try:
            self._io(self.fs.rm_file, self._path(DELETE_PROBE))
        except FileNotFoundError:  # stores that say so for a missing object (S3 answers 204)
            return True
        except PermissionError:
            return False
        return True

    def _explain(self, exc: BaseException) -> str:
        """Why the store cannot be written, with the setting to change where we know it."""
        bucket = self.base.split("/", 1)[0]
        name = type(exc).__name__
        if isinstance(exc, FileNotFoundError) and self.scheme in _BUCKET_SCHEMES:
            return f"bucket {bucket!r} does not exist (or is not visible with these credentials)."
        if isinstance(exc, PermissionError):
            return f"not writable: {describe_error(exc)} (check what these credentials may write)."
        aws = self.scheme in ("s3", "s3a")
        if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
            hint = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the worker a role"
                    if aws else "configure this store's credentials")
            return f"no {'AWS ' if aws else ''}credentials found ({describe_error(exc)}): {hint}."
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "ReadTimeoutError") or (
            isinstance(exc, (ConnectionError, TimeoutError))
        ):
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") if aws else None
            where = f" at {redact_url(endpoint)} (AWS_ENDPOINT_URL)" if endpoint else ""
            return f"cannot reach the store{where}: {describe_error(exc)}"
        return f"not writable: {describe_error(exc)}"

    def _signed_url(self, path: str) -> str | None:
        sign = getattr(self.fs, "sign", None)
        if sign is None:
            return None
        try:
            url: str = sign(self._path(path), expiration=link_lifetime_seconds())
            return url
        except NotImplementedError:
            return None
        except StoreError:
            raise
        except Exception:  # noqa: BLE001 - a store that cannot sign just gives no link
            return None


def _remote_rest(url: str, scheme: str, setting: str) -> str:
    """The bucket and prefix of ``url``, checked: a bucket, no credentials, no empty or dot segment.

    Every other character is literal (``[1]``, ``?``, ``*`` are parts of key names, never patterns).
    """
    rest = url.split("://", 1)[1].strip("/")
    if scheme != "memory" and not rest:
        raise StoreError(f"{setting} {redact_url(url)[:120]!r}: name a bucket, e.g. {scheme}://my-bucket/pike.")
    if "@" in rest.split("/", 1)[0]:
        raise StoreError(f"{setting}: the store URL must not carry credentials; use the standard "
                         "environment variables or credential chain of the store instead.")
    if any(part in ("", ".", "..") for part in rest.split("/")) and rest:
        raise StoreError(f"{setting} {redact_url(url)[:120]!r}: the prefix has an empty, '.' or '..' segment "
                         "('//', '/./', '/../'); object keys would not match what you typed: remove it.")
    return rest


def _fs_options(scheme: str, deadline: float) -> dict[str, Any]:
    """fsspec options. S3: SigV4 for every request and, above all, for presigned links (left unset,
    botocore presigns in us-east-1 with the legacy SigV2 query form, which S3 refuses for newer
    buckets and regions and which ignores the 7-day bound of PIKE_REPORTS_LINK_DAYS); and socket
    timeouts and retries within the deadline (botocore's defaults took 428 s on a frozen endpoint)."""
    if scheme not in ("s3", "s3a"):
        return {}
    seconds = max(1.0, min(deadline, 60.0))
    return {"config_kwargs": {"signature_version": "s3v4", "connect_timeout": seconds, "read_timeout": seconds,
                              "retries": {"max_attempts": 2, "mode": "standard"}}}


def _extra(scheme: str) -> str:
    return {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}.get(REMOTE_SCHEMES[scheme], "s3")


