# The two commands a newcomer needs: `make demo` and `make test`.
# Both set up the machine first (scripts/bootstrap.sh does only what is missing).

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit bench slow setup clean

demo: $(STAMP)
	$(BIN)/harness run

test: $(STAMP) lint typecheck
	$(BIN)/pytest -m "not slow and not benchmark" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness tests
	$(BIN)/ruff format --check harness tests

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pytest -m benchmark $(PYTEST_ARGS)

slow: $(STAMP)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-nodeps.txt scripts/bootstrap.sh contracts/package-lock.json
	VENV=$(VENV) scripts/bootstrap.sh

clean:
	rm -rf $(VENV) .harness .mypy_cache .ruff_cache .tox
