"""``python -m eval.models ranking``: the dataset adapters and the command on tiny corpora."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from app.rag.chunk import ChunkerParams, MarkdownChunker
from eval.models import adapters, ranking
from eval.models.__main__ import main as models_main
from eval.models.card import command
from tests.fakes import HashEmbedder, WhitespaceTokens
from tests.unit.test_dstc10_qa import KB, TURNS, write_folder

FIXTURE_KB = Path(__file__).resolve().parents[1] / "fixtures" / "kb"

DOCS = {
    "d1": ("Vitamin D", "Vitamin D supplements lower the risk of fractures in older adults."),
    "d2": ("Sleep", "Short sleep raises blood pressure in adults."),
    "d3": ("Fractures", "Hip fractures in older adults are common after falls."),
    "d4": ("Coffee", "Coffee intake and blood pressure: no lasting effect."),
}
QUERIES = {"q1": "vitamin d prevents fractures in older adults",
           "q2": "sleep and blood pressure",
           "q3": "a claim nobody judged"}
QRELS = [("q1", "d1", 2), ("q1", "d3", 1), ("q2", "d2", 1)]


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, (t, x) in DOCS.items()))
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES.items()))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS))
    return folder


class OracleReranker:
    """Scores 1 for a passage containing any of the query's gold snippets, 0 otherwise."""

    name = "oracle"

    def __init__(self, gold: Mapping[str, Sequence[str]]) -> None:
        self.gold, self.calls = gold, 0

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.array([float(any(g in p for g in self.gold.get(query, ())))
                         for p in passages])


def test_scifact_adapter_reads_a_beir_folder_and_keeps_the_judged_queries(tmp_path):
    data = adapters.scifact(write_beir(tmp_path / "scifact"))
    assert data.ids == ("d1", "d2", "d3", "d4")
    assert data.texts[0] == "Vitamin D\n" + DOCS["d1"][1]
    assert [(q.id, q.gold) for q in data.queries] == [("q1", {"d1": 2, "d3": 1}),
                                                      ("q2", {"d2": 1})]
    assert data.report == "beir-scifact.json" and "ndcg@10" in data.metrics
    assert data.units(["d3", "d1"]) == ["d3", "d1"]  # abstracts are scored as they are
    with pytest.raises(adapters.DatasetMissing, match="never shipped"):
        adapters.scifact(tmp_path / "elsewhere")


def test_dstc10_adapter_asks_the_knowledge_seeking_turns_about_the_entity_last_named(tmp_path):
    data = adapters.dstc10(write_folder(tmp_path / "dstc10", KB, TURNS))
    assert data.ids == tuple(r["_id"] for r in KB)
    assert [q.id for q in data.queries] == ["val0000", "val0002"]  # not bookings, not chat
    assert data.queries[0].text == "A AND B GUEST HOUSE: perfect and what is the check kin time " \
                                   "for that"
    assert data.queries[1].text == TURNS[2]["text"]  # it names its entity already
    assert data.details == {"queries_with_entity": 2} and data.report == "dstc10.json"


def test_questions_adapter_scores_chunks_as_articles(tmp_path):
    qset = tmp_path / "dev.jsonl"
    qset.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a", "question": "how do I reset the hub", "gold_article_ids": ["t-reset"]},
        {"id": "b", "question": "and then?", "history": [{"role": "user", "content": "hi"}],
         "gold_article_ids": ["t-reset"]},
        {"id": "c", "question": "what is the weather", "gold_article_ids": []},
        {"id": "d", "question": "refund?", "article_ids": ["t-returns", "t-plans"]}]) + "\n")
    chunker = MarkdownChunker(WhitespaceTokens(), ChunkerParams(
        max_tokens=40, min_tokens=5, overlap_tokens=0, hard_max_tokens=80))
    data = adapters.questions(qset, kb=FIXTURE_KB, chunker=chunker)
    assert [(q.id, q.gold) for q in data.queries] == [
        ("a", {"t-reset": 1}), ("d", {"t-returns": 1, "t-plans": 1})]
    assert "t-reset:2" in data.ids and data.unit_of["t-reset:2"] == "t-reset"
    assert not any(i.startswith("t-doorbell") for i in data.ids)  # a draft is not served
    assert data.units(["t-reset:1", "t-plans:0", "t-reset:0", "t-returns:2"]) == [
        "t-reset", "t-plans", "t-returns"]
    assert data.report == "rerank-dev.json" and data.name == "dev"

    # every chunk is a candidate: an oracle reranker puts the chunk it knows first, and with
    # it the chunk's article
    oracle = OracleReranker({"how do I reset the hub": ["Hold the reset pinhole"],
                             "refund?": ["Refunds go back"]})
    results = ranking.rank(data, embedder=HashEmbedder(), depths=[20], weights=[0.0],
                           rerankers={"hybrid+rerank": (oracle, "oracle")},
                           metrics=["recall@1", "mrr"], cache=tmp_path / "cache")
    assert results["hybrid+rerank@20 w=0.0"] == {"recall@1": 0.75, "mrr": 1.0}  # d: 1 of 2


def test_an_unusable_question_set_exits_2_and_writes_nothing(tmp_path, settings, capsys):
    empty = tmp_path / "dev.jsonl"
    empty.write_text('{"id": "u1", "question": "anything?", "article_ids": []}\n')
    out = tmp_path / "out.json"
    assert ranking.main(["--dataset", "questions", "--set", str(empty), "--out", str(out)],
                        settings=settings) == 2
    assert "no answerable question" in capsys.readouterr().err
    assert ranking.main(["--dataset", "questions", "--set", str(tmp_path / "none.jsonl"),
                         "--out", str(out)], settings=settings) == 2
    assert "no such question set" in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_external_dataset_is_skipped(tmp_path, settings, capsys):
    settings = settings.model_copy(update={"datasets_dir": tmp_path / "datasets"})
    assert ranking.main(["--dataset", "dstc10"], settings=settings) == 0
    assert "skipped: DSTC10 FAQ data not found at " + str(tmp_path / "datasets" / "dstc10-faq") \
        in capsys.readouterr().out
    assert not (settings.var_dir / "eval").exists()
    # the same through python -m eval.models
    assert models_main(["ranking", "--dataset", "scifact", "--data", str(tmp_path)]) == 0
    assert "skipped: SciFact not found" in capsys.readouterr().out


def run_scifact(tmp_path: Path, settings, reranker: OracleReranker, *extra: str) -> dict:
    out = tmp_path / "report.json"
    code = ranking.main(["--dataset", "scifact", "--data", str(tmp_path / "scifact"),
                         "--reranker", str(tmp_path / "model"), "--depths", "1,4",
                         "--weights", "0,0.5", "--out", str(out), *extra], settings=settings,
                        embedder=HashEmbedder(), load_reranker=lambda folder: (reranker, "o"))
    assert code == 0
    return json.loads(out.read_text())


def test_the_command_reranks_the_head_at_each_depth_and_writes_what_the_card_reads(
        tmp_path, settings, capsys):
    write_beir(tmp_path / "scifact")
    oracle = OracleReranker({QUERIES["q1"]: [DOCS["d1"][1]], QUERIES["q2"]: [DOCS["d2"][1]]})
    report = run_scifact(tmp_path, settings, oracle)
    results = report["results"]
    assert list(results) == ["bm25", "dense", "hybrid", "hybrid+rerank@1 w=0.0",
                             "hybrid+rerank@1 w=0.5", "hybrid+rerank@4 w=0.0",
                             "hybrid+rerank@4 w=0.5"]
    assert set(results["hybrid"]) == {"ndcg@10", "recall@10", "recall@100", "mrr"}
    # the whole list reranked by an oracle puts every query's best document first
    assert results["hybrid+rerank@4 w=0.0"]["mrr"] == 1.0
    assert results["hybrid+rerank@4 w=0.0"]["ndcg@10"] >= results["hybrid"]["ndcg@10"]
    # a head of one cannot change the order
    assert results["hybrid+rerank@1 w=0.0"] == results["hybrid"]
    assert report["dataset"] == "scifact" and report["queries"] == 2
    assert report["documents"] == 4 and report["reranker"] == str(tmp_path / "model")
    assert report["depths"] == [1, 4] and report["weights"] == [0.0, 0.5]
    assert "hybrid+rerank@4 w=0.0" in capsys.readouterr().out  # the printed table
    assert command(report, "scifact") == ("python -m eval.models ranking --dataset scifact "
                                          "--depths 1,4 --weights 0,0.5")

    # a second run (another weight) reads the cached scores: nothing is scored again
    calls = oracle.calls
    again = run_scifact(tmp_path, settings, oracle, "--metrics", "mrr")
    assert oracle.calls == calls
    assert again["results"]["hybrid+rerank@4 w=0.0"] == {"mrr": 1.0}
