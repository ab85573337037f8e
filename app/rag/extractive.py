"""The offline default generator: answers copied from the passages, so grounded by construction.

``ExtractiveGenerator`` picks the most relevant sentences, steps and table rows of the top
passages, leads with the best match (a step list stays whole), keeps the rest in reading
order, and gives each one the marker of its passage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from app.errors import ConfigurationError
from app.rag.citations import REFUSAL, content_words, split_sentences
from app.rag.types import (
    Chunk,
    Generation,
    Passage,
    Sentence,
    SentenceScores,
    Turn,
    separator,
)

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
# A sentence about the article itself: "This article explains ...", "In diesem Artikel ...".
_ABOUT_ARTICLE = re.compile(
    r"^(?:this|the following) (?:article|page|guide|section)\b|^in this (?:article|guide|"
    r"section)\b|^(?:dieser|diese|der folgende) (?:artikel|seite|anleitung|abschnitt)\b|"
    r"^in (?:diesem|dem folgenden) (?:artikel|abschnitt)\b", re.IGNORECASE)


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
    kind: str = "prose"  # prose | intro | step | item (bulleted) | row
    group: int = -1  # the list (for intro and step) or table (for row) it belongs to
    heading: str = ""  # the section heading it sits under (else the article title)

    @property
    def can_lead(self) -> bool:
        """Whether it may open an answer: lead-ins, questions and sentences about the
        article itself never do."""
        return (self.kind != "intro" and not self.text.rstrip().endswith((":", "?"))
                and not self.about_article)

    @property
    def about_article(self) -> bool:
        """Whether it describes the article rather than answering ("This article explains
        ..."): never part of an answer."""
        return self.kind == "prose" and bool(_ABOUT_ARTICLE.match(self.text))


def _table_units(table: str, *, start: int, group: int, heading: str) -> list[_Unit]:
    rows = [[strip_markdown(c.strip()) for c in line.strip("|").split("|")]
            for line in table.splitlines() if not _TABLE_RULE.match(line)]
    if len(rows) < 2:
        return []
    header = [h.rstrip(":?") for h in rows[0]]
    return [_Unit(start + i, "; ".join(f"{h}: {v.rstrip('.')}" for h, v in
                                       zip(header, row, strict=False) if v) + ".",
                  content_words(" ".join(row)), frozenset(), "row", group, heading)
            for i, row in enumerate(rows[1:])]


# Passages parsed into units, kept: each request reads its passages' units several times
# (sentence scoring, the decision's sentence coverage, the answer), and popular passages come
# back request after request.
PARSED_CHUNKS = 4096


@lru_cache(maxsize=PARSED_CHUNKS)
def _units(chunk: Chunk) -> tuple[_Unit, ...]:
    """Split a passage into units, marking numbered lists, their intros and table rows."""
    heading = chunk.heading_path[-1] if chunk.heading_path else chunk.title
    section = content_words(chunk.heading_path[-1]) if chunk.heading_path else frozenset()
    units: list[_Unit] = []
    group, in_list, prev, list_kind = 0, False, "", ""
    for kind, body in _parse_blocks(chunk.text):
        if kind == "blank":
            continue
        if kind in ("step", "bullet"):
            if not in_list or kind != list_kind:
                group, in_list, list_kind = group + 1, True, kind
                if (prev == "para" and units and units[-1].kind == "prose"
                        and units[-1].text.rstrip().endswith(":")):  # a lead-in line
                    units[-1] = replace(units[-1], kind="intro", group=group)
            text = strip_markdown(body)
            units.append(_Unit(len(units), text, content_words(text), section,
                               "step" if kind == "step" else "item", group, heading))
        else:
            in_list = False
            if kind == "heading":
                heading = strip_markdown(body)
                section = content_words(body)
            elif kind == "table":
                group += 1
                units.extend(_table_units(body, start=len(units), group=group,
                                          heading=heading))
            else:
                units.extend(_Unit(len(units) + i, s, content_words(s), section,
                                   heading=heading)
                             for i, s in enumerate(_sentences(strip_markdown(body))))
        prev = kind
    return tuple(units)


def unit_texts(chunk: Chunk) -> list[str]:
    """The sentences, list items and table rows of a passage, as an answer would quote them."""
    return [u.text for u in _units(chunk)]


@dataclass(frozen=True, slots=True)
class UnitView:
    """A unit of a passage as a sentence scorer reads it."""

    text: str
    heading: str  # its section heading, else the article title
    can_lead: bool  # not a lead-in or a question
    words: frozenset[str] = frozenset()  # the content words of its text and heading


def unit_views(chunk: Chunk) -> list[UnitView]:
    """The units of a passage in reading order (aligned with :func:`unit_texts`)."""
    headings: dict[str, frozenset[str]] = {}
    views = []
    for u in _units(chunk):
        if u.heading not in headings:
            headings[u.heading] = content_words(u.heading)
        text_words = content_words(u.text) if u.kind == "row" else u.words  # a row's header
        views.append(UnitView(u.text, u.heading, u.can_lead, text_words | headings[u.heading]))
    return views


def _sentences(text: str) -> list[str]:
    """Sentences of a paragraph; a bare "No." or "Yes, you can." joins the one after it,
    which says what it means."""
    out: list[str] = []
    for sentence in split_sentences(text):
        if out and len(out[-1].split()) <= 3 and not out[-1].endswith(":"):
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return out


class Question(frozenset[str]):
    """A question's content words, each with its weight (1, or ``BORROWED_WEIGHT`` for a
    word a follow-up borrowed from the previous turn)."""

    weights: dict[str, float]
    total: float  # the summed weight of all its words

    def __new__(cls, words: frozenset[str], *, borrowed: frozenset[str] = frozenset()
                ) -> Question:
        self = super().__new__(cls, words)
        self.weights = {w: BORROWED_WEIGHT if w in borrowed else 1.0 for w in words}
        self.total = sum(self.weights.values())
        return self

    def weight(self, words: frozenset[str]) -> float:
        """The summed weight of those of ``words`` that are question words."""
        return sum(self.weights[w] for w in words & self)


# A follow-up's search query repeats words of the previous question ("how many can I
# have?" after "how do I create an API token?"); they keep the topic, but the sentence that
# answers is the one that says what the customer asks now, so they count this much.
BORROWED_WEIGHT = 0.25


def question_words(query: str, *, message: str = "") -> Question:
    """The content words of the search ``query``; those not in the customer's ``message``
    (when given: the query is a rewritten follow-up) count ``BORROWED_WEIGHT``."""
    words = content_words(query)
    if not message:
        return Question(words)
    return Question(words, borrowed=words - content_words(message))


def _score(unit: _Unit, question: Question) -> float:
    if not question:
        return 0.0
    own = unit.words & question
    bonus = 0.0 if unit.kind == "row" else HEADING_BONUS * question.weight(unit.section - own)
    return (question.weight(own) + bonus) / question.total


@dataclass(frozen=True, slots=True)
class _Group:
    """What is taken or left together: one sentence, one table row, or a whole list."""

    score: float
    units: tuple[_Unit, ...]
    is_list: bool = False


def _list_group(members: list[_Unit], question: Question, *, min_score: float,
                max_steps: int) -> list[_Group]:
    steps = [m for m in members if m.kind in ("step", "item")]
    scores = [_score(s, question) for s in steps]
    relevant = [i for i, s in enumerate(scores) if s >= min_score]
    if not relevant:
        return []
    first = relevant[0]
    start = 0 if first < max_steps else min(first, len(steps) - max_steps)
    taken = [m for m in members if m.kind == "intro"] + steps[start:start + max_steps]
    whole = replace(steps[0], words=frozenset().union(*(m.words for m in taken)))
    return [_Group(_score(whole, question), tuple(taken), is_list=True)]


def _groups(units: Sequence[_Unit], question: Question, *, min_score: float,
            max_steps: int) -> list[_Group]:
    """Candidate groups scoring at least ``min_score``, best first."""
    groups: list[_Group] = []
    members: dict[int, list[_Unit]] = {}
    for u in units:
        if u.about_article:
            continue
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


# What a question asks for, and how a sentence that has it looks. A unit that has what its
# question asks for scores CUE_BONUS more per cue: "how long is the link valid" prefers "Link
# valid for: 24 hours" to another sentence about the same link.
CUE_BONUS = 0.2
PASSAGE_PENALTY = 0.1  # per rank of the passage a lead comes from
# With sentence scores (``SentenceScorer``), the cross-encoder's probability that a unit
# answers counts this much towards leading: it sees meaning where the question and the
# answering sentence share few words.
RERANK_WEIGHT = 0.25
_DURATION = re.compile(
    r"\b\d+(?:[.,]\d+)?(?:\s*(?:-|to|bis)\s*\d+)?[\s-]*(?:business |working |calendar )?"
    r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|Sekunden|Minuten|Stunden|"
    r"Tagen?|Werktagen?|Wochen|Monaten?|Jahren?)\b", re.IGNORECASE)
_PRICE = re.compile(r"[$€£]\s?\d|\d\s?(?:€|EUR|USD|GBP)\b|\bfree\b|\bkostenlos",
                    re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+\b")
_MENU_PATH = re.compile(r"\w\s>\s\w")
_NEGATION = re.compile(r"\b(?:not|no|never|only|cannot|nicht|kein\w*|nur)\b|n't\b",
                       re.IGNORECASE)
_ASKS = (
    (re.compile(r"how long|\bwhen\b|how many (?:days|hours|weeks|months)|how soon|valid|"
                r"expire|wie lange|\bwann\b", re.IGNORECASE), _DURATION),
    (re.compile(r"how many|wie viele", re.IGNORECASE), _NUMBER),
    (re.compile(r"how much|\bcosts?\b|\bprices?\b|\bfees?\b|\bcharged?\b|kostet|preis",
                re.IGNORECASE), _PRICE),
    (re.compile(r"\bwhere\b|how (?:do|can) i\b|how to\b|\bsettings?\b|turn (?:on|off)|"
                r"\bwo\b|einstellung", re.IGNORECASE), _MENU_PATH),
    (re.compile(r"^\W*(?:can|could|do|does|did|is|are|will|would|should|may|have|has|kann|"
                r"können|gibt|ist|sind|muss|darf)\b|\bpossible\b", re.IGNORECASE), _NEGATION),
)


# "How do I ..." asks for steps: a step of a numbered list scores STEP_BONUS more as the lead.
STEP_BONUS = 0.2
_ASKS_STEPS = re.compile(r"\bhow (?:do|can|should|would) (?:i|we)\b|\bhow to\b|\bsteps?\b|"
                         r"\bwie (?:kann|muss|soll) ich\b|\bwie \w+ ich\b", re.IGNORECASE)
# An aside ("Note: ...", "Tip: ...") answers less often than the sentences around it: it
# scores ASIDE_PENALTY less as the lead, so it leads only when it matches clearly better.
ASIDE_PENALTY = 0.1
_ASIDE = re.compile(r"^(?:note|tip|hinweis|tipp)\s*:", re.IGNORECASE)


def asks_for_steps(question: str) -> bool:
    """Whether ``question`` asks how to do something."""
    return bool(_ASKS_STEPS.search(question))


def cues(question: str) -> tuple[re.Pattern[str], ...]:
    """Patterns of what ``question`` asks for (a duration, a price, a menu path, a no)."""
    return tuple(answer for asks, answer in _ASKS if asks.search(question))


def _lead(units: Sequence[Sequence[_Unit]], question: Question,
          wanted: Sequence[re.Pattern[str]], *, numbers: Sequence[int] = (),
          scores: SentenceScores | None = None, steps: bool = False
          ) -> tuple[int, _Unit, float] | None:
    """The unit that answers best: (passage rank, unit, score); lead-ins and questions never
    lead. ``numbers`` are the passages' numbers, which key ``scores``; ``steps``: the
    question asks how to do something."""
    best: tuple[float, int, int, _Unit] | None = None
    for rank, passage_units in enumerate(units):
        for u in passage_units:
            if not u.can_lead:
                continue
            body = _LIST_ITEM.sub("", u.text, count=1)  # a step's number is not a cue
            score = (_score(u, question) + CUE_BONUS * sum(bool(c.search(body))
                                                           for c in wanted)
                     - PASSAGE_PENALTY * rank)
            if steps and u.kind == "step":
                score += STEP_BONUS
            if _ASIDE.match(u.text):
                score -= ASIDE_PENALTY
            if scores is not None and rank < len(numbers):
                score += RERANK_WEIGHT * scores.of(numbers[rank], u.pos)
            key = (score, -rank, -u.pos)
            if best is None or key > (best[0], -best[1], -best[2]):
                best = (score, rank, u.pos, u)
    return None if best is None else (best[1], best[3], best[0])


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
    for i, s in enumerate(sentences):
        piece = f"{s.text} {''.join(f'[{n}]' for n in s.citations)}"
        out.append((separator(sentences[i - 1].text, s.text) if i else "") + piece)
    return out


# A bulleted list of short items (countries, payment methods) is read whole when one item
# leads, and so is any list the question asks for ("what files", "which countries"); in a
# list of longer items (causes, rules, exceptions) only the items that match the question
# follow the lead.
SHORT_ITEM = 8
_NOT_A_THING = (r"(?!(?:does|do|did|is|are|was|were|has|have|happens|goes|means|costs|takes|"
                r"works|needs|about)\b)")
_ASKS_LIST = re.compile(rf"\b(?:what|which)\s+(?:{_NOT_A_THING}\w+\s+)?{_NOT_A_THING}\w{{3,}}s\b|"
                        r"\blist\b|\boptions\b|\bwelche\b", re.IGNORECASE)


def asks_for_list(question: str) -> bool:
    """Whether ``question`` asks for several things ("what files", "which countries")."""
    return bool(_ASKS_LIST.search(question))


class ExtractiveGenerator:
    """Answers with the passages' own sentences: offline, deterministic, grounded.

    The answer leads with the unit (sentence, step or table row) of the top passages that
    best matches the question: its share of the question's content words (a word found only
    in its section heading counts ``HEADING_BONUS``), plus ``CUE_BONUS`` when it has what
    the question asks for (a duration for "how long", a price for "how much", a menu path
    for "where" and "how do I", a "no" or "only" for a yes-or-no question), less
    ``PASSAGE_PENALTY`` per rank of its passage. A step list is taken whole from its first
    step (a lead-in line ending in a colon is left out). A bulleted item that leads brings its
    list's other items when they are short or the question asks for several things, else only
    the items that match the question. The rest of the lead's passage that matches the
    question follows in reading order, then at most one other passage's best match.

    Args:
        max_sentences: Cap on answer sentences, unless one numbered list needs more.
        max_words: Cap on answer words, unless one numbered list needs more.
        max_steps: Most steps of a numbered list to include.
        max_passages: Passages considered, the first included.
        min_relevance: Share of the question's content words (plus the heading bonus) a
            sentence of the lead's passage must match to follow the lead.
        second_passage_min: The same, for sentences of another passage.
    """

    name = "extractive"

    def __init__(self, *, max_sentences: int = 8, max_words: int = 100, max_steps: int = 8,
                 max_passages: int = 3, min_relevance: float = 0.1,
                 second_passage_min: float = 0.35) -> None:
        if min(max_sentences, max_words, max_steps, max_passages) < 1:
            raise ConfigurationError("extractive generator caps must all be at least 1")
        self.max_sentences, self.max_words, self.max_steps = max_sentences, max_words, max_steps
        self.max_passages = max_passages
        self.min_relevance, self.second_passage_min = min_relevance, second_passage_min

    def compose(self, question: str, passages: Sequence[Passage], *,
                scores: SentenceScores | None = None, message: str = "") -> list[Sentence]:
        """The answer's sentences, the best match first, each citing its passage."""
        return [sentence for sentence, _ in self.explain(question, passages, scores=scores,
                                                         message=message)]

    def explain(self, question: str, passages: Sequence[Passage], *,
                scores: SentenceScores | None = None, message: str = ""
                ) -> list[tuple[Sentence, str]]:
        """``compose``'s sentences, each with why it was chosen (for the answer's trace).

        ``scores`` (a ``SentenceScorer``'s, for these passages) help choose the lead.
        ``message`` is the customer's own message when ``question`` is a follow-up rewritten
        into a search query: what it asks for (a duration, a price) is read from the
        message, and the words the query borrowed from the previous turn count less."""
        if not passages:
            return []
        q = question_words(question, message=message if message != question else "")
        wanted = cues(message or question)
        units = [_units(p.chunk) for p in passages[: self.max_passages]]
        lead = _lead(units, q, wanted, numbers=[p.n for p in passages], scores=scores,
                     steps=asks_for_steps(message or question))
        if lead is None:
            return []
        rank, unit, score = lead
        budget = _Budget(self.max_sentences, self.max_words)
        seen: set[str] = set()
        why = f"best match for the question (score {score:.2f}, passage {passages[rank].n})"
        if unit.kind == "step":
            members = [u for u in units[rank] if u.group == unit.group]
            group = _list_group(members, q, min_score=float("-inf"), max_steps=self.max_steps)
            steps = [u for u in group[0].units if u.kind == "step" or
                     not u.text.rstrip().endswith(":")]
            lead_group = _Group(score, tuple(steps), is_list=True)
            why = f"the step list of the {why}"
        elif unit.kind == "item":  # a bulleted list: the matching item, then the others
            items = [u for u in units[rank] if u.group == unit.group and u.kind == "item"]
            whole = (asks_for_list(message or question)
                     or all(len(u.text.split()) <= SHORT_ITEM for u in items))
            others = [u for u in items if u is not unit
                      and (whole or _score(u, q) >= self.min_relevance)][: self.max_steps - 1]
            lead_group = _Group(score, (unit, *others), is_list=True)
            why = f"the list of the {why}" if others else why
        else:
            lead_group = _Group(score, (unit,))
        picked = [(rank, u, why) for u in self._take([lead_group], budget, seen)]
        follow = [g for g in self._candidates(units[rank], q, self.min_relevance)
                  if not set(map(id, g.units)) & set(map(id, lead_group.units))
                  and not (len(g.units) == 1 and g.units[0].text.rstrip().endswith(":"))]
        picked += [(rank, u, f"also matches the question (score {g.score:.2f})")
                   for g in follow for u in self._take([g], budget, seen)]
        options = [(i, self._candidates(us, q, self.second_passage_min))
                   for i, us in enumerate(units) if i != rank]
        options = [(i, gs) for i, gs in options if gs]
        if options:
            i, groups = max(options, key=lambda o: (o[1][0].score, -o[0]))
            picked += [(i, u, f"another passage's best match (score {groups[0].score:.2f})")
                       for u in self._take(groups[:1], budget, seen)]
        head, rest = picked[:1], picked[1:]
        lead_ids = {id(u) for u in lead_group.units}
        rest.sort(key=lambda p: (id(p[1]) not in lead_ids, p[0] != rank, p[0], p[1].pos))
        return [(Sentence(u.text, (passages[i].n,)), w) for i, u, w in head + rest]

    def _candidates(self, units: Sequence[_Unit], q: Question, min_score: float
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
