"""Heading-aware chunking of Markdown bodies.

A body is split into blocks (headings, paragraphs and lists, tables, fenced code). Blocks are
packed into chunks of at most ``max_tokens`` tokens of the embedding model's tokenizer; a new
section starts a new chunk unless the current one is still below ``min_tokens``. Tables and
code blocks are never cut (up to ``hard_max_tokens``). Long prose is cut at sentence ends, and
consecutive pieces of one section overlap by up to ``overlap_tokens``. Every chunk's text is an
exact slice ``body[char_start:char_end]``, so offsets always point at what was indexed.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from app.rag.protocols import TokenCounter
from app.rag.types import Chunk, SourceDocument

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# A sentence end is punctuation after a non-digit (so "6." in a numbered list is not one).
_BOUNDARY = re.compile(r"(?<=[^\d\s][.!?:;])[ \t]+|\n")
_Count = Callable[[int, int], int]


@dataclass(frozen=True, slots=True)
class ChunkerParams:
    max_tokens: int = 230
    min_tokens: int = 60
    overlap_tokens: int = 32
    hard_max_tokens: int = 512

    def __post_init__(self) -> None:
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap_tokens must be below half of max_tokens")
        if self.hard_max_tokens < self.max_tokens:
            raise ValueError("hard_max_tokens must be at least max_tokens")


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # heading | text | table | code
    start: int
    end: int
    level: int = 0
    heading: str = ""


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    path: tuple[str, ...]
    atomic: bool


def slugify(heading: str) -> str:
    """GitHub-style anchor: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r"\s", "-", text)


def parse_blocks(body: str) -> list[Block]:
    """Split a Markdown body into heading, text, table and code blocks with offsets."""
    blocks: list[Block] = []
    lines = body.splitlines(keepends=True)
    pos, i = 0, 0
    while i < len(lines):
        line, start = lines[i], pos
        stripped = line.strip()
        if not stripped:
            pos, i = pos + len(line), i + 1
            continue
        if _FENCE.match(line):
            fence = _FENCE.match(line).group(1)  # type: ignore[union-attr]
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                j += 1
            j = min(j + 1, len(lines))
            kind = "code"
        elif m := _HEADING.match(stripped):
            blocks.append(Block("heading", start, start + len(line.rstrip("\n")),
                                level=len(m.group(1)), heading=m.group(2).strip()))
            pos, i = pos + len(line), i + 1
            continue
        else:
            is_table = stripped.startswith("|")
            j = i + 1
            while j < len(lines) and lines[j].strip() and not _FENCE.match(lines[j]) \
                    and not _HEADING.match(lines[j].strip()) \
                    and lines[j].strip().startswith("|") == is_table:
                j += 1
            kind = "table" if is_table else "text"
        end = start + sum(len(x) for x in lines[i:j])
        blocks.append(Block(kind, start, len(body[:end].rstrip()), 0))
        pos, i = end, j
    return blocks


class MarkdownChunker:
    """Chunks documents with a token counter (the embedding model's tokenizer in production)."""

    def __init__(self, tokens: TokenCounter, params: ChunkerParams | None = None) -> None:
        self.tokens = tokens
        self.params = params or ChunkerParams()

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        body = doc.body
        starts = [s for s, _ in self.tokens.token_spans(body)]

        def count(s: int, e: int) -> int:
            return bisect_left(starts, e) - bisect_left(starts, s)

        units = self._units(body, count)
        spans = self._pack(body, units, count)
        chunks: list[Chunk] = []
        for s, e, path in spans:
            while s < e and body[s].isspace():
                s += 1
            while e > s and body[e - 1].isspace():
                e -= 1
            if s < e:
                chunks.append(self._make_chunk(doc, len(chunks), s, e, path, count(s, e)))
        return chunks

    def _units(self, body: str, count: _Count) -> list[_Unit]:
        p = self.params
        units: list[_Unit] = []
        stack: list[tuple[int, str]] = []
        for block in parse_blocks(body):
            if block.kind == "heading":
                stack = [h for h in stack if h[0] < block.level] + [(block.level, block.heading)]
                continue
            path = tuple(h for _, h in stack)
            n = count(block.start, block.end)
            atomic = block.kind in ("table", "code")
            if n <= p.max_tokens or (atomic and n <= p.hard_max_tokens):
                units.append(_Unit(block.start, block.end, path, atomic))
            else:
                units.extend(_Unit(s, e, path, atomic)
                             for s, e in self._split(body, block, count))
        return units

    def _split(self, body: str, block: Block, count: _Count) -> list[tuple[int, int]]:
        """Cut an oversized block at line ends (tables, code) or sentence ends (prose)."""
        cuts = [block.start]
        pattern = re.compile(r"\n") if block.kind != "text" else _BOUNDARY
        for m in pattern.finditer(body, block.start, block.end):
            cuts.append(m.end())
        cuts.append(block.end)
        pieces, s = [], cuts[0]
        for a, b in zip(cuts, cuts[1:], strict=False):
            if count(s, b) > self.params.max_tokens and a > s:
                pieces.append((s, a))
                s = a
        pieces.append((s, block.end))
        out: list[tuple[int, int]] = []
        for s, e in pieces:  # a single sentence longer than max_tokens: cut by tokens
            out.extend(self._windows(body, s, e, count))
        return out

    def _windows(self, body: str, s: int, e: int, count: _Count) -> list[tuple[int, int]]:
        if count(s, e) <= self.params.max_tokens:
            return [(s, e)]
        words = [m.start() for m in re.finditer(r"\S+", body[s:e])]
        out, cur = [], s
        for w in words:
            if count(cur, s + w) >= self.params.max_tokens and s + w > cur:
                out.append((cur, s + w))
                cur = s + w
        out.append((cur, e))
        return out

    def _pack(self, body: str, units: list[_Unit], count: _Count
              ) -> list[tuple[int, int, tuple[str, ...]]]:
        p = self.params
        spans: list[tuple[int, int, tuple[str, ...]]] = []
        cur: list[_Unit] = []
        for u in units:
            if cur:
                size = count(cur[0].start, cur[-1].end)
                new_section = u.path != cur[-1].path and size >= p.min_tokens
                fits = count(cur[0].start, u.end) <= p.max_tokens
                if fits and not new_section:
                    cur.append(u)
                    continue
                spans.append((cur[0].start, cur[-1].end, cur[0].path))
                prev = cur[-1]
                cur = []
                if not new_section and not prev.atomic and not u.atomic:
                    start = self._overlap_start(body, prev, count)
                    if start is not None:
                        cur.append(_Unit(start, prev.end, u.path, False))
            cur.append(u)
        if cur:
            spans.append((cur[0].start, cur[-1].end, cur[0].path))
        return spans

    def _overlap_start(self, body: str, prev: _Unit, count: _Count) -> int | None:
        """Earliest sentence start in ``prev`` whose tail fits in ``overlap_tokens``."""
        if self.params.overlap_tokens == 0:
            return None
        for m in _BOUNDARY.finditer(body, prev.start, prev.end):
            b = m.end()
            if b < prev.end and count(b, prev.end) <= self.params.overlap_tokens:
                return b
        return None

    def _make_chunk(self, doc: SourceDocument, ordinal: int, s: int, e: int,
                    path: tuple[str, ...], n_tokens: int) -> Chunk:
        url = f"{doc.url}#{slugify(path[-1])}" if doc.url and path else doc.url
        return Chunk(
            chunk_id=f"{doc.id}:{ordinal}", article_id=doc.id, ordinal=ordinal,
            title=doc.title, heading_path=path, text=doc.body[s:e], url=url,
            char_start=s, char_end=e, n_tokens=n_tokens, product=doc.product,
            locale=doc.locale, status=doc.status, source_type=doc.source_type,
            updated_at=doc.updated_at, tags=doc.tags,
        )
