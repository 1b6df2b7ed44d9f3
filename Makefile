# Each target is one obvious command. Python 3.11 and make are all a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite's second pass runs against this PostgreSQL (it makes and drops its own test_chat).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chat

.PHONY: run serve test test-unit test-postgres test-scaleout test-faults test-e2e lint install install-test browser clean bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(BIN)/.installed-bench: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

install: $(BIN)/.installed
install-test: $(BIN)/.installed-test

## Serve the site on the embedded defaults (SQLite, in-memory channel layer, one process).
run: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=1 $(BIN)/python manage.py webpush_keys > /dev/null  # Web Push's key, made once
	DJANGO_DEBUG=1 $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan on --ws-per-message-deflate false --reload --reload-dir chat --reload-dir config

## Production: $(WORKERS) uvicorn worker processes behind a proxy. Set DJANGO_DEBUG=0,
## DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL and REDIS_URL (several workers share
## rooms only through Redis); migrate and collectstatic first, as separate steps.
WORKERS ?= 2
serve: install
	PATH=$(CURDIR)/$(BIN):$$PATH bin/serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## The whole suite: lint, unit and socket tests on SQLite and on PostgreSQL, two worker
## processes over PostgreSQL and Redis, then the browser tests in their own run
## (Playwright's loop and pytest-asyncio's don't share a process).
test: install-test browser lint test-unit test-postgres test-scaleout test-faults test-e2e

UNIT := not e2e and not scaleout and not faults

test-unit: install-test
	$(BIN)/pytest -m "$(UNIT)"

test-postgres: install-test
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -m "$(UNIT)" -p no:cacheprovider

test-scaleout: install-test
	$(BIN)/pytest -m scaleout

## Faults: workers killed, Redis and PostgreSQL cut off, storms, slow readers, a host cut
## off the network, while a crowd posts; each ends by checking nothing was lost or doubled.
test-faults: install-test
	$(BIN)/pytest -m faults

test-e2e: install-test browser
	$(BIN)/pytest -m e2e

## Debian's Chromium for the browser tests (never Playwright's own download).
browser:
	@command -v chromium >/dev/null || { \
		apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji; }

## Load benchmark against a plain websockets reference (bench/README.md); about 10 minutes.
## Quicker: make bench ARGS="--quick", or ARGS="--scenario one-room --step-seconds 5".
bench: $(BIN)/.installed-bench
	$(BIN)/python -m bench.run $(ARGS)

## Style, types (mypy with django-stubs) and the boundaries of DESIGN.md (import-linter).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var staticfiles
