"""The offline default generator: answers copied from the passages, so grounded by construction.

``ExtractiveGenerator`` picks the most relevant sentences, steps and table rows of the top
passages, leads with the best match (a step list stays whole), keeps the rest in reading
order, and gives each one the marker of its passage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from app.errors import ConfigurationError
from app.rag.citations import REFUSAL, content_words, split_sentences
from app.rag.types import Chunk, Generation, Passage, Sentence, Turn

# A question word found only in a sentence's section heading counts this much: "Open
# Settings > Security." answers "turn on 2FA" when it sits under "## Turn on two-factor
# authentication", though it shares no word with the question. Below 1, so a sentence that
# says the words itself still ranks first.
HEADING_BONUS = 0.75


_MARKDOWN = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"^[ \t]*(?:>[ \t]?)+|^[ \t]*#{1,6}[ \t]+", re.MULTILINE), ""),
)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)[\s#]*$")
_STEP = re.compile(r"^\s*\d+[.)]\s+")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}")
_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.)])\s")  # as in VerifiedAnswer.text


def strip_markdown(text: str) -> str:
    """Drop emphasis, code ticks, link targets, quote and heading marks; keep list markers."""
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    return text


def _parse_blocks(text: str) -> list[tuple[str, str]]:
    """(kind, text) blocks of a Markdown passage: heading, para, bullet, step, table, blank."""
    blocks: list[tuple[str, str]] = []
    joinable, fenced = False, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        kind = ("blank" if fenced or not stripped else "heading" if _HEADING.match(stripped)
                else "table" if stripped.startswith("|") else "step" if _STEP.match(line)
                else "bullet" if _BULLET.match(line) else "para")
        if kind == "bullet" and line[:1].isspace() and blocks and blocks[-1][0] == "step":
            kind = "step"  # an indented sub-item of a step belongs to the list
        if kind == "table" and blocks and blocks[-1][0] == "table":
            blocks[-1] = ("table", f"{blocks[-1][1]}\n{stripped}")
        elif kind == "para" and joinable:
            blocks[-1] = (blocks[-1][0], f"{blocks[-1][1]} {stripped}")
        elif kind == "heading":
            blocks.append((kind, _HEADING.match(stripped).group(1)))  # type: ignore[union-attr]
        else:
            blocks.append((kind, stripped))
        joinable = kind in ("para", "bullet", "step")
    return blocks


@dataclass(frozen=True, slots=True)
class _Unit:
    """One sentence, step or table row of a passage, in reading order."""

    pos: int
    text: str
    words: frozenset[str]
    section: frozenset[str]
    kind: str = "prose"  # prose | intro | step | row
    group: int = -1  # the list (for intro and step) or table (for row) it belongs to


def _table_units(table: str, *, start: int, group: int) -> list[_Unit]:
    rows = [[strip_markdown(c.strip()) for c in line.strip("|").split("|")]
            for line in table.splitlines() if not _TABLE_RULE.match(line)]
    if len(rows) < 2:
        return []
    header = [h.rstrip(":?") for h in rows[0]]
    return [_Unit(start + i, "; ".join(f"{h}: {v.rstrip('.')}" for h, v in
                                       zip(header, row, strict=False) if v) + ".",
                  content_words(" ".join(row)), frozenset(), "row", group)
            for i, row in enumerate(rows[1:])]


def _units(chunk: Chunk) -> list[_Unit]:
    """Split a passage into units, marking numbered lists, their intros and table rows."""
    section = content_words(chunk.heading_path[-1]) if chunk.heading_path else frozenset()
    units: list[_Unit] = []
    group, in_list, prev = 0, False, ""
    for kind, body in _parse_blocks(chunk.text):
        if kind == "blank":
            continue
        if kind == "step":
            if not in_list:
                group, in_list = group + 1, True
                if prev == "para" and units and units[-1].kind == "prose":
                    units[-1] = replace(units[-1], kind="intro", group=group)
            text = strip_markdown(body)
            units.append(_Unit(len(units), text, content_words(text), section, "step", group))
        else:
            in_list = False
            if kind == "heading":
                section = content_words(body)
            elif kind == "table":
                group += 1
                units.extend(_table_units(body, start=len(units), group=group))
            else:
                units.extend(_Unit(len(units) + i, s, content_words(s), section)
                             for i, s in enumerate(split_sentences(strip_markdown(body))))
        prev = kind
    return units


def _score(unit: _Unit, question: frozenset[str]) -> float:
    if not question:
        return 0.0
    own = unit.words & question
    bonus = 0.0 if unit.kind == "row" else HEADING_BONUS * len((unit.section & question) - own)
    return (len(own) + bonus) / len(question)


@dataclass(frozen=True, slots=True)
class _Group:
    """What is taken or left together: one sentence, one table row, or a whole list."""

    score: float
    units: tuple[_Unit, ...]
    is_list: bool = False


def _list_group(members: list[_Unit], question: frozenset[str], *, min_score: float,
                max_steps: int) -> list[_Group]:
    steps = [m for m in members if m.kind == "step"]
    scores = [_score(s, question) for s in steps]
    relevant = [i for i, s in enumerate(scores) if s >= min_score]
    if not relevant:
        return []
    first = relevant[0]
    start = 0 if first < max_steps else min(first, len(steps) - max_steps)
    taken = [m for m in members if m.kind == "intro"] + steps[start:start + max_steps]
    whole = replace(steps[0], words=frozenset().union(*(m.words for m in taken)))
    return [_Group(_score(whole, question), tuple(taken), is_list=True)]


def _groups(units: list[_Unit], question: frozenset[str], *, min_score: float,
            max_steps: int) -> list[_Group]:
    """Candidate groups scoring at least ``min_score``, best first."""
    groups: list[_Group] = []
    members: dict[int, list[_Unit]] = {}
    for u in units:
        if u.kind == "prose":
            score = _score(u, question)
            if score >= min_score:
                groups.append(_Group(score, (u,)))
        else:
            members.setdefault(u.group, []).append(u)
    for group in members.values():
        if group[0].kind != "row":
            groups.extend(_list_group(group, question, min_score=min_score, max_steps=max_steps))
            continue
        scores = [_score(r, question) for r in group]
        best = max(scores)  # only the best-matching rows of a table, and only on a real match
        groups.extend(_Group(s, (r,)) for r, s in zip(group, scores, strict=True)
                      if s == best and s > 0 and s >= min_score)
    return sorted(groups, key=lambda g: (-g.score, g.units[0].pos))


class _Budget:
    """Running totals of the answer being composed (a local tally, never shared)."""

    def __init__(self, max_sentences: int, max_words: int) -> None:
        self.max_sentences, self.max_words = max_sentences, max_words
        self.sentences, self.words, self.has_list = 0, 0, False

    def take(self, group: _Group, units: list[_Unit]) -> bool:
        words = sum(len(u.text.split()) for u in units)
        fits = (self.sentences + len(units) <= self.max_sentences
                and self.words + words <= self.max_words)
        room = self.sentences < self.max_sentences and self.words < self.max_words
        if not (fits or self.sentences == 0 or (group.is_list and not self.has_list and room)):
            return False
        self.sentences, self.words = self.sentences + len(units), self.words + words
        self.has_list = self.has_list or group.is_list
        return True


def _pieces(sentences: Sequence[Sentence]) -> list[str]:
    """Each sentence with its markers, preceded by the separator ``VerifiedAnswer`` uses."""
    out: list[str] = []
    for s in sentences:
        piece = f"{s.text} {''.join(f'[{n}]' for n in s.citations)}"
        sep = "" if not out else "\n" if _LIST_ITEM.match(s.text) else " "
        out.append(sep + piece)
    return out


class ExtractiveGenerator:
    """Answers with the passages' own sentences: offline, deterministic, grounded.

    Args:
        max_sentences: Cap on answer sentences, unless one numbered list needs more.
        max_words: Cap on answer words, unless one numbered list needs more.
        max_steps: Most steps of a numbered list to include.
        max_passages: Passages considered for a second source after passage 1.
        min_relevance: Share of the question's content words (plus the heading bonus) a
            sentence of passage 1 must match to be used.
        second_passage_min: The same, for sentences of a second passage.
    """

    name = "extractive"

    def __init__(self, *, max_sentences: int = 6, max_words: int = 120, max_steps: int = 8,
                 max_passages: int = 3, min_relevance: float = 0.3,
                 second_passage_min: float = 0.5) -> None:
        if min(max_sentences, max_words, max_steps, max_passages) < 1:
            raise ConfigurationError("extractive generator caps must all be at least 1")
        self.max_sentences, self.max_words, self.max_steps = max_sentences, max_words, max_steps
        self.max_passages = max_passages
        self.min_relevance, self.second_passage_min = min_relevance, second_passage_min

    def compose(self, question: str, passages: Sequence[Passage]) -> list[Sentence]:
        """The answer's sentences in reading order, each citing its passage."""
        if not passages:
            return []
        q = content_words(question)
        budget = _Budget(self.max_sentences, self.max_words)
        seen: set[str] = set()
        first = _units(passages[0].chunk)
        groups = (self._candidates(first, q, self.min_relevance)
                  or self._candidates(first, q, float("-inf"))[:1])
        picked = [(0, u) for u in self._take(groups, budget, seen)]
        lead = {id(u) for u in groups[0].units} if groups else set()
        options = [(i, self._candidates(_units(passages[i].chunk), q, self.second_passage_min))
                   for i in range(1, min(len(passages), self.max_passages))]
        options = [(i, gs) for i, gs in options if gs]
        if options:
            i, groups = max(options, key=lambda o: (o[1][0].score, -o[0]))
            picked += [(i, u) for u in self._take(groups, budget, seen)]
        # The best match answers the question, so it comes first; the rest keeps reading order.
        picked.sort(key=lambda p: (id(p[1]) not in lead, p[0], p[1].pos))
        return [Sentence(u.text, (passages[i].n,)) for i, u in picked]

    def _candidates(self, units: list[_Unit], q: frozenset[str], min_score: float
                    ) -> list[_Group]:
        return _groups(units, q, min_score=min_score, max_steps=self.max_steps)

    @staticmethod
    def _take(groups: list[_Group], budget: _Budget, seen: set[str]) -> list[_Unit]:
        taken: list[_Unit] = []
        for group in groups:
            units = [u for u in group.units if u.text.lower() not in seen]
            if units and budget.take(group, units):
                seen.update(u.text.lower() for u in units)
                taken.extend(units)
        return taken

    def generate(self, question: str, passages: Sequence[Passage], *,
                 history: Sequence[Turn] = (), style: str = "") -> Generation:
        """Compose an answer; ``history`` and ``style`` cannot change copied text."""
        pieces = _pieces(self.compose(question, passages))
        if not pieces:
            return Generation(text=REFUSAL, declined=True, model=self.name)
        return Generation(text="".join(pieces), model=self.name)

    def stream(self, question: str, passages: Sequence[Passage], *,
               history: Sequence[Turn] = (), style: str = "") -> Iterator[str]:
        """Yield the answer sentence by sentence; the pieces join to ``generate``'s text."""
        yield from _pieces(self.compose(question, passages)) or [REFUSAL]
