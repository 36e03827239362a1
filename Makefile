# Heedful: `make run` serves it on http://127.0.0.1:8000, `make test` checks everything.
# Both create .venv with the first Python >= 3.11 found and install what they need.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# Extra options for `heedful run`, e.g. make run RUN_ARGS="--port 8080".
RUN_ARGS ?=
# Extra options for pytest, e.g. make test PYTEST_ARGS="-k backup -x".
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest bench stress clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Heedful needs Python 3.11 or newer (python3.11 on PATH)."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV): install the venv module (Debian/Ubuntu: apt-get install python3-venv)."; \
		exit 1; }

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing Heedful into $(VENV)..."
	$(PIP) install -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing Heedful and its development tools into $(VENV)..."
	$(PIP) install -e '.[dev]'
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/heedful run $(RUN_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy src

pytest: $(DEV_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/workspace.py
	$(BIN)/python bench/email_bench.py
	$(BIN)/python bench/insights_bench.py
	$(BIN)/python bench/change_detection.py
	$(BIN)/python bench/search_bench.py

# The full email crash test: 1,000 messages from a real IMAP server while the fetcher
# is killed 20 times (the test suite runs a short version). Add DATABASE_URL for PostgreSQL.
stress: $(DEV_STAMP)
	$(BIN)/python bench/stress_email.py

clean:
	rm -rf $(VENV) var/test*.sqlite3*
