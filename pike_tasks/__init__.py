"""pike-reports: reporting jobs for Pike workspaces, orchestrated by Prefect."""

__version__ = "0.1.0"
