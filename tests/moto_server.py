"""A real S3-compatible server on 127.0.0.1 for the store tests: ``moto_server`` as a child process.

moto 5 in server mode keeps every bucket in memory, honours ``If-None-Match: *`` on PutObject
(the create-only write the once-only records rely on) and signs nothing itself: presigned URLs
made by boto3/s3fs against it are fetched with a plain HTTP GET. boto3 and s3fs find it through
``AWS_ENDPOINT_URL`` (``MotoServer.env``). Output goes to a log file, and ``stop()`` ends the
whole process group, so a failing test never leaves a server behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prefect_server import free_port

MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")

# Dummy credentials: moto accepts any; they only have to exist so botocore signs requests.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "pike-test-key",
    "AWS_SECRET_ACCESS_KEY": "pike-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class MotoServer:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach this server with boto3 or s3fs."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_EC2_METADATA_DISABLED": "true",  # never probe an instance-metadata address
        }

    def client(self):
        """A boto3 S3 client for this server (credentials given explicitly, whatever the env says)."""
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` in ``bucket`` (sorted)."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(obj["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                      for obj in page.get("Contents", []))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def kill(self) -> None:
        """Gone at once, as a store that crashes or loses its network is."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def use_moto(server: MotoServer, monkeypatch) -> None:
    """Make this process a worker that reaches ``server`` and nothing else: every ``AWS_*`` variable
    gone, the server's set, no shared credentials or config file, and s3fs's cached filesystems
    dropped (fsspec keeps one per set of arguments, endpoint and credentials included)."""
    import s3fs

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    s3fs.S3FileSystem.clear_instance_cache()


def start_moto(folder: Path, *, timeout: float = 60.0) -> MotoServer:
    """Start ``moto_server -H 127.0.0.1 -p <free port>`` and wait until it answers (about 3 s)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / f"moto-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = MotoServer(port, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/moto-api/", timeout=2):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"moto_server did not answer in {timeout:.0f} s:\n{log.read_text(errors='replace')[-2000:]}")
