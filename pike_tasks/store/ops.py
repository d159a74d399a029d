"""What every backend shares, as a mixin over the ``ReportStore`` Protocol: retention and links are
functions of ``retention`` and ``links``; these methods hand the store to them."""

from __future__ import annotations

from datetime import date

from pike_tasks.store import links, retention
from pike_tasks.store.base import FolderRef, ReportStore, Scope
from pike_tasks.store.settings import StoreSettings


class StoreOps:
    """``prune``, ``link``, ``page_link`` for a backend; its folders are where the links point
    unless it says otherwise (``_link_folder``, ``_draft_folder``), and it signs nothing."""

    can_delete: bool | None = None
    settings: StoreSettings | None = None  # what it was opened with; None: each setting read when needed

    def prune(self: ReportStore, report: str, scope: Scope, as_of: date, keep_days: int, *, keep_newest: int,
              today: date | None = None) -> list[date]:
        return retention.prune(self, report, scope, as_of, keep_days, keep_newest=keep_newest, today=today)

    def link(self: ReportStore, ref: FolderRef, name: str | None = None, anchor: str | None = None) -> str | None:
        return links.link(self, ref, name, anchor)

    def page_link(self: ReportStore, ref: FolderRef, name: str, anchor: str | None = None) -> str:
        return links.page_link(self, ref, name, anchor)

    def _signed_url(self, path: str) -> str | None:
        return None

    def _link_folder(self, ref: FolderRef) -> str:
        return ref.key

    def _draft_folder(self, ref: FolderRef) -> str:
        return ref.key
