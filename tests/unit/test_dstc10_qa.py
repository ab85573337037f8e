"""The DSTC10 -> evaluation-set mapping, on hand-written lines in the DSTC10 format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import DatasetError, load_questions
from eval.dstc10_qa import convert

KB = [
    {"_id": "hotel:0:0", "title": "Are children welcomed at this location?",
     "text": "Yes, you can stay with children at A and B Guest House.", "domain": "hotel",
     "entity_id": "0", "entity_name": "A AND B GUEST HOUSE"},
    {"_id": "hotel:0:3", "title": "What time is check-in there?",
     "text": "Check-in time is from 3:30pm - 9:00pm.", "domain": "hotel", "entity_id": "0",
     "entity_name": "A AND B GUEST HOUSE"},
    {"_id": "restaurant:7:1", "title": "Do you have a happy hour?",
     "text": "Yes, happy hour is from 4 to 6 pm.", "domain": "restaurant", "entity_id": "7",
     "entity_name": "Cinderella Bakery and Cafe"},
    {"_id": "taxi:*:2", "title": "Can I pay the taxi by card?", "text": "Yes, all taxis take "
     "cards.", "domain": "taxi", "entity_id": "*", "entity_name": None},
]
TURNS = [
    {"_id": "val0000", "text": "perfect and what is the check kin time for that",
     "context": [{"speaker": "U", "text": "i need a place to stay"},
                 {"speaker": "S", "text": "i recommend the a and b guest house"}],
     "knowledge_seeking": True, "gold_doc_ids": ["hotel:0:0"],
     "reference_response": "check in starts at three thirty", "source": "sf_spoken"},
    {"_id": "val0001", "text": "can you book a table for two at seven",
     "context": [{"speaker": "U", "text": "is cinderella bakery and cafe any good"},
                 {"speaker": "S", "text": "yes it is"}],
     "knowledge_seeking": False, "gold_doc_ids": [], "reference_response": None,
     "source": "sf_spoken"},
    {"_id": "val0002", "text": "does cinderella bakery and cafe have a happy hour",
     "context": [], "knowledge_seeking": True, "gold_doc_ids": ["restaurant:7:1"],
     "reference_response": "yes from four to six", "source": "sf_spoken"},
    {"_id": "val0003", "text": "hello can you help me plan a trip", "context": [],
     "knowledge_seeking": False, "gold_doc_ids": [], "reference_response": None,
     "source": "sf_spoken"},
]


def write_folder(folder: Path, kb: list[dict], turns: list[dict]) -> Path:
    folder.mkdir()
    (folder / "kb.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kb))
    (folder / "queries_val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in turns))
    return folder


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_snippets_become_articles_titled_with_their_entity_and_question(tmp_path):
    done = convert(write_folder(tmp_path / "d", KB, TURNS), tmp_path / "out")
    corpus = read_jsonl(done.corpus)
    assert [d["_id"] for d in corpus] == [r["_id"] for r in KB]
    assert corpus[1] == {"_id": "hotel:0:3",
                         "title": "A AND B GUEST HOUSE > What time is check-in there?",
                         "text": "Check-in time is from 3:30pm - 9:00pm."}
    assert corpus[3]["title"] == "taxi > Can I pay the taxi by card?"  # no entity: the domain
    assert (done.documents, done.answerable, done.unanswerable) == (4, 2, 2)


def test_turns_become_questions_with_history_labels_and_the_dialogue_entity(tmp_path):
    done = convert(write_folder(tmp_path / "d", KB, TURNS), tmp_path / "out")
    questions = {q["id"]: q for q in read_jsonl(done.questions)}
    check_in = questions["val0000"]
    assert check_in["question"] == ("A AND B GUEST HOUSE: perfect and what is the check kin "
                                    "time for that")
    assert check_in["answerable"] and check_in["gold_article_ids"] == ["hotel:0:0"]
    assert check_in["history"] == [
        {"role": "user", "content": "i need a place to stay"},
        {"role": "assistant", "content": "i recommend the a and b guest house"}]
    assert check_in["reference_answer"] == "check in starts at three thirty"
    assert check_in["tags"] == ["hotel", "spoken", "multi_turn", "entity_from_context"]
    booking = questions["val0001"]  # not knowledge-seeking: unanswerable, prefixed alike
    assert not booking["answerable"] and booking["gold_article_ids"] == []
    assert booking["question"].startswith("Cinderella Bakery and Cafe: can you book")
    assert booking["tags"][0] == "not_knowledge_seeking" and booking["reference_answer"] == ""
    named = questions["val0002"]
    assert named["question"] == TURNS[2]["text"] and "entity_in_turn" in named["tags"]
    assert questions["val0003"]["tags"] == ["not_knowledge_seeking", "spoken", "no_entity"]
    assert done.entity_found == 3
    assert len(load_questions(done.questions)) == 4  # a valid evaluation set


def test_turn_mode_keeps_the_spoken_turn(tmp_path):
    done = convert(write_folder(tmp_path / "d", KB, TURNS), tmp_path / "out",
                   resolve_entity=False)
    first = read_jsonl(done.questions)[0]
    assert first["question"] == TURNS[0]["text"] and "entity_from_context" in first["tags"]


def test_malformed_input_is_reported(tmp_path):
    with pytest.raises(DatasetError, match="not a DSTC10 FAQ folder"):
        convert(tmp_path, tmp_path / "out")
    bad = [{**TURNS[0], "context": [{"speaker": "X", "text": "hi"}]}]
    with pytest.raises(DatasetError, match="turn 1: unknown speaker 'X'"):
        convert(write_folder(tmp_path / "d", KB, bad), tmp_path / "out")
