"""An evaluation run's per-question report for the console, read from its run folder.

``python -m eval run`` writes one record per question to ``run.jsonl`` and the gates it
checked to ``gates.json``; the run's row in ``eval_run`` names the folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_ROWS = 2000


@dataclass(frozen=True, slots=True)
class QuestionRow:
    id: str
    question: str
    answerable: bool
    outcome: str  # answered | a fallback reason
    cited: tuple[str, ...]
    gold: tuple[str, ...]
    answer: str
    failure: str  # "" when the row is right


def _failure(answerable: bool, answered: bool, cited: set[str], gold: set[str]) -> str:
    if answerable and not answered:
        return "did not answer"
    if not answerable and answered:
        return "false answer"
    if answered and gold and not cited & gold:
        return "cited none of the right articles"
    return ""


def _row(record: dict[str, Any]) -> QuestionRow:
    fallback: dict[str, Any] = record.get("fallback") or {}
    cited = tuple(dict.fromkeys(str(c.get("article_id", "")) for c in record.get("citations", [])))
    gold = tuple(str(g) for g in record.get("gold_article_ids", []))
    answerable = bool(record.get("answerable", True))
    answered = not fallback
    return QuestionRow(
        id=str(record.get("id", "")), question=str(record.get("question", "")),
        answerable=answerable, outcome="answered" if answered else str(fallback.get("reason")),
        cited=cited, gold=gold, answer=str(record.get("answer", "")),
        failure=_failure(answerable, answered, set(cited), set(gold)))


def read_report(run_dir: str) -> tuple[list[QuestionRow], list[dict[str, Any]]] | None:
    """The run's questions and gates, or None when its folder is not on this machine."""
    folder = Path(run_dir) if run_dir else None
    if folder is None or not (folder / "run.jsonl").is_file():
        return None
    rows = []
    with (folder / "run.jsonl").open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= MAX_ROWS:
                break
            if line.strip():
                rows.append(_row(json.loads(line)))
    gates: list[dict[str, Any]] = []
    if (folder / "gates.json").is_file():
        loaded = json.loads((folder / "gates.json").read_text(encoding="utf-8"))
        gates = loaded if isinstance(loaded, list) else loaded.get("gates", [])
    return rows, gates
