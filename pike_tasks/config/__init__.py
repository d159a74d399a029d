"""The settings of a run: every environment variable parsed and validated in one place
(``pike_tasks.config.settings``), ``load_settings`` giving one frozen value before any API call."""

from pike_tasks.config.settings import (
    DeliverySettings,
    LedgerSettings,
    RunSettings,
    Settings,
    SlackSettings,
    SmtpEnvSettings,
    StoreSettings,
    load_settings,
)

__all__ = ["DeliverySettings", "LedgerSettings", "RunSettings", "Settings", "SlackSettings", "SmtpEnvSettings",
           "StoreSettings", "load_settings"]
