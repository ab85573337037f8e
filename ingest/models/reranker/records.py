"""Records and rules of the reranker's training pairs: negatives, splits, leakage guard.

A pair is ``(query, passage, label)`` with label 1 when the passage answers the query and 0
otherwise. Negatives are *hard*: passages that a first-stage retriever ranks high for the
query but that come from another article (or another FAQ entry). Two guards keep the labels
honest:

- **families**: an article and its translations (``acct-003`` and ``acct-003-de``) are one
  family, so a translation of a gold article is never a negative;
- **margin**: a negative whose dense similarity to the query comes within ``margin`` of the
  best positive's is dropped as a probable false negative (the rule used by
  sentence-transformers' ``mine_hard_negatives``).

Evaluation questions never become training queries: every query that equals, or nearly
equals, a question of an evaluation set under ``data/eval`` is removed before training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from app.rag.text import ASCII_WORD

logger = logging.getLogger(__name__)

_LOCALE_SUFFIX = re.compile(r"-(?:de|fr|es|nl|it)$")


@dataclass(frozen=True, slots=True)
class Pair:
    """One labelled training example."""

    query: str
    passage: str
    label: float
    source: str  # questions | tickets | unanswerable | faq
    group: str  # the query's id, to count and split by query


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A query with the ids of the documents that answer it (none: unanswerable)."""

    id: str
    text: str
    gold: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class DataParams:
    """Everything that decides which pairs are built (recorded with the model)."""

    seed: int = 13
    dev_percent: int = 15
    kb_hard_negatives: int = 6
    kb_random_negatives: int = 3
    kb_easy_negatives: int = 2
    kb_pool: int = 40
    kb_repeat: int = 4
    cloze_per_chunk: int = 2
    cloze_negatives: int = 4
    margin: float = 0.05
    faq_queries: int = 5000
    faq_same_question_negatives: int = 2
    faq_bm25_negatives: int = 2
    faq_pool: int = 20
    faq_paraphrase_share: float = 0.5
    faq_paraphrase_sim: float = 0.8
    near_duplicate: float = 0.6
    noise_share: float = 0.4  # share of training queries garbled (typing, speech recognition)
    noise_rate: float = 0.2  # share of a garbled query's long words that change


def family(article_id: str) -> str:
    """The family key of an article: its id without a locale suffix."""
    return _LOCALE_SUFFIX.sub("", article_id)


def words(text: str) -> list[str]:
    return ASCII_WORD.findall(text.lower())


def normalise(text: str) -> str:
    """Lowercase words joined by single spaces: punctuation and case do not matter."""
    return " ".join(words(text))


def jaccard(a: str, b: str) -> float:
    sa, sb = set(words(a)), set(words(b))
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def is_dev(query_id: str, *, percent: int) -> bool:
    """A stable split: the same id always lands on the same side, whatever the seed."""
    digest = hashlib.sha1(query_id.encode("utf-8")).digest()
    return digest[0] * 100 // 256 < percent


def load_questions(path: Path) -> list[LabelledQuery]:
    """Training questions: JSONL ``{id, question, article_ids}`` (empty ids: unanswerable)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        gold = tuple(obj.get("article_ids") or ())
        out.append(LabelledQuery(str(obj["id"]), str(obj["question"]), gold,
                                 "questions" if gold else "unanswerable"))
    return out


def eval_questions(folder: Path) -> list[str]:
    """Every question text found in the evaluation sets (JSONL files) under ``folder``."""
    texts: list[str] = []
    if not folder.is_dir():
        return texts
    for file in sorted(folder.rglob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            for key in ("question", "query", "user_input", "text"):
                if isinstance(obj.get(key), str):
                    texts.append(obj[key])
                    break
    return texts


class LeakageGuard:
    """Says whether a query equals or nearly equals an evaluation question.

    Near means a word-set Jaccard similarity of at least ``threshold``, or one question's
    words (five or more) nearly all contained in the other's (``containment``).
    """

    def __init__(self, eval_texts: Iterable[str], *, threshold: float = 0.6,
                 containment: float = 0.9) -> None:
        self.exact = {normalise(t) for t in eval_texts}
        self.sets = [set(t.split()) for t in self.exact]
        self.threshold, self.containment = threshold, containment

    def __len__(self) -> int:
        return len(self.exact)

    def leaks(self, query: str) -> bool:
        norm = normalise(query)
        if norm in self.exact:
            return True
        q = set(norm.split())
        return bool(q) and any(self._near(q, s) for s in self.sets if s)

    def _near(self, a: set[str], b: set[str]) -> bool:
        common = len(a & b)
        if common / len(a | b) >= self.threshold:
            return True
        shorter = min(len(a), len(b))
        return shorter >= 5 and common / shorter >= self.containment

    def filter(self, queries: Sequence[LabelledQuery]) -> tuple[list[LabelledQuery], int]:
        kept = [q for q in queries if not self.leaks(q.text)]
        return kept, len(queries) - len(kept)


def pick_negatives(ranked: Sequence[int], *, doc_family: Sequence[str], gold: set[str],
                   query_sim: Sequence[float] | None, positive_sim: float | None,
                   margin: float, hard: int, rand: int, rng: random.Random) -> list[int]:
    """Hard negatives from a ranked candidate list, then a few random ones from the rest.

    Args:
        ranked: Candidate rows, best first.
        doc_family: The family key of every row.
        gold: Families that answer the query (never negatives).
        query_sim: Dense similarity of every row to the query, for the margin rule.
        positive_sim: The best positive's similarity (None: no margin rule).
        margin: Relative margin below the positive a negative must stay.
        hard: How many of the best-ranked admissible rows to take.
        rand: How many more to draw at random from the remaining admissible rows.
        rng: The seeded random generator.

    Returns:
        Distinct rows, none of them from a gold family.
    """
    admissible = []
    for row in ranked:
        if doc_family[row] in gold:
            continue
        if (query_sim is not None and positive_sim is not None
                and query_sim[row] > positive_sim * (1 - margin)):
            continue
        admissible.append(row)
    chosen = admissible[:hard]
    rest = admissible[hard:]
    chosen += rng.sample(rest, min(rand, len(rest)))
    return chosen


def write_pairs(pairs: Sequence[Pair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")


def read_pairs(path: Path) -> Iterator[Pair]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield Pair(**json.loads(line))


def summarise(pairs: Sequence[Pair]) -> dict[str, dict[str, int]]:
    """Counts of pairs, positives and distinct queries per source."""
    out: dict[str, dict[str, int]] = {}
    groups: dict[str, set[str]] = {}
    for p in pairs:
        row = out.setdefault(p.source, {"pairs": 0, "positives": 0, "queries": 0})
        row["pairs"] += 1
        row["positives"] += int(p.label > 0.5)
        groups.setdefault(p.source, set()).add(p.group)
    for source, seen in groups.items():
        out[source]["queries"] = len(seen)
    return out
