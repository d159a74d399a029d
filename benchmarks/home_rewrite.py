"""What rewriting the store's home costs on an object store (issue 23 item 6).

A moto_server S3 bucket holding 90 stored days of overdue, workload and digest reports (a delivery
log of 20 recipients a day); ``pike_tasks.home.rebuild_home`` is timed twice in one process (the
first rewrite of a process, then the next one, which keeps what it read from run folders and log
objects, which never change), counting the store's requests at its one I/O call.

    .venv/bin/python -m benchmarks.home_rewrite
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from moto_server import start_moto  # noqa: E402 - after sys.path.insert (a tests/ helper)

DAYS, RECIPIENTS = 90, 20


def main() -> int:
    from pike_tasks.home import rebuild_home
    from pike_tasks.once import DeliveryLedger
    from pike_tasks.store import FolderRef, Scope, open_store

    with tempfile.TemporaryDirectory() as tmp:
        server = start_moto(Path(tmp))
        try:
            os.environ.update(server.env)
            bucket = f"pike-{uuid.uuid4().hex[:8]}"
            server.client().create_bucket(Bucket=bucket)
            store = open_store(f"s3://{bucket}/pike")
            store.check_writable()
            newest = date(2026, 12, 1)
            for i in range(DAYS):
                day = newest - timedelta(days=i)
                summary = json.dumps({"totals": {"overdue_tasks": 100 + i}}).encode()
                store.publish(FolderRef("overdue", day), {"index.html": b"<p>x</p>", "summary.json": summary})
                store.publish(FolderRef("workload", day), {"index.html": b"<p>x</p>", "summary.json": b"{}"})
                store.publish(FolderRef("digest", day), {"summary.json": b"{}"})
                DeliveryLedger(store, "manager", day, "acme", Scope(), "email").append_log(
                    "r", "send", [{"recipient": f"m{j}@example.com", "status": "sent"} for j in range(RECIPIENTS)])
            calls = {"n": 0}
            real = store._io

            def counting(fn, *args, **kwargs):
                calls["n"] += 1
                return real(fn, *args, **kwargs)

            store._io = counting
            for label in ("first rewrite of a process", "next rewrite, same process"):
                calls["n"] = 0
                started = time.perf_counter()
                rebuild_home(store)
                print(f"{label}: {time.perf_counter() - started:.2f} s, {calls['n']} store requests")
            print(f"index.html: {len(store.read_record('index.html') or b''):,} bytes ({DAYS} days)")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
