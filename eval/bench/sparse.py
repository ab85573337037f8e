"""BM25 query latency at scale: the service's sparse-matrix BM25 against rank-bm25.

``python -m eval.bench.sparse [--docs 250000]`` builds a synthetic corpus (Zipf-distributed
vocabulary, 80-160 tokens per chunk, seeded), times queries of 3-8 terms on both
implementations and checks they rank the same. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def corpus(n_docs: int, *, vocab: int = 40_000, seed: int = 11) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = np.array([f"t{i}" for i in range(vocab)])
    lengths = rng.integers(80, 161, size=n_docs)
    ids = np.minimum(rng.zipf(1.2, size=int(lengths.sum())) - 1, vocab - 1)
    out, pos = [], 0
    for n in lengths:
        out.append(words[ids[pos:pos + n]].tolist())
        pos += n
    return out


def measure(docs: list[list[str]], queries: list[list[str]], *,
            oracle_queries: int = 5) -> dict[str, object]:
    """Time both implementations on tokenised ``docs`` and ``queries``; check the rankings.

    rank-bm25 scores every document in Python, so only the first ``oracle_queries`` queries
    run on it.
    """
    from rank_bm25 import BM25Okapi

    from app.rag.sparse import BM25Index

    t = time.perf_counter()
    index = BM25Index.build(docs)
    build_s = time.perf_counter() - t
    ours = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, 50)
        ours.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    oracle = BM25Okapi(docs)
    oracle_build_s = time.perf_counter() - t
    theirs, same = [], 0
    for q in queries[:oracle_queries]:
        t = time.perf_counter()
        scores = oracle.get_scores(q)
        theirs.append((time.perf_counter() - t) * 1000)
        expected = np.sort(scores[scores > 0])[::-1][:10]
        _, got = index.search(q, 10)
        # Ties may order differently; the top-10 scores must be the same.
        same += int(len(got) == len(expected) and np.allclose(got, expected, rtol=1e-4))
    return {
        "docs": len(docs), "queries": len(queries),
        "ours_ms": {"p50": round(float(np.median(ours)), 2),
                    "p95": round(float(np.percentile(ours, 95)), 2)},
        "rank_bm25_ms": {"p50": round(float(np.median(theirs)), 1) if theirs else None},
        "build_s": {"ours": round(build_s, 1), "rank_bm25": round(oracle_build_s, 1)},
        "same_top10": f"{same}/{len(theirs)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.sparse", description=__doc__)
    parser.add_argument("--docs", type=int, default=250_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--oracle-queries", type=int, default=5)
    args = parser.parse_args(argv)
    docs = corpus(args.docs)
    rng = np.random.default_rng(3)
    # Query words drawn from random chunks, so common and rare terms mix as in real questions.
    queries = []
    for _ in range(args.queries):
        doc = docs[int(rng.integers(len(docs)))]
        queries.append([doc[int(i)] for i in rng.integers(len(doc), size=rng.integers(3, 9))])
    print(json.dumps(measure(docs, queries, oracle_queries=args.oracle_queries), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
