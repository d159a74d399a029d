"""`make lint` is wired up and bites (issue #14): an unused import fails ruff with the project's config.

Runs ruff (a few ms) on a copy of a module in a temp folder, so the checkout is never touched.
The whole `make lint` (ruff + mypy) runs before pytest in `make test`; it is not re-run here.
"""

from __future__ import annotations

import ast
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


def test_make_browsers_installs_fonts_for_every_script_the_demo_data_has():
    # the demo data has Japanese titles and emoji: without these fonts a screenshot shows boxes
    # (and installs them on a machine that already has chromium: the check looks at the fonts too)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    [packages] = re.findall(r"^BROWSER_PACKAGES := (.*)$", makefile, re.M)
    assert {"chromium", "fonts-noto-core", "fonts-noto-cjk", "fonts-noto-color-emoji"} <= set(packages.split())
    [recipe] = re.findall(r"^browsers:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert "apt-get install -y -qq $(BROWSER_PACKAGES)" in recipe and "dpkg -s $(filter fonts-%" in recipe


# Functions of more than MAX_FUNCTION_LINES lines (issue 21): the allow-list of today's offenders is
# empty; the test below fails for an entry that is no longer too long, so the list only shrinks.
MAX_FUNCTION_LINES = 80
LONG_FUNCTIONS_ALLOWED: set[str] = set()


def _function_lengths() -> dict[str, int]:
    """``{"<path>:<qualified name>": lines}`` of every function in pike_tasks/ and flows/,
    counted from its first decorator (or ``def``) to its last line."""
    lengths: dict[str, int] = {}

    def walk(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    lengths[f"{path}:{name}"] = (child.end_lineno or child.lineno) - first + 1
                name += "."
            walk(child, path, name)

    for folder in ("pike_tasks", "flows"):
        for file in sorted((REPO / folder).rglob("*.py")):
            walk(ast.parse(file.read_text(encoding="utf-8")), file.relative_to(REPO).as_posix(), "")
    return lengths


def test_no_function_is_longer_than_80_lines():
    lengths = _function_lengths()
    too_long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    new = {name: n for name, n in too_long.items() if name not in LONG_FUNCTIONS_ALLOWED}
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines (split them into named helpers): {new}"
    fixed = sorted(LONG_FUNCTIONS_ALLOWED - too_long.keys())
    assert not fixed, f"no longer over {MAX_FUNCTION_LINES} lines (or gone): drop from LONG_FUNCTIONS_ALLOWED: {fixed}"


def _flows_imports(path: Path) -> list[str]:
    """The imports of ``flows`` in one module: ``import flows...``, ``from flows... import``, and a
    module name ``"flows..."`` handed to importlib (``import_module("flows.x")``, ``"flows.x:f"``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "flows" or a.name.startswith("flows.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "flows" or node.module.startswith("flows."):
                found.append(node.module)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.fullmatch(r"flows(\.\w+)+(:\w+)?", node.value)):
            found.append(node.value)
    return found


def test_the_library_never_imports_the_flows():
    """pike_tasks is the library, flows the application on top of it: no arrow runs back up."""
    offenders = {str(p.relative_to(REPO)): names for p in sorted((REPO / "pike_tasks").rglob("*.py"))
                 if (names := _flows_imports(p))}
    assert offenders == {}


def test_the_flows_import_check_bites(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('import os\nfrom flows.runner import run_command\nHANDLER = "flows.runner:run_command"\n')
    assert _flows_imports(module) == ["flows.runner", "flows.runner:run_command"]


# ---- one home for the environment (issue #21) ----------------------------------------------------
# Every PIKE_* variable is parsed and validated in pike_tasks/config (``load_settings``, once, before
# any API call). Writes (``os.environ.update/setdefault``, ``os.environ[k] = v``, a discarded
# ``os.environ.pop``) set variables for this run or its children and are not reads. The sandbox
# (pike_tasks/sandbox/) is the demo's fake API, not the report code. Anything else that reads the
# environment must be here, with its reason:
ENV_READ_ALLOWED = {
    "pike_tasks/store/remote.py": "AWS_ENDPOINT_URL(_S3) named in an unreachable-store message: the standard AWS "
                                  "variables the SDK itself reads, not a setting of ours",
    "pike_tasks/supervise.py": "its internal process marker (parent pid) and the child's environment: a process "
                               "detail, not a setting",
}
_ENV_EXEMPT_DIRS = ("pike_tasks/config/", "pike_tasks/sandbox/")
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def _env_reads(source: str) -> list[int]:
    """Lines of ``source`` that read the process environment (``os.environ``/``os.getenv``, or those
    names imported from ``os``), writes left out."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            reads += [node.lineno for alias in node.names if alias.name in _ENV_NAMES]
            continue
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
                and node.attr in _ENV_NAMES):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, (ast.Store, ast.Del)):
            continue  # os.environ[k] = v / del os.environ[k]
        if isinstance(parent, ast.Attribute) and isinstance(parents.get(parent), ast.Call):
            call = parents[parent]
            if parent.attr in ("update", "setdefault") and isinstance(parents.get(call), ast.Expr):
                continue
            if parent.attr == "pop" and isinstance(parents.get(call), ast.Expr):
                continue  # removed, the value not used
        reads.append(node.lineno)
    return reads


def test_only_the_config_reads_the_environment():
    found: dict[str, list[int]] = {}
    for path in sorted([*(REPO / "pike_tasks").rglob("*.py"), *(REPO / "flows").rglob("*.py")]):
        name = path.relative_to(REPO).as_posix()
        if name.startswith(_ENV_EXEMPT_DIRS):
            continue
        lines = _env_reads(path.read_text(encoding="utf-8"))
        if lines:
            found[name] = lines
    stray = {name: lines for name, lines in found.items() if name not in ENV_READ_ALLOWED}
    assert not stray, ("read the environment through pike_tasks.config (load_settings, env_text, environ), "
                       f"or add the module to ENV_READ_ALLOWED with a reason: {stray}")
    assert set(ENV_READ_ALLOWED) <= set(found), "an allowed module no longer reads the environment: drop it"


def test_the_environment_check_bites():
    assert _env_reads("import os\nx = os.environ.get('PIKE_REPORTS_X')\n") == [2]
    assert _env_reads("import os\nx = os.getenv('PIKE_REPORTS_X')\n") == [2]
    assert _env_reads("from os import environ\n") == [1]
    assert _env_reads("import os\nos.environ.pop('A', None)\n") == []  # a write
    assert _env_reads("import os\nx = os.environ.pop('A')\n") == [2]  # the value read
    writes = "import os\nos.environ['A'] = '1'\nos.environ.update(B='2')\nos.environ.setdefault('C', '3')\n"
    assert _env_reads(writes) == []
