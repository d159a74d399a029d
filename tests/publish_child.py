"""A publisher in a process of its own, for the kill and race tests of tests/test_store.py.

``python publish_child.py URL MODE`` publishes the folder ``overdue/2026-04-09`` of the store URL:

- ``kill:N`` publishes ``KILL_FILES`` and SIGKILLs itself just before its Nth object write
  (1 .. 4; the 4th is the ``.complete`` pointer), or with ``kill:after`` right after the pointer;
- ``race:TAG`` waits for ``go R`` lines on stdin and for each publishes ``race_files(TAG, R)``,
  then prints ``done R``.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date

from pike_tasks.store import FolderRef, open_store

REF = FolderRef("overdue", date(2026, 4, 9))
KILL_FILES = {"overdue.csv": b"new rows\r\n", "index.html": b"<p>new</p>", "team-a.html": b"<p>team a</p>"}


def race_files(tag: str, round_: int) -> dict[str, bytes]:
    """Each tag's own names and contents, so a folder that mixes two runs shows it."""
    names = ["index.html", "overdue.csv", "summary.json", *(f"team-{tag}{i}.html" for i in range(4))]
    return {name: f"{tag}-{round_}-{name}".encode() for name in names}


def _kill_at(store, step: str) -> None:
    real = store.fs.pipe_file
    count = 0

    def pipe_file(path, data, **kwargs):
        nonlocal count
        count += 1
        if step == str(count):
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(path, data, **kwargs)
        if step == "after" and path.endswith("/.complete"):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    store.fs.pipe_file = pipe_file
    store.publish(REF, KILL_FILES)


def _race(store, tag: str) -> None:
    for line in sys.stdin:
        round_ = int(line.split()[1])
        store.publish(REF, race_files(tag, round_))
        print(f"done {round_}", flush=True)


def main() -> int:
    url, mode = sys.argv[1], sys.argv[2]
    store = open_store(url)
    kind, _, arg = mode.partition(":")
    if kind == "kill":
        _kill_at(store, arg)
        return 3  # not killed: the step was never reached
    _race(store, arg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
