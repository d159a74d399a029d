"""`make lint` is wired up and bites (issue #14): an unused import fails ruff with the project's config.

Runs ruff (a few ms) on a copy of a module in a temp folder, so the checkout is never touched.
The whole `make lint` (ruff + mypy) runs before pytest in `make test`; it is not re-run here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "pyproject.toml"


def _ruff(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(CONFIG), str(path)],
        capture_output=True, text=True, timeout=60, cwd=path.parent,
    )


def test_an_unused_import_fails_ruff(tmp_path):
    copy = tmp_path / "wording.py"
    shutil.copyfile(REPO / "pike_tasks" / "wording.py", copy)
    clean = _ruff(copy)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # the module as committed is clean

    source = copy.read_text(encoding="utf-8")
    future = "from __future__ import annotations\n"
    assert future in source
    copy.write_text(source.replace(future, future + "\nimport fractions\n", 1), encoding="utf-8")
    dirty = _ruff(copy)
    assert dirty.returncode != 0
    assert re.search(r"F401\b.*fractions", dirty.stdout), dirty.stdout + dirty.stderr


def test_make_test_runs_lint_first():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    [test_rule] = re.findall(r"^test:(.*)$", makefile, re.M)
    assert "lint" in test_rule.split()
    [lint_recipe] = re.findall(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert "ruff check" in lint_recipe and "mypy" in lint_recipe
