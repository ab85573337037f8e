"""The benchmark figure: latency by size, throughput by clients, stage costs by size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGE_COLOURS = {"dense": "#4c72b0", "sparse": "#55a868", "fuse": "#8172b2",
                 "rerank": "#c44e52", "generate": "#ccb974"}


def plot(result: dict[str, Any], path: Path) -> None:
    """Three panels saved as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(result.get("sizes", {}).items(), key=lambda kv: int(kv[0]))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    _latency(axes[0], sizes)
    _throughput(axes[1], sizes)
    _stages(axes[2], sizes)
    m = result.get("machine", {})
    fig.suptitle(f"Groundline benchmark {result.get('date', '')[:10]}: {m.get('cpu', '')}, "
                 f"{m.get('cores')} cores ({result.get('mode', '')} run)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _latency(ax: Any, sizes: list[tuple[str, dict[str, Any]]]) -> None:
    x = [int(s) for s, _ in sizes]
    for key, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        ax.plot(x, [v["e2e_ms"].get(key) for _, v in sizes], style, label=f"e2e {key}")
    ax.plot(x, [v.get("retrieval_ms", {}).get("p95") for _, v in sizes], "d--",
            label="retrieval p95")
    for size, limit in ((10_000, 300), (50_000, 400)):
        ax.plot([size], [limit], "rx", markersize=10)
    ax.plot([50_000], [50], "mx", markersize=10)
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("articles")
    ax.set_ylabel("ms")
    ax.set_title("Latency through HTTP (x: targets)")
    ax.legend(fontsize=8)


def _throughput(ax: Any, sizes: list[tuple[str, dict[str, Any]]]) -> None:
    for size, v in sizes:
        loads = v.get("load", [])
        if not loads:
            continue
        line = ax.plot([r["concurrency"] for r in loads],
                       [r["requests_per_s"] for r in loads], "o-", label=f"{int(size):,}")[0]
        if v.get("rerank_bound_rps"):
            ax.axhline(v["rerank_bound_rps"], color=line.get_color(), linestyle=":",
                       linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("requests/s")
    ax.set_title("Throughput (dotted: rerank bound)")
    ax.legend(title="articles", fontsize=8)


def _stages(ax: Any, sizes: list[tuple[str, dict[str, Any]]]) -> None:
    labels = [f"{int(s):,}" for s, _ in sizes]
    bottom = [0.0] * len(sizes)
    for stage, colour in STAGE_COLOURS.items():
        values = [v.get("stages_ms", {}).get(stage, {}).get("p50", 0.0) for _, v in sizes]
        ax.bar(labels, values, bottom=bottom, color=colour, label=stage)
        bottom = [b + h for b, h in zip(bottom, values, strict=True)]
    ax.set_xlabel("articles")
    ax.set_ylabel("ms (p50)")
    ax.set_title("Server-side stage cost")
    ax.legend(fontsize=8)
