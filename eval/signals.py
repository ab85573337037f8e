"""How well each signal of the answer decision separates answerable from unanswerable questions.

    python -m eval.signals RUN_FOLDER [--split dev] [--out FILE]

Reads a run folder of ``python -m eval run`` and the active index, computes per question the
signals an answer decision can use, and reports each signal's AUROC with answerable as the
positive class (0.5 is chance, 1.0 a perfect separation; below 0.5 the signal points the
other way), plus a logistic combination of them scored by cross-validation, so that no
question is scored by a model fitted on it. Measure on the development part; the test part
is for reporting the decision that comes out of it.

Signals: the top score and the margin to the second of the dense, BM25 and fused rankings
and of the reranker; whether dense and BM25 agree on the top passage; ``coverage``, the
IDF-weighted share of the question's words found in the top passage; and ``unknown``, the
share of the question's words that occur nowhere in the knowledge base.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from app.rag.sparse import tokenize

SIGNALS = ("dense_top", "dense_margin", "sparse_top", "sparse_margin", "fused_top",
           "fused_margin", "rerank_top", "rerank_margin", "agreement", "coverage", "unknown")
FOLDS = 5


def auroc(scores: ArrayLike, positive: ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with ties counted half)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for value in np.unique(s):  # average ranks over ties
        tied = s == value
        ranks[tied] = ranks[tied].mean()
    return round(float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)), 4)


def _top_and_margin(hits: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    scores = [float(h["score"]) for h in hits[:2]]
    if not scores:
        return 0.0, 0.0
    return scores[0], scores[0] - (scores[1] if len(scores) > 1 else 0.0)


def signals_of(record: Mapping[str, Any], idf: Mapping[str, float], *,
               unknown_idf: float) -> dict[str, float]:
    """The decision signals of one run record."""
    stages = record.get("stages", {})
    out: dict[str, float] = {}
    for stage in ("dense", "sparse", "fused", "rerank"):
        out[f"{stage}_top"], out[f"{stage}_margin"] = _top_and_margin(stages.get(stage, []))
    dense, sparse = stages.get("dense", []), stages.get("sparse", [])
    out["agreement"] = float(bool(dense and sparse)
                             and dense[0]["chunk_id"] in {h["chunk_id"] for h in sparse[:3]})
    words = set(tokenize(record.get("query") or record["question"]))
    contexts = record.get("contexts") or []
    found = set(tokenize(contexts[0]["text"])) if contexts else set()
    weight = {w: idf.get(w, unknown_idf) for w in words}
    total = sum(weight.values())
    out["coverage"] = sum(v for w, v in weight.items() if w in found) / total if total else 0.0
    out["unknown"] = sum(w not in idf for w in words) / len(words) if words else 0.0
    return out


def _standardise(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    return (x - mean) / np.where(std > 0, std, 1.0)


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                 steps: int = 50) -> np.ndarray:
    """Weights (bias first) of an L2-regularised logistic regression, by Newton's method."""
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    penalty = np.eye(a.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + penalty @ w
        hess = (a * (p * (1 - p))[:, None]).T @ a + penalty
        w -= np.linalg.solve(hess, grad)
    return w


def cross_validated(x: np.ndarray, y: np.ndarray, *, folds: int = FOLDS) -> np.ndarray:
    """Out-of-fold probabilities of the logistic combination (folds dealt in turn)."""
    fold = np.arange(len(y)) % folds
    out = np.zeros(len(y))
    for k in range(folds):
        train, test = fold != k, fold == k
        xs = _standardise(x, x[train])
        w = fit_logistic(xs[train], y[train])
        out[test] = 1.0 / (1.0 + np.exp(-(w[0] + xs[test] @ w[1:])))
    return out


def report(records: Sequence[Mapping[str, Any]], idf: Mapping[str, float], *,
           unknown_idf: float) -> dict[str, Any]:
    """AUROC per signal and of their cross-validated combination."""
    rows = [signals_of(r, idf, unknown_idf=unknown_idf) for r in records]
    y = np.array([bool(r["answerable"]) for r in records])
    x = np.array([[row[s] for s in SIGNALS] for row in rows])
    result = {s: auroc(x[:, i], y) for i, s in enumerate(SIGNALS)}
    used = [i for i, s in enumerate(SIGNALS) if np.ptp(x[:, i]) > 0]
    combined = cross_validated(x[:, used], y.astype(float)) if used and 0 < y.sum() < len(y) \
        else None
    return {"questions": len(records), "answerable": int(y.sum()), "auroc": result,
            "combined_auroc": None if combined is None else auroc(combined, y),
            "combined_signals": [SIGNALS[i] for i in used]}


def index_idf(settings: Any) -> tuple[dict[str, float], float]:
    """BM25's IDF of every term of the active index, and the IDF of an unseen term."""
    from app.rag.index import IndexStore

    index = IndexStore(settings.index.dir).load_active()
    sparse = index.sparse
    df = np.diff(sparse.indptr).astype(float)
    n = float(sparse.n_docs)
    idf = np.log((n - df + 0.5) / (df + 0.5) + 1.0)
    return ({t: float(idf[i]) for t, i in sparse.vocab.items()},
            float(np.log((n + 0.5) / 0.5 + 1.0)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m eval.signals``."""
    from app.environment import prepare_process
    from app.settings import get_settings

    prepare_process()
    parser = argparse.ArgumentParser(prog="python -m eval.signals", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder of python -m eval run")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--out", type=Path, help="also write the report as JSON")
    args = parser.parse_args(argv)
    lines = (args.run / "run.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    records = [r for r in records if args.split == "all" or r.get("split") == args.split]
    if not records:
        print(f"error: no question of the {args.split} part in {args.run}", file=sys.stderr)
        return 1
    idf, unknown_idf = index_idf(get_settings())
    result = report(records, idf, unknown_idf=unknown_idf) | {"split": args.split}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['questions']} questions ({result['answerable']} answerable), "
          f"{args.split} part; AUROC, answerable as positive:")
    for name, value in sorted(result["auroc"].items(), key=lambda kv: -(kv[1] or 0)):
        print(f"  {name:<14} {value}")
    print(f"  {'combined (cv)':<14} {result['combined_auroc']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
