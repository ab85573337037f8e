"""Build a synthetic help center of one size and index it, in its own process.

``python -m eval.bench.scale build --root var/bench/10000 --articles 10000`` writes the
articles, ingests them through the real pipeline (loaders, catalogue, chunker, BM25, FAISS,
versioned publish) with stand-in vectors, and prints a JSON summary that includes the
process's peak memory. ``touch`` edits one article and re-indexes incrementally, embedding
the changed passages with the real model (:class:`PacedEmbedder`). A finished build is
remembered in ``build.json`` and not redone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from app.environment import prepare_process
from app.rag.embed import embedder_manifest
from app.rag.protocols import Embedder
from app.settings import DEFAULT_EMBEDDER, Settings
from eval.bench.standin import STANDIN_NAME, HashingEmbedder, PacedEmbedder
from eval.bench.synth import write_kb

TOUCH_LINE = "\n\nBenchmark edit: this paragraph is added and removed to test re-indexing.\n"


def bench_settings(root: Path, **overrides: Any) -> Settings:
    """Settings of a benchmark knowledge base under ``root`` (environment still applies)."""
    # Every question passes the answer gate, so each request pays for generation and
    # citation checks (the slower path) whatever the scores are. The shipped answerability
    # model still computes its probability for every request, at a threshold of 0 and for
    # any knowledge base.
    always = {"min_score": 0.0, "min_score_agreement": 0.0, "dense_min_score": -1.0,
              "dense_min_score_agreement": -1.0, "threshold_file": root / "no-threshold.json",
              "decision_file": always_answering_model(root)}
    values: dict[str, Any] = {"var_dir": root, "index": {"dir": root / "index"},
                              "embedder": {"model": STANDIN_NAME}, "answer": always,
                              **overrides}
    return Settings(**values)


def always_answering_model(root: Path) -> Path:
    """The shipped answerability model with every threshold at 0, written under ``root``."""
    from dataclasses import replace

    from app.rag.decide import AnswerabilityModel

    shipped = AnswerabilityModel.load(Settings().shipped_decision)
    manifest = {k: v for k, v in shipped.manifest.items() if k != "articles"}
    model = replace(shipped, threshold=0.0, thresholds={}, manifest=manifest)
    path = root / "always-answer-decision.json"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(model.to_json(), encoding="utf-8")
    return path


def standin_builder(settings: Settings, embedder: Embedder):  # type: ignore[no-untyped-def]
    """The real index builder, recording and using the stand-in embedder."""
    from ingest.pipeline import make_builder

    real = settings.model_copy(update={
        "embedder": settings.embedder.model_copy(update={"model": DEFAULT_EMBEDDER})})
    builder = make_builder(real)
    builder.embedder_info = embedder_manifest(
        STANDIN_NAME, dimension=embedder.dimension,
        max_seq_length=settings.embedder.max_seq_length)
    builder._embedder = embedder
    return builder


def peak_rss_mb(pid: int | str = "self") -> dict[str, float]:
    """Current and peak resident memory of a process, in MB, from ``/proc``."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": out.get("VmRSS", 0.0), "peak_rss_mb": out.get("VmHWM", 0.0)}


def index_files(settings: Settings) -> dict[str, Any]:
    """The active version's manifest summary and its size on disk, per file."""
    from app.rag.index import IndexStore

    store = IndexStore(settings.index.dir)
    name = store.active_name()
    if name is None:
        return {}
    folder = store.versions_dir / name
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
    manifest = store.active_manifest() or {}
    return {"version": name, "counts": manifest.get("counts", {}),
            "dense": manifest.get("dense", {}).get("kind"),
            "bytes": sum(files.values()), "files": files}


def _ingest(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    from app.db import make_engine
    from ingest.pipeline import ingest_paths

    builder = standin_builder(settings, embedder)
    report = ingest_paths([settings.var_dir / "kb"], settings=settings,
                          engine=make_engine(settings.resolved_database_url), builder=builder)
    b = report.build
    return {"seconds": round(report.seconds, 2), "builder_s": round(b.seconds, 2),
            "embed_s": round(b.embed_seconds, 2), "embedded": b.embedded, "chunks": b.chunks,
            "updated": report.updated, "failed": len(report.failures), "status": b.status}


def build(root: Path, articles: int, *, seed: int = 7, fresh: bool = False) -> dict[str, Any]:
    """Generate and index ``articles`` synthetic articles under ``root`` (once).

    ``fresh`` deletes ``root`` first (articles, database and index).
    """
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    done = root / "build.json"
    if done.exists():
        cached: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
        if (cached.get("articles"), cached.get("seed"), cached.get("vectors")) == (
                articles, seed, STANDIN_NAME):
            return {**cached, "cached": True}
    started = time.perf_counter()
    kb = write_kb(root, articles, seed=seed)
    generate_s = time.perf_counter() - started
    settings = bench_settings(root)
    ingest = _ingest(settings, HashingEmbedder())
    result = {"articles": articles, "seed": seed, "published": kb["published"],
              "generate_s": round(generate_s, 2), "ingest": ingest,
              "vectors": STANDIN_NAME, "index": index_files(settings), **peak_rss_mb()}
    done.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def touch(root: Path) -> dict[str, Any]:
    """Edit one published article and re-index incrementally; real-model embedding cost."""
    from app.rag.embed import SentenceTransformerEmbedder

    info = json.loads((root / "kb.json").read_text(encoding="utf-8"))
    questions = (root / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    article_id = json.loads(questions[len(questions) // 2])["article_id"]
    path = next((root / "kb").glob(f"*/{article_id}.md"))
    text = path.read_text(encoding="utf-8")
    # Toggle the paragraph so repeated runs keep the knowledge base in one of two states.
    path.write_text(text.replace(TOUCH_LINE, "") if TOUCH_LINE in text else text + TOUCH_LINE,
                    encoding="utf-8")
    real = SentenceTransformerEmbedder()
    real.embed_documents(["warm up the model"])
    result = _ingest(bench_settings(root), PacedEmbedder(HashingEmbedder(), pace=real))
    return {"articles": info["articles"], "article_id": article_id, **result,
            "embedding": "real model (vectors stand-in)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.scale", description=__doc__)
    parser.add_argument("action", choices=("build", "touch"))
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="build: delete --root first")
    args = parser.parse_args(argv)
    prepare_process()
    result = (build(args.root, args.articles, seed=args.seed, fresh=args.fresh)
              if args.action == "build"
              else touch(args.root))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
