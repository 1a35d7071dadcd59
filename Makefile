# The two commands of the README. Both create .venv/ and install balkanwatch into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean postgresql

# The suite runs its storage and end-to-end tests on PostgreSQL too: it starts a server of its own
# from the Debian package's binaries (tests/pg.py). Installed here when missing (root, as CI runs;
# otherwise with sudo); the system's own PostgreSQL service is neither used nor started by us.
PG_INITDB := $(wildcard /usr/lib/postgresql/*/bin/initdb)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)          ## set up and start the daemon on the default configuration
	$(BIN)/balkanwatch check-config
	$(BIN)/python scheduler.py

test: $(STAMP) postgresql   ## set up and run the whole test suite
	$(BIN)/python -m pytest

postgresql:            ## the Debian package `postgresql`, if missing (no-op otherwise)
ifeq ($(PG_INITDB),)
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
endif

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
