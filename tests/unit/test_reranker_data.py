"""Training pairs of the reranker: positives, hard negatives, splits and the leakage guard."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from app.rag.rerank import blend
from app.rag.types import Chunk
from ingest.models.reranker.data import split_queries
from ingest.models.reranker.faq import FaqEntry, faq_pairs, passage, with_entity
from ingest.models.reranker.helpcenter import ChunkSearch, query_pairs
from ingest.models.reranker.records import (
    DataParams,
    LabelledQuery,
    LeakageGuard,
    eval_questions,
    family,
    is_dev,
    load_questions,
    pick_negatives,
    summarise,
)
from ingest.models.reranker.train import length_buckets
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[2]
TRAIN_QUESTIONS = ROOT / "data" / "train" / "questions.jsonl"
EVAL_DIR = ROOT / "data" / "eval"

ARTICLES = {
    "ret-001": ["Return policy: you can return a device within 45 days of delivery.",
                "Refunds go back to the original payment method."],
    "ret-001-de": ["Rückgabe: Sie können Geräte innerhalb von 45 Tagen zurückgeben."],
    "hw-004": ["A solid amber light on the hub means no internet connection."],
    "hw-005": ["Factory reset the hub: hold the reset button for 10 seconds."],
    "bill-001": ["Plus costs 4.99 dollars a month, Pro costs 9.99 dollars a month."],
    "ship-001": ["Standard shipping takes 3-5 business days and is free over 50 dollars."],
}


def chunks() -> list[Chunk]:
    out = []
    for article, texts in ARTICLES.items():
        for i, text in enumerate(texts):
            out.append(Chunk(chunk_id=f"{article}:{i}", article_id=article, ordinal=i,
                             title=article, heading_path=(), text=text, url="", char_start=0,
                             char_end=len(text), n_tokens=len(text.split())))
    return out


@pytest.fixture()
def search(tmp_path: Path) -> ChunkSearch:
    return ChunkSearch.build(chunks(), HashEmbedder(), cache=tmp_path / "cache")


def test_a_translation_belongs_to_the_family_of_its_article():
    assert family("ret-001-de") == family("ret-001") == "ret-001"
    assert family("hw-004") == "hw-004"


def test_help_center_pairs_never_use_a_gold_article_or_its_translation_as_negative(search):
    query = LabelledQuery("t1", "how many days do I have to return a device", ("ret-001",),
                          "questions")
    pairs = query_pairs(search, query, params=DataParams(kb_hard_negatives=3,
                                                         kb_random_negatives=2),
                        rng=random.Random(1))
    positives = {p.passage for p in pairs if p.label == 1.0}
    negatives = {p.passage for p in pairs if p.label == 0.0}
    assert positives and negatives
    assert not positives & negatives
    assert all("ret-001" not in p.split("\n")[0] for p in negatives)
    assert any("45 days" in p for p in positives)


def test_an_unanswerable_query_gives_only_negatives(search):
    query = LabelledQuery("t2", "what is the weather tomorrow", (), "unanswerable")
    pairs = query_pairs(search, query, params=DataParams(), rng=random.Random(1))
    assert pairs and all(p.label == 0.0 for p in pairs)


def test_margin_rule_drops_negatives_that_score_like_the_positive():
    ranked = [0, 1, 2, 3]
    chosen = pick_negatives(ranked, doc_family=["a", "b", "c", "d"], gold={"a"},
                            query_sim=[0.9, 0.89, 0.5, 0.4], positive_sim=0.9, margin=0.05,
                            hard=5, rand=0, rng=random.Random(0))
    assert chosen == [2, 3]  # row 1 is within 5% of the positive: a probable false negative


def test_hard_negatives_come_first_then_random_ones_from_the_rest():
    ranked = list(range(10))
    chosen = pick_negatives(ranked, doc_family=[str(i) for i in ranked], gold={"0"},
                            query_sim=None, positive_sim=None, margin=0.05, hard=3, rand=2,
                            rng=random.Random(0))
    assert chosen[:3] == [1, 2, 3]
    assert len(chosen) == 5 and len(set(chosen)) == 5 and 0 not in chosen


def faq() -> list[FaqEntry]:
    return [
        FaqEntry("hotel:1:0", "Alpha Inn", "Is there free wifi?", "Alpha Inn has free wifi."),
        FaqEntry("hotel:1:1", "Alpha Inn", "Can I bring my dog?", "Dogs are not allowed."),
        FaqEntry("hotel:2:0", "Beta Lodge", "Is there free wifi?", "Beta Lodge has no wifi."),
        FaqEntry("hotel:2:1", "Beta Lodge", "Is parking available?", "Street parking only."),
        FaqEntry("hotel:3:0", "Gamma House", "Is there free wifi?", "Yes, in every room."),
    ]


def test_faq_pairs_use_the_same_question_about_other_entities_as_negatives():
    entries = faq()
    pairs = faq_pairs(entries, params=DataParams(faq_queries=len(entries)),
                      rng=random.Random(3))
    wifi_alpha = [p for p in pairs if p.group == "hotel:1:0"]
    positive = [p for p in wifi_alpha if p.label == 1.0]
    negatives = [p for p in wifi_alpha if p.label == 0.0]
    assert len(positive) == 1 and "Alpha Inn has free wifi" in positive[0].passage
    assert any("Beta Lodge has no wifi" in p.passage or "Yes, in every room" in p.passage
               for p in negatives)
    assert all(p.passage != positive[0].passage for p in negatives)
    for group in {p.group for p in pairs}:
        labels = [p.label for p in pairs if p.group == group]
        assert labels.count(1.0) == 1


def test_faq_queries_name_their_entity_once():
    assert with_entity("Alpha Inn", "Is there free wifi?") == "Alpha Inn: Is there free wifi?"
    assert with_entity("Alpha Inn", "Does Alpha Inn have wifi?") == "Does Alpha Inn have wifi?"
    entry = faq()[0]
    assert passage(entry).startswith("Alpha Inn > Is there free wifi?")
    assert "Is there" not in passage(entry, with_question=False)


def test_leakage_guard_catches_exact_near_and_contained_questions():
    guard = LeakageGuard(["How long do I have to return my Hub?",
                          "do you ship to australia or new zealand at all"])
    assert guard.leaks("how long do i have to return my hub")
    assert guard.leaks("How long do I have to return my hub??")
    assert guard.leaks("do you ship to australia or new zealand")
    assert not guard.leaks("what does a solid amber light mean")


def test_dev_split_is_stable_and_close_to_the_asked_share():
    ids = [f"q{i}" for i in range(2000)]
    dev = [i for i in ids if is_dev(i, percent=15)]
    assert dev == [i for i in ids if is_dev(i, percent=15)]
    assert 0.11 < len(dev) / len(ids) < 0.19


def test_dev_percent_zero_trains_on_every_query_and_holds_none_out():
    queries = [LabelledQuery(f"q{i}", f"question {i}", ("a",), "questions") for i in range(200)]
    train, dev = split_queries(queries, percent=0)
    assert (train, dev) == (queries, [])
    train, dev = split_queries(queries, percent=15)
    assert sorted(q.id for q in train + dev) == sorted(q.id for q in queries) and dev


def test_summary_counts_pairs_positives_and_queries_per_source(search):
    query = LabelledQuery("t1", "reset the hub", ("hw-005",), "questions")
    pairs = query_pairs(search, query, params=DataParams(), rng=random.Random(1))
    summary = summarise(pairs)
    assert summary["questions"]["queries"] == 1
    assert summary["questions"]["positives"] == 1
    assert summary["questions"]["pairs"] == len(pairs)


def test_length_buckets_cover_every_pair_once_in_batches_of_similar_length():
    lengths = [random.Random(i).randint(10, 500) for i in range(1000)]
    batches = length_buckets(lengths, batch_size=32, seed=1)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    assert spread < 100  # unsorted batches of 32 would spread over most of 10..500
    assert batches == length_buckets(lengths, batch_size=32, seed=1)


def test_blend_keeps_a_confident_reranker_and_defers_to_the_first_stage_when_unsure():
    first = np.array([3.0, 2.0, 1.0])
    confident = blend(np.array([0.05, 0.95, 0.1]), first, weight=0.3)
    assert int(np.argmax(confident)) == 1
    unsure = blend(np.array([0.02, 0.03, 0.01]), first, weight=0.3)
    assert list(np.argsort(-unsure)) == [0, 1, 2]
    assert list(blend(np.array([0.2, 0.9]), np.array([5.0, 1.0]), weight=0.0)) == [0.2, 0.9]
    with pytest.raises(ValueError):
        blend(np.array([0.5]), np.array([1.0]), weight=1.5)


def test_training_questions_have_gold_articles_and_none_is_an_eval_question():
    if not TRAIN_QUESTIONS.exists():
        pytest.skip("data/train/questions.jsonl is not there")
    questions = load_questions(TRAIN_QUESTIONS)
    assert len(questions) >= 150
    assert len({q.id for q in questions}) == len(questions)
    if not EVAL_DIR.is_dir():
        pytest.skip("no evaluation sets under data/eval to compare with")
    guard = LeakageGuard(eval_questions(EVAL_DIR))
    assert len(guard) > 0
    leaked = [q.text for q in questions if guard.leaks(q.text)]
    assert leaked == []


def test_paraphrased_faq_queries_ask_in_another_entitys_words():
    entries = [
        FaqEntry("r:1:0", "Alpha Cafe", "Do you offer take-out?", "Alpha Cafe offers take-out."),
        FaqEntry("r:1:1", "Alpha Cafe", "Is there a happy hour?", "No happy hour at Alpha."),
        FaqEntry("r:2:0", "Beta Diner", "Can I order food to go at Beta Diner?",
                 "Beta Diner has food to go."),
        FaqEntry("r:2:1", "Beta Diner", "Do you have a happy hour?", "Happy hour 4-6 pm."),
    ]
    # Question vectors: take-out and food-to-go are one topic, happy hour another.
    vectors = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
    params = DataParams(faq_queries=len(entries), faq_paraphrase_share=1.0, noise_share=0.0)
    pairs = faq_pairs(entries, params=params, rng=random.Random(0), key_vectors=vectors)
    alpha = [p for p in pairs if p.group == "r:1:0"]
    query = alpha[0].query.lower()
    assert query.startswith("alpha cafe") and "food to go" in query  # Beta's wording
    assert "beta diner" not in query  # with the other entity's name taken out
    positive = [p for p in alpha if p.label == 1.0]
    assert len(positive) == 1 and "Alpha Cafe offers take-out" in positive[0].passage
    # The entry whose words were borrowed is a negative: right topic, wrong entity.
    assert any("Beta Diner has food to go" in p.passage for p in alpha if p.label == 0.0)


def test_without_vectors_faq_queries_keep_their_own_wording():
    pairs = faq_pairs(faq(), params=DataParams(faq_queries=5, faq_paraphrase_share=1.0),
                      rng=random.Random(3))
    for p in pairs:
        if p.group == "hotel:1:1":
            assert "dog" in p.query.lower()


def one_chunk(article: str, text: str) -> Chunk:
    return Chunk(chunk_id=f"{article}:0", article_id=article, ordinal=0, title=article,
                 heading_path=(), text=text, url="", char_start=0, char_end=len(text),
                 n_tokens=len(text.split()))


def test_cloze_sentence_asks_for_the_rest_of_its_chunk(tmp_path: Path):
    from ingest.models.reranker.cloze import cloze_pairs, plain, sentences

    text = ("You can return any device within 45 days of delivery for a full refund. "
            "Start the return from **Orders** in the app and print the prepaid label.\n"
            "| Item | Days |\n"
            "- See [the warranty article](https://help.example/ret-2) for faults and repairs.")
    assert sentences(text) == [
        "You can return any device within 45 days of delivery for a full refund.",
        "Start the return from **Orders** in the app and print the prepaid label.",
        "See [the warranty article](https://help.example/ret-2) for faults and repairs."]
    assert plain(sentences(text)[2]) == "See the warranty article for faults and repairs."
    found = ChunkSearch.build(
        [one_chunk("ret-001", text), one_chunk("ret-001-de", "Rückgabe innerhalb 45 Tagen."),
         one_chunk("bill-001", "Plus costs 4.99 dollars a month, Pro costs 9.99."),
         one_chunk("hw-004", "A solid amber light on the hub means no internet.")],
        HashEmbedder(), cache=tmp_path / "cache")
    pairs = cloze_pairs(found, params=DataParams(cloze_per_chunk=1), rng=random.Random(1))
    positive = [p for p in pairs if p.label == 1.0]
    assert len(positive) == 1  # the only chunk with two sentences or more
    assert positive[0].query not in positive[0].passage  # the sentence is taken out
    assert positive[0].passage.startswith("ret-001")  # breadcrumb kept, as served
    negatives = [p.passage for p in pairs if p.label == 0.0]
    assert negatives and not any("Rückgabe" in n for n in negatives)  # a translation: same family
