"""Ingestion throughput with the real model: the whole pipeline against the model alone.

The same passages are embedded three times: by the model alone, by the full ingestion
pipeline (loading, catalogue, chunking, embedding, BM25, FAISS, publishing, the chunk
table), and by the model alone again. The pipeline's chunks/s divided by the model's is the
share of time the pipeline spends embedding; the target is at least 90%.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _copy_sources(sources: Path, target: Path, *, limit: int | None) -> int:
    """Copy the first ``limit`` Markdown articles (sorted by path) into ``target``."""
    files = sorted(sources.rglob("*.md"))[:limit] if limit else sorted(sources.rglob("*.md"))
    for f in files:
        dest = target / f.relative_to(sources)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    return len(files)


def measure_ingestion(work: Path, *, sources: Path, limit: int | None = None) -> dict[str, Any]:
    """Chunks/s of the ingestion pipeline and of the embedding model on the same passages.

    Args:
        work: A scratch folder (emptied first) for the copy, the database and the index.
        sources: A folder of Markdown articles (the sample help center).
        limit: Use only the first ``limit`` articles.
    """
    from app.db import make_engine
    from app.rag.embed import SentenceTransformerEmbedder
    from app.settings import Settings
    from ingest.pipeline import ingest_paths, make_builder
    from ingest.sources import load_path

    shutil.rmtree(work, ignore_errors=True)
    articles = _copy_sources(sources, work / "kb", limit=limit)
    values: dict[str, Any] = {"var_dir": work, "index": {"dir": work / "index"}}
    settings = Settings(**values)
    e = settings.embedder
    model = SentenceTransformerEmbedder(e.model, batch_size=e.batch_size,
                                        max_seq_length=e.max_seq_length)
    model.embed_documents(["warm up the model"] * 4)
    builder = make_builder(settings)
    builder._embedder = model  # loaded once, as a long-running ingestion would
    docs = [d for d in load_path(work / "kb").documents if d.status == "published"]
    texts = [c.embedding_text() for d in docs for c in builder.chunker.chunk(d)]
    raw = [_time(model.embed_documents, texts)]
    started = time.perf_counter()
    report = ingest_paths([work / "kb"], settings=settings,
                          engine=make_engine(settings.resolved_database_url), builder=builder)
    pipeline_s = time.perf_counter() - started
    raw.append(_time(model.embed_documents, texts))
    raw_s = sum(raw) / len(raw)
    chunks = report.build.chunks
    return {
        "articles": articles, "passages": len(texts), "chunks": chunks,
        "model": e.model, "embeddings": "real",
        "raw_s": [round(s, 2) for s in raw], "pipeline_s": round(pipeline_s, 2),
        "pipeline_embed_s": round(report.build.embed_seconds, 2),
        "raw_chunks_per_s": round(len(texts) / raw_s, 2),
        "pipeline_chunks_per_s": round(chunks / pipeline_s, 2),
        "ratio": round((chunks / pipeline_s) / (len(texts) / raw_s), 3),
    }


def _time(fn: Any, arg: Any) -> float:
    started = time.perf_counter()
    fn(arg)
    return time.perf_counter() - started
