"""Quality gates, baselines and run-to-run comparison.

``eval/gates.json`` names the gated metrics (dotted paths into ``metrics.json``, e.g.
``recall@5`` or ``ragas.id_based_context_recall``) and for each any of:

- ``max_drop``: how far it may fall below the baseline (absolute, e.g. 0.03);
- ``max_rise``: how far it may rise above the baseline (for lower-is-better metrics);
- ``min`` / ``max``: absolute floors and ceilings, checked with or without a baseline.

A baseline is a metrics snapshot saved with ``python -m eval run --save-baseline NAME`` into
``eval/baselines/NAME.json``; a run folder or its ``metrics.json`` works as one too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import RagError
from app.models import utcnow

COMPARED = ("recall@1", "recall@5", "mrr", "ndcg@10", "abstention_precision",
            "abstention_recall", "answered_rate", "false_answer_rate", "citation_precision",
            "gold_cited_rate", "answer_correct", "fact_first", "answer_words_p50",
            "answer_words_p90", "by_split.test.answer_correct",
            "by_split.test.false_answer_rate", "ragas.id_based_context_precision",
            "ragas.id_based_context_recall", "ragas.non_llm_context_recall",
            "ragas.non_llm_string_similarity", "ragas.rouge_score", "ragas.faithfulness",
            "ragas.answer_relevancy", "ragas.llm_context_precision_with_reference",
            "ragas.llm_context_recall", "latency_ms.total.p50", "latency_ms.total.p95")


class GateConfigError(RagError, ValueError):
    """``gates.json`` or a baseline cannot be read."""


@dataclass(frozen=True, slots=True)
class Gate:
    metric: str
    max_drop: float | None = None
    max_rise: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict; ``passed`` is None when the metric was not measured."""

    metric: str
    passed: bool | None
    value: float | None
    baseline: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Baseline:
    label: str
    metrics: dict[str, Any]
    meta: dict[str, Any]


def load_gates(path: Path) -> list[Gate]:
    """Read ``gates.json``: ``{"metrics": {"recall@5": {"max_drop": 0.03}, ...}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Gate(metric=name, **spec) for name, spec in data["metrics"].items()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GateConfigError(f"cannot read gates from {path}: {exc}") from exc


def metric_value(metrics: Mapping[str, Any], path: str) -> float | None:
    """The number at a dotted path (``latency_ms.total.p95``), or None."""
    if path in metrics:
        node: Any = metrics[path]
    else:
        node = metrics
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def check_gate(gate: Gate, value: float | None, *, baseline: float | None) -> GateResult:
    """Apply one gate to a measured value and its baseline value."""
    if value is None:
        return GateResult(gate.metric, None, None, baseline, "not measured in this run")
    if baseline is None and gate.min is None and gate.max is None:
        return GateResult(gate.metric, None, value, None, "no baseline to compare with")
    problems = []
    if gate.min is not None and value < gate.min:
        problems.append(f"{value:.4f} is below the floor {gate.min}")
    if gate.max is not None and value > gate.max:
        problems.append(f"{value:.4f} is above the ceiling {gate.max}")
    if baseline is not None and gate.max_drop is not None and baseline - value > gate.max_drop:
        problems.append(f"dropped {baseline - value:.4f} from {baseline:.4f} "
                        f"(tolerance {gate.max_drop})")
    if baseline is not None and gate.max_rise is not None and value - baseline > gate.max_rise:
        problems.append(f"rose {value - baseline:.4f} from {baseline:.4f} "
                        f"(tolerance {gate.max_rise})")
    return GateResult(gate.metric, not problems, value, baseline, "; ".join(problems) or "ok")


def check_gates(gates: Sequence[Gate], metrics: Mapping[str, Any], *,
                baseline: Mapping[str, Any] | None) -> list[GateResult]:
    """Every gate's verdict; relative tolerances apply only when a baseline is given."""
    return [check_gate(g, metric_value(metrics, g.metric),
                       baseline=metric_value(baseline, g.metric) if baseline is not None
                       else None)
            for g in gates]


def failures(results: Sequence[GateResult]) -> list[GateResult]:
    return [r for r in results if r.passed is False]


def compare(metrics: Mapping[str, Any], baseline: Mapping[str, Any], *,
            keys: Sequence[str] = COMPARED) -> list[dict[str, Any]]:
    """Rows of (metric, current, baseline, delta) for the metrics either side measured."""
    rows = []
    for key in keys:
        now, then = metric_value(metrics, key), metric_value(baseline, key)
        if now is None and then is None:
            continue
        delta = round(now - then, 4) if now is not None and then is not None else None
        rows.append({"metric": key, "current": now, "baseline": then, "delta": delta})
    return rows


def save_baseline(path: Path, *, name: str, metrics: Mapping[str, Any],
                  meta: Mapping[str, Any]) -> Path:
    """Write a baseline snapshot (per-tag breakdowns left out to keep it reviewable)."""
    kept = {k: v for k, v in metrics.items() if k != "by_tag"}
    data = {"name": name, "created_at": utcnow().isoformat(timespec="seconds"), **meta,
            "metrics": kept}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def load_baseline(name_or_path: str, *, baselines_dir: Path) -> Baseline:
    """A baseline by name (``eval/baselines/NAME.json``), file, or run folder."""
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "metrics.json"
    elif not path.exists():
        path = baselines_dir / f"{name_or_path}.json"
    if not path.is_file():
        raise GateConfigError(
            f"no baseline {name_or_path!r}: expected {baselines_dir / (name_or_path + '.json')}, "
            "a run folder or a metrics.json; create one with "
            f"`python -m eval run --save-baseline {path.stem}`")
    data = json.loads(path.read_text(encoding="utf-8"))
    if "metrics" in data and isinstance(data["metrics"], dict):
        return Baseline(str(data.get("name", path.stem)), data["metrics"],
                        {k: v for k, v in data.items() if k != "metrics"})
    label = path.parent.name if path.name == "metrics.json" else path.stem
    return Baseline(label, data, {})


def _fingerprint(run: Path) -> str | None:
    try:
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
        return str(config["dataset"]["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def previous_run(runs_dir: Path, *, before: str, fingerprint: str | None = None) -> Path | None:
    """The latest run older than ``before`` (names start with a UTC timestamp).

    With ``fingerprint``, only runs over the same questions count, so a run on a subset is
    never compared with a run on the full set.
    """
    if not runs_dir.is_dir():
        return None
    runs = sorted(p for p in runs_dir.iterdir()
                  if p.is_dir() and p.name < before and (p / "metrics.json").exists()
                  and (fingerprint is None or _fingerprint(p) == fingerprint))
    return runs[-1] if runs else None
