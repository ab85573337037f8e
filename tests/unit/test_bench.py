"""The benchmark's own logic: the synthetic help center, the stand-in embedder, statistics
and the target table. Timings are never asserted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval.bench.report import evaluate, markdown, write
from eval.bench.standin import HashingEmbedder, PacedEmbedder
from eval.bench.stats import percentile, recall_at_k, rerank_bound, stage_summaries, summary
from eval.bench.synth import article, sample_questions, write_kb
from ingest.sources import load_path


def test_articles_are_deterministic_per_seed_and_index() -> None:
    assert article(12, seed=7) == article(12, seed=7)
    assert article(12, seed=7).markdown != article(12, seed=8).markdown
    assert article(12, seed=7).markdown != article(13, seed=7).markdown


def test_generated_help_center_loads_with_the_real_loader(tmp_path: Path) -> None:
    info = write_kb(tmp_path, 60, seed=3)
    result = load_path(tmp_path / "kb")
    assert result.failures == ()
    docs = result.documents
    assert len(docs) == 60 == info["articles"]
    assert len({d.id for d in docs}) == 60
    assert sum(d.status == "published" for d in docs) == info["published"]
    assert all(d.title and d.url.endswith(d.id) for d in docs)
    bodies = "\n".join(d.body for d in docs)
    for structure in ("\n## ", "\n### ", "\n1. ", "\n| ", "> **"):
        assert structure in bodies, structure
    published = {d.id for d in docs if d.status == "published"}
    lines = (tmp_path / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and {json.loads(x)["article_id"] for x in lines} <= published


def test_write_kb_is_reproducible_and_replaces_another_size(tmp_path: Path) -> None:
    write_kb(tmp_path / "a", 20, seed=5)
    write_kb(tmp_path / "b", 20, seed=5)
    for f in sorted((tmp_path / "a" / "kb").rglob("*.md")):
        twin = tmp_path / "b" / "kb" / f.relative_to(tmp_path / "a" / "kb")
        assert f.read_text(encoding="utf-8") == twin.read_text(encoding="utf-8")
    write_kb(tmp_path / "a", 10, seed=5)
    assert len(list((tmp_path / "a" / "kb").rglob("*.md"))) == 10


def test_sampled_questions_mix_in_off_topic_ones(tmp_path: Path) -> None:
    write_kb(tmp_path, 40, seed=1)
    questions = sample_questions(tmp_path / "questions.jsonl", 300, seed=2,
                                 off_topic_share=0.2)
    assert questions == sample_questions(tmp_path / "questions.jsonl", 300, seed=2,
                                         off_topic_share=0.2)
    off = [q for q in questions if q.kind == "off_topic"]
    assert 30 < len(off) < 90
    assert all(not q.article_id for q in off)
    assert all(q.article_id for q in questions if q.kind != "off_topic")


def test_hashing_embedder_is_deterministic_normalised_and_lexical() -> None:
    texts = ["Reset the Doorbell Pro Wi-Fi network", "Doorbell Pro Wi-Fi network reset steps",
             "Plus plan monthly price and refunds"]
    a = HashingEmbedder().embed_documents(texts)
    b = HashingEmbedder().embed_documents(texts)
    assert a.shape == (3, 384) and a.dtype == np.float32
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert a[0] @ a[1] > a[0] @ a[2] + 0.3
    np.testing.assert_allclose(HashingEmbedder().embed_query(texts[0]), a[0], rtol=1e-5)


def test_paced_embedder_runs_the_pace_model_and_returns_stand_in_vectors() -> None:
    calls: list[object] = []

    class Pace:
        name, dimension = "pace", 8

        def embed_documents(self, texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return np.ones((len(texts), 8), np.float32)

        def embed_query(self, text: str) -> np.ndarray:
            calls.append(text)
            return np.ones(8, np.float32)

    vectors = HashingEmbedder(dimension=16)
    paced = PacedEmbedder(vectors, pace=Pace())
    assert (paced.name, paced.dimension) == (vectors.name, 16)
    np.testing.assert_allclose(paced.embed_query("hub"), vectors.embed_query("hub"))
    assert paced.embed_documents(["a b", "c"]).shape == (2, 16)
    assert calls == ["hub", ["a b", "c"]]


def test_percentiles_match_numpy() -> None:
    values = list(np.random.default_rng(0).gamma(2.0, 30.0, size=257))
    for q in (0, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    with pytest.raises(ValueError):
        percentile([], 50)
    s = summary([1.0, 2.0, 3.0, 4.0])
    assert s == {"p50": 2.5, "p95": 3.9, "p99": 4.0, "mean": 2.5, "max": 4.0, "n": 4}
    assert summary([]) == {"n": 0}


def test_stage_summaries_sum_retrieval_and_skip_stages_that_did_not_run() -> None:
    timings = [{"rewrite": 0.0, "dense": 10.0, "sparse": 2.0, "fuse": 1.0, "rerank": 50.0,
                "total": 70.0},
               {"rewrite": 0.0, "dense": 20.0, "sparse": 4.0, "fuse": 1.0, "generate": 3.0,
                "total": 30.0}]
    out = stage_summaries(timings)
    assert out["retrieval"]["n"] == 2 and out["retrieval"]["max"] == 25.0
    assert out["rerank"]["n"] == 1 and out["generate"]["n"] == 1
    assert "nothing" not in out


def test_rerank_bound_and_recall() -> None:
    assert rerank_bound(100.0, cores=2) == 20.0
    assert rerank_bound(0.0, cores=2) is None
    assert recall_at_k([[1, 2, 3, 4]], [[1, 2, 9, 8]], 4) == 0.5
    assert recall_at_k([[1, 2], [3, 4]], [[1, 2], [3, 4]], 2) == 1.0


def _result() -> dict[str, object]:
    def size(p95: float, rss: float, rps: float, bound: float) -> dict[str, object]:
        stages = {"rerank": summary([80.0, 90.0]), "total": summary([100.0, 120.0])}
        e2e = {"p50": 100.0, "p95": p95, "p99": p95 + 10}
        return {"e2e_ms": e2e,
                "latency": {"e2e_ms_decided_and_composed": e2e,
                            "decided_and_composed_share": 0.9},
                "retrieval_ms": {"p50": 10.0, "p95": 20.0, "p99": 30.0}, "ready_s": 4.0,
                "rss_mb": rss, "requests_per_s": rps, "reranker": True,
                "rerank_bound_rps": bound, "stages_ms": stages,
                "load": [{"concurrency": 4, "requests_per_s": rps, "errors": 0,
                          "latency_ms_decided_and_composed": {"p95": p95 + 100}},
                         {"concurrency": 16, "requests_per_s": rps, "errors": 0}],
                "build": {"index": {"counts": {"chunks": 30000}, "dense": "flat",
                                    "bytes": 2**20}}}

    return {"date": "2026-01-01T00:00:00+00:00", "mode": "full", "command": "x",
            "machine": {"cpu": "cpu", "cores": 2, "ram_gb": 8, "python": "3.11",
                        "torch": "2", "faiss": "1"},
            "sizes": {"10000": size(250.0, 900.0, 9.0, 10.0),
                      "50000": size(450.0, 2500.0, 5.0, 10.0)},
            "ingestion": {"ratio": 0.95, "chunks": 400, "articles": 100,
                          "pipeline_chunks_per_s": 15.0, "raw_chunks_per_s": 15.8}}


def test_targets_pass_fail_and_not_run() -> None:
    rows = {r["target"]: r for r in evaluate(_result())}
    assert rows["e2e p95 as served, 10,000 articles, 1 client"]["status"] == "PASS"
    assert rows["e2e p95 as served, 10,000 articles, 4 clients"]["value"] == 350.0
    assert rows["e2e p95 as served, 10,000 articles, 4 clients"]["status"] == "FAIL"
    assert rows["share of requests with the answer decision and sentence choice, 10,000 "
                "articles"]["status"] == "PASS"
    assert rows["e2e p95 as served, 50,000 articles, 1 client"]["status"] == "FAIL"
    assert rows["peak RSS, 50,000 articles"]["status"] == "FAIL"
    assert rows["ingestion throughput / raw model"]["status"] == "PASS"
    assert rows["req/s with 16 clients / rerank bound"]["value"] == 0.5
    assert rows["req/s with 16 clients / rerank bound"]["status"] == "FAIL"
    partial = _result()
    del partial["sizes"]["50000"]  # type: ignore[attr-defined]
    rows = {r["target"]: r for r in evaluate(partial)}
    assert rows["start to ready, 50,000 articles"]["status"] == "not run"
    assert rows["errors with 16 clients (largest size)"]["status"] == "PASS"


def test_report_files_and_readme_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest\n")
    paths = write(_result(), tmp_path / "out", readme=readme)
    assert [p.name for p in paths] == ["latest.json", "latest.md", "latest.png"]
    assert json.loads(paths[0].read_text())["targets"][0]["status"] == "PASS"
    assert paths[2].read_bytes()[:4] == b"\x89PNG"
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "| 10,000 | 30,000 | flat | 1 |" in text and "FAIL" in text
    assert markdown({**_result(), "targets": evaluate(_result())}) in text


def test_benchmark_settings_send_every_question_past_the_answer_gate(tmp_path: Path) -> None:
    from eval.bench.scale import bench_settings

    settings = bench_settings(tmp_path)
    assert settings.answer.min_score == 0.0 and settings.answer.min_score_agreement == 0.0
    assert settings.answer.dense_min_score < 0  # cosine similarity can be negative
    # A calibrated threshold of the working copy must not raise the gate again.
    assert settings.answer.threshold_file.parent == tmp_path
    assert not settings.answer.threshold_file.exists()
