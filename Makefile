# The two commands a newcomer needs: `make demo` and `make test`; `make check` while working.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint typecheck bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: example escalations through the daemon on embedded defaults (Ctrl-C stops it)
demo: $(STAMP)
	$(BIN)/tracker demo

## system-deps: Dovecot for the IMAP tests, Chromium for the report tests (installed only when missing and we are root)
system-deps:
	@if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing dovecot-imapd for the IMAP tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
	  else \
	    echo "dovecot-imapd is missing and cannot be installed here: the IMAP tests will be skipped."; \
	  fi; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium for the report tests (rendering and PDF)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing and cannot be installed here: the rendering tests will be skipped."; \
	  fi; \
	fi

## test: install everything the tests need, lint, type-check and run the whole suite
test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest

## check: the quick loop while working (about 90 s): lint, types and every test that needs no server and is not slow
check: $(STAMP) lint typecheck
	$(BIN)/pytest -q -m "not server and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy ingest tracker

## bench: backlog ingest and acknowledgement latency against the private Dovecot; reports on 10,000 cases
bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.reports

clean:
	rm -rf var bench/out .pytest_cache .mypy_cache .ruff_cache
