"""The digest's pure layers under their former name (``pike_tasks.delivery`` is their home).

Kept for the tests, benchmarks and scripts that import ``build_digests``, ``digest_view`` or
``render_digest`` from here.
"""

from __future__ import annotations

from pike_tasks.delivery.digest import (
    CHANGE_COLUMNS,
    CSV_NAME,
    DEFAULT_MAX_ROWS_PER_TEAM,
    SUBJECT_MAX_CHARS,
    Digest,
    build_digests,
    digest_subject,
    manager_teams,
    team_label,
)
from pike_tasks.delivery.email import HTML_BUDGET_BYTES, HTML_LIMIT_BYTES, RenderedDigest, render_digest
from pike_tasks.delivery.view import DEFAULT_MAX_MEMBERS, Limits, digest_view

__all__ = [
    "CHANGE_COLUMNS", "CSV_NAME", "DEFAULT_MAX_MEMBERS", "DEFAULT_MAX_ROWS_PER_TEAM", "HTML_BUDGET_BYTES",
    "HTML_LIMIT_BYTES", "SUBJECT_MAX_CHARS", "Digest", "Limits", "RenderedDigest", "build_digests",
    "digest_subject", "digest_view", "manager_teams", "render_digest", "team_label",
]
