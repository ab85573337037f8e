"""``python -m eval`` end to end on the fixture set over the fixture knowledge base.

The runs go through ``eval.__main__.main`` in process so they share the session's embedding
model; one slow test runs the real command in a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from eval.__main__ import main

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "eval" / "mini.jsonl"
FIXTURE_KB = ROOT / "tests" / "fixtures" / "kb"
RAGAS_KEYS = ("id_based_context_precision", "id_based_context_recall",
              "non_llm_context_recall", "non_llm_string_similarity", "rouge_score")


@pytest.fixture()
def eval_settings(tmp_path):
    from app.settings import Settings

    var = tmp_path / "var"
    return Settings(var_dir=var, index={"dir": var / "index"}, retrieval={"reranker": "none"},
                    answer={"threshold_file": var / "threshold.json"})


def run_eval(settings, embedder, *args: str) -> int:
    return main(["run", "--set", str(MINI), "--ingest", str(FIXTURE_KB), "--no-progress",
                 *args], settings=settings, embedder=embedder)


def only_run(settings, suffix: str) -> Path:
    [folder] = [p for p in (settings.var_dir / "eval" / "runs").iterdir()
                if p.name.endswith(suffix)]
    return folder


def test_a_run_writes_its_folder_stores_itself_and_gates_against_a_baseline(
        eval_settings, embedder, tmp_path, capsys):
    baselines = tmp_path / "baselines"
    rc = run_eval(eval_settings, embedder, "--name", "first", "--save-baseline", "mini",
                  "--baselines-dir", str(baselines))
    assert rc == 0
    folder = only_run(eval_settings, "-first")
    for name in ("run.jsonl", "metrics.json", "config.json", "report.md", "report.html",
                 "score_distribution.png", "categories.png", "latency.png"):
        assert (folder / name).stat().st_size > 0, name
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("recall@1", "recall@5", "mrr", "ndcg@10", "abstention_precision",
                "abstention_recall", "citation_precision", "answered_rate"):
        assert isinstance(metrics[key], float), key
    assert all(isinstance(metrics["ragas"][k], float) for k in RAGAS_KEYS)
    assert metrics["ragas"]["judge"] is None and metrics["questions"] == 12
    # the fixture questions are easy: the pipeline must find their articles
    assert metrics["recall@5"] == 1.0 and metrics["abstention_recall"] >= 0.75
    assert {"multi_turn", "injection", "unanswerable"} <= set(metrics["by_tag"])
    assert {"dense", "sparse", "fuse", "total"} <= set(metrics["latency_ms"])

    records = [json.loads(line) for line in (folder / "run.jsonl").read_text().splitlines()]
    reset = next(r for r in records if r["id"] == "m-04")
    assert reset["stages"]["dense"][0]["article_id"] == "t-reset"
    assert {"dense", "sparse", "fused"} <= set(reset["stages"])
    assert reset["fallback"] is None and reset["citations"][0]["article_id"] == "t-reset"
    doorbell = next(r for r in records if r["id"] == "u-01")
    assert doorbell["fallback"]["reason"] in ("off_topic", "low_confidence")
    assert all(c["article_id"] != "t-doorbell" for c in doorbell["contexts"])  # a draft

    config = json.loads((folder / "config.json").read_text())
    assert config["index"]["version"] and config["dataset"]["questions"] == 12
    assert config["settings"]["llm"]["api_key"] == "<redacted>"
    assert "## RAGAS" in (folder / "report.md").read_text()
    assert "data:image/png;base64," in (folder / "report.html").read_text()
    saved = json.loads((baselines / "mini.json").read_text())
    assert saved["metrics"]["recall@5"] == 1.0

    saved["metrics"]["mrr"] = 1.5  # a baseline this run cannot match
    (baselines / "high.json").write_text(json.dumps(saved))
    capsys.readouterr()
    rc = run_eval(eval_settings, embedder, "--name", "second", "--baseline", "high",
                  "--baselines-dir", str(baselines))
    assert rc == 3
    err = capsys.readouterr().err
    assert "EVALUATION GATES FAILED" in err and "FAIL mrr: dropped 0.5000" in err
    report = (only_run(eval_settings, "-second") / "report.md").read_text()
    assert "Gates (baseline mini)" in report and "| mrr | FAIL |" in report

    db = sqlite3.connect(eval_settings.var_dir / "groundline.db")
    rows = db.execute("SELECT name, dataset, gates_passed, index_version FROM eval_run "
                      "ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("first", "mini", 1), ("second", "mini", 0)]
    assert rows[0][3] == config["index"]["version"]


def test_calibrate_writes_the_threshold_and_compare_lists_changes(
        eval_settings, embedder, capsys):
    assert run_eval(eval_settings, embedder, "--name", "a") == 0
    rc = main(["calibrate", "--set", str(MINI), "--ingest", str(FIXTURE_KB), "--name", "c"],
              settings=eval_settings, embedder=embedder)
    assert rc == 0
    out = capsys.readouterr().out
    assert "<- chosen" in out and "answerable" in out
    written = json.loads(eval_settings.answer.threshold_file.read_text())
    # without a reranker the gate reads cosine scores: never stored as the reranker's bar
    assert "min_score" not in written and 0 < written["dense_min_score"] < 1
    assert written["dense_min_score_calibration"]["answered_unanswerable"] <= 0.05
    folder = only_run(eval_settings, "-calibrate-c")
    assert (folder / "tradeoff.png").exists() and (folder / "curve.json").exists()

    assert run_eval(eval_settings, embedder, "--name", "b") == 0
    a, b = only_run(eval_settings, "-a"), only_run(eval_settings, "-b")
    # without --baseline the report compares with the previous run over the same questions
    assert f"## Compared with {a.name}" in (b / "report.md").read_text()
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| recall@5 | 1 | 1 | +0.0000 |" in out and "0 question(s) changed outcome" in out


def test_a_run_with_a_cross_encoder_records_the_rerank_stage_and_calibrates_it(
        eval_settings, embedder, tiny_cross_encoder):
    from app.rag.factory import gate_policy

    settings = eval_settings.model_copy(update={
        "retrieval": eval_settings.retrieval.model_copy(update={"reranker": tiny_cross_encoder,
                                                                "rerank_depth": 20}),
        "answer": eval_settings.answer.model_copy(update={"gate_score": "rerank"})})
    assert run_eval(settings, embedder, "--name", "rr", "--limit", "4", "--no-gates") == 0
    folder = only_run(settings, "-rr")
    record = json.loads((folder / "run.jsonl").read_text().splitlines()[0])
    assert record["stages"]["rerank"] and record["gate"]["kind"] == "rerank"
    assert json.loads((folder / "config.json").read_text())["reranker"] == tiny_cross_encoder
    rc = main(["calibrate", "--set", str(MINI), "--objective", "balanced"],
              settings=settings, embedder=embedder)
    assert rc == 0
    written = json.loads(settings.answer.threshold_file.read_text())
    assert gate_policy(settings).min_score == pytest.approx(written["min_score"])


def test_a_broken_set_exits_1_with_the_line(eval_settings, embedder, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q"}\n')
    assert main(["run", "--set", str(bad)], settings=eval_settings, embedder=embedder) == 1
    assert f"{bad}:1: 'answerable'" in capsys.readouterr().err


@pytest.mark.slow
def test_the_command_exits_3_when_a_gate_fails(tmp_path):
    gates = tmp_path / "gates.json"
    gates.write_text(json.dumps({"metrics": {"recall@5": {"min": 1.01}}}))
    var = tmp_path / "var"
    env = {**os.environ, "GROUNDLINE_VAR_DIR": str(var),
           "GROUNDLINE_INDEX__DIR": str(var / "index"),
           "GROUNDLINE_ANSWER__THRESHOLD_FILE": str(var / "threshold.json"),
           "GROUNDLINE_RETRIEVAL__RERANKER": "none"}
    result = subprocess.run(
        [sys.executable, "-m", "eval", "run", "--set", str(MINI), "--ingest", str(FIXTURE_KB),
         "--gates", str(gates), "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "FAIL recall@5: 1.0000 is below the floor 1.01" in result.stderr
    assert "run folder:" in result.stdout
