"""The report store: every report folder, the once-only email record and the next run's baseline.

Everything that is written or read back goes through this package (STYLE.md, "Storage behind one
small interface"); code above it never builds paths by hand. A store is addressed by what the
user gives as ``--out`` / ``output_dir``:

- a local folder (``out``, ``/srv/reports``, ``file:///srv/reports``), or
- an fsspec URL: ``s3://bucket/prefix`` (s3fs; endpoint, region and credentials from the standard
  AWS variables and chain, so MinIO, Ceph, R2 and moto work unchanged), ``gs://`` (gcsfs) and
  ``az://`` / ``abfs://`` (adlfs) by the same code path, and ``memory://`` for tests.

Layout (``<scope>`` is empty for the whole workspace, ``filtered/<slug>/`` for a filtered run, so
a team-filtered run never overwrites the whole-workspace report of the same date)::

    <store>/<scope><report>/<as_of>/...            one report folder, published whole
    <store>/_ledger/...                            once-only records (their layout: pike_tasks.once)
    <store>/index.html, <store>/<report>/latest.html   the store's home (``store.home``, ``pike_tasks.home``):
                                                   rewritten whole after each publish, never a date folder

Prefixes are literal: nothing here globs (fsspec's ``glob`` reads ``[``, ``?``, ``*`` as
patterns); a URL whose prefix has an empty, ``.`` or ``..`` segment is refused.

Retention (``PIKE_REPORTS_KEEP_DAYS``, default 90, 0 keeps everything): the run that publishes
a folder removes the folders of the same report and scope older than ``as_of - keep_days``
(``retention.prune``), and a digest run the ledger days older than that (``once.prune_ledger_days``),
but never
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


from pike_tasks.store.base import (
    MARKER,
    FolderRef,
    ReportStore,
    RetentionIncomplete,
    Scope,
    StoreError,
    describe_error,
    redact_url,
)
from pike_tasks.store.links import Links
from pike_tasks.store.local import LocalStore
from pike_tasks.store.open import StoreSpec, open_store
from pike_tasks.store.remote import REMOTE_SCHEMES, RemoteStore
from pike_tasks.store.retention import retention_cutoff
from pike_tasks.store.settings import (
    DEFAULT_KEEP_DAYS,
    DEFAULT_LINK_DAYS,
    ENV_KEEP_DAYS,
    ENV_LINK_DAYS,
    ENV_PUBLIC_URL,
    ENV_REPORTS_STORE,
    MAX_KEEP_DAYS,
    StoreSettings,
    check_store_settings,
    keep_days_setting,
    link_lifetime_seconds,
    load_store_settings,
    public_base_url,
    store_deadline_seconds,
)

__all__ = [
    "DEFAULT_KEEP_DAYS", "DEFAULT_LINK_DAYS", "ENV_KEEP_DAYS", "ENV_LINK_DAYS", "ENV_PUBLIC_URL", "ENV_REPORTS_STORE",
    "MARKER", "MAX_KEEP_DAYS", "REMOTE_SCHEMES", "FolderRef", "Links", "LocalStore", "RemoteStore", "ReportStore",
    "RetentionIncomplete", "Scope", "StoreError", "StoreSettings", "StoreSpec", "check_store_settings",
    "describe_error", "keep_days_setting", "link_lifetime_seconds", "load_store_settings", "open_store",
    "public_base_url", "redact_url", "retention_cutoff", "store_deadline_seconds",
]
