"""Which backend a location means: ``open_store`` (a folder or an fsspec URL), and ``StoreSpec``,
the picklable name of a store that is handed from the CLI to a flow and opened once there."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pike_tasks.store.base import _URL_LIKE, ReportStore, StoreError, redact_url
from pike_tasks.store.local import LocalStore
from pike_tasks.store.remote import REMOTE_SCHEMES, RemoteStore


@dataclass(frozen=True)
class StoreSpec:
    """A store by name: its location (a folder or a URL) and the setting that gave it (for errors).

    Plain and picklable: it crosses into a flow run (a parameter) or a worker; ``open`` makes the
    store object there, once.
    """

    location: str
    setting: str = "--out"

    def open(self) -> ReportStore:
        return open_store(self.location, self.setting)


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
