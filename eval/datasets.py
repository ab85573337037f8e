"""Evaluation sets: one JSON object per line, validated with line numbers.

Each line holds::

    {"id": "ret-001", "question": "how long do i have to send my hub back??",
     "history": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}],
     "answerable": true, "gold_article_ids": ["ret-001"],
     "reference_answer": "Within 45 days of delivery.", "tags": ["returns", "typo"]}

``history`` and ``tags`` are optional; ``gold_article_ids`` must name at least one article
when ``answerable`` is true. ``key_facts`` (what a correct answer must state, verbatim from a
gold article; the first answers most directly) and ``avoid_facts`` (outdated values an archived
article states) are optional and only for answerable questions; ``split`` (``dev`` or
``test``) names the part of a set a question belongs to: tune on ``dev``, report on ``test``.
Gold ids are article ids, never chunk ids, so re-chunking the knowledge base does not
invalidate a set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import RagError
from app.rag.types import Turn

ROLES = ("user", "assistant")
SPLITS = ("dev", "test")
MAX_REPORTED_ERRORS = 20


class DatasetError(RagError, ValueError):
    """An evaluation set that cannot be used; the message lists every problem found."""


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """One question of an evaluation set."""

    id: str
    question: str
    answerable: bool
    gold_article_ids: tuple[str, ...] = ()
    reference_answer: str = ""
    history: tuple[Turn, ...] = ()
    tags: tuple[str, ...] = ()
    key_facts: tuple[str, ...] = ()
    avoid_facts: tuple[str, ...] = ()
    split: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The question in the set's own JSON format (optional fields only when set)."""
        out: dict[str, Any] = {
            "id": self.id, "question": self.question,
            "history": [{"role": t.role, "content": t.text} for t in self.history],
            "answerable": self.answerable, "gold_article_ids": list(self.gold_article_ids),
            "reference_answer": self.reference_answer}
        if self.key_facts:
            out["key_facts"] = list(self.key_facts)
        if self.avoid_facts:
            out["avoid_facts"] = list(self.avoid_facts)
        if self.split:
            out["split"] = self.split
        return out | {"tags": list(self.tags)}


def _string_list(value: object, name: str) -> tuple[tuple[str, ...], str | None]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return (), f"'{name}' must be a list of non-empty strings"
    return tuple(v.strip() for v in value), None


def _history(value: object) -> tuple[tuple[Turn, ...], str | None]:
    if not isinstance(value, list):
        return (), "'history' must be a list of {role, content} objects"
    turns = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or item.get("role") not in ROLES \
                or not isinstance(item.get("content"), str):
            return (), (f"history[{i}] must be an object with 'role' (user or assistant) "
                        "and 'content' (a string)")
        turns.append(Turn(role=item["role"], text=item["content"]))
    return tuple(turns), None


def parse_question(data: object) -> EvalQuestion:
    """Validate one decoded line.

    Raises:
        ValueError: naming the first field that is missing or malformed.
    """
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object")
    for key, kind in (("id", str), ("question", str), ("answerable", bool)):
        if not isinstance(data.get(key), kind):
            raise ValueError(f"'{key}' is missing or not a {kind.__name__}")
    if not data["id"].strip() or not data["question"].strip():
        raise ValueError("'id' and 'question' must not be empty")
    gold, err = _string_list(data.get("gold_article_ids", []), "gold_article_ids")
    history, herr = _history(data.get("history") or [])
    tags, terr = _string_list(data.get("tags") or [], "tags")
    key_facts, kerr = _string_list(data.get("key_facts") or [], "key_facts")
    avoid, aerr = _string_list(data.get("avoid_facts") or [], "avoid_facts")
    reference = data.get("reference_answer") or ""
    split = data.get("split") or ""
    problem = err or herr or terr or kerr or aerr or (
        None if isinstance(reference, str) else "'reference_answer' must be a string") or (
        None if split in ("", *SPLITS) else f"'split' must be one of {', '.join(SPLITS)}")
    if problem:
        raise ValueError(problem)
    if data["answerable"] and not gold:
        raise ValueError("an answerable question needs at least one gold_article_ids entry")
    if not data["answerable"] and (key_facts or avoid):
        raise ValueError("key_facts and avoid_facts are for answerable questions only")
    return EvalQuestion(id=data["id"].strip(), question=data["question"],
                        answerable=data["answerable"], gold_article_ids=gold,
                        reference_answer=reference, history=history, tags=tags,
                        key_facts=key_facts, avoid_facts=avoid, split=split)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read and validate a JSONL evaluation set.

    Raises:
        DatasetError: listing up to 20 problems as ``path:line: problem``.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such evaluation set")
    questions: list[EvalQuestion] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                question = parse_question(json.loads(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                errors.append(f"{path}:{lineno}: {exc}")
                continue
            if question.id in seen:
                errors.append(f"{path}:{lineno}: duplicate id {question.id!r} "
                              f"(first on line {seen[question.id]})")
                continue
            seen[question.id] = lineno
            questions.append(question)
    if not questions and not errors:
        errors.append(f"{path}: the set is empty")
    if errors:
        more = len(errors) - MAX_REPORTED_ERRORS
        shown = errors[:MAX_REPORTED_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise DatasetError("invalid evaluation set:\n  " + "\n  ".join(shown))
    return questions


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stratified_sample(questions: Sequence[EvalQuestion], n: int) -> list[EvalQuestion]:
    """A deterministic subset of ``n`` questions that covers the set's kinds.

    Answerable and unanswerable questions keep their share of the set. Within each, questions
    are grouped by their first tag, each group is ordered by a hash of the question id and
    the groups are taken in turn, so every kind is represented and the subset only changes
    where the set itself changes. The result keeps the set's order.
    """
    if n >= len(questions):
        return list(questions)
    answerable = [q for q in questions if q.answerable]
    n_answerable = round(n * len(answerable) / len(questions))
    chosen = {q.id for q in _round_robin(answerable, n_answerable)}
    rest = [q for q in questions if not q.answerable]
    chosen |= {q.id for q in _round_robin(rest, n - len(chosen))}
    return [q for q in questions if q.id in chosen]


def _round_robin(questions: Sequence[EvalQuestion], n: int) -> list[EvalQuestion]:
    groups: dict[str, list[EvalQuestion]] = {}
    for q in questions:
        groups.setdefault(q.tags[0] if q.tags else "", []).append(q)
    queues = [sorted(groups[key], key=lambda q: _hash(q.id)) for key in sorted(groups)]
    out: list[EvalQuestion] = []
    while len(out) < min(n, len(questions)):
        for queue in queues:
            if queue and len(out) < n:
                out.append(queue.pop(0))
    return out


def select(questions: Sequence[EvalQuestion], *, tags: Iterable[str] = (),
           sample: int | None = None, limit: int | None = None,
           split: str | None = None) -> list[EvalQuestion]:
    """Filter a set: one part of it, questions carrying any of ``tags``, a stratified sample,
    the first N."""
    wanted = set(tags)
    out = [q for q in questions if (not wanted or wanted & set(q.tags))
           and (split is None or q.split == split)]
    if sample is not None:
        out = stratified_sample(out, sample)
    if limit is not None:
        out = out[:limit]
    return out


def set_fingerprint(questions: Sequence[EvalQuestion]) -> str:
    """A short hash of the selected questions, so runs on different subsets are told apart."""
    joined = "\n".join(json.dumps(q.to_dict(), sort_keys=True) for q in questions)
    return _hash(joined)[:12]


# Modifier tags kept in balance between the development and test parts.
SPLIT_STRATA = ("near_miss", "near_miss_added", "draft_only", "archived_only",
                "conflicting_archived", "multi_turn", "de", "injection", "steps", "typo")


def assign_splits(questions: Sequence[EvalQuestion], *, seed: int,
                  test_share: float = 0.5) -> dict[str, str]:
    """A part (``dev`` or ``test``) for each question that has none, stratified by tag.

    Questions are grouped by answerability, category (first tag) and the modifiers in
    ``SPLIT_STRATA``, ordered by a seeded hash of their id within each group and dealt to the
    parts in turn, so every kind of question is in both parts in about the same share.
    Questions that already have a part keep it: growing a set never moves a question.
    """
    todo = [q for q in questions if not q.split]

    def stratum(q: EvalQuestion) -> tuple[object, ...]:
        return (q.answerable, q.tags[0] if q.tags else "",
                tuple(t for t in SPLIT_STRATA if t in q.tags))

    ordered = sorted(todo, key=lambda q: (stratum(q), _hash(f"{seed}:{q.id}")))
    out: dict[str, str] = {}
    owed = 0.0  # test questions owed so far: deals test_share of each run of questions
    for q in ordered:
        owed += test_share
        if owed >= 0.5:
            out[q.id], owed = "test", owed - 1.0
        else:
            out[q.id] = "dev"
    return out
