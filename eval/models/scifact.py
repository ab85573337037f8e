"""BEIR SciFact test: nDCG@10 of BM25, dense, hybrid and hybrid + rerank.

    python -m eval.models.scifact [--dataset ../shared/datasets/scifact] [--reranker FOLDER]
                        [--depths 20,40] [--weights 0,0.3,0.5]

SciFact (CC BY-NC 2.0) is used for evaluation only and read from beside the repository; it
is never copied into it. Writes ``var/eval/beir-scifact.json`` and prints a table. The first
run embeds the 5,183 abstracts (minutes on a CPU); later runs read them from ``var/cache``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

from app.rag.embed import SentenceTransformerEmbedder
from app.rag.rerank import CrossEncoderReranker
from app.settings import get_settings
from eval.models.corpus import (
    Corpus,
    Query,
    ScoreCache,
    add_runtime_options,
    mean,
    mrr,
    ndcg_at,
    print_table,
    recall_at,
    reranked,
    score_signature,
    weights_digest,
)

logger = logging.getLogger("eval.models.scifact")

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def load_scifact(folder: Path) -> tuple[list[str], list[str], list[Query]]:
    """Corpus ids, texts (title, newline, abstract) and the test queries with their qrels."""
    ids, texts = [], []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            ids.append(str(doc["_id"]))
            texts.append(f"{doc.get('title', '')}\n{doc['text']}".strip())
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = []
    with (folder / "queries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries.append(Query(str(q["_id"]), q["text"], qrels[str(q["_id"])]))
    return ids, texts, queries


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m eval.models.scifact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--reranker", default="data/models/support-reranker")
    parser.add_argument("--max-length", type=int, default=None,
                        help="cross-encoder max tokens (default: the model's own)")
    add_runtime_options(parser, settings.retrieval)
    parser.add_argument("--depths", default="20,40")
    parser.add_argument("--weights", default=f"0,{settings.retrieval.rerank_fusion_weight}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("var/eval/beir-scifact.json"))
    return parser.parse_args(argv)


def _metrics(runs: dict[str, list[str]], queries: list[Query]) -> dict[str, float]:
    """nDCG@10, recall@10 and @100, and MRR of one system over the queries."""
    return {"ndcg@10": mean(ndcg_at, runs, queries),
            "recall@10": mean(lambda r, g: recall_at(r, g, 10), runs, queries),
            "recall@100": mean(lambda r, g: recall_at(r, g, 100), runs, queries),
            "mrr": mean(mrr, runs, queries)}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if not (args.dataset / "corpus.jsonl").exists():
        print(f"skipped: SciFact not found at {args.dataset} (expected corpus.jsonl, "
              "queries.jsonl and qrels/test.tsv; it is never shipped with the repository)")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    ids, texts, queries = load_scifact(args.dataset)
    corpus = Corpus(ids, texts, embedder=SentenceTransformerEmbedder())
    ranks = corpus.rankings(queries, k=100)
    rows, results = [], {}
    for stage in ("bm25", "dense", "hybrid"):
        runs = {q: [ids[r] for r, _ in ranks[q][stage]] for q in ranks}
        results[stage] = _metrics(runs, queries)
        rows.append({"system": stage, **results[stage]})
    depths = [int(d) for d in args.depths.split(",")]
    weights = [float(w) for w in args.weights.split(",")]
    model = CrossEncoderReranker(args.reranker, max_length=args.max_length, int8=args.int8,
                                 backend=args.backend)
    signature = score_signature(args.reranker, model)
    started = time.perf_counter()
    for depth in depths:  # each head scored in one call, as the service scores it
        cache = ScoreCache(model, signature=signature, name=f"scifact@{depth}")
        probs = {q.id: cache.score(q, [r for r, _ in ranks[q.id]["hybrid"][:depth]], texts, ids)
                 for q in queries}
        cache.save()
        for w in weights:
            runs = {q.id: [ids[r] for r in reranked(ranks[q.id]["hybrid"], probs[q.id],
                                                    depth=depth, weight=w)] for q in queries}
            name = f"hybrid+rerank@{depth} w={w}"
            results[name] = _metrics(runs, queries)
            rows.append({"system": name, **results[name]})
    report = {"dataset": "scifact test", "queries": len(queries), "documents": len(ids),
              "reranker": args.reranker, "reranker_digest": weights_digest(args.reranker),
              "max_length": model.max_length, "int8": args.int8,
              "rerank_seconds": round(time.perf_counter() - started, 1),
              "anchors": {"bm25": 0.665, "bm25+ms-marco-MiniLM-L-6": 0.688,
                          "all-MiniLM-L6-v2": 0.645},
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(f"SciFact test ({len(queries)} queries), written to {args.out}", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
