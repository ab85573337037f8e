"""The report of a run, as Markdown and as a self-contained HTML page with plots."""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.rag.trace import outcome_of
from eval import plots
from eval.answers import states
from eval.gates import GateResult

HEADLINE = ("recall@1", "recall@5", "mrr", "ndcg@10", "gold_coverage@5", "abstention_precision",
            "abstention_recall", "answered_rate", "answered_rate_answerable",
            "false_answer_rate", "citation_precision", "gold_cited_rate",
            "decision_balanced_accuracy", "decision_calibration_error",
            "suggested_rate_answerable",
            "suggested_rate_unanswerable", "declined_rate_unanswerable",
            "suggestion_states_fact", "answer_correct", "fact_first", "answer_words_p50",
            "answer_words_p90")
TAG_COLUMNS = ("questions", "answerable", "recall@5", "mrr", "answered_rate_answerable",
               "false_answer_rate", "answer_correct", "fact_first", "answer_words_p50")
SPLIT_COLUMNS = ("questions", "answerable", "answer_correct", "fact_first",
                 "false_answer_rate", "answered_rate_answerable", "suggested_rate_answerable",
                 "suggestion_states_fact", "answer_words_p50",
                 "answer_words_p90", "gold_cited_rate", "recall@5")
MAX_LISTED = 15


@dataclass
class Doc:
    """A report as blocks that render to both Markdown and HTML."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(("table", (list(header), [list(r) for r in rows])))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"
    return str(value)


def fmt_delta(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def render_markdown(doc: Doc) -> str:
    out = [f"# {doc.title}", ""]
    for kind, data in doc.blocks:
        if kind == "h2":
            out += [f"## {data}", ""]
        elif kind == "p":
            out += [data, ""]
        elif kind == "table":
            header, rows = data
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in r) + " |"
                    for r in rows]
            out.append("")
        elif kind == "img":
            path, alt = data
            out += [f"![{alt}]({path.name})", ""]
    return "\n".join(out)


def render_html(doc: Doc) -> str:
    e = html.escape
    body = [f"<h1>{e(doc.title)}</h1>"]
    for kind, data in doc.blocks:
        if kind == "h2":
            body.append(f"<h2>{e(data)}</h2>")
        elif kind == "p":
            body.append(f"<p>{e(data)}</p>")
        elif kind == "table":
            header, rows = data
            head = "".join(f"<th>{e(h)}</th>" for h in header)
            cells = "".join("<tr>" + "".join(f"<td>{e(fmt(c))}</td>" for c in r) + "</tr>"
                            for r in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "img":
            path, alt = data
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
            body.append(f'<img alt="{e(alt)}" src="data:image/png;base64,{encoded}">')
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
             "padding:0 1rem}table{border-collapse:collapse;margin:1rem 0}"
             "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
             "th{background:#f3f3f3}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(doc.title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def _selection(selection: Mapping[str, Any] | None) -> str:
    parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}"
             for k, v in (selection or {}).items() if v]
    return "selection: " + "; ".join(parts) if parts else "all questions"


def _summary(doc: Doc, metrics: Mapping[str, Any], *, config: Mapping[str, Any]) -> None:
    ds, ix, gate = config.get("dataset", {}), config.get("index", {}), config.get("gate", {})
    doc.para(f"Dataset {ds.get('name')} ({metrics.get('questions')} questions, "
             f"{metrics.get('answerable')} answerable; {_selection(ds.get('selection'))}), "
             f"index {ix.get('version')} ({ix.get('chunks')} chunks), reranker "
             f"{config.get('reranker') or 'none'}, generator {config.get('generator')}, "
             f"gate on {gate.get('kind')} scores at {fmt(gate.get('threshold'))}.")
    doc.heading("Metrics")
    doc.table(["metric", "value"], [(k, metrics.get(k)) for k in HEADLINE])
    ragas = metrics.get("ragas", {})
    names = [k for k in ragas if not k.endswith("_n") and k not in ("judge", "judge_errors")]
    doc.heading("RAGAS")
    doc.table(["metric", "value", "questions"],
              [(k, ragas.get(k), ragas.get(f"{k}_n")) for k in names])
    if ragas.get("judge") is None:
        doc.para("No judge endpoint configured: LLM-judged metrics were not computed.")


def _gates(doc: Doc, results: Sequence[GateResult] | None, *, label: str | None) -> None:
    if not results:
        return
    doc.heading("Gates" + (f" (baseline {label})" if label else " (absolute floors only)"))
    verdict = {True: "pass", False: "FAIL", None: "skipped"}
    doc.table(["metric", "verdict", "value", "baseline", "detail"],
              [(r.metric, verdict[r.passed], r.value, r.baseline, r.reason) for r in results])


def _comparison(doc: Doc, comparison: Mapping[str, Any] | None) -> None:
    if not comparison:
        return
    doc.heading(f"Compared with {comparison['label']}")
    doc.table(["metric", "this run", comparison["label"], "delta"],
              [(r["metric"], r["current"], r["baseline"], fmt_delta(r["delta"]))
               for r in comparison["rows"]])


def _failure(record: Mapping[str, Any]) -> str | None:
    """Why the customer was let down by this answer, or None when it was right."""
    answered = record["fallback"] is None
    if not record["answerable"]:
        return "answered, but the help center has no answer" if answered else None
    if not answered:
        return f"fell back ({record['fallback'].get('reason')})"
    cited = {c["article_id"] for c in record.get("citations", ())}
    if not cited & set(record["gold_article_ids"]):
        return "no gold article cited"
    answer = record.get("answer") or ""
    missing = [f for f in record.get("key_facts", ()) if not states(answer, f)]
    if missing:
        return "does not state " + "; ".join(repr(f) for f in missing)
    stale = [f for f in record.get("avoid_facts", ()) if states(answer, f)]
    if stale:
        return "states the outdated " + "; ".join(repr(f) for f in stale)
    return None


def _shown(record: Mapping[str, Any]) -> str:
    """The answer, or what a "this may help" fallback offered in its place."""
    snippet = (record["fallback"] or {}).get("snippet", "")
    return record.get("answer") or (f"(this may help) {snippet}" if snippet else "")


def _failures(doc: Doc, records: Sequence[Mapping[str, Any]]) -> None:
    """Every failure as the customer saw it: the answer, its citations, the decision."""
    reasons = Counter((outcome_of((r["fallback"] or {}).get("reason")),
                       (r["fallback"] or {}).get("reason", "")) for r in records)
    doc.heading("Outcomes")
    doc.table(["outcome", "reason", "questions"],
              [(o, reason, n) for (o, reason), n in sorted(reasons.items(),
                                                           key=lambda kv: -kv[1])])
    failed = [(r, why) for r in records if (why := _failure(r)) is not None]
    missed = [r for r in records if r["answerable"]
              and not set(r["gold_article_ids"]) & set(r["ranked_article_ids"][:5])]
    doc.heading(f"Failures ({len(failed)})")
    doc.table(["id", "split", "question", "failure", "answer as shown", "citations",
               "decision"],
              [(r["id"], r.get("split", ""), r["question"], why,
                _shown(r), ", ".join(c["article_id"] for c in r.get("citations", ())),
                f"{(r['fallback'] or {}).get('reason', 'answer')} at {r['gate']['score']} "
                f"({r['gate']['kind']})") for r, why in failed])
    if missed:
        doc.heading(f"Answerable, no gold article in the top 5 ({len(missed)})")
        doc.table(["id", "question", "top articles", "gate score"],
                  [(r["id"], r["question"][:120], ", ".join(r["ranked_article_ids"][:3]),
                    r["gate"]["score"]) for r in missed[:MAX_LISTED]])


def write_report(run_dir: Path, *, records: Sequence[Mapping[str, Any]],
                 metrics: Mapping[str, Any], config: Mapping[str, Any],
                 comparison: Mapping[str, Any] | None = None,
                 gate_results: Sequence[GateResult] | None = None,
                 gate_baseline: str | None = None) -> list[Path]:
    """Write the plots, ``report.md`` and ``report.html`` into the run folder."""
    gate = config.get("gate", {})
    images = [
        plots.score_distribution(records, threshold=float(gate.get("threshold", 0.0)),
                                 agreement_threshold=gate.get("agreement_threshold"),
                                 kind=str(gate.get("kind", "")),
                                 path=run_dir / "score_distribution.png"),
        plots.category_bars(metrics["by_tag"], path=run_dir / "categories.png"),
        plots.latency_bars(metrics["latency_ms"], path=run_dir / "latency.png"),
    ]
    decided = [r for r in records if r.get("gate", {}).get("kind") == "model"]
    if decided and len(decided) == len(records):
        from eval.decision import reliability

        probs = np.array([float(r["gate"]["score"]) for r in decided])
        y = np.array([1.0 if r["answerable"] else 0.0 for r in decided])
        images.append(plots.reliability(reliability(probs, y), path=run_dir / "reliability.png",
                                        label="answerability model, this run"))
    doc = Doc(f"Evaluation {run_dir.name}")
    _summary(doc, metrics, config=config)
    _gates(doc, gate_results, label=gate_baseline)
    _comparison(doc, comparison)
    if metrics.get("by_split"):
        doc.heading("Development and test parts")
        parts = metrics["by_split"]
        doc.table(["part", *SPLIT_COLUMNS], [(p, *(parts[p].get(c) for c in SPLIT_COLUMNS))
                                             for p in parts])
    doc.heading("Per category")
    tags = metrics["by_tag"]
    doc.table(["tag", *TAG_COLUMNS], [(t, *(tags[t].get(c) for c in TAG_COLUMNS))
                                      for t in sorted(tags)])
    doc.heading("Latency (ms)")
    doc.table(["stage", "p50", "p95"], [(s, v["p50"], v["p95"])
                                        for s, v in metrics["latency_ms"].items()])
    _failures(doc, records)
    doc.heading("Plots")
    for image in images:
        doc.image(image, image.stem.replace("_", " "))
    md = run_dir / "report.md"
    md.write_text(render_markdown(doc), encoding="utf-8")
    page = run_dir / "report.html"
    page.write_text(render_html(doc), encoding="utf-8")
    return [md, page, *images]
