"""A teams config of a real agency's size (issue #15): 200 teams, two managers each, about 30 KB of JSON.

A Prefect Variable holds at most 5,000 characters, so this config is the one that broke
``pike-reports setup``. Managers come from a pool of 24 addresses (a manager leads several
teams), so a digest run sends 24-odd emails, not 400.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def many_teams(known: Mapping[str, str] | Iterable[str] = (), total: int = 200) -> dict[str, Any]:
    """A teams config of ``total`` teams: the ``known`` ids first (teams the workspace has; a
    mapping gives their names), then synthetic ids the workspace does not have.

    Team i is managed by ``lead<i mod 16>@teams.example.com`` and ``head<i mod 8>@teams.example.com``.
    """
    names = dict(known) if isinstance(known, Mapping) else {tid: None for tid in known}
    teams: dict[str, Any] = {}
    for i in range(total):
        if i < len(names):
            tid = list(names)[i]
            name = names[tid] or f"Known team {i}"
        else:
            tid = f"{i:08x}-5e5e-4e5e-8e5e-{i:012x}"
            name = f"Synthetic team {i:03d} – Außendienst & Support"
        teams[tid] = {"name": name, "managers": [f"lead{i % 16:02d}@teams.example.com",
                                                 f"head{i % 8}@teams.example.com"]}
    return {"timezone": "Europe/London", "teams": teams,
            "app_url_template": "https://app.example.com/tasks/{id}"}


def managers(config: Mapping[str, Any]) -> set[str]:
    return {a.casefold() for team in config["teams"].values() for a in team["managers"]}


def json_size(config: Mapping[str, Any]) -> int:
    return len(json.dumps(config, ensure_ascii=False))
