"""The store's vocabulary: what a folder is (``FolderRef``, ``Scope``), its one error, and the
interface every backend provides (``ReportStore``, a Protocol)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

# Re-exported (`X as X`): part of this module's API, imported from here by the other store modules.
from pike_tasks.errors import _URL_LIKE as _URL_LIKE
from pike_tasks.errors import StoreError as StoreError
from pike_tasks.errors import redact_url as redact_url

if TYPE_CHECKING:
    from pike_tasks.config.settings import StoreSettings

MARKER = ".complete"
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


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


class RetentionIncomplete(StoreError):
    """Retention removed what it could; ``removed`` lists those days, the message the first failure."""

    def __init__(self, message: str, removed: list[date]) -> None:
        super().__init__(message)
        self.removed = removed



def describe_error(exc: BaseException) -> str:
    """One line for a storage error: its kind and first line, no traceback, no user or password of a URL."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _USERINFO.sub(r"\1***@", text)
    kinds: dict[type[BaseException], str] = {FileNotFoundError: "not found", PermissionError: "permission denied"}
    kind = kinds.get(type(exc))
    name = kind or type(exc).__name__
    return f"{name}: {text[:200]}" if text else name



def _check_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith(".") or name in (".", ".."):
        raise ValueError(f"not a plain file name: {name!r}")



class ReportStore(Protocol):
    """The operations every backend provides (see the package docstring).

    ``prune``, ``link`` and ``page_link`` are shared by every backend (``StoreOps``); a backend
    supplies the rest.
    """

    location: str
    setting: str
    # False once check_writable found that the store refuses deletes: retention is then off (one
    # warning, by the caller); None: not probed, so retention tries and reports what fails
    can_delete: bool | None
    # the settings it was opened with (links, retention, deadline), or None: read when needed
    settings: StoreSettings | None

    # ---- report folders ------------------------------------------------------------------
    def publish(self, ref: FolderRef, files: Mapping[str, bytes]) -> str:
        """Publish ``files`` as the whole folder ``ref`` (replacing what was there); returns its location."""
        ...

    def completed_dates(self, report: str, scope: Scope) -> list[date]:
        """The as_of dates of the complete folders of ``report`` in ``scope``, oldest first."""
        ...

    def read(self, ref: FolderRef, name: str) -> bytes | None:
        """A file of a complete folder, or None (folder incomplete or missing, or no such file)."""
        ...

    def folder_location(self, ref: FolderRef) -> str:
        """Where the folder is, for people: an absolute path or the store URL."""
        ...

    def list_files(self, ref: FolderRef) -> list[str]:
        """File names of a complete folder (no marker, no hidden files)."""
        ...

    def complete_folder(self, key: str) -> tuple[str, str, bool] | None:
        """The report folder at ``key`` (``<scope><report>/<as_of>``) if complete, else None: the key of the
        folder its files are in, what changes when it is published again, and whether its files never
        change (an object store's run folder). For the store's home (``pike_tasks.store.home``)."""
        ...

    def files_at(self, location: str) -> list[str]:
        """File names in a folder given by its location (what ``publish`` returned), for people."""
        ...

    # ---- records (the once-only ledger's; its layout is pike_tasks.once's alone) -----------
    def create_record(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist; True if this call created it."""
        ...

    def read_record(self, key: str) -> bytes | None: ...

    def put_record(self, key: str, data: bytes) -> None: ...

    def delete_record(self, key: str) -> None: ...

    def list_records(self, prefix: str) -> list[str]:
        """The keys directly in the folder ``prefix`` (``a/b/``), sorted: records, and sub-folders
        with a trailing ``/`` (as S3 lists common prefixes); [] when none. Hidden names are left out.

        Literal: no character of ``prefix`` is a pattern (fsspec's glob treats ``[ ? *`` specially).
        """
        ...

    def list_folders(self, prefix: str) -> list[str]:
        """The names of the sub-folders directly in the folder ``prefix``, sorted (literal, like
        ``list_records``; a symlinked folder is listed, so that ``remove_prefix`` can unlink it)."""
        ...

    def remove_prefix(self, prefix: str) -> None:
        """Remove every record under the folder ``prefix`` (literal; a symlinked folder as the link)."""
        ...

    # ---- retention -----------------------------------------------------------------------
    def folder_dates(self, report: str, scope: Scope) -> list[date]:
        """The as_of dates of every folder of ``report`` in ``scope``, complete or not, oldest first."""
        ...

    def remove_folder(self, ref: FolderRef) -> None:
        """Remove a report folder: its marker first (from then on readers skip it), then the rest."""
        ...

    def prune(self, report: str, scope: Scope, as_of: date, keep_days: int, *, keep_newest: int,
              today: date | None = None) -> list[date]:
        """Retention of one report's folders (``pike_tasks.store.retention.prune``)."""
        ...

    # ---- checks and links ----------------------------------------------------------------
    def check_writable(self) -> None:
        """Prove the store can be written, leaving nothing behind, so a bad store fails before any
        API call (one line); sets ``can_delete``."""
        ...

    def link(self, ref: FolderRef, name: str | None = None, anchor: str | None = None) -> str | None:
        """A URL a person can open for the folder or one of its files (``pike_tasks.store.links.link``)."""
        ...

    def page_link(self, ref: FolderRef, name: str, anchor: str | None = None) -> str:
        """The href from one page of ``ref``'s folder to another (``pike_tasks.store.links.page_link``)."""
        ...

    def _signed_url(self, path: str) -> str | None:
        """A presigned URL of the object at the store key ``path``; None where the store cannot sign."""
        ...

    def _link_folder(self, ref: FolderRef) -> str:
        """The store key of the folder the links of ``ref`` point into."""
        ...

    def _draft_folder(self, ref: FolderRef) -> str:
        """The key of the folder the next ``publish`` of ``ref`` writes."""
        ...
