"""Plots of a run (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_TAGS = 25


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def score_distribution(records: Sequence[Mapping[str, Any]], *, threshold: float,
                       agreement_threshold: float | None, kind: str, path: Path) -> Path:
    """Histograms of the top gate score, answerable against unanswerable, with the bars."""
    plt = _pyplot()
    answerable = [r["gate"]["score"] for r in records if r["answerable"]]
    unanswerable = [r["gate"]["score"] for r in records if not r["answerable"]]
    values = answerable + unanswerable + [threshold]
    lo, hi = min(values), max(values)
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(answerable, bins=bins, alpha=0.6, label=f"answerable ({len(answerable)})")
    ax.hist(unanswerable, bins=bins, alpha=0.6, label=f"unanswerable ({len(unanswerable)})")
    ax.axvline(threshold, color="black", linestyle="-", label=f"threshold {threshold:.3f}")
    if agreement_threshold is not None and agreement_threshold != threshold:
        ax.axvline(agreement_threshold, color="grey", linestyle="--",
                   label=f"threshold when retrievers agree {agreement_threshold:.3f}")
    ax.set_xlabel(f"top {kind} score (answer gate)")
    ax.set_ylabel("questions")
    ax.set_title("Gate score: answerable vs unanswerable")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def category_bars(by_tag: Mapping[str, Mapping[str, Any]], *, path: Path) -> Path:
    """Per tag: recall@5 and answered rate of answerable questions, abstention recall."""
    plt = _pyplot()
    tags = sorted(by_tag, key=lambda t: (-by_tag[t]["questions"], t))[:MAX_TAGS]
    series = (("recall@5", "recall@5"), ("answered_rate_answerable", "answered (answerable)"),
              ("abstention_recall", "abstained (unanswerable)"))
    y = np.arange(len(tags))
    height = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.42 * len(tags) + 1.2)))
    for i, (key, label) in enumerate(series):
        vals = [by_tag[t].get(key) for t in tags]
        ax.barh(y + i * height, [v if v is not None else 0 for v in vals], height, label=label)
    ax.set_yticks(y + height, [f"{t} ({by_tag[t]['questions']})" for t in tags], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title("Per category", pad=28)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def latency_bars(latency: Mapping[str, Mapping[str, float]], *, path: Path) -> Path:
    """p50 and p95 per stage, in milliseconds."""
    plt = _pyplot()
    stages = [s for s in latency if s != "wall"]
    x = np.arange(len(stages))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(x - 0.2, [latency[s]["p50"] for s in stages], 0.4, label="p50")
    ax.bar(x + 0.2, [latency[s]["p95"] for s in stages], 0.4, label="p95")
    ax.set_xticks(x, stages)
    ax.set_ylabel("ms")
    ax.set_title("Latency per stage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def tradeoff_curve(curve: Sequence[Mapping[str, float]], *, chosen: float, path: Path) -> Path:
    """Calibration: answered shares of answerable and unanswerable questions per threshold."""
    plt = _pyplot()
    t = [row["threshold"] for row in curve]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(t, [row["answered_answerable"] for row in curve], label="answerable answered")
    ax.plot(t, [row["answered_unanswerable"] for row in curve], label="unanswerable answered")
    ax.plot(t, [row["correct_answered"] for row in curve], label="answered with gold on top")
    ax.axvline(chosen, color="black", linestyle="--", label=f"chosen {chosen:.3f}")
    ax.set_xlabel("answer threshold")
    ax.set_ylabel("share of questions")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def reliability(table: Sequence[Mapping[str, float]], *, path: Path,
                label: str = "answerability model (out of fold)") -> Path:
    """Predicted probability against the observed share of answerable questions, per bin."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    ax.plot([row["predicted"] for row in table], [row["answerable"] for row in table],
            marker="o", label=label)
    for row in table:
        ax.annotate(str(int(row["questions"])), (row["predicted"], row["answerable"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel("predicted probability that the knowledge base answers")
    ax.set_ylabel("share of questions that were answerable")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
