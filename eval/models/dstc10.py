"""DSTC10 track 2 validation: knowledge-seeking spoken turns against the FAQ knowledge base.

    python -m eval.models.dstc10 [--dataset ../shared/datasets/dstc10-faq] [--reranker FOLDER]

Each of the 104 knowledge-seeking turns (speech-recognition output) has one gold FAQ entry.
The entity a turn is about is usually named earlier in the dialogue, so the query is the turn
prefixed with the most recently mentioned knowledge-base entity (exact match of its name in
the dialogue, longest name first), the same ``entity: question`` form the reranker was
trained on. Both systems get the same queries, so the comparison isolates the reranker.
Reports recall@1/5 and MRR for hybrid retrieval and hybrid + rerank; writes
``var/eval/dstc10.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
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
from ingest.models.reranker.faq import FaqEntry, load_faq, passage, with_entity
from ingest.models.reranker.records import normalise

logger = logging.getLogger("eval.models.dstc10")

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dstc10-faq"


def entity_patterns(entries: Sequence[FaqEntry]) -> list[tuple[str, re.Pattern[str]]]:
    """Named entities (hotels, restaurants, attractions), longest name first."""
    names = sorted({e.entity for e in entries if e.entity not in ("train", "taxi")},
                   key=lambda n: (-len(normalise(n)), n))
    return [(n, re.compile(rf"\b{re.escape(normalise(n))}\b")) for n in names
            if len(normalise(n)) >= 4]


def last_entity(turns: Sequence[str], patterns: Sequence[tuple[str, re.Pattern[str]]]
                ) -> str | None:
    """The entity named in the latest turn that names one (longest name wins in a turn)."""
    for text in reversed(turns):
        norm = normalise(text)
        for name, pattern in patterns:
            if pattern.search(norm):
                return name
    return None


def load_turns(folder: Path, patterns: Sequence[tuple[str, re.Pattern[str]]]
               ) -> tuple[list[Query], int]:
    """Knowledge-seeking turns as queries, and how many had an entity in their dialogue."""
    queries, found = [], 0
    for line in (folder / "queries_val.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if not obj.get("knowledge_seeking"):
            continue
        turns = [t["text"] for t in obj.get("context", [])] + [obj["text"]]
        entity = last_entity(turns, patterns)
        found += entity is not None
        text = with_entity(entity, obj["text"]) if entity else obj["text"]
        queries.append(Query(obj["_id"], text, {g: 1 for g in obj["gold_doc_ids"]}))
    return queries, found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m eval.models.dstc10", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--reranker", default="data/models/support-reranker")
    parser.add_argument("--max-length", type=int, default=None)
    add_runtime_options(parser, settings.retrieval)
    parser.add_argument("--depth", type=int, default=settings.retrieval.rerank_depth)
    parser.add_argument("--weights", default=f"0,{settings.retrieval.rerank_fusion_weight}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("var/eval/dstc10.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if not (args.dataset / "kb.jsonl").exists():
        print(f"skipped: DSTC10 FAQ data not found at {args.dataset}")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    entries = load_faq(args.dataset / "kb.jsonl")
    ids, texts = [e.id for e in entries], [passage(e) for e in entries]
    queries, found = load_turns(args.dataset, entity_patterns(entries))
    corpus = Corpus(ids, texts, embedder=SentenceTransformerEmbedder())
    ranks = corpus.rankings(queries, k=50)
    model = CrossEncoderReranker(args.reranker, max_length=args.max_length, int8=args.int8,
                                 backend=args.backend)
    cache = ScoreCache(model, signature=score_signature(args.reranker, model), name="dstc10")
    probs = {q.id: cache.score(q, [r for r, _ in ranks[q.id]["hybrid"][:args.depth]], texts,
                               ids) for q in queries}
    cache.save()
    systems = {s: {q.id: [ids[r] for r, _ in ranks[q.id][s]] for q in queries}
               for s in ("bm25", "dense", "hybrid")}
    for w in (float(x) for x in args.weights.split(",")):
        systems[f"hybrid+rerank@{args.depth} w={w}"] = {
            q.id: [ids[r] for r in reranked(ranks[q.id]["hybrid"], probs[q.id],
                                            depth=args.depth, weight=w)] for q in queries}
    results = {name: {"recall@1": mean(lambda r, g: recall_at(r, g, 1), runs, queries),
                      "recall@5": mean(lambda r, g: recall_at(r, g, 5), runs, queries),
                      "mrr": mean(mrr, runs, queries)} for name, runs in systems.items()}
    report = {"dataset": "dstc10 track 2 validation, knowledge-seeking turns",
              "queries": len(queries), "queries_with_entity": found,
              "documents": len(ids), "reranker": args.reranker,
              "reranker_digest": weights_digest(args.reranker),
              "max_length": model.max_length, "int8": args.int8,
              "depth": args.depth, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(f"DSTC10 validation ({len(queries)} knowledge-seeking turns, {found} with an "
                f"entity), written to {args.out}",
                [{"system": n, **m} for n, m in results.items()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
