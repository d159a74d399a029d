"""The teams config: team names, manager addresses, timezone, and the task URL template.

Pike has no teams endpoint, so these come from configuration an operator can change
without touching code. This module parses and validates it, from a mapping, a YAML/JSON file
or inline JSON (:func:`read_teams_source`), or from the raw value stored on the Prefect server
(:func:`parse_stored_config`). It never talks to Prefect: where the config is stored, and the
order a run looks in (the ``teams_config`` parameter, then the block ``pike-teams-config``, then
the legacy Variable, then the empty config), is :func:`pike_tasks.teams_store.load_teams_config`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from string import Formatter
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pike_tasks.errors import PikeConfigError
from pike_tasks.surrogates import repair

BLOCK_NAME = "pike-teams-config"  # where setup stores the config (pike_tasks.teams_store)
VARIABLE_NAME = "pike-teams-config"  # legacy: read only when there is no block
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


@dataclass(frozen=True)
class TeamConfig:
    name: str | None = None
    managers: tuple[str, ...] = ()
    slack_channel: str | None = None  # a channel id (C0123...) or #name: the team's summary is posted there
    teams_webhook_secret: str | None = None  # the Prefect Secret block holding the Workflows webhook URL


@dataclass(frozen=True)
class TeamsConfig:
    """Validated teams config. ``teams`` maps a Pike team id to its name and managers."""

    timezone: str = "UTC"
    teams: Mapping[str, TeamConfig] = field(default_factory=dict)
    app_url_template: str | None = None
    workspace: str | None = None  # the name of the once-only records (pike_tasks.once); None: see there
    slack_direct_messages: bool = False  # `slack: {direct_messages: true}`: each manager's digest as a Slack DM

    def team_names(self) -> dict[str, str]:
        return {tid: t.name for tid, t in self.teams.items() if t.name}

    def default_as_of(self) -> date:
        """Today in the configured timezone."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    def as_plain(self) -> dict[str, Any]:
        """A JSON-safe copy (for the Prefect block and summary.json)."""
        return {
            "timezone": self.timezone,
            "teams": {tid: _plain_team(t) for tid, t in self.teams.items()},
            "app_url_template": self.app_url_template,
            **({"workspace": self.workspace} if self.workspace else {}),
            **({"slack": {"direct_messages": True}} if self.slack_direct_messages else {}),
        }


def _plain_team(team: TeamConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"name": team.name, "managers": list(team.managers)}
    if team.slack_channel:
        out["slack_channel"] = team.slack_channel
    if team.teams_webhook_secret:
        out["teams_webhook_secret"] = team.teams_webhook_secret
    return out


def parse_teams_config(raw: Mapping[str, Any] | None) -> TeamsConfig:
    """Validate a mapping shaped like teams.example.yaml; every check a run depends on is made here,
    at load time, so a bad config fails before anything is fetched.

    Raises:
        PikeConfigError: with a one-line reason naming the offending key.
    """
    if raw is None:
        return TeamsConfig()
    if not isinstance(raw, Mapping):
        raise PikeConfigError("teams config must be a mapping with 'teams' (and optional 'timezone')")
    raw = _repaired(raw)
    _no_unknown_keys(raw, _TOP_KEYS, "teams config")
    tz = raw.get("timezone") or "UTC"
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise PikeConfigError(f"teams config: unknown timezone {tz!r} (use an IANA name like Europe/London)") from None
    teams_raw = raw.get("teams") or {}
    if not isinstance(teams_raw, Mapping):
        raise PikeConfigError("teams config: 'teams' must map team ids to {name, managers}")
    teams: dict[str, TeamConfig] = {}
    for tid, entry in teams_raw.items():
        if tid is None or str(tid).strip() == "":
            raise PikeConfigError("teams config: a team has an empty id")
        if str(tid) in teams:  # e.g. YAML 123 and "123": the same Pike id twice
            raise PikeConfigError(f"teams config: team {tid!s} is listed twice; keep one entry")
        teams[str(tid)] = _team(str(tid), entry)
    url = raw.get("app_url_template")
    if url is not None:
        _check_url_template(url)
    workspace = raw.get("workspace")
    if workspace is not None:
        from pike_tasks.config.settings import check_workspace_name

        workspace = check_workspace_name(str(workspace), "teams config: workspace")
    return TeamsConfig(timezone=str(tz), teams=teams, app_url_template=url, workspace=workspace,
                       slack_direct_messages=_slack(raw.get("slack")))


_TOP_KEYS = ("workspace", "timezone", "teams", "app_url_template", "slack")
_TEAM_KEYS = ("name", "managers", "slack_channel", "teams_webhook_secret")
_SLACK_CHANNEL = re.compile(r"^(?:[CG][A-Z0-9]{6,20}|#[a-z0-9][a-z0-9._-]{0,79})$")
_BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def _slack(entry: Any) -> bool:
    """``slack: {direct_messages: true}`` -> True; absent -> False."""
    if entry is None:
        return False
    if not isinstance(entry, Mapping):
        raise PikeConfigError("teams config: slack must be a mapping such as {direct_messages: true}")
    _no_unknown_keys(entry, ("direct_messages",), "teams config: slack")
    value = entry.get("direct_messages", False)
    if not isinstance(value, bool):
        raise PikeConfigError("teams config: slack.direct_messages must be true or false")
    return value


def _slack_channel(tid: str, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not isinstance(value, str) or not _SLACK_CHANNEL.match(text):
        raise PikeConfigError(f"teams config: team {tid} slack_channel must be a channel id (C0123ABCD) or "
                              f"#name, not {text[:60]!r}")
    return text


def _webhook_secret(tid: str, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if "://" in text or "/" in text:  # a pasted URL: it is a credential and must not live in the config
        raise PikeConfigError(f"teams config: team {tid} teams_webhook_secret names a Prefect Secret block that "
                              "holds the webhook URL; never put the URL itself in the config")
    if not isinstance(value, str) or not _BLOCK_NAME.match(text):
        raise PikeConfigError(f"teams config: team {tid} teams_webhook_secret must be a Prefect Secret block name "
                              f"(lowercase letters, digits and dashes), not {text[:60]!r}")
    return text


def _team(tid: str, entry: Any) -> TeamConfig:
    entry = entry or {}
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping):
        raise PikeConfigError(f"teams config: team {tid} must be a mapping with name and managers")
    # a typo such as "manager:" would otherwise silently mean "nobody gets this team's digest"
    _no_unknown_keys(entry, _TEAM_KEYS, f"teams config: team {tid}")
    managers = entry.get("managers") or []
    if isinstance(managers, str):
        managers = [managers]
    if not isinstance(managers, (list, tuple)):
        raise PikeConfigError(f"teams config: team {tid} managers must be a list of email addresses")
    for address in managers:
        if not isinstance(address, str) or not _EMAIL.match(address.strip()):
            raise PikeConfigError(f"teams config: team {tid} has an invalid manager address {address!r}")
    name = entry.get("name")
    if isinstance(name, (Mapping, list, tuple)):
        raise PikeConfigError(f"teams config: team {tid} name must be text, not a {type(name).__name__}")
    return TeamConfig(name=str(name) if name is not None else None, managers=tuple(a.strip() for a in managers),
                      slack_channel=_slack_channel(tid, entry.get("slack_channel")),
                      teams_webhook_secret=_webhook_secret(tid, entry.get("teams_webhook_secret")))


def _no_unknown_keys(mapping: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = [str(k) for k in mapping if k not in known]
    if unknown:
        raise PikeConfigError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(known)})")


def _check_url_template(url: Any) -> None:
    """The checks render.task_url would otherwise make per task, after the whole fetch."""
    if not isinstance(url, str):
        raise PikeConfigError("teams config: app_url_template must be an http(s) URL containing {id}")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(url) if name is not None]
    except ValueError:
        raise PikeConfigError(
            f"teams config: app_url_template {url!r} has unmatched braces (write {{{{ or }}}} for a literal brace)"
        ) from None
    other = next((f for f in fields if f != ("id", "", None)), None)
    if other is not None or not fields:
        name, spec, conversion = other or ("", "", None)
        shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        found = f" (found {{{shown}}})" if other is not None else ""
        raise PikeConfigError(f"teams config: app_url_template may use only the {{id}} placeholder{found}")
    parts = urlsplit(url.format(id="x"))
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise PikeConfigError("teams config: app_url_template must be an http(s) URL containing {id}")


def _repaired(value: Any) -> Any:
    """Every string in the loaded config, keys included, through :func:`surrogates.repair`:
    YAML leaves an escaped pair such as "\\ud83d\\ude00" as two halves, and a lone half
    would fail the first UTF-8 write of a page or an email."""
    if isinstance(value, str):
        return repair(value)
    if isinstance(value, Mapping):
        return {_repaired(k): _repaired(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_repaired(v) for v in value]
    return value


class _DuplicateKey(ValueError):
    def __init__(self, key: Any, line: int | None = None) -> None:
        super().__init__(key)
        self.key, self.line = key, line

    def describe(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{_repaired(str(self.key))!r} is listed twice{where}; keep one entry"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (PyYAML silently keeps the last one,
    so a team id listed twice would lose its first entry's managers without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<": merged keys may be overridden
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if duplicate:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: a repeated key is an error, not "the last one wins"."""
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKey(key)
        mapping[key] = value
    return mapping


def read_teams_source(source: str | Path | Mapping[str, Any]) -> TeamsConfig:
    """The teams config given as a mapping, a YAML/JSON file path, or a JSON string.

    Raises:
        PikeConfigError: one line naming the file and the problem (unreadable, not UTF-8,
            not YAML/JSON, a key listed twice, or a value parse_teams_config rejects).
    """
    if isinstance(source, Mapping):
        return parse_teams_config(source)
    text = str(source)
    if text.lstrip().startswith("{"):
        return parse_teams_config(_json("teams config: inline JSON", text))
    path = Path(text)
    try:
        content = path.read_text(encoding="utf-8-sig")  # -sig: a BOM (Windows editors) is not content
    except UnicodeDecodeError as exc:
        raise PikeConfigError(
            f"teams config {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    except OSError as exc:
        raise PikeConfigError(f"cannot read teams config {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.load(content, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise PikeConfigError(f"teams config {path}: {exc.describe()}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PikeConfigError(f"teams config {path} is not valid YAML{where}") from None
    return parse_teams_config(data)


def parse_stored_config(value: object, where: str) -> TeamsConfig:
    """The teams config stored on the Prefect server (``where`` names the block or Variable).

    Raises:
        PikeConfigError: a JSON string that is not JSON, a value that is not an object, or one
            parse_teams_config rejects: a broken stored config must not mean "no teams".
    """
    if isinstance(value, str):  # set by hand as a JSON string
        value = _json(f"teams config ({where})", value)
    if not isinstance(value, Mapping):
        raise PikeConfigError(f"teams config ({where}) must be a JSON object with 'teams', not {type(value).__name__}")
    return parse_teams_config(value)


def _json(what: str, text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        raise PikeConfigError(f"{what}: {exc.describe()}") from None
    except json.JSONDecodeError as exc:
        raise PikeConfigError(f"{what} is invalid ({exc.msg} at line {exc.lineno})") from None
