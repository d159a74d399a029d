"""Where a report's files go, and writing them so a failed run never leaves half a file.

Layout: ``<output_dir>/<report>/<as_of>/`` holds the CSVs, ``index.html`` and
``summary.json`` of one (report, as_of). ``summary.json`` is deterministic (sorted keys,
no timestamps) so re-running a past day gives byte-identical output.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any


def report_dir(output_dir: str | os.PathLike[str], report: str, as_of: date) -> Path:
    """The folder of one (report, as_of), created if missing."""
    path = Path(output_dir) / report / as_of.isoformat()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text via a temp file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
