"""What ``python -m eval run`` and ``python -m eval calibrate`` do, step by step."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.models import utcnow
from app.rag.protocols import Embedder
from app.settings import Settings
from eval import calibrate as cal
from eval.datasets import (
    DatasetError,
    EvalQuestion,
    load_questions,
    select,
    set_fingerprint,
)
from eval.gates import (
    Baseline,
    GateResult,
    check_gates,
    compare,
    failures,
    load_baseline,
    load_gates,
    previous_run,
    save_baseline,
)
from eval.metrics import outcome_from_record, summarize
from eval.run import Pipeline, eval_settings, load_pipeline, run_questions
from eval.store import (
    git_commit,
    new_run_dir,
    runs_dir,
    settings_dump,
    store_run,
    write_json,
    write_records,
)

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
GATE_FAILURE = 3


def selected_questions(args: argparse.Namespace, *, default_split: str = "all"
                       ) -> tuple[list[EvalQuestion], dict[str, Any]]:
    """The questions a command runs on, and how they were chosen (for config.json).

    ``default_split`` applies when ``--split`` is not given and the set has parts.
    """
    everything = load_questions(args.set)
    has_parts = any(q.split for q in everything)
    wanted = args.split or (default_split if has_parts else "all")
    split = None if wanted == "all" else wanted
    chosen = select(everything, tags=args.tags or (), sample=args.sample, limit=args.limit,
                    split=split)
    if not chosen:
        raise DatasetError(f"no question of {args.set} matches the selection")
    return chosen, {"name": args.set.stem, "path": str(args.set),
                    "questions_in_set": len(everything), "questions": len(chosen),
                    "selection": {"split": split, "tags": args.tags or [],
                                  "sample": args.sample, "limit": args.limit},
                    "fingerprint": set_fingerprint(chosen)}


def open_pipeline(args: argparse.Namespace, settings: Settings, *,
                  embedder: Embedder | None) -> Pipeline:
    return load_pipeline(eval_settings(settings, as_served=args.as_served), embedder=embedder,
                         ingest=args.ingest, refresh=args.refresh_index)


def gate_config(pipeline: Pipeline) -> dict[str, Any]:
    policy = pipeline.service.policy
    if policy.model is not None:
        return {"kind": "model", "threshold": policy.model.threshold,
                "agreement_threshold": None,
                "decision_file": str(pipeline.settings.answer.decision_file)}
    rerank = pipeline.gate_kind == "rerank"
    return {"kind": pipeline.gate_kind,
            "threshold": policy.min_score if rerank else policy.dense_min_score,
            "agreement_threshold": (policy.min_score_agreement if rerank
                                    else policy.dense_min_score_agreement),
            "threshold_file": str(pipeline.settings.answer.threshold_file),
            "threshold_file_used": rerank and pipeline.settings.answer.threshold_file.exists()}


def run_config(args: argparse.Namespace, pipeline: Pipeline, *, dataset: dict[str, Any],
               judge: str | None) -> dict[str, Any]:
    """Everything needed to tell what a run measured (no secrets)."""
    import ragas

    manifest = pipeline.index.manifest
    return {"name": args.name, "created_at": utcnow().isoformat(timespec="seconds"),
            "dataset": dataset,
            "index": {"version": pipeline.index.name, "chunks": len(pipeline.index.chunks),
                      "embedder": manifest.get("embedder"), "counts": manifest.get("counts")},
            "reranker": pipeline.reranker, "generator": pipeline.service.generator.name,
            "gate": gate_config(pipeline), "policy": asdict(pipeline.service.policy),
            "as_served": args.as_served, "judge": judge, "git_commit": git_commit(ROOT),
            "versions": {"python": sys.version.split()[0], "ragas": ragas.__version__},
            "settings": settings_dump(pipeline.settings)}


def _judge(settings: Settings) -> Any:
    from eval.ragas_suite import Judge

    j = settings.judge
    if not j.base_url:
        return None
    return Judge(base_url=j.base_url, api_key=j.api_key.get_secret_value(), model=j.model,
                 timeout_s=j.timeout_s, max_concurrency=j.max_concurrency)


def measure(records: list[dict[str, Any]], *, settings: Settings,
            embedder: Embedder) -> dict[str, Any]:
    """metrics.json: pipeline metrics, RAGAS, and counts of what went wrong."""
    from eval.ragas_suite import score_run

    judge = _judge(settings)
    metrics = summarize([outcome_from_record(r) for r in records])
    metrics["ragas"] = score_run(records, judge=judge, embedder=embedder)
    metrics["errors"] = sum("error" in r for r in records)
    metrics["rerank_reduced"] = sum(bool(r.get("rerank", {}).get("reduced")) for r in records)
    return metrics


def warn_if_incomparable(baseline: Baseline, *, fingerprint: str, pipeline: Pipeline) -> None:
    """Say loudly when a baseline measured other questions or another reranker."""
    meta = baseline.meta
    problems = []
    if meta.get("dataset", {}).get("fingerprint", fingerprint) != fingerprint:
        problems.append("it was measured on other questions")
    if "reranker" in meta and meta["reranker"] != pipeline.reranker:
        problems.append(f"it was measured with reranker {meta['reranker'] or 'none'}, this run "
                        f"uses {pipeline.reranker or 'none'}")
    for problem in problems:
        print(f"WARNING: baseline {baseline.label}: {problem}; re-create it with "
              f"--save-baseline {baseline.label} when the change is intended", file=sys.stderr)


def _comparison(args: argparse.Namespace, run_dir: Path, *, fingerprint: str,
                settings: Settings, pipeline: Pipeline
                ) -> tuple[Baseline | None, Baseline | None]:
    """(baseline for gates, what the report compares with)."""
    if args.baseline:
        baseline = load_baseline(args.baseline, baselines_dir=args.baselines_dir)
        warn_if_incomparable(baseline, fingerprint=fingerprint, pipeline=pipeline)
        return baseline, baseline
    previous = previous_run(runs_dir(settings), before=run_dir.name, fingerprint=fingerprint)
    if previous is None:
        return None, None
    return None, load_baseline(str(previous), baselines_dir=args.baselines_dir)


def print_summary(metrics: dict[str, Any], run_dir: Path) -> None:
    keys = ("recall@1", "recall@5", "mrr", "ndcg@10", "abstention_precision",
            "abstention_recall", "citation_precision", "answered_rate")
    print("  ".join(f"{k} {metrics.get(k)}" for k in keys))
    ragas = metrics.get("ragas", {})
    print("ragas: " + "  ".join(f"{k} {v}" for k, v in ragas.items()
                                if not k.endswith("_n") and k not in ("judge", "judge_errors")))
    print(f"run folder: {run_dir}")


def report_gates(results: list[GateResult]) -> int:
    failed = failures(results)
    if not failed:
        return 0
    print("\n" + "!" * 72, file=sys.stderr)
    print(f"EVALUATION GATES FAILED: {len(failed)} metric(s) beyond tolerance", file=sys.stderr)
    for r in failed:
        print(f"  FAIL {r.metric}: {r.reason}", file=sys.stderr)
    print("!" * 72, file=sys.stderr)
    return GATE_FAILURE


def evaluate(args: argparse.Namespace, settings: Settings, *, embedder: Embedder | None,
             questions: list[EvalQuestion], dataset: dict[str, Any]
             ) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], Pipeline]:
    """Answer and measure: (records, metrics, config, the closed pipeline)."""
    from tqdm import tqdm

    pipeline = open_pipeline(args, settings, embedder=embedder)
    try:
        with tqdm(total=len(questions), unit="q", disable=args.no_progress or None) as bar:
            records = run_questions(pipeline, questions, progress=bar.update)
        metrics = measure(records, settings=pipeline.settings, embedder=pipeline.embedder)
        judge = pipeline.settings.judge.model if pipeline.settings.judge.base_url else None
        config = run_config(args, pipeline, dataset=dataset, judge=judge)
    finally:
        pipeline.close()
    return records, metrics, config, pipeline


def _save_baseline(args: argparse.Namespace, metrics: dict[str, Any],
                   config: dict[str, Any]) -> None:
    # Baselines are committed: only portable facts, no local paths.
    meta = {k: config[k] for k in ("dataset", "reranker", "generator")}
    meta["gate"] = {k: config["gate"][k] for k in ("kind", "threshold", "agreement_threshold")}
    meta["index_version"] = config["index"]["version"]
    path = save_baseline(args.baselines_dir / f"{args.save_baseline}.json",
                         name=args.save_baseline, metrics=metrics, meta=meta)
    print(f"baseline saved: {path}")


def run_command(args: argparse.Namespace, settings: Settings, *,
                embedder: Embedder | None = None) -> int:
    """``python -m eval run``: answer a set, measure, report, store, gate."""
    from app.db import make_engine
    from eval.report import write_report

    questions, dataset = selected_questions(args)
    records, metrics, config, pipeline = evaluate(args, settings, embedder=embedder,
                                                  questions=questions, dataset=dataset)
    run_dir = new_run_dir(settings, args.name)
    write_records(run_dir / "run.jsonl", records)
    write_json(run_dir / "metrics.json", metrics)
    write_json(run_dir / "config.json", config)
    gate_base, shown = _comparison(args, run_dir, fingerprint=dataset["fingerprint"],
                                   settings=settings, pipeline=pipeline)
    results = [] if args.no_gates else check_gates(
        load_gates(args.gates), metrics, baseline=gate_base.metrics if gate_base else None)
    write_json(run_dir / "gates.json", [asdict(r) for r in results])
    comparison = ({"label": shown.label, "rows": compare(metrics, shown.metrics)}
                  if shown else None)
    write_report(run_dir, records=records, metrics=metrics, config=config,
                 comparison=comparison, gate_results=results,
                 gate_baseline=gate_base.label if gate_base else None)
    store_run(make_engine(settings.resolved_database_url), name=args.name, run_dir=run_dir,
              metrics=metrics, config=config,
              gates_passed=None if not results else not failures(results),
              version_store=settings.index.store)
    if args.save_baseline:
        _save_baseline(args, metrics, config)
    print_summary(metrics, run_dir)
    return report_gates(results)


def calibrate_command(args: argparse.Namespace, settings: Settings, *,
                      embedder: Embedder | None = None) -> int:
    """``python -m eval calibrate``: sweep the answer threshold, write the chosen one."""
    from eval import plots

    # Thresholds are chosen on the development part; the test part is for reporting.
    questions, dataset = selected_questions(args, default_split="dev")
    pipeline = open_pipeline(args, settings, embedder=embedder)
    try:
        records = run_questions(pipeline, questions, generate=False)
        kind, index_version = pipeline.gate_kind, pipeline.index.name
        articles = sorted(pipeline.index.article_ids())
        reranker = pipeline.reranker
    finally:
        pipeline.close()
    a = settings.answer
    if args.model:
        return _fit_decision(args, settings, records, dataset=dataset, reranker=reranker,
                             index_version=index_version, articles=articles)
    bar = a.min_score_agreement if kind == "rerank" else a.dense_min_score_agreement
    curve = cal.sweep(cal.points(records), agreement_bar=bar)
    chosen, met = cal.choose(curve, objective=args.objective,
                             max_false_answer=args.max_false_answer)
    run_dir = new_run_dir(settings, f"calibrate-{args.name}")
    write_json(run_dir / "curve.json", curve)
    plots.tradeoff_curve(curve, chosen=chosen["threshold"], path=run_dir / "tradeoff.png")
    cal.print_curve(curve, chosen)
    result = {**chosen, "gate": kind, "objective": args.objective,
              "max_false_answer": args.max_false_answer, "met": met,
              "dataset": dataset["name"], "questions": dataset["questions"],
              "index_version": index_version,
              "created_at": utcnow().isoformat(timespec="seconds")}
    write_json(run_dir / "calibration.json", result)
    print(f"chosen threshold {chosen['threshold']:.4f} on {kind} scores; curve in {run_dir}")
    if not met:
        print(f"no threshold keeps unanswerable questions answered at or below "
              f"{args.max_false_answer:.0%} (questions on which dense and BM25 agree are "
              "answered from a lower bar); the closest is marked. Nothing written: use "
              "--objective balanced or a larger --max-false-answer.", file=sys.stderr)
        return 1
    if not args.dry_run:
        cal.write_threshold(a.threshold_file, result, kind=kind)
    return 0


def _fit_decision(args: argparse.Namespace, settings: Settings,
                  records: list[dict[str, Any]], *, dataset: dict[str, Any],
                  reranker: str | None, index_version: str, articles: list[str]) -> int:
    """``calibrate --model``: fit the answerability model and write it where the service
    reads it."""
    from app.rag.factory import sentence_scorer_name
    from eval import plots
    from eval.decision import fit

    r = settings.retrieval
    manifest = {"created_at": utcnow().isoformat(timespec="seconds"),
                "embedder": settings.embedder.model,
                "reranker": Path(reranker).name if reranker and r.rerank_depth > 0 else None,
                "rerank_depth": r.rerank_depth, "rerank_fusion_weight": r.rerank_fusion_weight,
                "sentence_scorer": sentence_scorer_name(settings),
                "index_version": index_version, "dataset": dataset["name"],
                "selection": dataset["selection"],
                # the knowledge base it is calibrated for (AnswerabilityModel.fits)
                "articles": articles}
    model, quality = fit(records, max_false_answer=args.max_false_answer, manifest=manifest)
    run_dir = new_run_dir(settings, f"calibrate-{args.name}")
    (run_dir / "decision.json").write_text(model.to_json(), encoding="utf-8")
    plots.reliability(quality["reliability"], path=run_dir / "reliability.png")
    print(f"answerability model on {len(records)} questions, out of fold: AUROC "
          f"{quality['auroc']}, calibration error {quality['expected_calibration_error']} "
          f"(a perfectly calibrated model would show about "
          f"{quality['calibration_error_if_calibrated']} on as many questions)")
    for target, rates in quality["targets"].items():
        print(f"  target {float(target):.2f}: false answers {rates['false_answer_rate']:.4f}, "
              f"answerable answered {rates['answered_rate_answerable']:.4f} (threshold "
              f"{model.thresholds[target]:.4f})")
    print(f"reliability plot and a copy of the model in {run_dir}")
    if not args.dry_run:
        path = args.output or settings.answer.decision_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(model.to_json(), encoding="utf-8")
        print(f"written to {path}; the service reads it at start")
    return 0
