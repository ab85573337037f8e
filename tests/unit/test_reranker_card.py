"""The reranker's model card is rendered from the reports, and refuses another model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.models.card import choose_weight, command, load_reports, main, verdict
from eval.models.corpus import weights_digest

RECORD = {"base_model": "all-MiniLM-L6-v2", "pairs": 1200, "positives": 300,
          "train_seconds": 600.0, "train_loss": 0.31, "torch": "2.13.0",
          "params": {"layers": 2, "max_length": 128, "epochs": 1.0, "batch_size": 32,
                     "learning_rate": 1e-4, "warmup_ratio": 0.1, "weight_decay": 0.01,
                     "seed": 13, "threads": 2},
          "data": {"sources": {"faq": {"pairs": 1000, "positives": 250, "queries": 250}},
                   "kb_repeat": 4, "eval_questions_seen": 380,
                   "queries_dropped_as_eval_duplicates": 13,
                   "dev_queries": {"questions": 30, "tickets": 40}}}


def write_reports(folder: Path, model: Path) -> None:
    served = "hybrid+rerank@20 w=0.7"
    reports = {
        "beir-scifact.json": {"reranker": str(model), "queries": 300, "documents": 5183,
                              "int8": True, "results": {
                                  "hybrid": {"ndcg@10": 0.712, "recall@10": 0.8,
                                             "recall@100": 0.9, "mrr": 0.7},
                                  served: {"ndcg@10": 0.7075, "recall@10": 0.8,
                                           "recall@100": 0.9, "mrr": 0.69}}},
        "dstc10.json": {"reranker": str(model), "queries": 104, "documents": 12039,
                        "results": {"hybrid": {"recall@1": 0.4, "recall@5": 0.6, "mrr": 0.5},
                                    served: {"recall@1": 0.45, "recall@5": 0.59,
                                             "mrr": 0.55}}},
        "rerank-sample.json": {"dataset": "questions", "set": "data/eval/sample.jsonl",
                               "depths": [20], "weights": [0.0, 0.7],
                               "reranker": str(model), "queries": 120,
                               "results": {"hybrid": {"recall@1": 0.8, "recall@5": 0.95,
                                                      "mrr": 0.9},
                                           served: {"recall@1": 0.85, "recall@5": 0.96,
                                                    "mrr": 0.92}}},
        "rerank-latency.json": {"reranker": str(model), "pairs": 20, "threads": 1,
                                "max_length": 128, "int8": True, "median_ms": 120.5,
                                "p90_ms": 130.0, "runs": 20, "cpu": "Some CPU 9000",
                                "cpu_capability": "AVX2"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, report in reports.items():
        (folder / name).write_text(json.dumps(report))


def model_with_reports(tmp_path: Path) -> tuple[Path, Path]:
    """A model folder with its training record, and a folder of reports measured on it."""
    model, reports = tmp_path / "model", tmp_path / "reports"
    model.mkdir()
    (model / "training.json").write_text(json.dumps(RECORD))
    write_reports(reports, model)
    return model, reports


def edit_report(reports: Path, name: str, **changes: object) -> None:
    report = json.loads((reports / name).read_text())
    (reports / name).write_text(json.dumps({**report, **changes}))


def test_the_card_quotes_every_report_and_says_which_bars_are_met(tmp_path):
    model, reports = model_with_reports(tmp_path)
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "| hybrid+rerank@20 w=0.7 | 0.7075 |" in card
    assert "nDCG@10 -0.0045 (meets)" in card  # within the 0.01 the bar allows
    assert "recall@5 -0.0100 (misses)" in card and "MRR +0.0500 (meets)" in card
    assert "on Some CPU 9000 (AVX2)" in card
    assert "at most 150 ms: meets on this CPU" in card
    assert "| hybrid+rerank@20 w=0.7 | 0.8500 | 0.9600 | 0.9200 |" in card
    # each table names the command that writes its report
    assert ("`python -m eval.models ranking --dataset questions --set data/eval/sample.jsonl "
            "--depths 20 --weights 0,0.7`") in card
    assert "`python -m eval.models ranking --dataset dstc10`" in card
    assert "median **120.5 ms**" in card and "13 were" in card
    assert "SciFact" in card and "DSTC10" in card


def test_a_report_of_another_model_or_a_missing_one_is_refused(tmp_path, capsys):
    model, reports = tmp_path / "model", tmp_path / "reports"
    write_reports(reports, tmp_path / "other")
    with pytest.raises(ValueError, match="not"):
        load_reports(reports, model)
    (reports / "dstc10.json").unlink()
    with pytest.raises(FileNotFoundError, match="bench-reranker"):
        load_reports(reports, tmp_path / "other")
    model.mkdir()
    (model / "training.json").write_text(json.dumps(RECORD))
    assert main(["--model", str(model), "--reports", str(reports)]) == 2
    assert "error:" in capsys.readouterr().err


def test_a_model_trained_on_every_query_prints_no_development_figures(tmp_path):
    model, reports = tmp_path / "model", tmp_path / "reports"
    model.mkdir()
    record = {**RECORD, "data": {**RECORD["data"], "dev_queries": {"questions": 0}}}
    (model / "training.json").write_text(json.dumps(record))
    write_reports(reports, model)
    dev = {"reranker": str(model), "queries": 83,
           "results": {"hybrid": {"recall@1": 0.5, "recall@5": 0.8, "mrr": 0.7}}}
    (reports / "rerank-dev.json").write_text(json.dumps(dev))
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "Held-out training queries" not in card  # it was trained on them
    assert "--dev-percent 0" in card and "15% of the help-center queries held out" in card

    (model / "training.json").write_text(json.dumps(RECORD))
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "Held-out training queries (83 questions" in card and "70 help-center" in card


def test_the_card_names_the_command_that_rewrites_each_report():
    assert command({"dataset": "scifact", "depths": [20, 40], "weights": [0.0, 0.1, 0.7]},
                   "scifact") == ("python -m eval.models ranking --dataset scifact "
                                  "--depths 20,40 --weights 0,0.1,0.7")
    assert command({"dataset": "questions", "set": "var/reranker/dev.jsonl"}, "questions") == (
        "python -m eval.models ranking --dataset questions --set var/reranker/dev.jsonl")


def test_a_report_in_the_shape_of_the_old_scripts_is_refused(tmp_path):
    model, reports = model_with_reports(tmp_path)
    edit_report(reports, "rerank-sample.json", reranker=None,
                rerankers={"rerank": str(model)})
    with pytest.raises(ValueError, match="bench-reranker"):
        load_reports(reports, model)


def test_a_report_of_weights_since_replaced_in_the_same_folder_is_refused(tmp_path):
    model, reports = model_with_reports(tmp_path)
    edit_report(reports, "dstc10.json", reranker_digest=weights_digest(str(model)))
    edit_report(reports, "rerank-sample.json", reranker_digest=weights_digest(str(model)))
    assert set(load_reports(reports, model)) >= {"dstc10", "sample"}
    (model / "training.json").write_text(json.dumps({**RECORD, "train_loss": 0.2}))  # retrained
    with pytest.raises(ValueError, match="other weights"):
        load_reports(reports, model)


def test_the_weights_digest_follows_the_files_not_the_path(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "config.json").write_text('{"layers": 2}')
        (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    assert weights_digest(str(a)) == weights_digest(str(b)) != ""
    (b / "model.safetensors").write_bytes(b"\x01" * 64)
    assert weights_digest(str(a)) != weights_digest(str(b))
    assert weights_digest(str(tmp_path / "missing")) == ""


def test_the_card_says_when_the_latency_bar_is_missed_on_the_measured_cpu(tmp_path):
    model, reports = model_with_reports(tmp_path)
    edit_report(reports, "rerank-latency.json", median_ms=255.3, cpu="Slow CPU")
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "median **255.3 ms**" in card and "at most 150 ms: misses on this CPU" in card


def grid(dev_mrr: dict[float, float], sci_ndcg: dict[float, float]
         ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    dev = {f"hybrid+rerank@20 w={w}": {"recall@1": 0.5, "recall@5": 0.8, "mrr": m}
           for w, m in dev_mrr.items()}
    sci = {"hybrid": {"ndcg@10": 0.71}} | {f"hybrid+rerank@20 w={w}": {"ndcg@10": n}
                                          for w, n in sci_ndcg.items()}
    return dev, sci


def test_the_blend_weight_is_the_best_held_out_mrr_that_keeps_scifact_within_the_bar():
    dev, sci = grid({0.4: 0.815, 0.5: 0.816, 0.6: 0.803, 0.7: 0.785},
                    {0.4: 0.694, 0.5: 0.6985, 0.6: 0.7088, 0.7: 0.7107})
    chosen, rows = choose_weight(dev, sci, depth=20)
    assert chosen == 0.6  # 0.4 and 0.5 rank better in-domain but lose 0.016 and 0.0115
    assert [r[0] for r in rows] == ["w=0.4", "w=0.5", "w=0.6", "w=0.7"]
    assert [r[-1] for r in rows] == ["no", "no", "yes", "yes"]
    dev, sci = grid({0.6: 0.80, 0.7: 0.80, 0.8: 0.79}, {0.6: 0.71, 0.7: 0.71, 0.8: 0.71})
    assert choose_weight(dev, sci, depth=20)[0] == 0.7  # a tie goes to the larger weight
    dev, sci = grid({0.5: 0.9}, {0.5: 0.60, 0.6: 0.71})
    assert choose_weight(dev, sci, depth=20) == (None, [["w=0.5", 0.9, 0.8, 0.60, "no"]])


def test_the_card_shows_the_weight_choice_and_says_when_the_default_is_not_it(tmp_path):
    model, reports = model_with_reports(tmp_path)  # the default weight is 0.7
    dev, sci = grid({0.6: 0.82, 0.7: 0.83, 0.8: 0.78}, {0.6: 0.69, 0.7: 0.705, 0.8: 0.708})
    dev["hybrid"] = {"recall@1": 0.5, "recall@5": 0.8, "mrr": 0.76}
    (reports / "rerank-dev.json").write_text(json.dumps(
        {"reranker": str(model), "queries": 83, "results": dev}))
    edit_report(reports, "beir-scifact.json", results={
        "hybrid": {"ndcg@10": 0.71, "recall@10": 0.8, "recall@100": 0.9, "mrr": 0.7},
        **{n: {"ndcg@10": v["ndcg@10"], "recall@10": 0.8, "recall@100": 0.9, "mrr": 0.7}
           for n, v in sci.items() if n != "hybrid"}})
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "The rule picks w = 0.7, the service's default." in card
    assert "| w=0.6 | 0.8200 | 0.8000 | 0.6900 | no |" in card
    scifact = card.split("### BEIR SciFact", 1)[1].split("### DSTC10", 1)[0]
    assert "| hybrid+rerank@20 w=0.7 |" in scifact  # the served weight, not the whole grid
    assert "| hybrid+rerank@20 w=0.6 |" not in scifact

    edit_report(reports, "rerank-dev.json", results={**dev, "hybrid+rerank@20 w=0.8": {
        "recall@1": 0.5, "recall@5": 0.8, "mrr": 0.84}})
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "The rule picks w = 0.8; the service's default is w = 0.7" in card


def test_a_bar_to_beat_is_missed_by_an_equal_figure_and_a_tolerance_bar_is_not():
    assert verdict(0.6058, 0.6154) == "+0.0096 (meets)"
    assert verdict(0.6058, 0.6058) == "+0.0000 (equal: misses)"
    assert verdict(0.6058, 0.5962) == "-0.0096 (misses)"
    assert verdict(0.7122, 0.7122, tolerance=0.01) == "+0.0000 (meets)"
    assert verdict(0.7122, 0.7022, tolerance=0.01) == "-0.0100 (meets)"
    assert verdict(0.7122, 0.7021, tolerance=0.01) == "-0.0101 (misses)"


def test_the_card_says_how_many_training_queries_were_misspelt_and_only_then(tmp_path):
    model, reports = model_with_reports(tmp_path)
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    assert "misspelt" not in (model / "README.md").read_text()
    data = {**RECORD["data"], "params": {"noise_share": 0.4, "noise_rate": 0.2}}
    (model / "training.json").write_text(json.dumps({**RECORD, "data": data}))
    write_reports(reports, model)  # the reports name the retrained weights
    assert main(["--model", str(model), "--reports", str(reports)]) == 0
    card = (model / "README.md").read_text()
    assert "40% of the training queries" in card and "20% of their long words" in card
