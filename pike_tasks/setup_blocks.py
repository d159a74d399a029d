"""`pike-reports setup`: create or update what the deployments read at run time.

From the environment (see ``.env.example``):

- ``PIKE_API_SECRET``               -> Secret block ``pike-api-secret``
- ``PIKE_REPORTS_SMTP_*``           -> prefect-email ``EmailServerCredentials`` block ``pike-reports-smtp``
- ``PIKE_REPORTS_SLACK_TOKEN``      -> Secret block ``pike-reports-slack-token`` (the Slack bot token;
  a run reads the environment first, then this block)
- ``PIKE_API_GLOBAL_SLOTS``         -> global concurrency limit ``pike-api`` (listing fetches at once,
  across every run on every worker; see docs/deployments.md, "Staying under the API rate limit")

and from ``--teams-config FILE`` the block ``pike-teams-config`` (the validated config as JSON, of
any size; ``pike_tasks.teams_store`` says why it is no longer the Variable of that name).

Every step is independent: a missing variable skips that step with a one-line note. Values are
never printed, only names and non-secret settings. Running it again updates in place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pike_tasks.config.settings import environ
from pike_tasks.errors import PikeConfigError
from pike_tasks.settings import ENV_SECRET, SECRET_BLOCK_NAME
from pike_tasks.teams_config import BLOCK_NAME, VARIABLE_NAME, read_teams_source

if TYPE_CHECKING:
    import argparse

    from prefect_email import EmailServerCredentials

SMTP_BLOCK_NAME = "pike-reports-smtp"
API_LIMIT_NAME = "pike-api"
ENV_GLOBAL_SLOTS = "PIKE_API_GLOBAL_SLOTS"
_SMTP_TYPES = {"ssl": "SSL", "starttls": "STARTTLS", "none": "INSECURE"}


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def save_secret_block(env: Mapping[str, str]) -> str:
    secret = _env(env, ENV_SECRET)
    if secret is None:
        return f"skipped Secret block '{SECRET_BLOCK_NAME}': {ENV_SECRET} is not set"
    from prefect.blocks.system import Secret

    secret_block: Secret[str] = Secret(value=secret)  # type: ignore[arg-type]  # validator wraps a str; annotation omits it
    secret_block.save(SECRET_BLOCK_NAME, overwrite=True)
    return f"saved Secret block '{SECRET_BLOCK_NAME}' (from {ENV_SECRET})"


def save_slack_token_block(env: Mapping[str, str]) -> str:
    from pike_tasks.slack_client import ENV_TOKEN, TOKEN_BLOCK_NAME

    token = _env(env, ENV_TOKEN)
    if token is None:
        return f"skipped Secret block '{TOKEN_BLOCK_NAME}': {ENV_TOKEN} is not set"
    from prefect.blocks.system import Secret

    secret_block: Secret[str] = Secret(value=token)  # type: ignore[arg-type]  # validator wraps a str; annotation omits it
    secret_block.save(TOKEN_BLOCK_NAME, overwrite=True)
    return f"saved Secret block '{TOKEN_BLOCK_NAME}' (from {ENV_TOKEN})"


def smtp_credentials(env: Mapping[str, str]) -> EmailServerCredentials | None:
    """An unsaved ``EmailServerCredentials`` from ``PIKE_REPORTS_SMTP_*``, or None without a host.

    Raises:
        PikeConfigError: a bad security mode or port (named; the password is never echoed).
    """
    host = _env(env, "PIKE_REPORTS_SMTP_HOST")
    if host is None:
        return None
    security = (_env(env, "PIKE_REPORTS_SMTP_SECURITY") or "starttls").lower()
    if security not in _SMTP_TYPES:
        raise PikeConfigError(f"PIKE_REPORTS_SMTP_SECURITY must be ssl, starttls or none, not {security[:20]!r}")
    port_text = _env(env, "PIKE_REPORTS_SMTP_PORT")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        raise PikeConfigError(f"PIKE_REPORTS_SMTP_PORT must be a number, not {(port_text or '')[:20]!r}") from None
    from prefect_email import EmailServerCredentials

    return EmailServerCredentials(
        smtp_server=host,
        smtp_type=_SMTP_TYPES[security],
        smtp_port=port,
        username=_env(env, "PIKE_REPORTS_SMTP_USER"),
        password=env.get("PIKE_REPORTS_SMTP_PASSWORD") or "",
    )


def save_smtp_block(env: Mapping[str, str]) -> str:
    credentials = smtp_credentials(env)
    if credentials is None:
        return f"skipped email block '{SMTP_BLOCK_NAME}': PIKE_REPORTS_SMTP_HOST is not set"
    credentials.save(SMTP_BLOCK_NAME, overwrite=True)
    security = next(k for k, v in _SMTP_TYPES.items() if v == credentials.smtp_type.name)
    port = credentials.smtp_port or credentials.smtp_type.value
    login = "with login" if credentials.username else "without login"
    return (f"saved EmailServerCredentials block '{SMTP_BLOCK_NAME}' "
            f"({credentials.smtp_server}:{port}, {security}, {login})")


def save_teams_config(path: str | None) -> str:
    """Validate the teams config file and store it as the block the deployments read.

    Raises:
        PikeConfigError: an invalid config, or one the Prefect API would not store (one line
            naming its answer and the way out).
    """
    if not path:
        return f"skipped block '{BLOCK_NAME}': no --teams-config FILE given"
    config = read_teams_source(path)  # PikeConfigError with a one-line reason when invalid
    from pike_tasks.teams_store import legacy_variable_exists, save_teams_block

    size = save_teams_block(config.as_plain(), source=path)
    legacy = ""
    if legacy_variable_exists():
        legacy = (f"; the Variable '{VARIABLE_NAME}' of earlier versions is ignored from now on "
                  f"(`prefect variable unset {VARIABLE_NAME}` removes it)")
    return (f"saved block '{BLOCK_NAME}' ({len(config.teams)} teams, timezone {config.timezone}, "
            f"{size:,} characters, from {path}){legacy}")


def save_api_limit(env: Mapping[str, str]) -> str:
    raw = _env(env, ENV_GLOBAL_SLOTS)
    if raw is None:
        return f"skipped global concurrency limit '{API_LIMIT_NAME}': {ENV_GLOBAL_SLOTS} is not set"
    try:
        slots = int(raw)
        if slots < 1:
            raise ValueError
    except ValueError:
        raise PikeConfigError(
            f"{ENV_GLOBAL_SLOTS} must be a whole number of slots (1 or more), not {raw[:20]!r}"
        ) from None
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(API_LIMIT_NAME)
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=API_LIMIT_NAME, limit=slots, active=True)
            )
            return f"created global concurrency limit '{API_LIMIT_NAME}' ({slots} slots)"
        client.update_global_concurrency_limit(
            API_LIMIT_NAME, GlobalConcurrencyLimitUpdate(limit=slots, active=True)
        )
        return f"updated global concurrency limit '{API_LIMIT_NAME}' ({slots} slots)"


def run_setup(teams_config: str | None = None, env: Mapping[str, str] | None = None,
              echo: Callable[[str], Any] = print) -> list[str]:
    """Create or update every block and limit whose inputs are present.

    Args:
        teams_config: Path of the teams config YAML/JSON to store as the block ``pike-teams-config``.
        env: Where the settings come from (default ``os.environ``).
        echo: Called with one line per step (never with a secret value).

    Returns:
        The lines echoed, one per step.

    Raises:
        PikeConfigError: an invalid teams config, SMTP setting or slot count, or a teams config
            the Prefect API would not store.
    """
    env = environ(env)
    lines: list[str] = []
    steps: tuple[Callable[[], str], ...] = (
        lambda: save_secret_block(env),
        lambda: save_smtp_block(env),
        lambda: save_teams_config(teams_config),
        lambda: save_api_limit(env),
        lambda: save_slack_token_block(env),
    )
    for step in steps:
        line = step()
        lines.append(line)
        echo(line)
    return lines


def run_setup_command(args: argparse.Namespace) -> int:
    """The `pike-reports setup` handler: needs a Prefect API (PREFECT_API_URL or a profile)."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise PikeConfigError(
            "PREFECT_API_URL is not set: point it at the Prefect server the deployments use "
            "(blocks saved to a temporary local API would vanish when this command exits)"
        )
    run_setup(getattr(args, "teams_config", None), echo=lambda line: print(f"pike-reports: {line}", file=sys.stdout))
    return 0
