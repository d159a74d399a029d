"""Links to stored files: a public URL (``PIKE_REPORTS_PUBLIC_URL``), else a presigned one, and the
hrefs between the pages of one folder (``Links``: computed before the pages are built)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from pike_tasks.store.base import FolderRef, ReportStore, _check_name
from pike_tasks.store.home import HOME_PAGE
from pike_tasks.store.settings import public_url_of


def link(store: ReportStore, ref: FolderRef, name: str | None = None, anchor: str | None = None) -> str | None:
    """A URL a person can open for the folder (or one of its files), or None when there is none.

    ``PIKE_REPORTS_PUBLIC_URL`` maps the store root to https links; without it, object
    stores give presigned URLs (``PIKE_REPORTS_LINK_DAYS``, default 7); a local folder gives none.
    """
    public = public_url_of(store)
    path = store._link_folder(ref) + "/" + (name or "index.html")
    url = public + "/" + quote(path) if public else store._signed_url(path)
    if url and anchor:
        url += "#" + quote(anchor)
    return url


def page_link(store: ReportStore, ref: FolderRef, name: str, anchor: str | None = None) -> str:
    """The href from one page of ``ref``'s folder to its file ``name`` (e.g. a team page).

    Relative (``name#anchor``): it works from disk, behind ``PIKE_REPORTS_PUBLIC_URL`` and in
    any copy of the folder. Except where links are presigned: each object then needs its own
    signature (a relative link from a presigned page is refused), so it is that object's
    presigned URL. Signing needs no object to exist, so links can be made before publishing.
    """
    _check_name(name)
    return _page_base(store, ref, name) + ("#" + quote(anchor) if anchor else "")


def home_href(store: ReportStore, ref: FolderRef) -> str | None:
    """The href from a page of ``ref``'s folder to the store's home (``<store>/index.html``).

    Relative (``../../index.html``; from an object store's run folder ``../../../../index.html``),
    so it works from disk, behind ``PIKE_REPORTS_PUBLIC_URL`` and in a bucket served over HTTP.
    None where links are presigned: the home links its reports relatively, and a presigned page
    can follow no relative link.
    """
    if not public_url_of(store) and store._signed_url(HOME_PAGE) is not None:
        return None
    depth = len([part for part in store._draft_folder(ref).split("/") if part])
    return "../" * depth + HOME_PAGE


def _page_base(store: ReportStore, ref: FolderRef, name: str) -> str:
    signed = None if public_url_of(store) else store._signed_url(store._draft_folder(ref) + "/" + name)
    return signed or quote(name)


@dataclass(frozen=True)
class Links:
    """The hrefs between the pages of one report folder, made before the pages are built: a plain
    value (file name -> href without anchor) that a view calls as ``links(name, anchor)``."""

    hrefs: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, name: str, anchor: str | None = None) -> str:
        return self.hrefs[name] + ("#" + quote(anchor) if anchor else "")

    @classmethod
    def of(cls, store: ReportStore, ref: FolderRef, names: Iterable[str]) -> Links:
        """The hrefs of ``names`` in ``ref``'s folder (``page_link`` without an anchor)."""
        hrefs = {}
        for name in names:
            _check_name(name)
            hrefs[name] = _page_base(store, ref, name)
        return cls(hrefs)
