"""A throwaway PostgreSQL cluster on 127.0.0.1 for the scale test (Debian's ``postgresql`` package).

``make services`` installs the package when it is missing (as root, with apt-get); this module
only uses its binaries from ``/usr/lib/postgresql/<version>/bin``. The cluster lives in a fresh
temporary folder with trust authentication on loopback and no durability (``fsync=off``): it
exists for one test run and is removed by ``stop()``. PostgreSQL refuses to run as root, so as
root the cluster is created and run as ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from processes import Process, free_port, start, wait_ready

DB_USER = "prefect"


def postgres_bin() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` that has initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    folder: Path
    port: int
    proc: Process

    @property
    def url(self) -> str:
        """SQLAlchemy URL for Prefect (``PREFECT_SERVER_DATABASE_CONNECTION_URL``)."""
        return f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.proc.log

    def tail(self, lines: int = 40) -> str:
        return self.proc.tail(lines)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL after 10 s, then remove the cluster's folder."""
        self.proc.stop(signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


def _run_as() -> dict:
    """Popen arguments that drop root to ``nobody`` (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def start_postgres(*, timeout: float = 60.0) -> PostgresServer:
    """initdb a cluster in a new temporary folder and start it on a free 127.0.0.1 port.

    Raises:
        RuntimeError: PostgreSQL is not installed (``make services`` installs it), or did not
            accept connections in ``timeout`` seconds (the message carries its log).
    """
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: run `make services` (as root on Debian).")
    # not under pytest's tmp folder: that one is 0700 root, and the cluster may run as nobody
    folder = Path(tempfile.mkdtemp(prefix="pike-pg-"))
    as_user = _run_as()
    if as_user:
        os.chown(folder, as_user["user"], as_user["group"])
    data, log = folder / "data", folder / "postgres.log"
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    init = subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, **as_user,
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout[-2000:]}\n{init.stderr[-2000:]}")
    port = free_port()
    log.touch()
    if as_user:
        os.chown(log, as_user["user"], as_user["group"])
    proc = start("postgres", [bindir / "postgres", "-D", data, "-p", str(port), "-h", "127.0.0.1",
                              "-k", folder, "-c", "fsync=off", "-c", "synchronous_commit=off",
                              "-c", "full_page_writes=off", "-c", "max_connections=100"],
                 log=log, cwd=folder, env=env, **as_user)
    server = PostgresServer(folder, port, proc)

    def accepting() -> bool:
        check = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER,
                                "-d", "postgres"], capture_output=True, timeout=10)
        return check.returncode == 0

    try:
        wait_ready(proc, accepting, timeout=timeout, interval=0.2)
    except RuntimeError:
        server.stop()
        raise
    return server
