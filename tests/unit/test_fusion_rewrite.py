from __future__ import annotations

import pytest

from app.rag.fusion import reciprocal_rank_fusion, weighted_score_fusion
from app.rag.retrieve import FilterError, normalise_filters
from app.rag.rewrite import is_follow_up, rewrite_query


def test_rrf_matches_hand_computed_scores():
    fused = {f.row: f for f in reciprocal_rank_fusion(
        {"dense": [(1, 0.9), (2, 0.8)], "sparse": [(2, 7.0), (3, 5.0)]}, k=60)}
    assert fused[2].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)
    assert fused[3].score == pytest.approx(1 / 62)
    assert fused[2].ranks == {"dense": 2, "sparse": 1}


def test_rrf_weights_scale_each_list():
    fused = {f.row: f.score for f in reciprocal_rank_fusion(
        {"dense": [(1, 0.9)], "sparse": [(2, 3.0)]}, k=10, weights={"dense": 2.0})}
    assert fused[1] == pytest.approx(2 / 11) and fused[2] == pytest.approx(1 / 11)


def test_weighted_fusion_min_max_normalises():
    fused = {f.row: f.score for f in weighted_score_fusion(
        {"dense": [(1, 0.9), (2, 0.5)], "sparse": [(2, 10.0), (3, 0.0)]})}
    assert fused == pytest.approx({1: 1.0, 2: 1.0, 3: 0.0})


def test_filters_only_ever_search_published_content():
    assert normalise_filters({"status": "draft", "product": "hub"}) == {
        "status": ["published"], "product": ["hub"]}
    with pytest.raises(FilterError):
        normalise_filters({"colour": "red"})
    with pytest.raises(FilterError):
        normalise_filters({"product": []})


def test_follow_ups_borrow_the_previous_question():
    prev = ["How do I cancel my Plus subscription?"]
    assert is_follow_up("and for the annual plan?")
    q = rewrite_query("and for the annual plan?", previous_questions=prev,
                      previous_titles=["Cancel your subscription"])
    assert q.startswith("annual plan") and "cancel" in q and "subscription" in q


def test_standalone_questions_are_left_alone():
    q = "How do I reset my hub to factory settings?"
    assert not is_follow_up(q)
    assert rewrite_query(q, previous_questions=["anything"]) == q


@pytest.mark.parametrize("message", [
    "can they skip the wait? i pay for pro",  # a pronoun, however long the message
    "how much is shipping then",  # a closing "then", "though", "too"
    "your page from last year said 30 days though?",
    "how many can i have",  # one content word cannot name a topic
    "Und was passiert mit meinen alten Clips?",  # German openers
])
def test_follow_ups_are_recognised_in_their_common_shapes(message: str) -> None:
    assert is_follow_up(message)


@pytest.mark.parametrize("message", ["do you ship to canada", "how many endpoints am I allowed",
                                     "Wie setze ich mein Passwort zurück?", "yes please",
                                     "great, they were quick",
                                     "is there a parking garage nearby",  # "there" exists
                                     "are there any fees for returns?",
                                     "can i book one room for two nights?"])  # a number
def test_short_questions_that_name_their_topic_stand_alone(message: str) -> None:
    assert not is_follow_up(message)


def test_follow_up_words_keep_letters_of_any_script() -> None:
    q = rewrite_query("Und was passiert mit meinen alten Clips?",
                      previous_questions=["Ich möchte mein Lumora Abo kündigen."])
    assert "kündigen" in q.split() and "möchte" in q.split() and "clips" in q.split()
