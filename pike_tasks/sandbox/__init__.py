"""A local Pike Open API server with demo data and fault injection (see ``server.py``)."""

from pike_tasks.sandbox.data import DEMO_TEAMS, generate_workspace, workspace_teams
from pike_tasks.sandbox.server import (
    FaultConfig,
    RequestRecord,
    SandboxServer,
    ScriptedResponse,
    load_data_file,
    start_sandbox,
)

__all__ = [
    "DEMO_TEAMS",
    "FaultConfig",
    "RequestRecord",
    "SandboxServer",
    "ScriptedResponse",
    "generate_workspace",
    "load_data_file",
    "start_sandbox",
    "workspace_teams",
]
