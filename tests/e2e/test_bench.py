"""The benchmark runner end to end at a tiny size: real child processes, a real uvicorn
server, real HTTP load, the real models. Slow (about a minute or two)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _bench(tmp_path: Path, reranker: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eval.bench", "--quick", "--sizes", "50", "--questions", "6",
         "--load-requests", "6", "--ingest-articles", "3", "--reranker", reranker,
         "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)


def test_quick_bench_measures_a_tiny_help_center_and_resumes(tmp_path: Path,
                                                             tiny_cross_encoder: str) -> None:
    done = _bench(tmp_path, tiny_cross_encoder)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "latest.json").read_text())
    assert result["mode"] == "quick" and result["machine"]["cores"] and result["date"]
    size = result["sizes"]["50"]
    for key in ("e2e_ms", "retrieval_ms"):
        assert {"p50", "p95", "p99"} <= set(size[key])
    assert size["reranker"] is True and size["stages_ms"]["rerank"]["n"] == 6
    assert size["ready_s"] > 0 and size["rss_mb"] > 100 and size["requests_per_s"] > 0
    assert [r["concurrency"] for r in size["load"]] == [1, 4, 16]
    assert all(r["errors"] == 0 and r["requests"] == 6 for r in size["load"])
    assert size["build"]["index"]["counts"]["chunks"] > 50
    assert result["incremental"]["embedded"] >= 1 and result["incremental"]["updated"] == 1
    assert result["ingestion"]["chunks"] > 3 and result["ingestion"]["ratio"] > 0
    compare = result["compare"]
    same, asked = compare["bm25"]["same_top10"].split("/")
    assert same == asked != "0"
    assert compare["dense"]["hnsw"]["recall@10"] > 0.5
    assert set(compare["rerank"]["depths"]) == {"10", "20", "40"}
    table = (tmp_path / "out" / "latest.md").read_text()
    assert "| target |" in table and "stand-in" in table
    assert (tmp_path / "out" / "latest.png").stat().st_size > 10_000

    again = _bench(tmp_path, tiny_cross_encoder)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "size-50: reused" in again.stdout and "ingestion: reused" in again.stdout
