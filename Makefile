# Groundline: grounded answers for customer-support chatbots.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
HOST   ?= 127.0.0.1
DEMO   ?= true
STAMP  := $(VENV)/.installed

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

run: index ## Set up, index data/ if missing or stale, and serve on $(HOST):$(PORT) (DEMO=false: no demo page)
	@# Fewer glibc malloc arenas: request threads otherwise grow one arena each (measured:
	@# peak RSS about 970 MB instead of 1,260 MB after 16 concurrent clients).
	MALLOC_ARENA_MAX=2 GROUNDLINE_PUBLIC__DEMO=$(DEMO) \
	GROUNDLINE_PUBLIC__DEMO_ORIGINS='["http://$(HOST):$(PORT)","http://localhost:$(PORT)"]' \
	$(PY) -m uvicorn app.main:create_app --factory --host $(HOST) --port $(PORT) --no-proxy-headers

WORKERS      ?= 2
DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/groundline
REDIS_URL    ?= redis://127.0.0.1:6379/0
CLUSTER_ENV  = GROUNDLINE_DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' GROUNDLINE_INDEX__STORE=database
run-cluster: setup ## Serve WORKERS (2) processes on PostgreSQL and Redis (DATABASE_URL, REDIS_URL), sharing versions and jobs (docs/deployment.md)
	@$(CLUSTER_ENV) $(PY) -m ingest --no-progress || [ $$? -eq 2 ]
	MALLOC_ARENA_MAX=2 $(CLUSTER_ENV) \
	$(PY) -m uvicorn app.main:create_app --factory --host $(HOST) --port $(PORT) --workers $(WORKERS) --no-proxy-headers

worker: setup ## Run re-index jobs without serving HTTP, beside run-cluster hosts (python -m app.worker)
	$(CLUSTER_ENV) $(PY) -m app.worker

test: setup ## Run the default test suite (fast; no slow marker)
	$(PY) -m pytest -q

# The console's scale benchmark needs PostgreSQL (the local server, as in CI).
TEST_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
test-slow: setup ## Run only the slow tests (fresh install, benchmarks, freshness; CI runs them after make test)
	$(PY) -m pytest -q -m slow
	GROUNDLINE_TEST_DATABASE_URL=$(TEST_PG) $(PY) -m pytest -q -m slow tests/e2e/test_console_scale.py

test-all: setup ## Run every test, slow ones included
	$(PY) -m pytest -q -m ''

eval: index ## Evaluate the sample set: run folder and report in var/eval/runs (EVAL_ARGS=...)
	$(PY) -m eval run --name full $(EVAL_ARGS)

eval-smoke: index ## Gated evaluation of 60 sample questions against eval/baselines/smoke.json
	$(PY) -m eval run --sample 60 --name smoke --baseline smoke --no-progress $(EVAL_ARGS)

eval-baseline: index ## Re-create eval/baselines/smoke.json from the current pipeline (commit it)
	$(PY) -m eval run --sample 60 --name smoke --save-baseline smoke --no-gates --no-progress

calibrate: index ## Fit the answer decision on the sample set's development part (writes var/decision.json)
	$(PY) -m eval calibrate --model --max-false-answer 0.1 $(EVAL_ARGS)

train-reranker: setup ## Train the shipped reranker into data/models/support-reranker (TRAIN_ARGS=...)
	$(PY) -m ingest.models.reranker train $(TRAIN_ARGS)

KB      ?= data/kb
TICKETS ?= data/tickets
BASE    ?= data/models/support-reranker
TUNED   ?= var/models/support-reranker-tuned
finetune-reranker: setup ## Fine-tune the reranker on $(TICKETS) (+ feedback: FINETUNE_ARGS=--feedback) into $(TUNED), then compare
	$(PY) -m ingest.models.reranker finetune --base $(BASE) --kb $(KB) --tickets $(TICKETS) --out $(TUNED) --work var/reranker-tuned $(FINETUNE_ARGS)
	$(PY) -m eval.models ranking --dataset questions --set var/reranker-tuned/dev.jsonl --kb $(KB) --reranker $(BASE) --compare $(TUNED) --weights $(BLEND_WEIGHTS) --out var/eval/finetune-compare.json

# The blend weights measured; `python -m eval.models card` chooses among them (held-out MRR, SciFact bar).
BLEND_WEIGHTS ?= 0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8
bench-reranker: setup ## Reranker: SciFact nDCG@10, DSTC10 and sample-set recall/MRR, latency (var/eval)
	$(PY) -m eval.models ranking --dataset scifact --depths 20,40 --weights $(BLEND_WEIGHTS)
	$(PY) -m eval.models ranking --dataset dstc10
	$(PY) -m eval.models ranking --dataset questions --set data/eval/sample.jsonl --weights $(BLEND_WEIGHTS)
	$(PY) -m eval.models latency
	@if [ -s var/reranker/dev.jsonl ]; then $(PY) -m eval.models ranking --dataset questions --set var/reranker/dev.jsonl --weights $(BLEND_WEIGHTS); fi

reranker-card: setup ## Write the shipped reranker's model card from the bench-reranker reports
	$(PY) -m eval.models card

bench: setup ## Latency, throughput, memory and scale benchmarks, ~30 min (BENCH_ARGS=--quick: ~4 min)
	$(PY) -m eval.bench $(BENCH_ARGS)

FUZZ_EXAMPLES ?= 50
fuzz: setup ## Schema fuzzing (schemathesis) of a throwaway server, as widget and admin: 0 5xx, 0 violations
	$(PY) -m tests.fuzz --max-examples $(FUZZ_EXAMPLES) $(FUZZ_ARGS)

lint: setup ## ruff and mypy
	$(PY) -m ruff check app ingest eval tests
	$(PY) -m mypy app ingest eval

clean: ## Remove built indexes and the local database (not the venv)
	rm -rf var

.PHONY: help setup ingest index run run-cluster worker test test-slow test-all fuzz lint clean eval eval-smoke eval-baseline calibrate train-reranker finetune-reranker bench-reranker reranker-card bench
