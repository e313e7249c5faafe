# Everything a fresh clone needs is installed by these targets: the virtualenv with pinned
# packages (constraints.txt), checkov's own virtualenv (constraints-checkov.txt) and Amazon's
# DynamoDB Local (s3ledger.workbench.fetch: pinned, sha512 verified; an installed CLI fetches it
# into ~/.cache/s3ledger on first use instead).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins boto3==1.35.49, networkx<2.7 and packaging<24, which contradict the project's own
# pins (boto3 1.44.8 is a runtime dependency; pytest 9 needs packaging>=24; cfn-lint's networkx
# is 3.x): it cannot share .venv, so it has a virtualenv of its own, pinned just as exactly.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The loopback launcher is compiled last, so its class marks a complete install.
DDB_LOCAL := .cache/dynamodb-local/launcher/LoopbackDynamoDBLocal.class

# pytest-xdist workers: each starts its own DynamoDB Local and moto.
# Two suit the 2-core machine the suite is sized for; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

.PHONY: setup lint checkov typecheck test test-quick demo clean

setup: $(STAMP) $(CHECKOV_STAMP) $(DDB_LOCAL)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(CHECKOV_STAMP): constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -c constraints-checkov.txt checkov
	touch $@

$(DDB_LOCAL): $(STAMP) src/s3ledger/workbench/fetch.py src/s3ledger/workbench/java/LoopbackDynamoDBLocal.java
	$(BIN)/python -m s3ledger.workbench.fetch .cache/dynamodb-local

lint: $(STAMP) checkov
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports --no-cache

# Fails on any failed check. Every suppression is in template.yaml, in the Metadata of the
# resource it concerns, with its reason. --skip-download: no call to Prisma Cloud (the check set
# is the pinned version's own).
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --quiet \
		--compact --skip-download

typecheck: $(STAMP)
	$(BIN)/mypy src

# Everything: lint (ruff, import contracts, checkov), mypy and every test.
test: setup lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The tests not marked `slow` (the stateful machine, chaos, bench, demo and the other multi-second
# runs), under a minute. No lint or typecheck: run `make lint typecheck` (or `make test`) before
# pushing.
test-quick: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow"

demo: setup
	$(BIN)/s3ledger demo

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .cache .pytest_cache .mypy_cache .ruff_cache
