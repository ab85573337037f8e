"""``python -m eval.bench``: the benchmark runner (``make bench``).

Each part (a size's build, its served measurements, the incremental re-index, ingestion,
each side-by-side comparison, worker scaling on PostgreSQL) is saved under ``<work>/parts/``
when it finishes and reused by the next run with the same parameters, so an interrupted run
resumes where it stopped (``--fresh`` or ``--redo PART`` measure again). Every part prints
how long it took.

A full run (sizes 1,000, 10,000 and 50,000) writes ``docs/bench/latest.{json,md,png}``
and the block in ``docs/benchmarks.md``; other runs write to ``<work>/results/`` unless
``--publish``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from app.environment import prepare_process
from eval.bench import parts
from eval.bench.sizes import SizePlan
from eval.bench.standin import STANDIN_NAME, standin_reranker
from eval.bench.workers import QUICK_WORKERS, WorkerPlan, measure_workers, unavailable

FULL_SIZES = (1000, 10_000, 50_000)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Plan:
    sizes: tuple[int, ...] = FULL_SIZES
    size: SizePlan = SizePlan()
    incremental_at: int | None = 10_000
    ingest_articles: int | None = None  # all sample articles
    compare_questions: int = 200
    rerank_questions: int = 60
    oracle_queries: int = 5
    bm25_size: int = 10_000
    workers: WorkerPlan = WorkerPlan()
    quick: bool = False


QUICK = Plan(sizes=(1000,), size=SizePlan(questions=40, load_requests=24),
             incremental_at=1000, ingest_articles=10, compare_questions=40,
             rerank_questions=10, oracle_queries=3, bm25_size=1000,
             workers=QUICK_WORKERS, quick=True)


class Runner:
    """Runs parts in order, reusing saved ones, timing and announcing each."""

    def __init__(self, work: Path, *, fresh: bool, redo: set[str]) -> None:
        self.work = work
        self.fresh, self.redo = fresh, redo
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def say(self, part: str, message: str) -> None:
        print(f"[bench +{time.perf_counter() - self.started:6.0f}s] {part}: {message}",
              flush=True)

    def part(self, name: str, params: dict[str, Any], fn: Callable[[], Any]) -> Any:
        path = self.work / "parts" / f"{name}.json"
        params = json.loads(json.dumps(params))  # as saved: tuples become lists
        if path.exists() and not self.fresh and name not in self.redo:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("params") == params:
                self.say(name, f"reused (took {saved['seconds']} s when measured)")
                self.seconds[name] = saved["seconds"]
                return saved["result"]
        self.say(name, "started")
        started = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - started, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"params": params, "seconds": seconds, "result": result,
                                    "date": _now()}, indent=1), encoding="utf-8")
        self.seconds[name] = seconds
        self.say(name, f"done in {seconds} s")
        return result


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def run(plan: Plan, *, runner: Runner) -> dict[str, Any]:
    """Every part of the plan; returns the merged result (without targets)."""
    loadavg_start = os.getloadavg()
    out: dict[str, Any] = {"sizes": {}, "incremental": None, "compare": {}}
    versions: dict[int, dict[str, str]] = {}
    for n in plan.sizes:
        root = runner.work / str(n)
        fresh = runner.fresh or f"build-{n}" in runner.redo
        build = runner.part(f"build-{n}",
                            {"articles": n, "seed": plan.size.seed, "vectors": STANDIN_NAME},
                            partial(parts.build, root, n, plan.size.seed, fresh))
        # Measurements of an index that has since been rebuilt are not reused.
        versions[n] = {"index": build["index"]["version"]}
        if plan.incremental_at == n:
            out["incremental"] = runner.part(f"incremental-{n}", versions[n],
                                             partial(parts.incremental, root))
        say = partial(runner.say, f"size-{n}")
        measured = runner.part(f"size-{n}", {**asdict(plan.size), **versions[n]},
                               partial(parts.served, root, plan.size, say))
        out["sizes"][str(n)] = {**measured, "build": build}
    out["ingestion"] = runner.part(
        "ingestion", {"articles": plan.ingest_articles},
        partial(parts.ingestion, runner.work / "ingestion", ROOT / "data" / "kb" / "articles",
                plan.ingest_articles))
    out["compare"], out["reranker"] = _compare(plan, runner, versions)
    out["workers"] = _workers(plan.workers, runner)
    out["loadavg"] = {"start": [round(x, 2) for x in loadavg_start],
                      "end": [round(x, 2) for x in os.getloadavg()]}
    return out


def _compare(plan: Plan, runner: Runner, versions: dict[int, dict[str, str]]
             ) -> tuple[dict[str, Any], str | None]:
    """The side-by-side parts: BM25 at the size nearest 10,000, FAISS and reranking at the
    largest size."""
    out: dict[str, Any] = {}
    largest = max(plan.sizes)
    small = max((n for n in plan.sizes if n <= plan.bm25_size), default=min(plan.sizes))
    q = {"questions": plan.compare_questions, "oracle": plan.oracle_queries}
    out["bm25"] = runner.part(
        f"bm25-{small}", {**q, **versions[small]},
        partial(parts.bm25, runner.work / str(small), plan.compare_questions,
                plan.oracle_queries))
    out["dense"] = runner.part(
        f"dense-{largest}", {**q, **versions[largest]},
        partial(parts.dense, runner.work / str(largest), plan.compare_questions))
    reranker = parts.reranker_path(plan.size.reranker)
    if reranker:
        out["rerank"] = runner.part(
            f"rerank-{largest}", {"questions": plan.rerank_questions, "reranker": reranker,
                                  **versions[largest]},
            partial(parts.rerank, runner.work / str(largest), plan.rerank_questions, reranker))
    return out, reranker


def _workers(plan: WorkerPlan, runner: Runner) -> dict[str, Any]:
    """Worker scaling on PostgreSQL, or why it cannot run here (not saved, so a later run
    with PostgreSQL measures it)."""
    reason = unavailable()
    if reason:
        runner.say("workers", f"skipped: {reason}")
        return {"skipped": reason}
    say = partial(runner.say, "workers")
    result: dict[str, Any] = runner.part(
        "workers", asdict(plan), partial(measure_workers, runner.work / "workers", plan, say=say))
    return result


def _plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else Plan()
    if args.sizes:
        sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(","))
        # A quick run re-indexes at its smallest size; a full one at 10,000 if it runs it.
        at = min(sizes) if plan.quick else plan.incremental_at
        plan = replace(plan, sizes=sizes, incremental_at=at if at in sizes else None)
    size = replace(plan.size, reranker=args.reranker)
    if args.questions:
        size = replace(size, questions=args.questions)
        plan = replace(plan, compare_questions=min(plan.compare_questions, args.questions),
                       rerank_questions=min(plan.rerank_questions, args.questions))
    if args.load_requests:
        size = replace(size, load_requests=args.load_requests)
    if args.ingest_articles:
        plan = replace(plan, ingest_articles=args.ingest_articles)
    return replace(plan, size=size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="comma-separated article counts (1000,10000,50000)")
    parser.add_argument("--quick", action="store_true", help="1,000 articles, few requests")
    parser.add_argument("--reranker", help="CrossEncoder folder, or 'none' (default: shipped)")
    parser.add_argument("--questions", type=int, help="questions asked one at a time, per size")
    parser.add_argument("--load-requests", type=int, help="requests per concurrency level")
    parser.add_argument("--ingest-articles", type=int,
                        help="sample articles for the ingestion throughput (default: all)")
    parser.add_argument("--work", type=Path, default=Path("var/bench"), help="work folder")
    parser.add_argument("--out", type=Path, help="where latest.{json,md,png} go")
    parser.add_argument("--publish", action="store_true", help="write to docs/bench")
    parser.add_argument("--fresh", action="store_true", help="measure every part again")
    parser.add_argument("--redo", default="", help="parts to measure again, e.g. size-50000")
    args = parser.parse_args(argv)
    prepare_process()
    plan = _plan(args)
    if plan.size.reranker is None and parts.reranker_path(None) is None:
        plan = replace(plan, size=replace(plan.size, reranker=standin_reranker(args.work)))
    runner = Runner(args.work, fresh=args.fresh, redo=set(filter(None, args.redo.split(","))))
    from eval.bench.report import machine, write

    runner.say("plan", f"sizes {list(plan.sizes)}, {plan.size.questions} questions per run, "
                       f"{plan.size.load_requests} requests x clients {list(plan.size.concurrency)}"
                       f", reranker {parts.reranker_path(plan.size.reranker) or 'none'}")
    result = run(plan, runner=runner)
    full = not plan.quick and plan.sizes == FULL_SIZES
    result = {"date": _now(), "machine": machine(),
              "mode": "quick" if plan.quick else ("full" if full else "partial"),
              "command": "python -m eval.bench " + shlex.join(argv or sys.argv[1:]),
              **result, "seconds": runner.seconds,
              "total_s": round(sum(runner.seconds.values()), 1)}
    publish = args.publish or (full and args.out is None)
    out = args.out or (ROOT / "docs" / "bench" if publish else args.work / "results")
    paths = write(result, out, readme=ROOT / "docs" / "benchmarks.md" if publish else None)
    runner.say("report", "wrote " + ", ".join(str(p) for p in paths))
    print(paths[1].read_text(encoding="utf-8"))
    return 0
