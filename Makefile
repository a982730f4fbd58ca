# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
INSTALLED := $(VENV)/.installed
ASSETS := static/vendor/.built

.PHONY: install assets compose-tool run check test test-unit test-integration test-e2e test-production-paths bench browser lock clean

install: $(INSTALLED) $(ASSETS)

$(INSTALLED): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint requirements.lock --editable '.[dev]'
	touch $@

assets: $(ASSETS)

$(ASSETS): package.json package-lock.json static/build-assets.mjs
	npm ci --no-audit --no-fund --loglevel=error
	node static/build-assets.mjs
	touch $@

run: install
	$(BIN)/dashboard run

check: install compose-tool
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	docker-compose --file compose.yaml config --quiet

# docker-compose only reads and checks compose.yaml here (no Docker engine runs on this
# machine): Debian's package where apt is ours to use.
compose-tool:
	@if command -v docker-compose > /dev/null; then echo "compose-tool: $$(command -v docker-compose)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose > /dev/null; \
	else echo "compose-tool: docker-compose is missing; install it (e.g. apt-get install docker-compose)" >&2; exit 1; fi

# Debian's Chromium where apt is ours to use; Playwright's own download elsewhere.
browser: install
	@if [ -x /usr/bin/chromium ]; then echo "browser: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	else $(BIN)/playwright install chromium; fi

test: check browser
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-production-paths

# The integration suite again on the production data paths: PostgreSQL for the database, then
# RabbitMQ as the broker, on this machine's own servers (TEST_POSTGRES_URL, TEST_AMQP_URL).
# Where a server does not answer, its run is skipped with a line saying so.
test-production-paths: install
	@echo "== integration tests on PostgreSQL (TEST_DATABASE=postgresql)"
	TEST_DATABASE=postgresql $(BIN)/pytest tests/integration -q
	@echo "== integration tests with RabbitMQ as the broker (TEST_BROKER=amqp)"
	TEST_BROKER=amqp $(BIN)/pytest tests/integration -q

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

test-e2e: install browser
	$(BIN)/pytest tests/e2e

# Every benchmark, one table (bench/results/latest.json too); non-zero when a goal is missed.
# The history benchmark fills its databases once (a few minutes) and keeps them in bench/.cache.
bench: install
	$(BIN)/python -m bench.run

# Re-pin the Python dependencies after changing pyproject.toml.
lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^dashboard' > requirements.lock

clean:
	rm -rf $(VENV) node_modules static/vendor var test-artifacts
