"""Where the teams config lives on the Prefect server: the block ``pike-teams-config``.

A Prefect Variable holds at most 5,000 characters of JSON (``prefect.types.MAX_VARIABLE_VALUE_LENGTH``),
which a config outgrows at about 35 teams (issue #15). A block document has no such limit (its data
is a JSON column: tested here with 200 teams, about 30 KB) and every worker reads it from the
same API it already talks to, so the config is stored as a block of the small type below
(Prefect 3.9 no longer ships the generic ``JSON`` block; this one has the same single ``value``
field and shows as "Pike Teams Config" under Blocks in the UI, editable there as JSON).

The Variable of the same name, which earlier versions of ``pike-reports setup`` wrote, is
still read when there is no block. :func:`load_teams_config` takes the first of these that is there:

1. the ``teams_config`` flow parameter (``--teams-config`` of the CLI): a path to a YAML/JSON
   file, inline JSON, or a mapping; a UI run overrides the stored config with it;
2. the Prefect block ``pike-teams-config`` (type "Pike Teams Config", below), which
   ``pike-reports setup --teams-config FILE`` writes: what scheduled deployments read, of any
   size (a block document has no length limit);
3. the Prefect Variable ``pike-teams-config`` (legacy: a Variable holds at most 5,000
   characters, about 35 teams), read only when there is no block;
4. the empty config (every team labelled ``Team <id8>``, timezone UTC, no managers, so no
   digests), with a warning in the run log saying where it looked.

The parsing and validation are :mod:`pike_tasks.teams_config`'s (which never imports this module).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect.blocks.core import Block
from pydantic import Field

from pike_tasks.errors import PikeConfigError
from pike_tasks.teams_config import BLOCK_NAME, VARIABLE_NAME, TeamsConfig, parse_stored_config, read_teams_source

if TYPE_CHECKING:
    import httpx

BLOCK_TYPE_SLUG = "pike-teams-config"


class TeamsConfigBlock(Block):
    """The pike-reports teams config as JSON (the shape of teams.example.yaml)."""

    _block_type_name = "Pike Teams Config"
    _block_type_slug = BLOCK_TYPE_SLUG
    _description = (
        "Team names, manager addresses, timezone and task link template read by every pike-reports "
        "deployment whose teams_config parameter is empty. Written by `pike-reports setup --teams-config FILE`."
    )

    value: dict[str, Any] = Field(
        default_factory=dict,
        description="The teams config: timezone, teams (Pike team id -> name, managers), app_url_template.",
    )


def load_teams_config(source: str | Path | Mapping[str, Any] | None = None) -> TeamsConfig:
    """Load the teams config from a mapping, a YAML/JSON file path, or a JSON string.

    With no source, what the Prefect server holds (the module docstring gives the order): the
    block ``pike-teams-config``, else the legacy Variable of that name, else an empty config
    (every team labelled ``Team <id8>``, timezone UTC), with a warning.

    Raises:
        PikeConfigError: one line naming the file and the problem (unreadable, not UTF-8,
            not YAML/JSON, a key listed twice, or a value parse_teams_config rejects), or
            the stored config that could not be read from the Prefect API.
    """
    if source is None or source == "":
        value, where = read_stored_config()
        if where is None:
            _warn(f"no teams config: no block '{BLOCK_NAME}' and no Variable '{VARIABLE_NAME}' on the Prefect "
                  "server and no teams_config parameter, so no team names and no managers (no digests); "
                  "store one with `pike-reports setup --teams-config FILE`")
            return TeamsConfig()
        return parse_stored_config(value, where)
    return read_teams_source(source)


def save_teams_block(plain: Mapping[str, Any], *, source: str) -> int:
    """Create or replace the block ``pike-teams-config`` with ``plain`` (a validated config as JSON).

    Returns:
        The size of the stored value in characters of JSON.

    Raises:
        PikeConfigError: one line when the API refuses or cannot be reached, naming the answer
            (e.g. a proxy's 413 and its body limit) and the way out.
    """
    import httpx

    size = len(json.dumps(plain, ensure_ascii=False))
    teams = len(plain.get("teams") or {})
    what = f"the teams config from {source} ({teams} teams, {size:,} characters of JSON)"
    way_out = (
        "raise the request size limit of whatever sits in front of the Prefect API (e.g. nginx "
        "client_max_body_size), or set teams_config in prefect.yaml to the path of this file on every worker"
    )
    try:
        TeamsConfigBlock(value=dict(plain)).save(BLOCK_NAME, overwrite=True)
    except httpx.HTTPStatusError as exc:
        response = exc.response
        raise PikeConfigError(
            f"cannot store {what} as block '{BLOCK_NAME}': the Prefect API answered "
            f"{response.status_code} {response.reason_phrase}{_detail(response)}; {way_out}"
        ) from None
    except httpx.HTTPError as exc:
        raise PikeConfigError(
            f"cannot store {what} as block '{BLOCK_NAME}': the Prefect API did not answer "
            f"({type(exc).__name__}: {_one_line(str(exc)) or 'no reply'}); check PREFECT_API_URL"
        ) from None
    return size


def legacy_variable_exists() -> bool:
    """Whether the Variable of earlier versions is still on the server (it is ignored once the block exists)."""
    from prefect.variables import Variable

    return Variable.get(VARIABLE_NAME, default=None) is not None


def read_stored_config() -> tuple[Any, str | None]:
    """The raw teams config stored on the Prefect server and where it came from.

    Returns:
        ``(value, "block 'pike-teams-config'")``, ``(value, "Variable 'pike-teams-config'")`` when
        there is no block but the legacy Variable, or ``(None, None)`` when there is neither.

    Raises:
        PikeConfigError: the API could not be read (a scheduled run must not go on as if no team
            had managers), or the Variable is a string that is not JSON.
    """
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.variables import Variable

    try:
        with get_client(sync_client=True) as client:
            try:
                document = client.read_block_document_by_name(name=BLOCK_NAME, block_type_slug=BLOCK_TYPE_SLUG)
            except ObjectNotFound:
                document = None
        if document is not None:
            return (document.data or {}).get("value"), f"block '{BLOCK_NAME}'"
        value = Variable.get(VARIABLE_NAME, default=None)
    except httpx.HTTPError as exc:
        raise PikeConfigError(
            f"cannot read the teams config (block '{BLOCK_NAME}') from the Prefect API "
            f"({type(exc).__name__}: {_one_line(str(exc)) or 'no reply'}); check PREFECT_API_URL, or pass teams_config"
        ) from None
    if value is None:
        return None, None
    return value, f"Variable '{VARIABLE_NAME}'"


def _detail(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - a body we cannot decode adds nothing
        return ""
    try:
        body = json.loads(text)
        text = str(body.get("detail") or body.get("message") or body) if isinstance(body, dict) else str(body)
    except ValueError:
        pass
    text = _one_line(text)
    return f" ({text[:200]})" if text else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _warn(message: str) -> None:
    """In a flow or task run, to its log (the UI shows it); elsewhere to this module's logger."""
    try:
        from prefect import get_run_logger

        logger = get_run_logger()
    except Exception:  # noqa: BLE001 - no run context (MissingContextError) or no Prefect
        logger = logging.getLogger(__name__)
    logger.warning(message)
