"""The measurements of one knowledge-base size, through HTTP on a real server process.

For a size: build (or reuse) the synthetic index in a child process, then start the service
twice. With the reranker: start-up time, memory, per-stage latency over the questions asked
one at a time, then 1, 4 and 16 concurrent clients. Retrieval only (no reranker): the same
questions again. At the incremental size, one article is edited and re-indexed.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.bench.load import ask_each, latency_report, run_load
from eval.bench.server import BenchServer
from eval.bench.stats import rerank_bound
from eval.bench.synth import sample_questions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SizePlan:
    """How much to measure at each size."""

    questions: int = 300
    load_requests: int = 120
    concurrency: tuple[int, ...] = (1, 4, 16)
    reranker: str | None = None  # None: the service's default (the shipped model if present)
    seed: int = 7
    cores: int = 2


def child(args: list[str], *, timeout_s: float = 3600) -> dict[str, Any]:
    """Run ``python -m eval.bench.scale ...`` and return its JSON summary."""
    done = subprocess.run([sys.executable, "-m", "eval.bench.scale", *args], check=False,
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"eval.bench.scale {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def build_size(root: Path, articles: int, *, seed: int, fresh: bool = False) -> dict[str, Any]:
    return child(["build", "--root", str(root), "--articles", str(articles),
                  "--seed", str(seed), *(["--fresh"] if fresh else [])])


def incremental(root: Path) -> dict[str, Any]:
    return child(["touch", "--root", str(root)])


def _served(root: Path, plan: SizePlan, *, reranker: str | None,
            load: bool, say: Any) -> dict[str, Any]:
    questions = sample_questions(root / "questions.jsonl", plan.questions, seed=plan.seed)
    with BenchServer(root, reranker=reranker) as server:
        say(f"ready in {server.ready_s:.1f} s (reranker: {server.ready.get('reranker')})")
        out: dict[str, Any] = {"ready_s": round(server.ready_s, 2),
                               "ready_phases_s": server.phases,
                               "reranker": bool(server.ready.get("reranker")),
                               "memory_ready": server.memory()}
        started = time.perf_counter()
        warm, samples = ask_each(server.url, questions, api_key=server.api_key)
        out["latency"] = latency_report(samples, warmup=warm)
        say(f"{len(samples)} questions in {time.perf_counter() - started:.0f} s: "
            f"p95 {out['latency']['e2e_ms'].get('p95')} ms")
        out["load"] = []
        for c in plan.concurrency if load else ():
            started = time.perf_counter()
            result = run_load(server.url, questions, api_key=server.api_key, concurrency=c,
                              requests=plan.load_requests)
            out["load"].append(result)
            say(f"{c} clients: {result['requests_per_s']} req/s, p95 "
                f"{result['latency_ms'].get('p95')} ms, {result['errors']} errors "
                f"({time.perf_counter() - started:.0f} s)")
        out["memory_peak"] = server.memory()
    return out


def measure_size(root: Path, plan: SizePlan, *, say: Any) -> dict[str, Any]:
    """Serve the index under ``root`` with and without the reranker; summarise."""
    full = _served(root, plan, reranker=plan.reranker, load=True, say=say)
    if full["reranker"]:
        say("retrieval only (no reranker)")
        bare = _served(root, plan, reranker="none", load=False, say=say)
    else:
        bare = full
    stages = full["latency"]["stages_ms"]
    rerank_p50 = stages.get("rerank", {}).get("p50")
    total_p50 = stages.get("total", {}).get("p50")
    top = max(full["load"], key=lambda r: r["concurrency"]) if full["load"] else {}
    return {
        "e2e_ms": full["latency"]["e2e_ms"],
        "retrieval_ms": bare["latency"]["stages_ms"].get("retrieval", {}),
        "ready_s": full["ready_s"],
        "ready_phases_s": full["ready_phases_s"],
        "rss_mb": full["memory_peak"]["peak_rss_mb"],
        "rss_ready_mb": full["memory_ready"]["rss_mb"],
        "requests_per_s": top.get("requests_per_s"),
        "reranker": full["reranker"],
        "rerank_bound_rps": rerank_bound(rerank_p50, cores=plan.cores) if rerank_p50 else None,
        "total_cost_bound_rps": (rerank_bound(total_p50, cores=plan.cores)
                                 if total_p50 else None),
        "stages_ms": stages,
        "latency": full["latency"],
        "load": full["load"],
        "retrieval_only": {"ready_s": bare["ready_s"], "latency": bare["latency"],
                           "rss_mb": bare["memory_peak"]["peak_rss_mb"]},
    }
