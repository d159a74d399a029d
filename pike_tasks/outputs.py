"""Where a report's files go, and writing them so a failed run never leaves half a file.

Layout: ``<output_dir>/<report>/<as_of>/`` holds the CSVs, ``index.html`` and
``summary.json`` of one (report, as_of). ``summary.json`` is deterministic (sorted keys,
no timestamps) so re-running a past day gives byte-identical output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any


def report_dir(output_dir: str | os.PathLike[str], report: str, as_of: date) -> Path:
    """The folder of one (report, as_of), created if missing."""
    path = Path(output_dir) / report / as_of.isoformat()
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (see ``atomic_writer``)."""
    with atomic_writer(path) as fh:
        fh.write(text)
    return path


def json_bytes(data: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """``json_bytes(data)`` written atomically."""
    with atomic_writer(path, binary=True) as fh:
        fh.write(json_bytes(data))
    return path
