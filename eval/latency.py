"""Per-stage latency of the answer pipeline, in process, on the active index.

``python -m eval.latency [--n 200]`` asks questions made from the published article titles
(plus out-of-scope ones) and prints p50 / p95 per stage in milliseconds as JSON. It measures
the pipeline only; HTTP and load figures belong to the benchmarks.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import numpy as np

OUT_OF_SCOPE = ["What is the capital of France?", "Write me a poem about cats",
                "Do you sell smart locks?", "Can I pay in bitcoin?",
                "What's the weather tomorrow?"]


def questions(index: object, n: int, seed: int = 7) -> list[str]:
    titles = sorted({c.title for c in index.chunks  # type: ignore[attr-defined]
                     if c.source_type == "article"})
    rng = random.Random(seed)
    pool = [f"{t}?" for t in titles] + OUT_OF_SCOPE
    return [rng.choice(pool) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.latency", description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="questions to ask")
    args = parser.parse_args(argv)
    import torch

    from app.rag.factory import (
        expected_manifest,
        make_answer_service,
        make_embedder,
        make_reranker,
    )
    from app.rag.index import IndexStore
    from app.rag.retrieve import normalise_filters
    from app.settings import get_settings

    settings = get_settings()
    torch.set_num_threads(settings.torch_threads)
    embedder = make_embedder(settings)
    index = IndexStore(settings.index.dir).load_active(
        expected=expected_manifest(settings, dimension=embedder.dimension))
    service = make_answer_service(settings, embedder=embedder, reranker=make_reranker(settings))
    filters = normalise_filters({})
    service.answer(index, "warm up")
    stages: dict[str, list[float]] = {}
    fallbacks = 0
    for q in questions(index, args.n):
        result = service.answer(index, q, filters=filters)
        fallbacks += result.fallback is not None
        for stage, ms in result.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    report = {
        "questions": args.n, "fallbacks": fallbacks, "index_version": index.name,
        "chunks": len(index.chunks), "generator": service.generator.name,
        "reranker": service.reranker is not None,
        "stages_ms": {s: {"p50": round(float(np.percentile(v, 50)), 2),
                          "p95": round(float(np.percentile(v, 95)), 2), "n": len(v)}
                      for s, v in stages.items()},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
