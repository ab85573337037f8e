"""DSTC10 track 2 (validation) as a question-answering set for ``python -m eval qa``.

    python -m eval qa --dstc10 [FOLDER] --out var/eval/dstc10-qa
    python -m eval.dstc10_qa [--dataset FOLDER] --out DIR      (convert only)

The FAQ knowledge base (``kb.jsonl``, Apache-2.0) becomes the corpus and the spoken user turns
(``queries_val.jsonl``) the questions:

- **article = one FAQ snippet.** Each snippet (a question and its answer about one hotel,
  restaurant or attraction) is one article, id = the snippet id (``hotel:0:3``), titled
  ``<entity name> > <question>`` so that the entity is searchable and the indexed text reads
  like the reranker's FAQ training passages. A gold article is the turn's gold snippet;
  snippets with no entity (trains, taxis) take their domain as the entity.
- **question = one user turn.** ``knowledge_seeking`` turns are answerable with their gold
  snippet; the others (bookings and searches, which the knowledge base cannot answer) are the
  unanswerable questions. Earlier turns become ``history`` (U: user, S: assistant) and the
  wizard's ``reference_response`` the reference answer.
- **entity from the dialogue.** A turn rarely names the place it asks about ("what is the
  check in time for that"); a dialogue system knows it from its dialogue state. By default
  the turn is prefixed with the knowledge-base entity last named in the dialogue (the rule
  of ``eval.models.adapters``), for answerable and unanswerable turns alike so the prefix tells
  nothing about the label; ``--dstc10-query turn`` keeps the turn as spoken.

Tags: the first is the category (the gold snippet's domain, or ``not_knowledge_seeking``),
then ``spoken``, ``multi_turn`` and how the entity was found (``entity_in_turn``,
``entity_from_context``, ``no_entity``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.settings import Settings, get_settings
from eval.datasets import DatasetError
from eval.models.adapters import entity_patterns, last_entity
from ingest.models.reranker.faq import FaqEntry, load_faq, with_entity
from ingest.models.reranker.records import normalise

logger = logging.getLogger(__name__)

# The folder under datasets_dir's default, read without building Settings at import time
# (``python -m eval qa --dstc10`` offers it); this module's CLI reads the settings.
DATASET = Settings.model_fields["datasets_dir"].default / "dstc10-faq"
ROLES = {"U": "user", "S": "assistant"}
UNANSWERABLE = "not_knowledge_seeking"

Patterns = Sequence[tuple[str, re.Pattern[str]]]


@dataclass(frozen=True, slots=True)
class Converted:
    """Where a conversion wrote the corpus and the questions, and what they hold."""

    corpus: Path
    questions: Path
    documents: int
    answerable: int
    unanswerable: int
    entity_found: int


def snippet_document(entry: FaqEntry) -> dict[str, str]:
    """One FAQ snippet as a corpus document: the entity and question as its title."""
    return {"_id": entry.id, "title": f"{entry.entity} > {entry.question}", "text": entry.answer}


def _history(context: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    turns = []
    for turn in context:
        role = ROLES.get(turn.get("speaker", ""))
        if role is None:
            raise ValueError(f"unknown speaker {turn.get('speaker')!r} (expected U or S)")
        turns.append({"role": role, "content": str(turn["text"])})
    return turns


def _entity_tag(entity: str | None, text: str) -> str:
    if entity is None:
        return "no_entity"
    return "entity_in_turn" if normalise(entity) in normalise(text) else "entity_from_context"


def turn_question(turn: Mapping[str, Any], patterns: Patterns, *,
                  resolve_entity: bool = True) -> dict[str, Any]:
    """One DSTC10 user turn in the evaluation-set format."""
    history = _history(turn.get("context") or [])
    text = str(turn["text"])
    entity = last_entity([*(t["content"] for t in history), text], patterns)
    answerable = bool(turn.get("knowledge_seeking"))
    gold = [str(g) for g in turn.get("gold_doc_ids") or []]
    if answerable and not gold:
        raise ValueError("a knowledge-seeking turn without gold_doc_ids")
    category = gold[0].split(":", 1)[0] if answerable else UNANSWERABLE
    tags = [category, "spoken", *(["multi_turn"] if history else []), _entity_tag(entity, text)]
    question = with_entity(entity, text) if entity and resolve_entity else text
    return {"id": str(turn["_id"]), "question": question, "history": history,
            "answerable": answerable, "gold_article_ids": gold if answerable else [],
            "reference_answer": str(turn.get("reference_response") or ""), "tags": tags}


def _turns(path: Path) -> list[dict[str, Any]]:
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: {exc}") from exc
    return out


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def convert(folder: Path, out: Path, *, resolve_entity: bool = True) -> Converted:
    """Write ``out/corpus.jsonl`` and ``out/questions.jsonl`` from a DSTC10 FAQ folder.

    Raises:
        DatasetError: the folder lacks ``kb.jsonl`` or ``queries_val.jsonl``, or a line of
            them is malformed (named by file and line).
    """
    kb, turns_file = folder / "kb.jsonl", folder / "queries_val.jsonl"
    if not kb.is_file() or not turns_file.is_file():
        raise DatasetError(f"{folder}: not a DSTC10 FAQ folder (expected kb.jsonl and "
                           "queries_val.jsonl; the data is never shipped with the repository)")
    entries = load_faq(kb)
    patterns = entity_patterns(entries)
    questions = []
    for i, turn in enumerate(_turns(turns_file), start=1):
        try:
            questions.append(turn_question(turn, patterns, resolve_entity=resolve_entity))
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{turns_file}: turn {i}: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    corpus, qfile = out / "corpus.jsonl", out / "questions.jsonl"
    _write_jsonl(corpus, (snippet_document(e) for e in entries))
    _write_jsonl(qfile, questions)
    answerable = sum(q["answerable"] for q in questions)
    found = sum("no_entity" not in q["tags"] for q in questions)
    logger.info("DSTC10: %d snippets, %d turns (%d answerable), entity found for %d",
                len(entries), len(questions), answerable, found)
    return Converted(corpus, qfile, len(entries), answerable, len(questions) - answerable,
                     found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.dstc10_qa", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path,
                        default=get_settings().datasets_dir / "dstc10-faq")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dstc10-query", choices=("entity", "turn"), default="entity")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        done = convert(args.dataset, args.out, resolve_entity=args.dstc10_query == "entity")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{done.corpus} ({done.documents} documents), {done.questions} "
          f"({done.answerable} answerable, {done.unanswerable} unanswerable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
