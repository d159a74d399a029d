# Two commands do everything on a fresh machine with Python 3.11+:
#   make demo   - start the built-in Pike sandbox, run every report and the digests against it
#   make test   - run the lint and type checks (make lint), then the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9

.PHONY: install browsers services demo test lint e2e bench clean lock

install: $(STAMP)

# The lock (requirements.lock, made by `make lock`) pins every package CI tested.
# --compile-bytecode: uv (unlike pip) installs no .pyc files, and where PYTHONDONTWRITEBYTECODE is
# set (as on CI) Python then compiles Prefect, pandas and FastAPI from source in every process.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python --no-deps -e .
	@touch $@

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

# Lint and type checks (issue #14; configured in pyproject.toml): ruff's rules (not its
# formatter) over the whole checkout, then mypy over pike_tasks/ and flows/. A few seconds warm;
# mypy's cache is .mypy_cache.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

demo: install
	$(BIN)/python -m flows.demo

# lint first: any ruff or mypy finding fails the target (and so .ci/run) before the tests run.
test: install lint browsers services
	$(BIN)/python -m pytest -q

# Chromium for tests/test_pages_browser.py (Debian's package). A no-op when it is installed; as
# root on Debian it installs it (about a minute); otherwise it says so and those tests skip.
BROWSER_PACKAGES := chromium fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
browsers:
	@{ command -v chromium >/dev/null 2>&1 && dpkg -s $(filter fonts-%,$(BROWSER_PACKAGES)) >/dev/null 2>&1; } \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; } \
	  || echo "make browsers: no chromium or its fonts (installing them needs root and apt-get); the browser page tests may skip"

# PostgreSQL for tests/test_scale_e2e.py (the Prefect server's database there; Debian's package,
# about 7 s). A no-op when installed; as root on Debian it installs it; otherwise it says so and
# that test skips. The test starts its own throwaway cluster; nothing here starts a service.
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; } \
	  || echo "make services: no PostgreSQL (installing it needs root and apt-get); tests/test_scale_e2e.py will skip"

# Only the end-to-end deployment test (prefect server + worker + sandbox, about 40 s); `make test` runs it too.
e2e: install services
	$(BIN)/python -m pytest -q -m e2e -s tests/test_deployments.py tests/test_scale_e2e.py

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
