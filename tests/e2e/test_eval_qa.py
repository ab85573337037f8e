"""``python -m eval qa`` end to end: a corpus written by the test becomes the knowledge base.

Runs ``eval.__main__.main`` in process with the session's embedding model; the corpus is
indexed by the real builder (chunker, MiniLM, FAISS, BM25) into the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.__main__ import main
from tests.unit.test_dstc10_qa import KB, TURNS, write_folder

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CORPUS = [
    ("bike-rent", "Renting a bike", "Bikes can be rented at the front desk for 12 dollars per "
     "day. A deposit of 50 dollars is returned when the bike comes back undamaged."),
    ("bike-helmet", "Helmets", "Every bike rental includes a free helmet in your size. "
     "Children under 14 must wear a helmet."),
    ("opening-hours", "Opening hours", "The shop opens at 8 am and closes at 7 pm from Monday "
     "to Saturday. It is closed on Sundays."),
    ("repair", "Flat tyre repair", "We repair flat tyres while you wait. A repair usually "
     "takes 20 minutes and costs a flat fee of 15 dollars."),
    ("ebike-battery", "E-bike battery range", "A fully charged e-bike battery lasts about 60 "
     "kilometres. Charging an empty battery takes four hours."),
    ("group-tours", "Guided group tours", "Guided bike tours through the old town leave every "
     "Saturday at 10 am and take three hours. Book at least two days ahead."),
    ("lost-items", "Lost and found", "Items left in rental baskets are kept at the front desk "
     "for 30 days."),
    ("cancel", "Cancelling a reservation", "A bike reservation can be cancelled free of "
     "charge up to 24 hours before pickup."),
]
QUESTIONS = [
    {"id": "a1", "question": "how much is it to rent a bike for a day?", "answerable": True,
     "gold_article_ids": ["bike-rent"], "reference_answer": "12 dollars per day.",
     "tags": ["rental"]},
    {"id": "a2", "question": "how far does the ebike battery last on one charge",
     "answerable": True, "gold_article_ids": ["ebike-battery"],
     "reference_answer": "About 60 kilometres.", "tags": ["ebike"]},
    {"id": "a3", "question": "what time does the shop open on saturday", "answerable": True,
     "gold_article_ids": ["opening-hours"], "reference_answer": "At 8 am.", "tags": ["shop"]},
    {"id": "a4", "question": "how long does the repair take?", "answerable": True,
     "history": [{"role": "user", "content": "I got a flat tyre on my bike"},
                 {"role": "assistant", "content": "We can repair flat tyres while you wait."}],
     "gold_article_ids": ["repair"], "reference_answer": "About 20 minutes.",
     "tags": ["repair", "multi_turn"]},
    {"id": "a5", "question": "can i cancel my bike reservation for free", "answerable": True,
     "gold_article_ids": ["cancel"], "reference_answer": "Yes, up to 24 hours before pickup.",
     "tags": ["rental"]},
    {"id": "u1", "question": "do you sell car insurance", "answerable": False,
     "tags": ["out_of_scope"]},
    {"id": "u2", "question": "what is the capital city of peru", "answerable": False,
     "tags": ["out_of_scope"]},
    {"id": "u3", "question": "give me a recipe for chocolate cake", "answerable": False,
     "tags": ["out_of_scope"]},
]
KEYS = ("recall@1", "recall@5", "mrr", "ndcg@10", "abstention_precision", "abstention_recall",
        "citation_precision", "answered_rate")
RAGAS_KEYS = ("id_based_context_precision", "id_based_context_recall",
              "non_llm_context_recall", "non_llm_string_similarity", "rouge_score")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def qa_files(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl",
                         [{"_id": i, "title": t, "text": x} for i, t, x in CORPUS])
    return corpus, write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)


@pytest.fixture()
def qa_settings(tmp_path):
    from app.settings import Settings

    var = tmp_path / "var"
    return Settings(var_dir=var, index={"dir": var / "index"}, retrieval={"reranker": "none"},
                    answer={"threshold_file": var / "threshold.json"})


def run_qa(settings, embedder, corpus: Path, questions: Path, out: Path) -> int:
    return main(["qa", "--kb", str(corpus), "--questions", str(questions), "--out", str(out),
                 "--no-progress"], settings=settings, embedder=embedder)


def test_qa_indexes_the_corpus_answers_the_set_and_reuses_the_index_on_a_rerun(
        qa_files, qa_settings, embedder, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_qa(qa_settings, embedder, *qa_files, out) == 0
    for name in ("run.jsonl", "metrics.json", "config.json", "report.md", "report.html",
                 "score_distribution.png", "categories.png", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(isinstance(metrics[k], float) for k in KEYS)
    assert all(isinstance(metrics["ragas"][k], float) for k in RAGAS_KEYS)
    assert metrics["questions"] == 8 and metrics["answerable"] == 5
    assert metrics["recall@5"] == 1.0 and metrics["recall@1"] >= 0.8
    assert metrics["abstention_recall"] >= 2 / 3
    assert {"rental", "multi_turn", "out_of_scope"} <= set(metrics["by_tag"])

    records = {r["id"]: r for r in map(json.loads, (out / "run.jsonl").read_text().splitlines())}
    assert set(records) == {q["id"] for q in QUESTIONS}
    rent = records["a1"]
    assert rent["ranked_article_ids"][0] == "bike-rent"
    assert rent["fallback"] is None and rent["citations"][0]["article_id"] == "bike-rent"
    assert {"dense", "sparse", "fused"} <= set(rent["stages"])
    assert records["u2"]["fallback"]["reason"] in ("off_topic", "low_confidence")

    config = json.loads((out / "config.json").read_text())
    assert config["kb"] == {"path": str(qa_files[0]), "documents": 8, "build": "built",
                            "embedded": 8}
    assert config["index"]["counts"]["articles"] == 8 and config["reranker"] is None
    assert (out / "index" / "ACTIVE").exists()
    assert not qa_settings.index.dir.exists()  # the service's index is never touched
    assert "run folder:" in capsys.readouterr().out

    assert run_qa(qa_settings, embedder, *qa_files, out) == 0  # same corpus: nothing embedded
    again = json.loads((out / "config.json").read_text())
    assert again["kb"]["build"] == "unchanged" and again["kb"]["embedded"] == 0
    assert again["index"]["version"] == config["index"]["version"]
    assert "Compared with the previous run" in (out / "report.md").read_text()


def test_qa_refuses_gold_ids_the_corpus_lacks(qa_files, qa_settings, tmp_path, capsys):
    broken = write_jsonl(tmp_path / "broken.jsonl", [
        {"id": "x1", "question": "where is my order", "answerable": True,
         "gold_article_ids": ["no-such-doc"]}])
    assert run_qa(qa_settings, None, qa_files[0], broken, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "not in the corpus" in err and "x1: no-such-doc" in err
    assert not (tmp_path / "out" / "index").exists()


def test_qa_converts_and_evaluates_a_dstc10_folder(qa_settings, embedder, tmp_path):
    folder = write_folder(tmp_path / "dstc10", KB, TURNS)
    out = tmp_path / "dstc"
    assert main(["qa", "--dstc10", str(folder), "--out", str(out), "--no-progress"],
                settings=qa_settings, embedder=embedder) == 0
    assert len((out / "corpus.jsonl").read_text().splitlines()) == len(KB)
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["name"] == "dstc10-val" and config["kb"]["documents"] == len(KB)
    assert config["kb"]["dstc10"] == {"query": "entity", "answerable": 2, "unanswerable": 2,
                                      "entity_found": 3}
    records = {r["id"]: r for r in map(json.loads, (out / "run.jsonl").read_text().splitlines())}
    happy = records["val0002"]  # names its restaurant: the snippet must come first
    assert happy["ranked_article_ids"][0] == "restaurant:7:1"
    assert records["val0000"]["history"][1]["role"] == "assistant"
