# Tessera developer entry points. Both commands set everything up first (idempotent, near-instant
# when already done) and then run:
#
#   make run    set up, then serve the app with the shipped packs and demo data (SQLite under ./var/)
#   make test   set up, ensure Chromium/CJK fonts/PostgreSQL, then ruff + the whole pytest suite
#
# Variables: HOST, PORT (make run), PYTEST_ARGS (make test, default: -n <cores, at most 4>), PYTHON
# (default: python3 from PATH).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?=
PORT ?=
# Tests run in parallel (pytest-xdist), one worker per core up to 4: each worker makes its own SQLite
# files and PostgreSQL databases, and more workers would mostly wait on the PostgreSQL server.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -gt 4 ] && n=4; echo $$n)
PYTEST_ARGS ?= -n $(PYTEST_WORKERS)

# Stamps live in .venv/ (git-ignored, and gone when the venv is deleted). Make reruns a step when
# the file it depends on (pyproject.toml, package.json, package-lock.json) is newer than its stamp.
PY_STAMP := $(VENV)/.tessera-pip.stamp
NPM_STAMP := $(VENV)/.tessera-npm.stamp
NPM_LOCK := $(wildcard package-lock.json)
# Exit code of the last failed pytest run, for .ci/run (make itself always exits with 2).
PYTEST_RC := $(VENV)/.tessera-pytest-rc
# Also rerun a step when its result went missing although the stamp is still there.
PY_FORCE := $(if $(wildcard $(VENV)/bin/tessera),,FORCE)
NPM_FORCE := $(if $(wildcard node_modules/.package-lock.json),,FORCE)

.PHONY: help setup run test FORCE

help:
	@echo "make run    set up and serve the app at http://127.0.0.1:8000 (HOST=..., PORT=... to change)"
	@echo "make test   set up and run ruff + the whole test suite (PYTEST_ARGS=... is passed to pytest)"
	@echo "make setup  only create .venv and install the Python and npm packages"

setup: $(PY_STAMP) $(NPM_STAMP)

run: setup
	exec $(VENV)/bin/tessera serve --demo$(if $(HOST), --host $(HOST))$(if $(PORT), --port $(PORT))

test: setup
	bash scripts/ensure-test-services.sh
	$(VENV)/bin/ruff check .
	@rm -f $(PYTEST_RC)
	@echo '$(subst ','\'',$(VENV)/bin/pytest $(PYTEST_ARGS))'
	@$(VENV)/bin/pytest $(PYTEST_ARGS) || { rc=$$?; echo $$rc > $(PYTEST_RC); exit $$rc; }

$(VENV)/bin/pip:
	@command -v $(PYTHON) >/dev/null || { \
	  echo "make: $(PYTHON) not found. Install Python 3.11+ (Debian/Ubuntu: apt-get install python3 python3-venv)." >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: Tessera needs Python 3.11+, but $$(command -v $(PYTHON)) is $$($(PYTHON) -V 2>&1)." \
	       "Put a Python 3.11+ python3 first in PATH (or run: make PYTHON=python3.12 ...)." >&2; \
	  exit 1; }
	@echo "$(PYTHON) -m venv $(VENV)"
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "make: '$(PYTHON) -m venv' failed. On Debian/Ubuntu install the venv module:" \
	       "sudo apt-get install python3-venv" >&2; \
	  exit 1; }

$(PY_STAMP): pyproject.toml $(PY_FORCE) | $(VENV)/bin/pip
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: $(PY) does not run or is older than Python 3.11: delete $(VENV)/ and run make again." >&2; \
	  exit 1; }
	$(PY) -m pip install --disable-pip-version-check -e '.[test]'
	@touch $@

$(NPM_STAMP): package.json $(NPM_LOCK) $(NPM_FORCE) | $(VENV)/bin/pip
	@command -v npm >/dev/null || { \
	  echo "make: npm not found. Install Node.js 20+ with npm (Debian/Ubuntu: apt-get install nodejs npm)." >&2; \
	  exit 1; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' || \
	  echo "make: warning: Node.js $$(node -v) is older than the supported 20; continuing." >&2
	$(if $(NPM_LOCK),npm ci,npm install) --no-audit --no-fund
	@touch $@

FORCE:
