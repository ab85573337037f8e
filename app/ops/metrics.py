"""Prometheus metrics of the service; docs/operations.md lists them.

The metrics are module-level, as prometheus-client expects. With ``PROMETHEUS_MULTIPROC_DIR``
set (an existing, empty folder, before the workers start) every worker process writes its
values there and ``/metrics`` adds them up, so one scrape covers all workers of a host.

The answer pipeline is not instrumented inside: its stage timings, outcome and reason are
read from the answer it returns (:func:`observed`), at the API layer; so are the attributes
that tracing sets on the request's span (:mod:`app.ops.tracing`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from app.ops.tracing import record_answer
from app.rag.answer import AnswerResult, Event
from app.rag.trace import outcome_of

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAIT_SECONDS = (0.0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
JOB_SECONDS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

REQUESTS = Counter("groundline_http_requests_total",
                   "HTTP requests by method, route template and status.",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("groundline_http_request_duration_seconds",
                            "HTTP request duration by method and route template.",
                            ["method", "route"], buckets=SECONDS)
STAGE_SECONDS = Histogram("groundline_answer_stage_seconds",
                          "Duration of each pipeline stage of an answer (total: all of it).",
                          ["stage"], buckets=SECONDS)
ANSWERS = Counter("groundline_answers_total",
                  "Answers by outcome (answer, suggest, decline) and fallback reason "
                  "(none for an answer).", ["outcome", "reason"])
LLM_FALLBACKS = Counter("groundline_llm_fallbacks_total",
                        "Answers composed extractively because the configured LLM failed.")
RERANK_REDUCED = Counter("groundline_rerank_reduced_total",
                         "Answers whose reranking depth the latency budget reduced.")
SLOT_WAIT = Histogram("groundline_model_slot_wait_seconds",
                      "How long a model call (query embedding, reranking) waited for a model "
                      "slot; 0 when one was free.", buckets=WAIT_SECONDS)
INDEX_VERSION = Gauge("groundline_index_version_info",
                      "1 for the index version this process serves, 0 for earlier ones.",
                      ["version"], multiprocess_mode="liveall")
INDEX_CHUNKS = Gauge("groundline_index_chunks", "Chunks in the index version served.",
                     multiprocess_mode="liveall")
JOBS = Counter("groundline_reindex_jobs_total",
               "Finished re-index jobs by status (succeeded, unchanged, failed).", ["status"])
JOB_DURATION = Histogram("groundline_reindex_job_duration_seconds",
                         "Duration of re-index jobs by status.", ["status"],
                         buckets=JOB_SECONDS)

_served: list[str] = []  # the version this process marked as served


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one HTTP request under its route template."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def observe_answer(result: AnswerResult) -> None:
    """Count one answer: its outcome and reason, stage timings, LLM failure, rerank cut."""
    reason = result.fallback.reason if result.fallback is not None else None
    ANSWERS.labels(outcome_of(reason), reason or "none").inc()
    for stage, ms in result.timings_ms.items():
        STAGE_SECONDS.labels(stage).observe(ms / 1000)
    if result.llm_failed:
        LLM_FALLBACKS.inc()
    if result.prepared.rerank_reduced:
        RERANK_REDUCED.inc()


def observed(events: Iterator[Event]) -> Iterator[Event]:
    """The answer service's events, unchanged; the finished answer is counted on its way
    (and its stage timings set on the request's trace span, when tracing is on)."""
    for event in events:
        if event.kind == "done" and isinstance(event.data, AnswerResult):
            observe_answer(event.data)
            record_answer(event.data)
        yield event


def observe_slot_wait(seconds: float) -> None:
    """Record how long a model call waited for its slot (``ModelSlots(on_wait=...)``)."""
    SLOT_WAIT.observe(seconds)


def observe_reindex_job(status: str, seconds: float) -> None:
    """Count a finished re-index job and its duration under its final status."""
    JOBS.labels(status).inc()
    JOB_DURATION.labels(status).observe(seconds)


def set_index_version(name: str, chunks: int | None) -> None:
    """Mark ``name`` as the version this process serves."""
    for old in _served:
        if old != name:
            INDEX_VERSION.labels(old).set(0)
    _served[:] = [name]
    INDEX_VERSION.labels(name).set(1)
    if chunks is not None:
        INDEX_CHUNKS.set(chunks)


def multiprocess() -> bool:
    """Whether the values live in ``PROMETHEUS_MULTIPROC_DIR``, shared by the workers."""
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> tuple[bytes, str]:
    """The exposition text of every metric (of every worker, in multiprocess mode)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exit() -> None:
    """Drop this process's live gauges from the shared folder (multiprocess mode)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid())
