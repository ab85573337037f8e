"""The LLM-judged RAGAS metrics against a judge served on 127.0.0.1 (tests/fake_judge.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.ragas_suite import LLM_METRICS, Judge, MiniLMEmbeddings, score_llm
from tests.fake_judge import fake_judge_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RESET = ("Hold the reset pinhole button for 10 seconds until the LED ring flashes amber, "
         "then release it.")
SHIPPING = "Standard shipping takes 3-5 business days and is free on orders over $50."


def _record(**overrides):
    record = {"id": "q1", "question": "how do I reset the hub", "answerable": True,
              "gold_article_ids": ["t-reset"],
              "reference_answer": "Hold the reset pinhole button for 10 seconds.",
              "fallback": None,
              "answer": "Hold the reset pinhole button for 10 seconds until the LED ring "
                        "flashes amber. [1] The hub also brews coffee every morning. [1]",
              "contexts": [{"article_id": "t-shipping", "text": SHIPPING},
                           {"article_id": "t-reset", "text": RESET}]}
    return {**record, **overrides}


def test_judged_scores_follow_the_judgments(embedder):
    refused = _record(id="q2", answerable=False, gold_article_ids=[], reference_answer="",
                      fallback={"reason": "low_score"}, answer="")
    with fake_judge_server() as server:
        judge = Judge(base_url=server.base_url, api_key="test-key", model=server.model,
                      max_concurrency=2)
        rows, errors = score_llm([_record(), refused], judge=judge, embedder=embedder)
    assert errors == 0
    first = rows[0]
    assert set(first) == set(LLM_METRICS)
    assert first["faithfulness"] == 0.5  # the coffee sentence is not in the passages
    # useful context second of two: average precision = (1/2) / 1
    assert first["llm_context_precision_with_reference"] == pytest.approx(0.5)
    assert first["llm_context_recall"] == 1.0
    assert 0.2 < first["answer_relevancy"] <= 1.0
    assert rows[1] == {}  # neither answered nor answerable: nothing to judge
    bodies = server.requests
    assert bodies and all(b["response_format"] == {"type": "json_object"} for b in bodies)
    assert all(b["model"] == "fake-judge" for b in bodies)


def test_a_noncommittal_answer_gets_no_relevancy(embedder):
    record = _record(answer="I don't know how to reset it. [1]")
    with fake_judge_server() as server:
        judge = Judge(base_url=server.base_url, api_key="k", model=server.model)
        rows, _ = score_llm([record], judge=judge, embedder=embedder)
    assert rows[0]["answer_relevancy"] == 0.0


def test_the_embeddings_adapter_is_the_shipped_minilm(embedder):
    adapter = MiniLMEmbeddings(embedder)
    one = adapter.embed_text("reset the hub")
    many = adapter.embed_texts(["reset the hub", "shipping costs"])
    assert len(one) == 384 and one == pytest.approx(many[0], abs=1e-5)


def test_a_full_run_adds_the_judged_metrics(tmp_path, embedder):
    from app.settings import Settings
    from eval.__main__ import main

    var = tmp_path / "var"
    with fake_judge_server() as server:
        settings = Settings(var_dir=var, index={"dir": var / "index"},
                            retrieval={"reranker": "none"},
                            answer={"threshold_file": var / "threshold.json"},
                            judge={"base_url": server.base_url, "api_key": "secret-judge-key",
                                   "model": server.model})
        rc = main(["run", "--set", str(ROOT / "tests/fixtures/eval/mini.jsonl"),
                   "--ingest", str(ROOT / "tests/fixtures/kb"), "--limit", "5",
                   "--no-progress", "--no-gates"], settings=settings, embedder=embedder)
    assert rc == 0
    [folder] = (var / "eval" / "runs").iterdir()
    ragas = json.loads((folder / "metrics.json").read_text())["ragas"]
    assert ragas["judge"] == "fake-judge" and ragas["judge_errors"] == 0
    for name in LLM_METRICS:
        assert ragas[name] is not None and 0 <= ragas[name] <= 1, name
        assert ragas[f"{name}_n"] >= 1
    assert ragas["faithfulness"] == 1.0  # extractive answers copy the passages
    config = (folder / "config.json").read_text()
    assert "secret-judge-key" not in config and '"judge": "fake-judge"' in config
    assert "faithfulness" in (folder / "report.md").read_text()


def test_a_failing_judge_costs_scores_not_the_run(embedder):
    from tests.fake_openai import fake_openai_server

    with fake_openai_server() as server:
        server.script(reply="this is not JSON")
        judge = Judge(base_url=server.base_url, api_key="k", model=server.model, timeout_s=5)
        rows, errors = score_llm([_record()], judge=judge, embedder=embedder)
    assert errors == len(LLM_METRICS)
    assert all(value != value for value in rows[0].values())  # NaN: left out of the means
