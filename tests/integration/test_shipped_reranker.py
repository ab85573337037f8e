"""The shipped reranker (data/models/support-reranker) loads offline and ranks help text."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from ingest.models.reranker.records import DataParams
from ingest.models.reranker.train import TrainParams

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "data" / "models" / "support-reranker"
RETIRED = ("loss", "negatives", "bce_weight")  # options of experiments that did not ship

CASES = [
    ("my hub has a solid amber light",
     "Hub shows a solid amber light\nA solid amber LED ring means your Lumora Hub is connected "
     "to your router but can't reach the internet.",
     "Redeem a promo code\nPromo codes give you a discount or free months on Lumora Plus or Pro."),
    ("how many days do I have to send a camera back",
     "Return policy\nYou can return any Lumora device bought on shop.lumora.example within 45 "
     "days of delivery for a full refund.",
     "Night vision on Lumora cameras\nBoth Lumora cameras switch to infrared night vision "
     "automatically when it gets dark."),
    ("what does lumora plus cost per month",
     "Lumora Cloud plans compared\nPlus costs $4.99 per month or $49 per year. Pro costs $9.99 "
     "per month or $99 per year.",
     "Set up Lumora Cam Mini\nLumora Cam Mini is a small indoor camera that records 1080p video "
     "and connects directly to your Wi-Fi."),
    ("my api calls get HTTP 429 errors",
     "API rate limits and handling HTTP 429\nThe limit is 600 requests per minute per token. "
     "When you go over the limit the API answers 429 Too Many Requests.",
     "Change your shipping address\nYou can change the shipping address of an order while it "
     "is Processing."),
]


@pytest.fixture(scope="module")
def shipped():
    if not (SHIPPED / "config.json").exists():
        pytest.skip(f"no shipped reranker at {SHIPPED}: train it with `make train-reranker`")
    from app.rag.factory import make_reranker
    from app.settings import Settings

    reranker = make_reranker(Settings(retrieval={"rerank_depth": 20}))
    assert reranker is not None
    return reranker


def test_factory_uses_the_shipped_model_by_default(shipped, monkeypatch):
    from app.rag.factory import reranker_path
    from app.settings import Settings

    monkeypatch.chdir(ROOT)
    assert reranker_path(Settings()) == "data/models/support-reranker"
    assert reranker_path(Settings(retrieval={"reranker": "none"})) is None
    assert shipped.name == "support-reranker"


def test_relevant_passages_score_above_irrelevant_ones(shipped):
    for question, relevant, irrelevant in CASES:
        scores = shipped.score(question, [relevant, irrelevant])
        assert np.all((scores >= 0) & (scores <= 1))
        assert scores[0] > scores[1], question


def test_the_onnx_runtime_scores_the_shipped_model_as_torch_does(shipped, tmp_path):
    from app.rag.factory import make_reranker
    from app.rag.rerank import CrossEncoderReranker
    from app.settings import Settings

    settings = Settings(var_dir=tmp_path, retrieval={"reranker_backend": "onnx",
                                                      "rerank_depth": 20})
    onnx = make_reranker(settings)
    assert onnx is not None and onnx.backend == "onnx" and onnx.int8
    assert onnx._onnx.path.parent == tmp_path / "cache" / "onnx"  # exported at first load
    exact = CrossEncoderReranker(str(SHIPPED), max_length=None)
    onnx_fp32 = CrossEncoderReranker(str(SHIPPED), max_length=None, backend="onnx",
                                     onnx_cache=tmp_path / "fp32")
    for question, relevant, irrelevant in CASES:
        passages = [relevant, irrelevant]
        assert np.allclose(onnx_fp32.score(question, passages), exact.score(question, passages),
                           atol=1e-5)
        scores = onnx.score(question, passages)  # int8 kernels of its own: close, not equal
        assert scores[0] > scores[1], question


def test_the_model_card_and_training_record_are_shipped():
    if not (SHIPPED / "config.json").exists():
        pytest.skip(f"no shipped reranker at {SHIPPED}")
    record = json.loads((SHIPPED / "training.json").read_text(encoding="utf-8"))
    config = json.loads((SHIPPED / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == record["params"]["layers"]
    # `make train-reranker` (the defaults) reproduces it. The record also names RETIRED options:
    # its loss, binary cross-entropy (the only one trained now), and two listwise-only settings.
    params = record["params"]
    assert params.get("loss", "bce") == "bce"
    assert {k: v for k, v in params.items() if k not in RETIRED} == asdict(TrainParams())
    assert record["data"]["params"] == asdict(DataParams())
    assert (SHIPPED / "model.safetensors").stat().st_size < 100 * 1024 * 1024
    card = (SHIPPED / "README.md").read_text(encoding="utf-8")
    assert "SciFact" in card and "DSTC10" in card


def test_the_served_app_reranks_with_the_shipped_model_when_a_depth_is_set(
        shipped, tmp_path, embedder, monkeypatch):
    """The real app over HTTP with a rerank depth and no reranker setting: the shipped model.
    By default (depth 0) no reranker is loaded at all."""
    import httpx

    from app.main import create_app
    from tests.public_helpers import index_fixture_kb, make_keys, widget_headers
    from tests.servers import serve

    monkeypatch.chdir(ROOT)  # the shipped model is found relative to the working directory
    settings, engine = index_fixture_kb(tmp_path, embedder)
    from app.rag.factory import make_reranker
    from app.settings import Settings

    defaults = settings.model_copy(update={"retrieval": Settings().retrieval,
                                           "answer": Settings().answer})
    assert make_reranker(defaults) is not None  # it scores sentences, though not reranking
    unscored = defaults.answer.model_copy(update={"sentence_scoring": False})
    assert make_reranker(defaults.model_copy(update={"answer": unscored})) is None
    served = settings.model_copy(update={
        "retrieval": settings.retrieval.model_copy(update={"reranker": "", "rerank_depth": 20})})
    keys = make_keys(engine)
    with serve(create_app(served)) as url:
        r = httpx.post(f"{url}/v1/chat", headers=widget_headers(keys), timeout=60,
                       json={"message": "how many days do I have to return a device?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rerank_depth"] > 0 and body["timings_ms"]["rerank"] > 0
    assert body["fallback"] is None and body["citations"]
    assert "t-returns" in {c["article_id"] for c in body["citations"]}


def test_the_latency_benchmark_reports_its_figures_and_the_cpu(tmp_path, monkeypatch):
    from eval.models.latency import main

    monkeypatch.chdir(ROOT)  # it reads the sample help center from data/kb
    out = tmp_path / "latency.json"
    assert main(["--reranker", str(SHIPPED), "--pairs", "3", "--runs", "2",
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    trained = json.loads((SHIPPED / "training.json").read_text(encoding="utf-8"))["params"]
    assert report["pairs"] == 3 and report["runs"] == 2
    assert report["max_length"] == trained["max_length"]
    assert 0 < report["median_ms"] <= report["p90_ms"] * 1.0001
    assert report["cpu"] and report["cpu_capability"]
    assert len(report["reranker_digest"]) >= 16 and report["backend"] == "torch"
