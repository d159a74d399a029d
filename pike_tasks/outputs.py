"""Two helpers for bytes that end up in files, so a failed run never leaves half a file.

- :func:`atomic_writer`: a local file written whole or not at all (a temp file beside it,
  renamed over it on success), with ordinary permissions. Used for the files written straight
  to a local path: ``csv_output.write_csv``, ``pike-reports export`` and the mailer's ``.eml``
  outbox.
- :func:`json_bytes`: deterministic JSON (sorted keys, no timestamps added), the bytes of a
  report folder's ``summary.json``, so re-running a past day gives byte-identical output.

Where report folders go and how they are published whole is :mod:`pike_tasks.store`'s business.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(
    path: str | os.PathLike[str], binary: bool = False, make_parents: bool = True
) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success rename it over ``path``, else delete it.

    Text mode is UTF-8 with newlines written as given (the csv module writes its own).
    The file gets ordinary permissions (0666 less the umask), not mkstemp's 0600, since
    reports are meant to be read from a file share.
    """
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")) as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(data: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
