"""The flows' parameters as the Prefect UI's Custom run form shows them: a title people read and
one field per parameter, with no type switch.

Each alias is ``Annotated[<type>, Field(title=..., description=...)]``. Two details make Prefect 3
show them:

- Prefect builds the form's schema with its own ``Field(title=<parameter name>, description=<the
  docstring's Args line>)`` for every parameter, which overrides the ``title`` and ``description``
  of an ``Annotated`` ``Field``; its ``json_schema_extra`` dict, though, is merged with ours and
  applied last. So :func:`form_field` puts the title and description in both places: the
  ``Field`` attributes for pydantic, ``json_schema_extra`` for the form.
- ``SkipJsonSchema[None]`` (as ``flows.common.AsOfParam`` does) keeps ``None`` accepted when a
  flow is called from Python but out of the schema, so the form draws a plain field instead of a
  "str | None" switch set to None ('Property is type "None"'). A field left empty means the
  default, which each description says.

The digest flow adopts the same aliases (``ReportDateParam``, ``TeamsParam``, ...) and has its own
below (``DigestStoreParam``, ``PreviewToParam``, ...). It has no ``report_url``: every link of a digest
(the overview, the team pages, the CSV, the workload report) comes from the store, through
``PIKE_REPORTS_PUBLIC_URL`` (else presigned URLs), so one setting makes them all agree.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema

from pike_tasks.store import StoreSpec


def form_field(title: str, description: str) -> FieldInfo:
    """A ``Field`` whose title and description reach the Prefect UI's form (see the module doc)."""
    info: FieldInfo = Field(title=title, description=description,
                            json_schema_extra={"title": title, "description": description})
    return info


ReportDateParam = Annotated[date | SkipJsonSchema[None], form_field(
    "Report date",
    "The day the report is for; empty means today in the teams config's timezone. (The picker shows dates "
    "as the browser does; from the command line: YYYY-MM-DD.)",
)]

TeamsParam = Annotated[list[str] | SkipJsonSchema[None], form_field(
    "Teams",
    "Only these Pike team ids (one per entry); empty means every team.",
)]

ProjectsParam = Annotated[list[str] | SkipJsonSchema[None], form_field(
    "Projects",
    "Only tasks of these Pike project ids (one per entry); empty means every project.",
)]

CustomersParam = Annotated[list[str] | SkipJsonSchema[None], form_field(
    "Customers",
    "Only tasks of these Pike customer ids (one per entry); empty means every customer.",
)]

# A URL or a folder in the form; `pike-reports run` passes the StoreSpec it checked (kept out of the form).
ReportStoreParam = Annotated[str | SkipJsonSchema[StoreSpec] | SkipJsonSchema[None], form_field(
    "Report store",
    "Where the reports go: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute "
    "path); one subfolder per report and date (e.g. overdue/2026-04-09); empty means the worker's "
    "PIKE_REPORTS_STORE.",
)]

# A path or inline JSON in the form; Python callers may still pass a mapping (kept out of the form).
TeamsConfigFormParam = Annotated[str | SkipJsonSchema[dict[str, Any]] | SkipJsonSchema[None], form_field(
    "Teams config",
    "Path to a teams YAML/JSON file, or inline JSON; empty uses the pike-teams-config block saved by "
    "pike-reports setup.",
)]

DigestsParam = Annotated[Literal["off", "dry-run", "send"], form_field(
    "Manager digests",
    "off: reports only; dry-run: also write each digest as an .eml file; send: also email them (once per "
    "report date and recipient).",
)]

ForceDigestsParam = Annotated[bool, form_field(
    "Send the digests again",
    "With Manager digests set to send: send every digest again, even one already sent for this report date.",
)]

ResendToParam = Annotated[list[str] | SkipJsonSchema[None], form_field(
    "Resend to",
    "With Manager digests set to send: send only to these manager addresses, whatever their record says; "
    "everyone else is left alone. Empty means nobody is resent to.",
)]

ChannelsParam = Annotated[list[Literal["email", "slack", "teams"]] | SkipJsonSchema[None], form_field(
    "Digest channels",
    "Where digests go: email (each manager), slack (DMs and team channels, per the teams config), teams "
    "(team channels through their Workflows webhooks); empty means email.",
)]


# --- the digest flow (send-manager-digests) -------------------------------------------------------

DigestStoreParam = Annotated[str | SkipJsonSchema[StoreSpec] | SkipJsonSchema[None], form_field(
    "Report store",
    "Where the overdue report the digests link is published, and where the once-only record of every digest "
    "lives: a URL such as s3://bucket/prefix, or a folder every worker shares (an absolute path); its "
    "digest/YYYY-MM-DD subfolder gets summary.json (and the .eml files of a dry run); empty means the worker's "
    "PIKE_REPORTS_STORE. The links in the digests are PIKE_REPORTS_PUBLIC_URL's (else presigned).",
)]

DryRunParam = Annotated[bool, form_field(
    "Dry run",
    "Write each digest as a file (.eml, .slack.json, .teams.json) in the digest folder instead of sending it; "
    "nothing is recorded as sent.",
)]

ForceParam = Annotated[bool, form_field(
    "Send again to everyone",
    "Send every digest again, even one already sent for this report date (or whose outcome is unknown).",
)]

DigestResendToParam = Annotated[list[str] | SkipJsonSchema[None], form_field(
    "Resend to",
    "Send only to these manager addresses (or Slack channels, Teams team ids), whatever their record says, "
    "e.g. after an unknown outcome; everyone else is left alone. Empty means no resend: each digest once.",
)]

PreviewToParam = Annotated[str | SkipJsonSchema[None], form_field(
    "Preview to",
    "Send every digest to this one address (or Slack channel) only, marked [Preview]; nothing is recorded as "
    "sent. Empty means no preview: each manager gets their own.",
)]

SkipIfEmptyParam = Annotated[bool, form_field(
    "Skip if nothing is overdue",
    "Do not send a digest whose teams have no overdue task.",
)]

SkipIfUnchangedParam = Annotated[bool, form_field(
    "Skip if nothing changed",
    "Do not send a digest with nothing new and nothing resolved since the previous report.",
)]

SmtpBlockParam = Annotated[str | SkipJsonSchema[None], form_field(
    "SMTP credentials block",
    "Name of a prefect-email EmailServerCredentials block (pike-reports setup makes pike-reports-smtp); "
    "empty means the worker's PIKE_REPORTS_SMTP_* settings.",
)]
