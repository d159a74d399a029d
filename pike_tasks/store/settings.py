"""The store's settings (``PIKE_REPORTS_STORE``, ``PIKE_REPORTS_PUBLIC_URL``, ``PIKE_REPORTS_LINK_DAYS``,
``PIKE_REPORTS_KEEP_DAYS``, the request deadline): parsed in ``pike_tasks.config.settings``, the one
home of the environment; the names are handed on here for the store's readers."""

from __future__ import annotations

from pike_tasks.config.settings import (
    DEFAULT_KEEP_DAYS,
    DEFAULT_LINK_DAYS,
    ENV_KEEP_DAYS,
    ENV_LINK_DAYS,
    ENV_PUBLIC_URL,
    ENV_REPORTS_STORE,
    MAX_KEEP_DAYS,
    StoreSettings,
    keep_days_setting,
    link_lifetime_seconds,
    load_store_settings,
    public_base_url,
    store_deadline_seconds,
)

__all__ = [
    "DEFAULT_KEEP_DAYS", "DEFAULT_LINK_DAYS", "ENV_KEEP_DAYS", "ENV_LINK_DAYS", "ENV_PUBLIC_URL", "ENV_REPORTS_STORE",
    "MAX_KEEP_DAYS", "StoreSettings", "check_store_settings", "keep_days_setting", "link_lifetime_seconds",
    "load_store_settings", "public_base_url", "store_deadline_seconds",
]


def check_store_settings() -> None:
    """Every store setting read later (keep days, link days, public URL, deadline): one line, before any API call.

    Raises:
        StoreError: the first bad setting, named.
    """
    load_store_settings()
