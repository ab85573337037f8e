"""Ranking quality of retrieval and reranking on one dataset.

    python -m eval.models ranking --dataset scifact|dstc10|questions [--data FOLDER]
        [--set FILE] [--kb FOLDER] [--reranker FOLDER] [--compare FOLDER]
        [--depths 20,40] [--weights 0,0.7] [--metrics ndcg@10,mrr] [--out FILE]

Every query is answered by BM25, dense and hybrid retrieval (reciprocal rank fusion) over the
dataset's documents, as the service retrieves; then the hybrid head (each of ``--depths``)
is scored by the cross-encoder in one call and blended with its fused score at each of
``--weights`` (0: the reranker alone; ``retrieval.rerank_fusion_weight`` is the served one).
``--compare`` scores a second reranker on the same candidates (a fine-tuned model against its
base). Metrics are averaged over the queries on the unit the gold names: abstracts, FAQ entries,
or help-center articles (see ``eval.models.adapters``).

Datasets (defaults in brackets):
  scifact    BEIR SciFact test [--data DATASETS_DIR/scifact]: nDCG@10, recall@10/100, MRR
  dstc10     DSTC10 knowledge-seeking turns [--data DATASETS_DIR/dstc10-faq]: recall@1/5, MRR
  questions  a help-center question set [--set VAR_DIR/reranker/dev.jsonl, the held-out
             development set] over the published articles of [--kb DATA_DIR/kb]:
             article-level recall@1/5 (the share of a question's gold articles in the top k,
             ``gold_coverage@k`` in ``python -m eval run``) and MRR

Writes the report to VAR_DIR/eval (beir-scifact.json, dstc10.json, rerank-<set name>.json;
what ``python -m eval.models card`` reads) and prints a table. Embeddings and cross-encoder
scores are cached in the settings' cache folder, so a second run recomputes nothing. A missing
external dataset is skipped (exit 0); an unusable question set exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from app.rag.protocols import Embedder, Reranker
from app.rag.rerank import MODEL_DEPTH
from app.settings import Settings, get_settings
from eval.datasets import DatasetError
from eval.models import adapters
from eval.models.adapters import DatasetMissing, RankingSet
from eval.models.corpus import (
    RERANKED,
    Corpus,
    ScoreCache,
    add_runtime_options,
    metric,
    print_table,
    reranked,
    reranked_system,
    score_signature,
    scores,
    weights_digest,
)

logger = logging.getLogger(__name__)

DATASETS = ("scifact", "dstc10", "questions")
LoadReranker = Callable[[str], tuple[Reranker, str]]  # folder -> (model, score signature)


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}"
                                         ) from None


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {text!r}"
                                         ) from None


def parse_args(argv: Sequence[str] | None, settings: Settings) -> argparse.Namespace:
    r = settings.retrieval
    parser = argparse.ArgumentParser(prog="python -m eval.models ranking", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    parser.add_argument("--data", type=Path, metavar="FOLDER",
                        help="the scifact or dstc10 folder (default: in datasets_dir)")
    parser.add_argument("--set", type=Path, metavar="FILE",
                        default=settings.var_dir / "reranker" / "dev.jsonl",
                        help="questions: the question set (default: %(default)s)")
    parser.add_argument("--kb", type=Path, metavar="FOLDER", default=settings.data_dir / "kb",
                        help="questions: the help center (default: %(default)s)")
    parser.add_argument("--reranker", metavar="FOLDER", default=str(settings.shipped_reranker),
                        help="cross-encoder folder (default: %(default)s)")
    parser.add_argument("--compare", metavar="FOLDER", help="a second reranker to compare")
    parser.add_argument("--max-length", type=int, default=None,
                        help="cross-encoder max tokens (default: the model's own)")
    add_runtime_options(parser, r)
    depth = r.rerank_depth or MODEL_DEPTH
    parser.add_argument("--depths", type=_ints, default=[depth], metavar="N,...",
                        help=f"rerank depths (default: {depth}, the served one, or the "
                             "shipped model's when reranking is off)")
    parser.add_argument("--weights", type=_floats, default=[0.0, r.rerank_fusion_weight],
                        metavar="W,...", help="blend weights of the first stage (default: "
                        f"0,{r.rerank_fusion_weight}: the reranker alone and as served)")
    parser.add_argument("--metrics", type=lambda s: tuple(s.split(",")), metavar="M,...",
                        help="ndcg@K, recall@K, mrr (default: the dataset's)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", type=Path,
                        help="the report (default: VAR_DIR/eval/<the dataset's report>)")
    args = parser.parse_args(argv)
    if not all(0.0 <= w <= 1.0 for w in args.weights):
        parser.error("--weights must lie between 0 and 1")
    if not all(d > 0 for d in args.depths):
        parser.error("--depths must be positive")
    try:
        for name in args.metrics or ():
            metric(name)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def load_dataset(args: argparse.Namespace, settings: Settings) -> RankingSet:
    """The adapter's ``RankingSet`` for ``args.dataset``."""
    if args.dataset == "scifact":
        return adapters.scifact(args.data or settings.datasets_dir / "scifact")
    if args.dataset == "dstc10":
        return adapters.dstc10(args.data or settings.datasets_dir / "dstc10-faq")
    from ingest.models.reranker.data import make_chunker

    return adapters.questions(args.set, kb=args.kb, chunker=make_chunker(settings))


def rank(data: RankingSet, *, embedder: Embedder, rerankers: Mapping[str, tuple[Reranker, str]],
         depths: Sequence[int], weights: Sequence[float], metrics: Sequence[str],
         cache: Path) -> dict[str, dict[str, float]]:
    """Metrics of BM25, dense, hybrid and every reranked system on ``data``.

    Args:
        data: The documents and queries.
        embedder: The dense model.
        rerankers: System label (``hybrid+rerank``, ``compare``) -> (model, score signature).
        depths: How many hybrid candidates are reranked.
        weights: Blend weights of the first stage.
        metrics: Metric names (see ``eval.models.corpus.metric``).
        cache: Where embeddings and cross-encoder scores are cached.

    Returns:
        System name -> metric name -> mean over the queries, in the order computed.
    """
    corpus = Corpus(data.ids, data.texts, embedder=embedder, cache=cache)
    ranks = corpus.rankings(data.queries, k=data.k)
    ids, texts = corpus.ids, corpus.texts
    systems = {stage: {q.id: [ids[r] for r, _ in ranks[q.id][stage]] for q in data.queries}
               for stage in ("bm25", "dense", "hybrid")}
    for label, (model, signature) in rerankers.items():
        for depth in depths:  # each head scored in one call, as the service scores it
            # the corpus digest: an edited document is scored afresh, not read from the cache
            score_cache = ScoreCache(model, signature=signature, cache=cache,
                                     name=f"{data.name}@{depth}-{corpus.digest}")
            probs = {q.id: score_cache.score(q, [r for r, _ in ranks[q.id]["hybrid"][:depth]],
                                             texts, ids) for q in data.queries}
            score_cache.save()
            for w in weights:
                systems[reranked_system(depth, w, label=label)] = {
                    q.id: [ids[r] for r in reranked(ranks[q.id]["hybrid"], probs[q.id],
                                                    depth=depth, weight=w)]
                    for q in data.queries}
    return {name: scores({q: data.units(r) for q, r in runs.items()}, data.queries, metrics)
            for name, runs in systems.items()}


def cross_encoders(args: argparse.Namespace, settings: Settings) -> LoadReranker:
    """Loads a folder as the service loads the reranker (int8, backend, token budget)."""
    def load(folder: str) -> tuple[Reranker, str]:
        from app.rag.rerank import CrossEncoderReranker

        model = CrossEncoderReranker(folder, max_length=args.max_length, int8=args.int8,
                                     backend=args.backend, onnx_cache=settings.onnx_cache)
        return model, score_signature(folder, model)
    return load


def report(args: argparse.Namespace, data: RankingSet, *, max_length: int | None,
           results: Mapping[str, Mapping[str, float]], seconds: float) -> dict[str, object]:
    """The report's JSON object: what was measured, on which weights, and the results."""
    compared = ({"compare": args.compare, "compare_digest": weights_digest(args.compare)}
                if args.compare else {})
    return {"dataset": args.dataset, **data.details, "queries": len(data.queries),
            "documents": len(data.ids), "reranker": args.reranker,
            "reranker_digest": weights_digest(args.reranker), **compared,
            "max_length": max_length, "int8": args.int8, "backend": args.backend,
            "depths": args.depths, "weights": args.weights,
            "seconds": round(seconds, 1), "results": results}


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None,
         embedder: Embedder | None = None, load_reranker: LoadReranker | None = None) -> int:
    """Entry point. ``settings``, ``embedder`` and ``load_reranker`` let tests inject models."""
    settings = settings or get_settings()
    args = parse_args(argv, settings)
    try:
        data = load_dataset(args, settings)
    except DatasetMissing as exc:
        print(f"skipped: {exc}")
        return 0
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if embedder is None or load_reranker is None:
        import torch

        torch.set_num_threads(args.threads)
    if embedder is None:
        from app.rag.factory import make_embedder

        embedder = make_embedder(settings)
    load = load_reranker or cross_encoders(args, settings)
    rerankers = {RERANKED: load(args.reranker)}
    if args.compare:
        rerankers["compare"] = load(args.compare)
    started = time.perf_counter()
    results = rank(data, embedder=embedder, rerankers=rerankers, depths=args.depths,
                   weights=args.weights, metrics=args.metrics or data.metrics,
                   cache=settings.cache_dir)
    max_length = getattr(rerankers[RERANKED][0], "max_length", None)
    out = args.out or settings.var_dir / "eval" / data.report
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report(args, data, max_length=max_length, results=results,
                                     seconds=time.perf_counter() - started), indent=2) + "\n",
                   encoding="utf-8")
    print_table(f"{data.title}, written to {out}",
                [{"system": name, **values} for name, values in results.items()])
    return 0
