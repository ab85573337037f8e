"""The real CrossEncoderReranker on a tiny model trained in a fixture, and the budget logic."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.errors import ConfigurationError
from app.rag.rerank import BudgetedReranker, CrossEncoderReranker, focused
from app.rag.types import Candidate, Chunk
from tests.fakes import OverlapReranker

pytestmark = pytest.mark.integration


def candidates(texts: list[str]) -> list[Candidate]:
    return [Candidate(chunk=Chunk(chunk_id=f"a{i}:0", article_id=f"a{i}", ordinal=0,
                                  title=f"T{i}", heading_path=(), text=t, url="",
                                  char_start=0, char_end=len(t), n_tokens=len(t.split())),
                      score=1.0 / (i + 1), ranks={"fused": i + 1})
            for i, t in enumerate(texts)]


def test_cross_encoder_scores_every_pair_in_zero_one(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, max_length=128)
    scores = reranker.score("how do I return my hub",
                            ["You can return hardware within 45 days.", "Plus costs $4.99."])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    assert reranker.score("q", []).shape == (0,)


def test_reranking_reorders_and_keeps_every_stage_score(tiny_cross_encoder):
    budgeted = BudgetedReranker(CrossEncoderReranker(tiny_cross_encoder), depth=3)
    result = budgeted.rerank("reset the hub", candidates(
        ["Shipping is free over $50.", "Hold the reset button on the hub for 10 seconds.",
         "Plus costs $4.99.", "Beyond the depth."]))
    assert result.depth == 3 and not result.reduced
    assert len(result.candidates) == 3
    assert all({"rerank", "fused"} <= set(c.ranks) for c in result.candidates)
    scores = [c.scores["rerank"] for c in result.candidates]
    assert scores == sorted(scores, reverse=True)


class SlowReranker(OverlapReranker):
    def score(self, query, passages):
        time.sleep(0.01 * len(passages))
        return super().score(query, passages)


def test_depth_shrinks_when_the_budget_would_be_exceeded():
    budgeted = BudgetedReranker(SlowReranker(), depth=20, budget_ms=60, min_depth=2)
    pool = candidates([f"passage {i} about hubs" for i in range(30)])
    first = budgeted.rerank("hubs", pool)
    assert first.depth == 20 and not first.reduced  # no cost known yet
    second = budgeted.rerank("hubs", pool)
    assert second.reduced and 2 <= second.depth <= 8


def test_int8_quantises_the_linear_layers_and_keeps_scores_close(tiny_cross_encoder):
    import torch

    passages = ["You can return hardware within 45 days.", "Plus costs $4.99.",
                "Hold the reset button on the hub for 10 seconds."]
    exact = CrossEncoderReranker(tiny_cross_encoder, max_length=128)
    quantised = CrossEncoderReranker(tiny_cross_encoder, max_length=128, int8=True)
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    assert not any(isinstance(m, dynamic) for m in exact._model.modules())
    assert sum(isinstance(m, dynamic) for m in quantised._model.modules()) >= 12
    a = exact.score("how do I return my hub", passages)
    b = quantised.score("how do I return my hub", passages)
    assert np.all((b >= 0) & (b <= 1)) and np.max(np.abs(a - b)) < 0.05


def test_the_benchmark_stand_in_has_the_default_shape_and_is_built_once(tmp_path):
    import json

    from eval.bench.standin import standin_reranker
    from ingest.models.reranker.train import TrainParams

    path = standin_reranker(tmp_path)
    config = json.loads((tmp_path / "reranker-standin" / "config.json").read_text())
    assert config["num_hidden_layers"] == TrainParams().layers
    weights = tmp_path / "reranker-standin" / "model.safetensors"
    built = weights.stat().st_mtime_ns
    assert standin_reranker(tmp_path) == path and weights.stat().st_mtime_ns == built
    reranker = CrossEncoderReranker(path, max_length=None, int8=True)
    assert reranker.max_length == TrainParams().max_length
    assert reranker.focus == TrainParams().focus  # served as a trained model of that shape
    assert reranker.score("q", ["a passage", "another"]).shape == (2,)
    record = tmp_path / "reranker-standin" / "training.json"
    record.write_text(json.dumps({"params": {"layers": 1}}))  # a stand-in of an older shape
    assert standin_reranker(tmp_path) == path and weights.stat().st_mtime_ns != built
    assert json.loads(record.read_text())["params"]["layers"] == TrainParams().layers


def test_focusing_fits_long_passages_with_the_model_tokenizer_in_serving_and_training(
        tiny_cross_encoder):
    from ingest.models.reranker.records import Pair
    from ingest.models.reranker.train import focused_passages

    filler = " ".join(f"Step {i} of the setup keeps the box closed." for i in range(30))
    long = f"Returns > Prepare the device\nPack the device first. {filler} " \
           "Take the microSD card out of the camera before you send it back."
    reranker = CrossEncoderReranker(tiny_cross_encoder, max_length=64, focus=True)
    assert reranker.focus and not CrossEncoderReranker(tiny_cross_encoder).focus
    question = "should I leave the microSD card in the camera"
    fitted = focused(question, long, count=reranker._count, budget=64)
    assert "microSD card out of the camera" in fitted and len(fitted) < len(long) / 3
    assert reranker.score(question, [long]).shape == (1,)
    pair = Pair(question, long, 1.0, "questions", "q1")
    trained = focused_passages(reranker._model, [pair], budget=64)
    assert trained == [fitted]


PASSAGES = ["You can return hardware within 45 days.", "Plus costs $4.99.",
            "Hold the reset button on the hub for 10 seconds.",
            "Returns > Prepare the device\n" + " ".join(
                f"Step {i} of the setup keeps the box closed." for i in range(40))]


def test_onnx_runtime_gives_torch_scores_in_fp32_and_close_ones_in_int8(
        tiny_cross_encoder, tmp_path):
    torch_fp32 = CrossEncoderReranker(tiny_cross_encoder, max_length=64)
    onnx_fp32 = CrossEncoderReranker(tiny_cross_encoder, max_length=64, backend="onnx",
                                     onnx_cache=tmp_path)
    onnx_int8 = CrossEncoderReranker(tiny_cross_encoder, max_length=64, backend="onnx",
                                     int8=True, onnx_cache=tmp_path)
    question = "how do I return my hub"
    exact = torch_fp32.score(question, PASSAGES)  # the last passage is cut at 64 tokens
    assert np.allclose(onnx_fp32.score(question, PASSAGES), exact, atol=1e-5)
    quantised = onnx_int8.score(question, PASSAGES)
    assert np.all((quantised >= 0) & (quantised <= 1))
    assert np.max(np.abs(quantised - exact)) < 0.05
    # many pairs in several batches come back in their own order
    many = [(f"question {i}", PASSAGES[i % 4]) for i in range(11)]
    onnx_fp32.batch_size = 4
    assert np.allclose(onnx_fp32.score_pairs(many), torch_fp32.score_pairs(many), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [onnx_fp32._onnx.path.name, onnx_int8._onnx.path.name])
    assert onnx_int8._onnx.path.name.endswith("-int8.onnx")
    assert onnx_int8._onnx.path.stat().st_size < onnx_fp32._onnx.path.stat().st_size / 2


def test_onnx_export_happens_once_per_weights(tiny_cross_encoder, tmp_path, monkeypatch):
    import shutil

    from app.rag import onnx_scoring

    first = CrossEncoderReranker(tiny_cross_encoder, backend="onnx", onnx_cache=tmp_path)
    exported = first._onnx.path.stat().st_mtime_ns
    monkeypatch.setattr(onnx_scoring, "export", lambda *a, **k: pytest.fail("exported again"))
    again = CrossEncoderReranker(tiny_cross_encoder, backend="onnx", onnx_cache=tmp_path)
    assert again._onnx.path == first._onnx.path
    assert again._onnx.path.stat().st_mtime_ns == exported
    monkeypatch.undo()
    changed = tmp_path / "changed"
    shutil.copytree(tiny_cross_encoder, changed)
    config = changed / "config.json"
    config.write_text(config.read_text().replace("{", '{"changed": 1, ', 1))
    other = CrossEncoderReranker(str(changed), backend="onnx", onnx_cache=tmp_path / "c")
    assert other._onnx.path.name != first._onnx.path.name  # other weights, other file
    assert not list(tmp_path.glob("*.tmp"))  # written under a temporary name, then renamed


def test_an_unknown_backend_is_refused(tiny_cross_encoder):
    with pytest.raises(ConfigurationError, match="backend"):
        CrossEncoderReranker(tiny_cross_encoder, backend="tensorrt")
