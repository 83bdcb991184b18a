# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CHECK_DB := $(shell mktemp -u /tmp/hcp-check-XXXXXX).db

.PHONY: run test install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

## The browser tests drive Debian's Chromium (Playwright cannot download its own here).
install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@test -x /usr/bin/chromium || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Install, create the demo province on SQLite (first time only) and start the server.
run: install
	@test -f haochaping.db || $(BIN)/haochaping demo
	$(BIN)/haochaping serve

## Install what the tests need and run every check: lint, types, layering, migrations, suite.
test: install-test lint
	HCP_DATABASE_URL=sqlite:///$(CHECK_DB) $(BIN)/haochaping db upgrade
	HCP_DATABASE_URL=sqlite:///$(CHECK_DB) $(BIN)/haochaping db check
	rm -f $(CHECK_DB)
	$(BIN)/pytest -q

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) haochaping.db haochaping.db-wal haochaping.db-shm
