"""HTTP clients of the benchmark: one question at a time, and N concurrent clients.

Every request is a real ``POST /v1/chat`` on 127.0.0.1 with an admin key (server-to-server
use; widget keys are rate limited per address, which would throttle a single-host load
test). The client measures the round trip; the server's ``timings_ms`` give the stages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from eval.bench.stats import stage_summaries, summary
from eval.bench.synth import Question

TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One answered (or failed) request."""

    ms: float
    status: int
    question: Question
    timings: dict[str, float] = field(default_factory=dict)
    fallback: str | None = None
    articles: tuple[str, ...] = ()  # cited, or suggested by a fallback
    rerank_depth: int = 0
    rerank_reduced: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


def _sample(question: Question, started: float, response: httpx.Response | None,
            error: str = "") -> Sample:
    ms = (time.perf_counter() - started) * 1000
    if response is None:
        return Sample(ms, 0, question, error=error or "no response")
    if response.status_code != 200:
        return Sample(ms, response.status_code, question, error=response.text[:200])
    body: dict[str, Any] = response.json()
    fallback = body.get("fallback")
    articles = [c["article_id"] for c in body.get("citations", [])]
    if fallback:
        articles += [s["article_id"] for s in fallback.get("suggestions", [])]
    return Sample(ms, 200, question, timings=dict(body.get("timings_ms", {})),
                  fallback=fallback["reason"] if fallback else None, articles=tuple(articles),
                  rerank_depth=int(body.get("rerank_depth") or 0),
                  rerank_reduced=bool(body.get("rerank_reduced")))


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}


def ask_each(url: str, questions: Sequence[Question], *, api_key: str,
             warmup: int = 5) -> tuple[list[Sample], list[Sample]]:
    """Ask the questions one after another; returns (warm-up samples, measured samples)."""
    done: list[Sample] = []
    with httpx.Client(base_url=url, timeout=TIMEOUT_S, headers=_headers(api_key)) as client:
        for q in [*questions[:warmup], *questions]:
            started = time.perf_counter()
            try:
                response = client.post("/v1/chat", json={"message": q.text})
                done.append(_sample(q, started, response))
            except httpx.HTTPError as exc:
                done.append(_sample(q, started, None, type(exc).__name__))
    return done[:warmup], done[warmup:]


async def _clients(url: str, questions: Sequence[Question], *, api_key: str,
                   concurrency: int, requests: int) -> tuple[list[Sample], float]:
    queue: asyncio.Queue[Question] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(questions[i % len(questions)])
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S, limits=limits,
                                 headers=_headers(api_key)) as client:

        async def worker() -> None:
            while not queue.empty():
                q = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/chat", json={"message": q.text})
                    samples.append(_sample(q, started, response))
                except httpx.HTTPError as exc:
                    samples.append(_sample(q, started, None, type(exc).__name__))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return samples, wall


def run_load(url: str, questions: Sequence[Question], *, api_key: str, concurrency: int,
             requests: int) -> dict[str, Any]:
    """``requests`` requests from ``concurrency`` clients: throughput, latency, errors."""
    samples, wall = asyncio.run(_clients(url, questions, api_key=api_key,
                                         concurrency=concurrency, requests=requests))
    ok = [s for s in samples if s.ok]
    errors = [s for s in samples if not s.ok]
    return {"concurrency": concurrency, "requests": len(samples), "wall_s": round(wall, 2),
            "requests_per_s": round(len(ok) / wall, 2) if wall else 0.0,
            "latency_ms": summary(s.ms for s in ok), "errors": len(errors),
            "error_kinds": sorted({f"{s.status} {s.error[:60]}" for s in errors})[:5],
            "rerank_ms": summary(s.timings["rerank"] for s in ok if "rerank" in s.timings),
            "rerank_depth": summary(s.rerank_depth for s in ok if s.rerank_depth),
            "decided_and_composed_share": _decided_share(ok),
            "latency_ms_decided_and_composed": summary(s.ms for s in ok if _decided(s))}


def _decided(s: Sample) -> bool:
    """The answer decision ran, with the sentence scores it reads, and the answer's sentences
    were chosen (generated)."""
    return all(k in s.timings for k in ("sentences", "decide", "generate"))


def _decided_share(ok: Sequence[Sample]) -> float | None:
    return round(sum(map(_decided, ok)) / len(ok), 3) if ok else None


def latency_report(samples: Sequence[Sample], *, warmup: Sequence[Sample] = ()) -> dict[str, Any]:
    """Client round trips, server stages, fallback and source-hit rates of a latency run."""
    ok = [s for s in samples if s.ok]
    on_topic = [s for s in ok if s.question.article_id]
    off_topic = [s for s in ok if not s.question.article_id]
    hits = sum(s.question.article_id in s.articles for s in on_topic)
    reranked = [s for s in ok if s.rerank_depth and "rerank" in s.timings]
    return {
        "questions": len(samples), "errors": len(samples) - len(ok),
        "e2e_ms": summary(s.ms for s in ok),
        "decided_and_composed_share": _decided_share(ok),
        "e2e_ms_decided_and_composed": summary(s.ms for s in ok if _decided(s)),
        "stages_ms": stage_summaries([s.timings for s in ok]),
        "first_request_ms": round(warmup[0].ms, 1) if warmup else None,
        "answered": sum(s.fallback is None for s in ok),
        "fallbacks": sum(s.fallback is not None for s in ok),
        "source_hit_rate": round(hits / len(on_topic), 3) if on_topic else None,
        "off_topic_fallback_rate": (round(sum(s.fallback is not None for s in off_topic)
                                          / len(off_topic), 3) if off_topic else None),
        "rerank_depth": summary(s.rerank_depth for s in reranked),
        "rerank_reduced_share": (round(sum(s.rerank_reduced for s in reranked) / len(reranked), 3)
                                 if reranked else None),
        "rerank_ms_per_pair": summary((s.timings["rerank"] / s.rerank_depth for s in reranked),
                                      digits=2),
    }
