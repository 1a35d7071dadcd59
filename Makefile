# The two commands of the README. Both create .venv/ and install balkanwatch into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests need: chromium and its driver for the browser tests of
# `balkanwatch web` (Playwright drives the system Chromium; it never downloads a browser), and
# postgresql, whose binaries the suite uses to start a server of its own for the storage and
# end-to-end tests on PostgreSQL (tests/pg.py; the system's own service is neither used nor
# started). `make test` installs the missing ones when run as root (CI); otherwise it names them.
DEBIAN_PACKAGES := chromium chromium-driver postgresql

.PHONY: run test lint bench clean debian-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,web]'
	touch $(STAMP)

run: $(STAMP)          ## set up and start the daemon on the default configuration
	$(BIN)/balkanwatch check-config
	$(BIN)/python scheduler.py

test: $(STAMP) debian-packages  ## set up and run the whole test suite
	$(BIN)/python -m pytest

debian-packages:
	@missing="$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done)"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "missing Debian packages (install them as root):" $$missing; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
