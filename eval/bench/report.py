"""The benchmark's outputs: machine description, targets, ``latest.json``/``.md``/``.png``."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.bench.standin import STANDIN_RERANKER

README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
STANDIN_NOTE = ("Index vectors at every size come from a deterministic stand-in embedder "
                "(hashed words, random projection, 384 dimensions); query embedding runs the "
                "real all-MiniLM-L6-v2 on every request, so latency, throughput, memory and "
                "start-up include its cost. Ingestion throughput uses the real model only; "
                "the incremental re-index embeds the changed passages with the real model.")


def _reranker_label(path: str | None) -> str:
    if not path:
        return "none"
    if Path(path).name == STANDIN_RERANKER:
        return (f"{path} (an untrained cross-encoder of the default shape, 2 layers at 128 "
                "tokens: its cost, not its ranking, is measured)")
    return path


def machine() -> dict[str, Any]:
    """CPU, cores, memory and library versions of this machine."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = found.group(1).strip() if found else ""
    ram_gb = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s*(\d+)", meminfo.read_text(), re.M)
        ram_gb = round(int(found.group(1)) / 1024 / 1024, 1) if found else 0.0

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return ""

    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(), "ram_gb": ram_gb,
            "python": platform.python_version(), "torch": version("torch"),
            "faiss": version("faiss-cpu"), "os": platform.platform(terse=True)}


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    limit: str
    get: Callable[[dict[str, Any]], float | None]
    ok: Callable[[float, dict[str, Any]], bool]


def _size(result: dict[str, Any], size: str, *path: str) -> Any:
    value: Any = result.get("sizes", {}).get(size)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _served_p95(size: str, clients: int = 1) -> Callable[[dict[str, Any]], float | None]:
    """p95 over the requests where the answer decision ran and sentences were chosen."""
    def get(r: dict[str, Any]) -> float | None:
        if clients == 1:
            return _size(r, size, "latency", "e2e_ms_decided_and_composed", "p95")
        for row in _size(r, size, "load") or ():
            if row["concurrency"] == clients:
                value = row.get("latency_ms_decided_and_composed", {}).get("p95")
                return float(value) if value is not None else None
        return None
    return get


def _decided_share(size: str) -> Callable[[dict[str, Any]], float | None]:
    def get(r: dict[str, Any]) -> float | None:
        value = _size(r, size, "latency", "decided_and_composed_share")
        return float(value) if value is not None else None
    return get


def _largest(result: dict[str, Any]) -> str | None:
    sizes = [s for s, v in result.get("sizes", {}).items() if v.get("load")]
    return max(sizes, key=int) if sizes else None


def _load16(result: dict[str, Any], key: str) -> float | None:
    size = _largest(result)
    loads = _size(result, size, "load") if size else None
    top = max(loads, key=lambda x: x["concurrency"]) if loads else None
    return top.get(key) if top and top["concurrency"] >= 16 else None


def _rps_ratio(result: dict[str, Any]) -> float | None:
    size = _largest(result)
    bound = _size(result, size, "rerank_bound_rps") if size else None
    rps = _load16(result, "requests_per_s")
    return round(rps / bound, 3) if bound and rps is not None else None


TARGETS = (
    Target("e2e p95 as served, 10,000 articles, 1 client", "<= 300 ms", _served_p95("10000"),
           lambda v, r: v <= 300),
    Target("e2e p95 as served, 10,000 articles, 4 clients", "<= 300 ms",
           _served_p95("10000", 4), lambda v, r: v <= 300),
    Target("share of requests with the answer decision and sentence choice, 10,000 articles",
           ">= 0.80", _decided_share("10000"), lambda v, r: v >= 0.8),
    Target("e2e p95 as served, 50,000 articles, 1 client", "<= 400 ms", _served_p95("50000"),
           lambda v, r: v <= 400),
    Target("retrieval p95, 50,000 articles", "<= 50 ms",
           lambda r: _size(r, "50000", "retrieval_ms", "p95"), lambda v, r: v <= 50),
    Target("start to ready, 50,000 articles", "<= 10 s",
           lambda r: _size(r, "50000", "ready_s"), lambda v, r: v <= 10),
    Target("peak RSS, 50,000 articles", "<= 2048 MB",
           lambda r: _size(r, "50000", "rss_mb"), lambda v, r: v <= 2048),
    Target("ingestion throughput / raw model", ">= 0.90",
           lambda r: r.get("ingestion", {}).get("ratio"), lambda v, r: v >= 0.9),
    Target("errors with 16 clients (largest size)", "= 0",
           lambda r: _load16(r, "errors"), lambda v, r: v == 0),
    Target("req/s with 16 clients / rerank bound", ">= 0.80", _rps_ratio,
           lambda v, r: v >= 0.8),
)


def evaluate(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value and PASS, FAIL or "not run"."""
    rows = []
    for t in TARGETS:
        value = t.get(result)
        status = "not run" if value is None else ("PASS" if t.ok(value, result) else "FAIL")
        rows.append({"target": t.name, "limit": t.limit, "value": value, "status": status})
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]


def _rps(size: dict[str, Any], clients: int) -> float | None:
    return next((r["requests_per_s"] for r in size.get("load", [])
                 if r["concurrency"] == clients), None)


def _size_rows(result: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, s in sorted(result.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        build = s.get("build", {})
        index = build.get("index", {})
        stages = s.get("stages_ms", {})
        build_s = build.get("generate_s", 0) + build.get("ingest", {}).get("seconds", 0)
        rows.append([int(name), index.get("counts", {}).get("chunks"), index.get("dense"),
                     round(index.get("bytes", 0) / 2**20, 1), round(build_s, 1),
                     build.get("peak_rss_mb"), s.get("ready_s"), s.get("rss_mb"),
                     s["e2e_ms"].get("p50"), s["e2e_ms"].get("p95"), s["e2e_ms"].get("p99"),
                     s.get("retrieval_ms", {}).get("p95"), stages.get("rerank", {}).get("p50"),
                     _rps(s, 1), _rps(s, 4), _rps(s, 16), s.get("rerank_bound_rps")])
    return rows


def _stage_rows(result: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, s in sorted(result.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        for label, stages in (("as served", s.get("stages_ms", {})),
                              ("retrieval only",
                               s.get("retrieval_only", {}).get("latency", {}).get("stages_ms"))):
            if not stages or (label != "as served" and not s.get("reranker")):
                continue
            rows.append([int(name), label] + [
                f"{stages[k]['p50']} / {stages[k]['p95']}" if k in stages else "-"
                for k in ("dense", "sparse", "fuse", "rerank", "sentences", "decide", "generate",
                          "total")])
    return rows


def markdown(result: dict[str, Any]) -> str:
    """The Markdown report: sizes, targets, stages, ingestion and the side-by-side tables."""
    m = result["machine"]
    out = [f"Benchmark of {result['date']} on {m['cpu']} ({m['cores']} cores, {m['ram_gb']} GB "
           f"RAM), Python {m['python']}, torch {m['torch']}, faiss {m['faiss']}; reranker: "
           f"{_reranker_label(result.get('reranker'))}; mode: {result.get('mode')}. "
           f"Command: `{result.get('command')}`.", "", STANDIN_NOTE, ""]
    out += _table(["articles", "chunks", "dense", "index MB", "build s", "build RSS MB",
                   "ready s", "peak RSS MB",
                   "e2e p50", "e2e p95", "e2e p99", "retrieval p95", "rerank p50",
                   "req/s 1", "req/s 4", "req/s 16", "rerank bound req/s"], _size_rows(result))
    out += ["", "Latencies in ms, through HTTP on 127.0.0.1 (e2e: client round trip as served: "
            "retrieval, the answer decision on every request, the answer's sentences, and "
            "reranking when the run has a reranker; retrieval: the server's dense + sparse + "
            "fusion time with reranking off)."
            " The rerank bound is cores x 1000 / median rerank ms. Build: generating and "
            "indexing the articles with stand-in vectors, in its own process.", ""]
    out += _table(["target", "limit", "measured", "status"],
                  [[t["target"], t["limit"], t["value"], t["status"]]
                   for t in result.get("targets", [])])
    out += ["", "Stage p50 / p95 (ms, server side):", ""]
    out += _table(["articles", "run", "dense", "sparse", "fuse", "rerank", "sentences", "decide",
                   "generate", "total"],
                  _stage_rows(result))
    ing = result.get("ingestion")
    if ing:
        out += ["", f"Ingestion (real model, {ing['chunks']} passages of {ing['articles']} sample "
                f"articles): pipeline {ing['pipeline_chunks_per_s']} chunks/s, model alone "
                f"{ing['raw_chunks_per_s']} chunks/s, ratio {ing['ratio']}."]
    inc = result.get("incremental")
    if inc:
        out += [f"One-article incremental re-index at {inc['articles']:,} articles: "
                f"{inc['seconds']} s ({inc['embedded']} passages re-embedded with the real model; "
                f"index build {inc['builder_s']} s, the rest is loading and the catalogue)."]
    out += _side_by_side(result.get("compare", {}))
    out += worker_scaling(result.get("workers"))
    parts = result.get("seconds", {})
    if parts:
        out += ["", "Time per part (s): " + ", ".join(f"{k} {v}" for k, v in parts.items())]
    return "\n".join(out) + "\n"


def _side_by_side(c: dict[str, Any]) -> list[str]:
    out: list[str] = []
    bm = c.get("bm25")
    if bm:
        out += ["", f"BM25 on {bm['docs']:,} passages: service p50 {bm['ours_ms']['p50']} ms "
                f"(p95 {bm['ours_ms']['p95']}), rank-bm25 p50 {bm['rank_bm25_ms']['p50']} ms; "
                f"build {bm['build_s']['ours']} s vs {bm['build_s']['rank_bm25']} s; same top-10 "
                f"scores {bm['same_top10']}."]
    d = c.get("dense")
    if d:
        h, e = d["hnsw"], d["exact"]
        out += [f"FAISS on {d['vectors']:,} stand-in vectors: exact p50 {e['search_ms']['p50']} ms "
                f"(p95 {e['search_ms']['p95']}), HNSW (M {h['m']}, efSearch {h['ef_search']}) "
                f"p50 {h['search_ms']['p50']} ms (p95 {h['search_ms']['p95']}), recall@10 "
                f"{h['recall@10']}; HNSW build {h['build_s']} s, "
                f"{h['bytes'] / 2**20:.0f} MB vs {e['bytes'] / 2**20:.0f} MB exact."]
    r = c.get("rerank")
    if r:
        out += ["", f"Rerank depth ({r['reranker']}, {r['questions']} questions, one thread):", ""]
        out += _table(["depth", "rerank p50 ms", "p95 ms", "ms/pair", "top-1 as depth 40",
                       "source in top 5"],
                      [[int(k), v["rerank_ms"].get("p50"), v["rerank_ms"].get("p95"),
                        v["ms_per_pair"], v["top1_same_as_deepest"], v["source_in_top5"]]
                       for k, v in r["depths"].items()])
    return out


def worker_scaling(w: dict[str, Any] | None) -> list[str]:
    """The "Worker scaling (PostgreSQL)" table, or the line saying why it was not measured."""
    if not w:
        return []
    if w.get("skipped"):
        return ["", f"Worker scaling (PostgreSQL): not measured ({w['skipped']})."]
    ing, load = w.get("ingest", {}), w.get("loadavg_start") or [None]
    rerank = "on" if w.get("ready", {}).get("reranker") else "off"
    out = ["", f"Worker scaling (PostgreSQL): N single-worker uvicorn processes, each pinned to "
           f"its own core (taskset) with one torch thread and one model slot, default settings "
           f"(the shipped embedding model and cross-encoder, reranking {rerank}), the sample "
           f"help center ({ing.get('chunks')} chunks) published through "
           f"the database version store; clients bound round robin to the processes. The load "
           f"generator shares the machine's cores (load average {_fmt(load[0])} at the start). "
           f"Latencies in ms; CPU ms: the workers' CPU time per answered request, and the "
           f"PostgreSQL server's (all its processes on this machine); peak RSS: the largest "
           f"worker's; other cores: the cores kept busy meanwhile by other work on the "
           f"machine (not the workers, PostgreSQL or the load generator).", ""]
    rows = [[r["workers"], r["clients"], r["requests"], r["requests_per_s"],
             r["requests_per_s_per_worker"], r["latency_ms"].get("p50"),
             r["latency_ms"].get("p95"), r["errors"], r.get("cpu_ms_per_request"),
             r.get("postgres_cpu_ms_per_request"), max(r.get("peak_rss_mb") or [0]) or None,
             r.get("other_cores_busy")] for r in w.get("rows", [])]
    return out + _table(["workers", "clients", "requests", "req/s", "req/s per worker", "p50",
                         "p95", "errors", "CPU ms", "PostgreSQL CPU ms", "peak RSS MB",
                         "other cores"], rows)


def write(result: dict[str, Any], out_dir: Path, *, readme: Path | None = None) -> list[Path]:
    """Write ``latest.json``, ``latest.md`` and ``latest.png``; update the block of ``readme``."""
    from eval.bench.plot import plot

    out_dir.mkdir(parents=True, exist_ok=True)
    result = {**result, "targets": evaluate(result)}
    paths = [out_dir / "latest.json", out_dir / "latest.md", out_dir / "latest.png"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(result), encoding="utf-8")
    plot(result, paths[2])
    if readme is not None and readme.exists():
        text = readme.read_text(encoding="utf-8")
        if README_START in text and README_END in text:
            head, rest = text.split(README_START, 1)
            tail = rest.split(README_END, 1)[1]
            block = f"{README_START}\n{markdown(result)}{README_END}"
            readme.write_text(head + block + tail, encoding="utf-8")
    return paths
