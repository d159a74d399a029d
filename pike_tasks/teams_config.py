"""The teams config: team names, manager addresses, timezone, and the task URL template.

Pike has no teams endpoint, so these come from configuration an operator can change
without touching code: a YAML/JSON file (``--teams-config``), an inline mapping (a flow
parameter), or the Prefect Variable ``pike-teams-config`` (what deployments use).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pike_tasks.errors import PikeConfigError

VARIABLE_NAME = "pike-teams-config"
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


@dataclass(frozen=True)
class TeamConfig:
    name: str | None = None
    managers: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamsConfig:
    """Validated teams config. ``teams`` maps a Pike team id to its name and managers."""

    timezone: str = "UTC"
    teams: Mapping[str, TeamConfig] = field(default_factory=dict)
    app_url_template: str | None = None

    def team_names(self) -> dict[str, str]:
        return {tid: t.name for tid, t in self.teams.items() if t.name}

    def default_as_of(self) -> date:
        """Today in the configured timezone."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    def as_plain(self) -> dict[str, Any]:
        """A JSON-safe copy (for the Prefect Variable and summary.json)."""
        return {
            "timezone": self.timezone,
            "teams": {
                tid: {"name": t.name, "managers": list(t.managers)} for tid, t in self.teams.items()
            },
            "app_url_template": self.app_url_template,
        }


def parse_teams_config(raw: Mapping[str, Any] | None) -> TeamsConfig:
    """Validate a mapping shaped like teams.example.yaml.

    Raises:
        PikeConfigError: with a one-line reason naming the offending key.
    """
    if raw is None:
        return TeamsConfig()
    if not isinstance(raw, Mapping):
        raise PikeConfigError("teams config must be a mapping with 'teams' (and optional 'timezone')")
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
        entry = entry or {}
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise PikeConfigError(f"teams config: team {tid!s} must be a mapping with name and managers")
        managers = entry.get("managers") or []
        if isinstance(managers, str):
            managers = [managers]
        for address in managers:
            if not isinstance(address, str) or not _EMAIL.match(address.strip()):
                raise PikeConfigError(f"teams config: team {tid!s} has an invalid manager address {address!r}")
        name = entry.get("name")
        teams[str(tid)] = TeamConfig(
            name=str(name) if name is not None else None,
            managers=tuple(a.strip() for a in managers),
        )
    url = raw.get("app_url_template")
    if url is not None and (not isinstance(url, str) or "{id}" not in url or not url.startswith(("https://", "http://"))):
        raise PikeConfigError("teams config: app_url_template must be an http(s) URL containing {id}")
    return TeamsConfig(timezone=str(tz), teams=teams, app_url_template=url)


def load_teams_config(source: str | Path | Mapping[str, Any] | None = None) -> TeamsConfig:
    """Load the teams config from a mapping, a YAML/JSON file path, or a JSON string.

    With no source, the Prefect Variable ``pike-teams-config`` is used when it exists;
    otherwise an empty config (every team labelled ``Team <id8>``, timezone UTC).
    """
    if source is None or source == "":
        return parse_teams_config(_from_prefect_variable())
    if isinstance(source, Mapping):
        return parse_teams_config(source)
    text = str(source)
    if text.lstrip().startswith("{"):
        try:
            return parse_teams_config(json.loads(text))
        except json.JSONDecodeError as exc:
            raise PikeConfigError(f"teams config: inline JSON is invalid ({exc.msg})") from None
    path = Path(text)
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PikeConfigError(f"cannot read teams config {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PikeConfigError(f"teams config {path} is not valid YAML{where}") from None
    return parse_teams_config(data)


def _from_prefect_variable() -> Mapping[str, Any] | None:
    try:
        from prefect.variables import Variable

        value = Variable.get(VARIABLE_NAME, default=None)
    except Exception:  # no API reachable, or no such variable: run with the empty config
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, Mapping) else None
