"""Retention: which folders of a report go once they are older than ``keep_days`` (the newest few
complete ones never), removed one at a time so one failure never stops the rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from pike_tasks.store.base import FolderRef, ReportStore, RetentionIncomplete, Scope, StoreError


def retention_cutoff(as_of: date, keep_days: int, today: date | None = None) -> date | None:
    """The oldest date kept: ``as_of - keep_days``, counted from tomorrow at the latest; None keeps all."""
    if keep_days <= 0:
        return None
    latest = (today or date.today()) + timedelta(days=1)
    return min(as_of, latest) - timedelta(days=keep_days)


def prune(store: ReportStore, report: str, scope: Scope, as_of: date, keep_days: int, *, keep_newest: int,
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
    if cutoff is None or store.can_delete is False:
        return []
    complete = store.completed_dates(report, scope)
    protected = set(complete[-keep_newest:] if keep_newest > 0 else [])
    protected |= set([d for d in complete if d <= as_of][-keep_newest:] if keep_newest > 0 else [])
    floor = min(protected, default=cutoff)
    done = set(complete)
    doomed = [day for day in store.folder_dates(report, scope)
              if not (day >= cutoff or day in protected or (day not in done and day >= floor))]
    return remove_each(doomed, lambda day: store.remove_folder(FolderRef(report, day, scope)),
                       f"{scope.prefix}{report} folders")


def remove_each(days: list[date], remove: Callable[[date], None], what: str) -> list[date]:
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
