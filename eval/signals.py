"""How well each signal of the answer decision separates answerable from unanswerable questions.

    python -m eval.signals RUN_FOLDER [--split dev] [--out FILE]

Reads a run folder of ``python -m eval run``, whose records carry the decision signals the
service computed for every question (``app.rag.decide``), and reports each signal's AUROC
with answerable as the positive class (0.5 is chance, 1.0 a perfect separation; below 0.5
the signal points the other way), plus a logistic combination of them scored by
cross-validation, so that no question is scored by a model fitted on it. Measure on the
development part; the test part is for reporting the decision that comes out of it.
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

from app.rag.decide import DECISION_SIGNALS

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


def signal_matrix(records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The decision signals the service recorded for each question, one row each."""
    missing = [r["id"] for r in records if not r.get("gate", {}).get("signals")]
    if missing:
        raise ValueError(f"{len(missing)} records carry no decision signals (first: "
                         f"{missing[0]}): evaluate again with python -m eval run")
    return np.array([[float(r["gate"]["signals"].get(s, 0.0)) for s in DECISION_SIGNALS]
                     for r in records])


def report(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """AUROC per signal and of their cross-validated combination."""
    x = signal_matrix(records)
    y = np.array([bool(r["answerable"]) for r in records])
    result = {s: auroc(x[:, i], y) for i, s in enumerate(DECISION_SIGNALS)}
    used = [i for i in range(len(DECISION_SIGNALS)) if np.ptp(x[:, i]) > 0]
    combined = cross_validated(x[:, used], y.astype(float)) if used and 0 < y.sum() < len(y) \
        else None
    return {"questions": len(records), "answerable": int(y.sum()), "auroc": result,
            "combined_auroc": None if combined is None else auroc(combined, y),
            "combined_signals": [DECISION_SIGNALS[i] for i in used]}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m eval.signals``."""
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
    try:
        result = report(records) | {"split": args.split}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
