# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CHECK_DB := $(shell mktemp -u /tmp/hcp-check-XXXXXX).db

.PHONY: run test install install-test lint clean assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

## The console's charts (ECharts, from the npm registry, served by the app itself) and a CJK
## font for the charts of the Word bulletins.
ECHARTS := src/haochaping/console/static/vendor/echarts.min.js
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

$(ECHARTS): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --silent
	mkdir -p $(dir $(ECHARTS))
	cp frontend/node_modules/echarts/dist/echarts.common.min.js $(ECHARTS)

$(CJK_FONT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null

assets: $(ECHARTS) $(CJK_FONT)

install: $(BIN)/python assets
	$(BIN)/pip install --quiet -e .

## The browser tests drive Debian's Chromium (Playwright cannot download its own here).
install-test: $(BIN)/python assets
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
	rm -rf $(VENV) haochaping.db haochaping.db-wal haochaping.db-shm frontend/node_modules $(ECHARTS)
