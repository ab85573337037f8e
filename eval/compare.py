"""``python -m eval compare A B``: metric deltas and the questions whose outcome changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.gates import Baseline, check_gates, compare, failures, load_baseline, load_gates
from eval.report import fmt, fmt_delta
from eval.store import read_records

MAX_CHANGES = 30


def _records(name_or_path: str) -> dict[str, dict[str, Any]] | None:
    path = Path(name_or_path)
    run_file = path / "run.jsonl" if path.is_dir() else path.parent / "run.jsonl"
    if not run_file.is_file():
        return None
    return {r["id"]: r for r in read_records(run_file)}


def _verdict(record: Mapping[str, Any]) -> str:
    if record.get("fallback") is not None:
        return f"fallback ({record['fallback']['reason']})"
    return "answered"


def outcome_changes(a: Mapping[str, Mapping[str, Any]],
                    b: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(id, before, after) for shared questions whose decision or top-5 hit changed."""
    changes = []
    for qid in sorted(set(a) & set(b)):
        before, after = a[qid], b[qid]
        hits = []
        for r in (before, after):
            gold = set(r.get("gold_article_ids", ()))
            hits.append("hit@5" if gold & set(r.get("ranked_article_ids", [])[:5]) else "miss")
        was, now = f"{_verdict(before)}, {hits[0]}", f"{_verdict(after)}, {hits[1]}"
        if not before["answerable"]:
            was, now = _verdict(before), _verdict(after)
        if was != now:
            changes.append((qid, was, now))
    return changes


def render(a: Baseline, b: Baseline, *, rows: Sequence[Mapping[str, Any]],
           changes: Sequence[tuple[str, str, str]] | None) -> str:
    lines = [f"| metric | {a.label} | {b.label} | delta |", "|---|---|---|---|"]
    lines += [f"| {r['metric']} | {fmt(r['baseline'])} | {fmt(r['current'])} | "
              f"{fmt_delta(r['delta'])} |" for r in rows]
    if changes is not None:
        lines += ["", f"{len(changes)} question(s) changed outcome"]
        lines += [f"  {qid}: {was} -> {now}" for qid, was, now in changes[:MAX_CHANGES]]
        if len(changes) > MAX_CHANGES:
            lines.append(f"  ... and {len(changes) - MAX_CHANGES} more")
    return "\n".join(lines)


def compare_runs(run_a: str, run_b: str, *, baselines_dir: Path, gates: Path | None) -> int:
    """Print B against A; with ``gates``, exit 3 when B fails them against A."""
    a = load_baseline(run_a, baselines_dir=baselines_dir)
    b = load_baseline(run_b, baselines_dir=baselines_dir)
    records_a, records_b = _records(run_a), _records(run_b)
    changes = (outcome_changes(records_a, records_b)
               if records_a is not None and records_b is not None else None)
    print(render(a, b, rows=compare(b.metrics, a.metrics), changes=changes))
    if gates is None:
        return 0
    from eval.commands import report_gates

    results = check_gates(load_gates(gates), b.metrics, baseline=a.metrics)
    return report_gates(results) if failures(results) else 0
