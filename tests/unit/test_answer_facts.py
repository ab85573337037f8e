"""Answers judged as the customer reads them: key facts, fact first, length, per part."""

from __future__ import annotations

from eval.answers import (
    first_sentence,
    is_correct,
    leads_with_fact,
    normalise,
    states,
    words_outside_steps,
)
from eval.datasets import EvalQuestion, assign_splits, parse_question
from eval.metrics import Outcome, answer_metrics, by_split, core_metrics

RETURNS = ("You have **45 days** from delivery to start a return. [1] Refunds reach your card "
           "in 5\u20137 business days. [2]")


def test_a_fact_matches_through_markdown_markers_and_typography() -> None:
    assert states(RETURNS, "45 days")
    assert states(RETURNS, "5-7 business days")
    assert states("Open [Settings](https://x.example/s) > Account [1]", "Settings > Account")
    assert not states(RETURNS, "30 days")
    assert not states(RETURNS, "")
    assert normalise("Tap \u201cSave\u201d") == 'tap "save"'


def test_the_first_sentence_must_state_the_first_key_fact() -> None:
    assert first_sentence(RETURNS).startswith("You have")
    assert leads_with_fact(RETURNS, ["45 days", "5-7 business days"])
    late = "Lumora asks you to factory reset devices first. [1] You have 45 days to return. [1]"
    assert not leads_with_fact(late, ["45 days"])
    assert is_correct(late, key_facts=["45 days"], avoid_facts=[])
    assert not is_correct(late, key_facts=["45 days", "refund"], avoid_facts=[])
    assert not is_correct(late + " It used to be 30 days.", key_facts=["45 days"],
                          avoid_facts=["30 days"])


def test_step_lists_do_not_count_towards_answer_length() -> None:
    answer = "Reset it like this: [1]\n1. Hold the button for ten seconds.\n2. Wait."
    assert words_outside_steps(answer) == 4
    assert words_outside_steps(RETURNS) == 18  # "5-7" is one word


def _outcome(i: str, *, answerable: bool = True, answer: str = "", cited: tuple[str, ...] = (),
             split: str = "test", **kw: object) -> Outcome:
    return Outcome(id=i, answerable=answerable, gold=("ret-001",) if answerable else (),
                   ranked_articles=("ret-001",), answered=bool(answer), cited_articles=cited,
                   answer=answer, split=split, **kw)  # type: ignore[arg-type]


def test_answer_correct_needs_a_gold_citation_the_facts_and_no_stale_fact() -> None:
    facts = {"key_facts": ("45 days",), "avoid_facts": ("30 days",)}
    outcomes = [
        _outcome("right", answer=RETURNS, cited=("ret-001",), **facts),
        _outcome("wrong-article", answer=RETURNS, cited=("ship-001",), **facts),
        _outcome("no-fact", answer="Returns are easy. [1]", cited=("ret-001",), **facts),
        _outcome("stale", answer=RETURNS + " Before: 30 days.", cited=("ret-001",), **facts),
        _outcome("fell-back", **facts),
        _outcome("unlabelled", answer=RETURNS, cited=("ret-001",)),  # no key facts: not counted
        _outcome("unanswerable", answerable=False, answer="Sure! [1]", cited=("hw-001",)),
    ]
    m = answer_metrics(outcomes)
    assert m["answer_correct"] == 0.2 and m["fact_first"] == 0.6
    core = core_metrics(outcomes)
    assert core["gold_cited_rate"] == round(4 / 6, 4)
    assert core["false_answer_rate"] == 1.0


def test_every_part_is_reported_on_its_own() -> None:
    outcomes = [_outcome("a", answer=RETURNS, cited=("ret-001",), key_facts=("45 days",)),
                _outcome("b", split="dev", key_facts=("45 days",))]
    parts = by_split(outcomes)
    assert set(parts) == {"dev", "test"}
    assert parts["test"]["answer_correct"] == 1.0 and parts["dev"]["answer_correct"] == 0.0


def test_key_facts_are_validated_and_kept_in_the_set_format() -> None:
    q = parse_question({"id": "q1", "question": "how long?", "answerable": True,
                        "gold_article_ids": ["ret-001"], "key_facts": ["45 days"],
                        "split": "test", "tags": ["returns"]})
    assert q.key_facts == ("45 days",) and q.split == "test"
    assert list(q.to_dict()) == ["id", "question", "history", "answerable", "gold_article_ids",
                                 "reference_answer", "key_facts", "split", "tags"]
    for bad in ({"split": "train"}, {"answerable": False, "gold_article_ids": []},
                {"key_facts": [""]}):
        data = {"id": "q1", "question": "?", "answerable": True, "gold_article_ids": ["x"],
                "key_facts": ["45 days"], **bad}
        try:
            parse_question(data)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_splits_are_stratified_and_never_move_a_question() -> None:
    questions = [EvalQuestion(id=f"q{i}", question="?", answerable=i % 3 != 0,
                              tags=("returns" if i % 2 else "billing",)) for i in range(40)]
    parts = assign_splits(questions, seed=1)
    assert set(parts.values()) == {"dev", "test"}
    assert sum(p == "test" for p in parts.values()) == 20
    for tag in ("returns", "billing"):
        tagged = [q.id for q in questions if q.tags[0] == tag]
        assert abs(sum(parts[i] == "test" for i in tagged) - len(tagged) / 2) <= 1
    assert assign_splits(questions, seed=1) == parts
    kept = [EvalQuestion(id="q0", question="?", answerable=True, split="dev"), *questions[1:]]
    assert "q0" not in assign_splits(kept, seed=1)
