# Everything the project needs is installed here, into .venv: nothing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean install govuk-frontend

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# ciw, the queueing simulator bench.simulator runs beside ours, ships a top-level "tests"
	# package that would shadow ours: it gets a directory of its own, used only by that bench
	$(BIN)/python -m pip install --quiet --upgrade --target $(VENV)/ciw 'ciw>=3.2'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/expertline serve --demo

# Style, the architecture (package floors, no import circles) and strict types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

# Refresh the vendored GOV.UK Frontend (pinned in pages/vendor.py); needs npm, run by hand.
govuk-frontend: $(STAMP)
	$(BIN)/python -m pages.vendor

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache
