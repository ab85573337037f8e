"""Fitting a long passage into the reranker's token budget around the question's words."""

from __future__ import annotations

import json

from app.rag.rerank import focused, focused_pairs, trained_with_focus


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


PASSAGE = ("What to include in your return box > Prepare the device\n"
           "Pack the device in its original box if you still have it. "
           "Include the power adapter and every cable that came with it. "
           "Do not include batteries that are not part of the device. "
           "Take the microSD card out of a camera before you send it back. "
           "Tape the box closed and stick the label on top.")


def test_a_passage_that_fits_is_unchanged():
    assert focused("microSD card camera", PASSAGE, count=words, budget=200) == PASSAGE


def test_a_long_passage_keeps_its_breadcrumb_first_sentence_and_the_matching_one():
    out = focused("should I leave the microSD card in the camera", PASSAGE, count=words,
                  budget=52)
    head, body = out.split("\n")
    assert head == "What to include in your return box > Prepare the device"
    assert body.startswith("Pack the device in its original box")
    assert "Take the microSD card out of a camera" in body  # the end a plain cut would lose
    assert "Tape the box" not in body and "batteries" not in body
    assert sum(words([head, body])) <= 52 - 9 - 3
    # a plain cut at the budget would have lost the matching sentence
    assert "microSD" not in " ".join(PASSAGE.split()[: 52 - 9 - 3])


def test_sentences_keep_their_order_and_no_shared_word_leaves_the_passage_alone():
    out = focused("adapter cable label", PASSAGE, count=words, budget=60)
    body = out.split("\n")[1]
    assert body.index("power adapter") < body.index("label on top")
    assert focused("zigbee thermostat pairing", PASSAGE, count=words, budget=30) == PASSAGE
    assert focused("a b", "one line only", count=words, budget=3) == "one line only"


def test_the_model_folder_says_whether_it_was_trained_focused(tmp_path):
    assert trained_with_focus(str(tmp_path)) is False
    (tmp_path / "training.json").write_text(json.dumps({"params": {"focus": True}}))
    assert trained_with_focus(str(tmp_path)) is True


def test_pairs_are_fitted_as_one_by_one_with_two_token_counts_in_all():
    calls = []

    def counting(texts: list[str]) -> list[int]:
        calls.append(len(texts))
        return words(texts)

    pairs = [("should I leave the microSD card in the camera", PASSAGE),
             ("adapter cable label", PASSAGE), ("zigbee thermostat pairing", PASSAGE),
             ("microSD card camera", "one line only"), ("adapter cable label", PASSAGE)]
    for budget in (30, 52, 60, 200):
        calls.clear()
        out = focused_pairs(pairs, count=counting, budget=budget)
        assert out == [focused(q, p, count=words, budget=budget) for q, p in pairs]
        assert len(calls) == (1 if budget == 200 else 2)  # nothing too long: no second call
    assert out == [p for _, p in pairs]  # everything fits in 200
    assert focused_pairs([], count=counting, budget=52) == []
