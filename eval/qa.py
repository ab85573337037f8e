"""``python -m eval qa``: any corpus as the knowledge base, a question set over it.

    python -m eval qa --kb corpus.jsonl --questions questions.jsonl --out DIR
    python -m eval qa --dstc10 [FOLDER] --out var/eval/dstc10-qa

The corpus holds one document a line, ``{"_id", "title", "text"}`` (BEIR's format); every
document becomes a published article whose id is its ``_id``. The questions use the
evaluation-set format (``eval.datasets``) with ``gold_article_ids`` naming corpus ids. The
corpus is indexed by the real builder (chunker, embedding model, FAISS, BM25) into
``DIR/index`` (or ``--index``), a folder of its own: the service's index and database are
never touched. The builder is incremental, so a re-run on the same corpus embeds nothing and
a changed corpus re-embeds only the documents that changed.

The set is then answered and measured exactly as ``python -m eval run`` does it, and the run
is written to ``DIR``: ``run.jsonl``, ``metrics.json`` (RAGAS included), ``config.json`` and
the report with its plots. A re-run replaces them; the report compares it with the run it
replaces when both measured the same questions. No gates apply: the floors of
``eval/gates.json`` describe the sample help center.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from app.rag.build import BuildOutcome
from app.rag.protocols import Embedder
from app.rag.types import SourceDocument
from app.settings import Settings
from eval.datasets import DatasetError, EvalQuestion, load_questions

logger = logging.getLogger(__name__)

KEEP_VERSIONS = 2  # the active corpus index and the one before it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m eval qa``."""
    from eval.dstc10_qa import DATASET

    parser.add_argument("--kb", type=Path, metavar="CORPUS",
                        help="the knowledge base: JSONL of {_id, title, text}")
    parser.add_argument("--questions", type=Path, help="the question set (JSONL)")
    parser.add_argument("--dstc10", type=Path, nargs="?", const=DATASET, metavar="FOLDER",
                        help="convert DSTC10 track 2 validation (kb.jsonl, queries_val.jsonl; "
                             "default folder: ../shared/datasets/dstc10-faq) into DIR and "
                             "evaluate it instead of --kb/--questions")
    parser.add_argument("--dstc10-query", choices=("entity", "turn"), default="entity",
                        help="entity: prefix each turn with the entity last named in the "
                             "dialogue; turn: the turn as spoken (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="the run folder")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="where the corpus index is kept (default: OUT/index)")
    parser.add_argument("--rebuild", action="store_true", help="re-embed the whole corpus")
    parser.add_argument("--tags", nargs="+", metavar="TAG",
                        help="only questions carrying any of these tags")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="a deterministic stratified subset of N questions")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    parser.add_argument("--name", help="a label for the run (default: the name of OUT)")
    parser.add_argument("--as-served", action="store_true",
                        help="keep the reranker's latency budget")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _document(obj: object) -> SourceDocument:
    if not isinstance(obj, dict):
        raise ValueError("a line must be a JSON object")
    doc_id, title, text = obj.get("_id"), obj.get("title") or "", obj.get("text")
    if not isinstance(doc_id, str | int) or not str(doc_id).strip():
        raise ValueError("'_id' is missing or empty")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or empty")
    if not isinstance(title, str):
        raise ValueError("'title' must be a string")
    doc_id = str(doc_id).strip()
    return SourceDocument(id=doc_id, title=title.strip() or doc_id, body=text,
                          source_type="article", status="published")


def load_corpus(path: Path) -> list[SourceDocument]:
    """Read a ``{_id, title, text}`` JSONL corpus as published articles.

    Raises:
        DatasetError: naming the file and line of every malformed or duplicate document.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such corpus")
    docs: dict[str, SourceDocument] = {}
    errors: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                doc = _document(json.loads(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                errors.append(f"{path}:{lineno}: {exc}")
                continue
            if doc.id in docs:
                errors.append(f"{path}:{lineno}: duplicate _id {doc.id!r}")
            docs[doc.id] = doc
    if not docs and not errors:
        errors.append(f"{path}: the corpus is empty")
    if errors:
        raise DatasetError("invalid corpus:\n  " + "\n  ".join(errors[:20]))
    return list(docs.values())


def check_gold(questions: list[EvalQuestion], corpus_ids: set[str]) -> None:
    """Fail when a question names a gold article that the corpus does not hold."""
    missing = [f"{q.id}: {g}" for q in questions for g in q.gold_article_ids
               if g not in corpus_ids]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more"
                                           if len(missing) > 10 else "")
        raise DatasetError(f"{len(missing)} gold article id(s) are not in the corpus: {shown}")


def qa_settings(settings: Settings, index_dir: Path) -> Settings:
    """The settings with the corpus index in place of the service's."""
    index = settings.index.model_copy(update={"dir": index_dir, "keep_versions": KEEP_VERSIONS})
    return settings.model_copy(update={"index": index})


def build_index(settings: Settings, docs: list[SourceDocument], *, embedder: Embedder,
                rebuild: bool = False, progress: bool = True) -> BuildOutcome:
    """Index the corpus with the service's builder (incremental: unchanged documents reuse
    their vectors, an unchanged corpus writes nothing)."""
    from tqdm import tqdm

    from app.rag.factory import make_index_builder

    builder = make_index_builder(settings, embedder=embedder)
    with tqdm(unit="chunk", desc="embedding", disable=not progress or None) as bar:
        outcome = builder.build(docs, force=rebuild, progress=bar.update,
                                plan=lambda n: setattr(bar, "total", n))
    logger.info("corpus index %s: %s, %d chunks, %d embedded in %.1f s", outcome.version,
                outcome.status, outcome.chunks, outcome.embedded, outcome.seconds)
    return outcome


def _inputs(args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    """The corpus and question files (converting DSTC10 first when asked)."""
    if args.dstc10 is None:
        return args.kb, args.questions, {}
    from eval.dstc10_qa import convert

    done = convert(args.dstc10, args.out, resolve_entity=args.dstc10_query == "entity")
    return done.corpus, done.questions, {"dstc10": {
        "query": args.dstc10_query, "answerable": done.answerable,
        "unanswerable": done.unanswerable, "entity_found": done.entity_found}}


def _previous(out: Path, fingerprint: str) -> dict[str, Any] | None:
    """The metrics of the run this one replaces, when it measured the same questions."""
    try:
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = config.get("dataset", {}).get("fingerprint") == fingerprint
    return metrics if same and isinstance(metrics, dict) else None


def qa_command(args: argparse.Namespace, settings: Settings, *,
               embedder: Embedder | None = None) -> int:
    """``python -m eval qa``: index a corpus, answer a set over it, measure and report."""
    from eval.commands import evaluate, print_summary, selected_questions
    from eval.run import load_embedder

    if args.dstc10 is None and (args.kb is None or args.questions is None):
        print("error: give --kb and --questions, or --dstc10", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    kb, questions_file, extra = _inputs(args)
    docs = load_corpus(kb)
    check_gold(load_questions(questions_file), {d.id for d in docs})
    run_args = argparse.Namespace(**vars(args), set=questions_file, ingest=[],
                                  refresh_index=False, split=None)
    run_args.name = args.name or args.out.name
    questions, dataset = selected_questions(run_args)
    if args.dstc10 is not None:
        dataset["name"] = "dstc10-val"
    settings = qa_settings(settings, args.index or args.out / "index")
    embedder = load_embedder(settings, embedder)
    built = build_index(settings, docs, embedder=embedder, rebuild=args.rebuild,
                        progress=not args.no_progress)
    records, metrics, config, _ = evaluate(run_args, settings, embedder=embedder,
                                           questions=questions, dataset=dataset)
    config["kb"] = {"path": str(kb), "documents": len(docs), "build": built.status,
                    "embedded": built.embedded, **extra}
    if config["reranker"]:  # which weights: a retrained model keeps its folder name
        from eval.models.corpus import model_signature

        config["reranker_signature"] = model_signature(config["reranker"])
    write_run(args.out, records=records, metrics=metrics, config=config)
    print_summary(metrics, args.out)
    return 0


def write_run(out: Path, *, records: list[dict[str, Any]], metrics: dict[str, Any],
              config: dict[str, Any]) -> None:
    """The run files and the report, compared with the run they replace."""
    from eval.gates import compare
    from eval.report import write_report
    from eval.store import write_json, write_records

    previous = _previous(out, config["dataset"]["fingerprint"])
    write_records(out / "run.jsonl", records)
    write_json(out / "metrics.json", metrics)
    write_json(out / "config.json", config)
    comparison = ({"label": "the previous run", "rows": compare(metrics, previous)}
                  if previous else None)
    write_report(out, records=records, metrics=metrics, config=config, comparison=comparison)
