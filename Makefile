# Groundline: grounded answers for customer-support chatbots.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
HOST   ?= 127.0.0.1
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAGAS_DO_NOT_TRACK := true
export TOKENIZERS_PARALLELISM := false

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@# torch first and pinned: its CPU wheel is local; an unpinned torch pulls CUDA builds.
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install everything (idempotent)

ingest: setup ## Build or update the index of data/ (incremental)
	$(PY) -m ingest $(INGEST_ARGS)

index: setup
	@$(PY) -m ingest --no-progress || [ $$? -eq 2 ]

run: index ## Set up, index data/ if missing or stale, and serve on $(HOST):$(PORT)
	$(PY) -m uvicorn app.main:create_app --factory --host $(HOST) --port $(PORT)

test: setup ## Run the default test suite (fast; no slow marker)
	$(PY) -m pytest -q

test-all: setup ## Run every test, slow ones included
	$(PY) -m pytest -q -m ''

lint: setup ## ruff and mypy
	$(PY) -m ruff check app ingest eval tests
	$(PY) -m mypy app ingest eval

clean: ## Remove built indexes and the local database (not the venv)
	rm -rf var

.PHONY: help setup ingest index run test test-all lint clean
