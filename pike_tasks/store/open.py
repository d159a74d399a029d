"""Which backend a location means: ``open_store`` (a folder or an fsspec URL), and ``StoreSpec``,
the picklable name of a store that is handed from the CLI to a flow and opened once there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from pike_tasks.config.settings import ENV_REPORTS_STORE, StoreSettings, reports_store
from pike_tasks.store.base import _URL_LIKE, ReportStore, StoreError, redact_url
from pike_tasks.store.local import LocalStore
from pike_tasks.store.remote import REMOTE_SCHEMES, RemoteStore


@dataclass(frozen=True)
class StoreSpec:
    """A store by name: its location (a folder or a URL) and the setting that gave it (for errors).

    Plain and picklable: the CLI checks the store once (``check``) and hands the checked spec to
    the flow as its ``output_dir``; the flow opens it there once (``open``), without a second
    probe: ``checked`` and ``can_delete`` carry what the check found.
    """

    location: str
    setting: str = "--out"
    checked: bool = False  # check_writable passed
    can_delete: bool | None = None  # what check_writable found; None: not probed
    settings: StoreSettings | None = None  # the store settings loaded once (None: read when needed)

    @classmethod
    def from_cli(cls, out: str | None, env: Mapping[str, str] | None = None, *,
                 settings: StoreSettings | None = None) -> StoreSpec:
        """The store of a command line: ``--out``; without it ``PIKE_REPORTS_STORE`` if set, else ./out
        (errors name which); ``settings`` go with it."""
        named = settings.store if settings else reports_store(env)
        if out is not None:
            return cls(out, "--out", settings=settings)
        return cls(named, ENV_REPORTS_STORE, settings=settings) if named else cls("out", "--out", settings=settings)

    def open(self) -> ReportStore:
        """The store; a checked spec's knows what its check found about deletes."""
        store = open_store(self.location, self.setting, self.settings)
        if self.checked:
            store.can_delete = self.can_delete
        return store

    def check(self) -> tuple[ReportStore, StoreSpec]:
        """Open the store and prove it writable (one line if not); returns it and the checked spec,
        whose location is the store's own (an absolute folder, or the URL)."""
        store = open_store(self.location, self.setting, self.settings)
        store.check_writable()
        return store, replace(self, location=store.location, checked=True, can_delete=store.can_delete)


def open_store(location: str | os.PathLike[str], setting: str = "--out",
               settings: StoreSettings | None = None) -> ReportStore:
    """The store at ``location`` (a local folder or an fsspec URL), with ``settings`` (None: each
    setting is read from the environment when needed).

    Raises:
        StoreError: a URL whose scheme we cannot handle, or whose backend is not installed.
    """
    text = os.fspath(location).strip()
    if not text:
        raise StoreError(f"{setting} is empty: give a folder or a URL such as s3://bucket/prefix.")
    if text.startswith("file://"):
        return LocalStore(Path(urlsplit(text).path), setting, settings)
    if not _URL_LIKE.match(text):
        return LocalStore(Path(text), setting, settings)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in REMOTE_SCHEMES:
        known = ", ".join(sorted({"file", *REMOTE_SCHEMES} - {"memory"}))
        raise StoreError(f"{setting} {redact_url(text)[:120]!r}: unknown store scheme {scheme!r} (known: {known}).")
    return RemoteStore(text, scheme, setting, settings)
