"""Article-level ranking on a question set over the help-center chunks, by blend weight.

    python -m eval.models.helpcenter [--set var/reranker/dev.jsonl] [--weights 0,0.1,...]
                              [--kb data/kb] [--reranker FOLDER] [--compare FOLDER]

Used to choose the reranker's fusion weight on the *held-out development* questions written
by ``python -m ingest.models.reranker data`` (never on an evaluation set). The corpus is the
published help-center chunks as the service indexes them; a question's ranking is the order
in which articles first appear. Reports recall@1/5 (the share of a question's gold articles
in the top k: ``gold_coverage@k`` in ``python -m eval run``) and MRR of hybrid retrieval and of
hybrid + rerank at each weight; writes ``var/eval/rerank-dev.json``. ``--compare`` scores a second
model on the same candidates (a fine-tuned reranker against its base), row by row.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
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
    print_table,
    recall_at,
    reranked,
    score_signature,
    weights_digest,
)
from ingest.models.reranker.data import make_chunker
from ingest.models.reranker.helpcenter import published_articles


def articles_in_order(chunk_ids: Sequence[str], article_of: dict[str, str]) -> list[str]:
    seen: dict[str, None] = {}
    for c in chunk_ids:
        seen.setdefault(article_of[c], None)
    return list(seen)


def load_set(path: Path) -> list[Query]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        gold = obj.get("article_ids") or obj.get("gold_article_ids") or []
        if gold and not obj.get("history"):
            out.append(Query(str(obj["id"]), obj["question"], {g: 1 for g in gold}))
    return out


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m eval.models.helpcenter", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=Path("var/reranker/dev.jsonl"))
    parser.add_argument("--kb", type=Path, default=settings.data_dir / "kb")
    parser.add_argument("--reranker", default="data/models/support-reranker")
    parser.add_argument("--compare", default=None, help="a second reranker folder")
    add_runtime_options(parser, settings.retrieval)
    parser.add_argument("--depth", type=int, default=settings.retrieval.rerank_depth)
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8")
    parser.add_argument("--out", type=Path, default=Path("var/eval/rerank-dev.json"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    queries = load_set(args.set)
    if not queries:
        print(f"error: {args.set} holds no answerable question (a model trained with "
              "--dev-percent 0 has no development set)", file=sys.stderr)
        return 2
    chunks = [c for d in published_articles(args.kb) for c in make_chunker(settings).chunk(d)]
    article_of = {c.chunk_id: c.article_id for c in chunks}
    ids, texts = [c.chunk_id for c in chunks], [c.embedding_text() for c in chunks]
    ranks = Corpus(ids, texts, embedder=SentenceTransformerEmbedder()).rankings(queries)
    systems = {"hybrid": {q.id: [ids[r] for r, _ in ranks[q.id]["hybrid"]] for q in queries}}
    models = {"rerank": args.reranker} | ({"compare": args.compare} if args.compare else {})
    for label, folder in models.items():
        model = CrossEncoderReranker(folder, max_length=None, int8=args.int8,
                                     backend=args.backend)
        cache = ScoreCache(model, signature=score_signature(folder, model), name=args.set.stem)
        probs = {q.id: cache.score(q, [r for r, _ in ranks[q.id]["hybrid"][:args.depth]],
                                   texts, ids) for q in queries}
        cache.save()
        for w in (float(x) for x in args.weights.split(",")):
            systems[f"{label} w={w}"] = {q.id: [ids[r] for r in reranked(
                ranks[q.id]["hybrid"], probs[q.id], depth=args.depth, weight=w)]
                for q in queries}
    results = {}
    for name, runs in systems.items():
        arts = {q: articles_in_order(r, article_of) for q, r in runs.items()}
        results[name] = {"recall@1": mean(lambda r, g: recall_at(r, g, 1), arts, queries),
                         "recall@5": mean(lambda r, g: recall_at(r, g, 5), arts, queries),
                         "mrr": mean(mrr, arts, queries)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    digests = {label: weights_digest(folder) for label, folder in models.items()}
    args.out.write_text(json.dumps({"set": str(args.set), "queries": len(queries),
                                    "rerankers": models, "reranker_digest": digests,
                                    "results": results}, indent=2) + "\n",
                        encoding="utf-8")
    print_table(f"{args.set} ({len(queries)} answerable questions)",
                [{"system": n, **m} for n, m in results.items()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
