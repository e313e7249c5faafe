# Everything a fresh clone needs is installed by these targets: the virtualenv with pinned
# packages (constraints.txt) and Amazon's DynamoDB Local (scripts/fetch-dynamodb-local.sh).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The loopback launcher is compiled last, so its class marks a complete install.
DDB_LOCAL := .cache/dynamodb-local/launcher/LoopbackDynamoDBLocal.class

.PHONY: setup lint typecheck test test-fast demo clean

setup: $(STAMP) $(DDB_LOCAL)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(DDB_LOCAL): scripts/fetch-dynamodb-local.sh scripts/LoopbackDynamoDBLocal.java
	scripts/fetch-dynamodb-local.sh .cache/dynamodb-local

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src

test: setup lint typecheck
	$(BIN)/pytest

demo: setup
	$(BIN)/s3ledger demo

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
