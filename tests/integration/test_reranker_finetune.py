"""Fine-tuning on an operator's tickets and feedback: ratings from a real database, training
from a real base model, and the comparison against the base on held-out tickets."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from app.rag.types import Chunk
from ingest.models.reranker.finetune import Rating, feedback_pairs, read_ratings
from ingest.models.reranker.records import Pair
from ingest.models.reranker.train import TrainParams, train

pytestmark = pytest.mark.integration

FIXTURE_KB = Path(__file__).resolve().parents[1] / "fixtures" / "kb"

# T-104 and T-105 fall in the held-out 15% (``is_dev`` of ``ticket-<id>``); the rest train.
TICKETS = [
    ("T-101", "I want to send my camera back, it is not what I expected", "t-returns"),
    ("T-102", "how long until my refund shows up on my card", "t-returns"),
    ("T-103", "my hub is broken, how do I wipe it and start again", "t-reset"),
    ("T-104", "where do I print the label to return my order", "t-returns"),
    ("T-105", "which plan keeps clips for 30 days and what does it cost", "t-plans"),
    ("T-106", "can I get my package faster, is there express delivery", "t-shipping"),
    ("T-107", "I want a code from an app when I sign in", "t-2fa"),
    ("T-108", "how much is the pro subscription per month", "t-plans"),
    ("T-109", "the hub does not respond any more, reset button?", "t-reset"),
    ("T-110", "do you ship for free", "t-shipping"),
    ("T-111", "how do I hold the reset button on the hub", "t-reset"),
]


def write_tickets(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "tickets.jsonl").open("w", encoding="utf-8") as f:
        for tid, message, article in TICKETS:
            f.write(json.dumps({"id": tid, "customer_message": f"Customer: {message}",
                                "agent_resolution": "Pointed the customer to the article.",
                                "linked_article_ids": [article], "resolved": True}) + "\n")
    return folder


def chunk(chunk_id: str, text: str) -> Chunk:
    return Chunk(chunk_id=chunk_id, article_id=chunk_id.split("#")[0], ordinal=0,
                 title=chunk_id, heading_path=(), text=text, char_start=0, char_end=len(text),
                 url="", n_tokens=len(text.split()))


def test_thumbs_become_pairs_and_queries_are_redacted():
    chunks = {"a#0": chunk("a#0", "Returns within 45 days."),
              "b#0": chunk("b#0", "Plus costs 4.99.")}
    ratings = [Rating("m1", "refund to jane.doe@example.com please", ("a#0", "b#0"), True),
               Rating("m2", "what does plus cost", ("b#0", "a#0"), False),
               Rating("m3", "old answer", ("gone#3",), False)]
    pairs, missing = feedback_pairs(ratings, chunks)
    assert missing == 1
    assert [(p.group, p.label) for p in pairs] == [("m1", 1.0), ("m2", 0.0), ("m2", 0.0)]
    assert "jane.doe@example.com" not in pairs[0].query  # personal data never trains a model
    assert pairs[0].passage.endswith("Returns within 45 days.")


def test_latest_rating_of_an_answered_turn_is_read_from_the_database(settings, engine):
    from sqlmodel import Session

    from app.models import Conversation, Feedback, Message

    cited = json.dumps([{"chunk_id": "t-returns#0"}, {"chunk_id": "t-plans#1"}])
    with Session(engine) as s:
        s.add(Conversation(id="c1"))
        s.flush()
        s.add(Message(id="m1", conversation_id="c1", role="assistant", text="Within 45 days.",
                      query="how long can I return", citations=cited))
        s.add(Message(id="m2", conversation_id="c1", role="assistant", text="I don't know.",
                      query="weather", citations="[]", fallback='{"reason": "low_score"}'))
        s.flush()
        s.add(Feedback(message_id="m1", rating="down"))
        s.add(Feedback(message_id="m2", rating="down"))
        s.commit()
        s.add(Feedback(message_id="m1", rating="up"))
        s.commit()
    ratings = read_ratings(settings.resolved_database_url)
    assert ratings == [Rating("m1", "how long can I return", ("t-returns#0", "t-plans#1"), True)]


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A one-layer reranker trained for a few steps: the 'shipped' model to continue from."""
    out = tmp_path_factory.mktemp("base") / "model"
    pairs = [Pair("how do I return my hub", "You can return hardware within 45 days.", 1.0,
                  "t", "q1"),
             Pair("how do I return my hub", "The Plus plan costs $4.99 a month.", 0.0,
                  "t", "q1")] * 8
    train(pairs, out=out, params=TrainParams(layers=1, max_length=64, batch_size=8),
          data_stats={})
    return out


def test_finetune_command_writes_a_new_model_and_the_comparison_runs(tmp_path, base_model,
                                                                     cli_var_dir, capsys):
    from eval.models.__main__ import main as evaluate
    from ingest.models.reranker.__main__ import main

    tickets = write_tickets(tmp_path / "tickets")
    work, out = tmp_path / "work", tmp_path / "tuned"
    code = main(["finetune", "--base", str(base_model), "--kb", str(FIXTURE_KB),
                 "--tickets", str(tickets), "--work", str(work), "--out", str(out),
                 "--max-pairs", "60"])
    assert code == 0
    record = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert record["init"] == str(base_model)
    assert record["params"]["layers"] == 1 and record["params"]["max_length"] == 64
    assert record["data"]["kind"] == "fine-tune" and record["data"]["dev_queries"] == 2
    dev = [json.loads(line) for line in (work / "dev.jsonl").read_text().splitlines()]
    assert sorted(d["id"] for d in dev) == ["ticket-T-104", "ticket-T-105"]
    assert (base_model / "model.safetensors").exists()  # the base is left as it was
    assert any((cli_var_dir / "cache" / "reranker").iterdir())  # the settings' cache folder

    # the comparison the command prints runs as printed
    hint = [line for line in capsys.readouterr().out.splitlines() if line.startswith("compare: ")]
    command = shlex.split(hint[-1].removeprefix("compare: "))
    assert command[:3] == ["python", "-m", "eval.models"]
    report = tmp_path / "compare.json"
    assert evaluate([*command[3:], "--depths", "5", "--weights", "0", "--out", str(report)]) == 0
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert set(results) == {"bm25", "dense", "hybrid", "hybrid+rerank@5 w=0.0", "compare@5 w=0.0"}
    assert all(0.0 <= m["mrr"] <= 1.0 for m in results.values())


def test_finetune_refuses_to_overwrite_its_base(base_model, tmp_path, cli_var_dir):
    from ingest.models.reranker.__main__ import main

    assert main(["finetune", "--base", str(base_model), "--out", str(base_model),
                 "--work", str(tmp_path)]) == 2


def test_finetune_without_tickets_says_what_is_missing(base_model, tmp_path, cli_var_dir, capsys):
    from ingest.models.reranker.__main__ import main

    empty = tmp_path / "none"
    empty.mkdir()
    code = main(["finetune", "--base", str(base_model), "--kb", str(FIXTURE_KB),
                 "--tickets", str(empty), "--work", str(tmp_path / "w"),
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "no training pairs" in capsys.readouterr().err
