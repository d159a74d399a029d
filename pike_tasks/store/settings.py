"""The store's settings (``PIKE_REPORTS_STORE``, ``PIKE_REPORTS_PUBLIC_URL``, ``PIKE_REPORTS_LINK_DAYS``,
``PIKE_REPORTS_KEEP_DAYS``, the request deadline): parsed in ``pike_tasks.config.settings``, the one
home of the environment; the names are handed on here for the store's readers."""

from __future__ import annotations

from typing import Protocol

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
    "load_store_settings", "public_base_url", "store_deadline_seconds", "public_url_of", "link_seconds_of",
    "keep_days_of", "deadline_of",
]


def check_store_settings() -> None:
    """Every store setting read later (keep days, link days, public URL, deadline): one line, before any API call.

    Raises:
        StoreError: the first bad setting, named.
    """
    load_store_settings()


class _HasSettings(Protocol):
    settings: StoreSettings | None


# What a store was opened with (``open_store(..., settings=...)``: the values the CLI or the flow
# loaded once); a store opened without them reads each setting when it is needed, as before.
def public_url_of(store: _HasSettings) -> str | None:
    return store.settings.public_url if store.settings else public_base_url()


def link_seconds_of(store: _HasSettings) -> int:
    return store.settings.link_seconds if store.settings else link_lifetime_seconds()


def keep_days_of(store: _HasSettings) -> int:
    return store.settings.keep_days if store.settings else keep_days_setting()


def deadline_of(settings: StoreSettings | None) -> float:
    return settings.deadline if settings else store_deadline_seconds()
