"""`python -m ingest.models.reranker data|train` over the real sample help center and a small FAQ
file: every source makes pairs, evaluation questions never do, the run is reproducible, and
`train` records the defaults a shipped model is checked against."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

FAQ = [
    ("hotel:1:0", "Alpha Inn", "Is there free wifi?", "Alpha Inn has free wifi."),
    ("hotel:1:1", "Alpha Inn", "Can I bring my dog?", "Dogs are not allowed."),
    ("hotel:2:0", "Beta Lodge", "Do you offer internet access for guests?", "No wifi."),
    ("hotel:2:1", "Beta Lodge", "Are pets allowed?", "Pets are welcome."),
    ("hotel:3:0", "Gamma House", "Is there free wifi?", "Yes, in every room."),
]


def write_faq(path: Path) -> Path:
    path.write_text("".join(json.dumps({"_id": i, "entity_name": e, "title": q, "text": a,
                                        "domain": "hotel"}) + "\n" for i, e, q, a in FAQ))
    return path


def test_data_command_assembles_every_source(
        tmp_path: Path, cli_var_dir: Path, monkeypatch) -> None:
    from ingest.models.reranker.__main__ import main
    from ingest.models.reranker.records import LeakageGuard, eval_questions, read_pairs

    faq = write_faq(tmp_path / "kb.jsonl")
    monkeypatch.chdir(ROOT)  # the help center, tickets and training questions under data/
    runs = []
    for name in ("a", "b"):  # the second run reads the first one's embeddings, queries too
        work = tmp_path / "work" / name
        assert main(["data", "--work", str(work), "--faq", str(faq)]) == 0
        runs.append(work)
    cached = {p.name for p in (cli_var_dir / "cache" / "reranker").iterdir()}  # the settings'
    assert any(n.startswith("queries-") for n in cached) and len(cached) > 1
    stats = json.loads((runs[0] / "data.json").read_text(encoding="utf-8"))
    sources = stats["sources"]
    assert {"questions", "tickets", "cloze", "faq"} <= set(sources)
    assert sources["faq"]["queries"] == len(FAQ) and sources["cloze"]["queries"] > 500
    assert stats["dev_queries"]["questions"] > 0  # a held-out share exists
    pairs = list(read_pairs(runs[0] / "pairs.jsonl"))
    guard = LeakageGuard(eval_questions(ROOT / "data" / "eval"))
    assert not any(guard.leaks(p.query) for p in pairs if p.source in ("questions", "tickets"))
    assert (runs[0] / "pairs.jsonl").read_bytes() == (runs[1] / "pairs.jsonl").read_bytes()


def test_train_command_trains_on_a_few_pairs_and_records_its_params(
        tmp_path: Path, cli_var_dir: Path, monkeypatch) -> None:
    from ingest.models.reranker.__main__ import main
    from ingest.models.reranker.records import DataParams
    from ingest.models.reranker.train import TrainParams

    faq = write_faq(tmp_path / "kb.jsonl")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "model"
    assert main(["train", "--work", str(tmp_path / "work"), "--out", str(out), "--faq", str(faq),
                 "--max-pairs", "64", "--layers", "1", "--max-length", "48"]) == 0
    record = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert record["pairs"] == 64
    assert record["params"] == asdict(TrainParams(layers=1, max_length=48, max_pairs=64))
    assert record["data"]["params"] == asdict(DataParams())
    assert (out / "model.safetensors").exists()
