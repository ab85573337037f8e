"""Latency of the reranker: scoring 20 help-center chunks for one question, one thread.

    python -m eval.models latency [--reranker FOLDER] [--pairs 20] [--runs 20]
                                  [--backend torch|onnx]

The chunks are the first ``--pairs`` chunks of the sample help center as the service indexes
them (breadcrumb and body), so the token counts are realistic. One thread, as the service
runs (``torch_threads``). Prints the median and the 90th percentile of ``--runs`` calls after
one warm-up call and writes ``var/eval/rerank-latency.json`` (in the settings' var_dir).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.rag.rerank import CrossEncoderReranker
from app.settings import get_settings
from eval.bench.report import machine
from eval.models.corpus import add_runtime_options, weights_digest
from ingest.models.reranker.data import make_chunker
from ingest.models.reranker.helpcenter import published_articles

QUESTION = "my hub shows a solid amber light since I changed my router, what should I do?"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m eval.models latency``."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m eval.models latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reranker", default=str(settings.shipped_reranker))
    parser.add_argument("--max-length", type=int, default=None)
    add_runtime_options(parser, settings.retrieval)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path,
                        default=settings.var_dir / "eval" / "rerank-latency.json")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    chunker = make_chunker(settings)
    passages = [c.embedding_text() for doc in published_articles(settings.data_dir / "kb")
                for c in chunker.chunk(doc)][: args.pairs]
    model = CrossEncoderReranker(args.reranker, max_length=args.max_length, int8=args.int8,
                                 backend=args.backend, onnx_cache=settings.onnx_cache)
    model.score(QUESTION, passages)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        model.score(QUESTION, passages)
        times.append((time.perf_counter() - started) * 1000)
    report = {"reranker": args.reranker, "reranker_digest": weights_digest(args.reranker),
              "max_length": model.max_length, "int8": args.int8, "backend": args.backend,
              "pairs": len(passages),
              "threads": args.threads, "runs": args.runs,
              "median_ms": round(statistics.median(times), 1),
              "p90_ms": round(float(np.percentile(times, 90)), 1),
              # int8 speed depends on the instruction set (VNNI or not), so say which
              "cpu": machine()["cpu"],
              "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{len(passages)} pairs, {args.threads} thread(s), max_length {model.max_length}"
          f"{', int8' if args.int8 else ''}, {args.backend}: "
          f"median {report['median_ms']} ms, p90 {report['p90_ms']} ms ({args.runs} runs) "
          f"on {report['cpu']} ({report['cpu_capability']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
