from __future__ import annotations

import pytest

from app.rag.chunk import ChunkerParams, MarkdownChunker, parse_blocks, slugify
from app.rag.types import SourceDocument
from tests.fakes import WhitespaceTokens


def doc(body: str, **kw: object) -> SourceDocument:
    return SourceDocument(id="a1", title="Title", body=body, url="https://x.test/a1", **kw)


def chunker(**kw: int) -> MarkdownChunker:
    return MarkdownChunker(WhitespaceTokens(), ChunkerParams(**kw))


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}." if i % 10 == 9 else f"{prefix}{i}" for i in range(n))


def test_every_chunk_is_an_exact_slice_with_offsets():
    body = f"Intro {words(30)}\n\n## First\n{words(80, 'a')}\n\n## Second\n{words(80, 'b')}"
    for c in chunker(max_tokens=50, min_tokens=10, overlap_tokens=8).chunk(doc(body)):
        assert body[c.char_start:c.char_end] == c.text
        assert c.n_tokens == len(c.text.split())


def test_chunks_respect_max_tokens_and_carry_breadcrumb_and_anchor():
    body = f"## Cancel in the app\n{words(120)}\n\n### If you paid with Apple\n{words(40, 'x')}"
    chunks = chunker(max_tokens=50, min_tokens=10, overlap_tokens=5).chunk(doc(body))
    assert all(c.n_tokens <= 50 for c in chunks)
    assert chunks[0].heading_path == ("Cancel in the app",)
    assert chunks[0].url == "https://x.test/a1#cancel-in-the-app"
    assert chunks[-1].heading_path == ("Cancel in the app", "If you paid with Apple")
    assert chunks[-1].breadcrumb == "Title > Cancel in the app > If you paid with Apple"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[0].chunk_id == "a1:0"


def test_consecutive_pieces_of_a_long_section_overlap():
    body = "## Long\n" + " ".join(f"Sentence number {i} is here." for i in range(60))
    chunks = chunker(max_tokens=60, min_tokens=10, overlap_tokens=12).chunk(doc(body))
    assert len(chunks) > 2
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start < a.char_end, "pieces of one section share a few sentences"
        assert a.char_end - b.char_start <= 12 * 8


def test_tables_and_code_blocks_are_never_cut():
    rows = "\n".join(f"| P{i} | ${i}.99 |" for i in range(30))
    table = "| Plan | Price |\n| --- | --- |\n" + rows
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(40)) + "\n```"
    body = f"## Prices\n{words(20)}\n\n{table}\n\n## Code\n{code}"
    chunks = chunker(max_tokens=50, min_tokens=5, overlap_tokens=5,
                     hard_max_tokens=400).chunk(doc(body))
    assert sum(table in c.text for c in chunks) == 1
    assert sum(code in c.text for c in chunks) == 1


def test_a_table_beyond_the_hard_limit_is_split_at_row_boundaries():
    table = "| A | B |\n| --- | --- |\n" + "\n".join(f"| r{i} | v{i} |" for i in range(200))
    chunks = chunker(max_tokens=60, min_tokens=5, overlap_tokens=0,
                     hard_max_tokens=100).chunk(doc(table))
    assert len(chunks) > 1
    assert all(c.text.startswith("|") and c.text.endswith("|") for c in chunks)


def test_a_tiny_section_is_merged_with_the_next_instead_of_standing_alone():
    body = f"## Before you start\nYou need the app.\n\n## Steps\n{words(30)}"
    chunks = chunker(max_tokens=100, min_tokens=20, overlap_tokens=5).chunk(doc(body))
    assert len(chunks) == 1
    assert chunks[0].heading_path == ("Before you start",)
    assert "## Steps" in chunks[0].text


def test_numbered_list_markers_are_not_sentence_ends():
    body = "## Steps\n" + "\n".join(f"{i}. Do step number {i} now please." for i in range(1, 30))
    chunks = chunker(max_tokens=40, min_tokens=5, overlap_tokens=5).chunk(doc(body))
    for c in chunks:
        assert not c.text.rstrip().endswith(tuple(f"{i}." for i in range(30)))


def test_metadata_flows_into_chunks():
    d = doc("Body text here.", product="hub", locale="de-DE", source_type="ticket",
            updated_at="2026-01-02", tags=("x",))
    (c,) = chunker().chunk(d)
    assert (c.product, c.locale, c.source_type, c.updated_at, c.tags) == (
        "hub", "de-DE", "ticket", "2026-01-02", ("x",))


def test_parse_blocks_kinds():
    body = "Intro.\n\n## H2\n- a\n- b\n\n| a |\n| - |\n\n```\ncode\n```"
    assert [b.kind for b in parse_blocks(body)] == ["text", "heading", "text", "table", "code"]


def test_slugify_matches_github_anchors():
    assert slugify("If you paid with **Apple**") == "if-you-paid-with-apple"
    assert slugify("What's new?") == "whats-new"


def test_invalid_params_are_rejected():
    with pytest.raises(ValueError):
        ChunkerParams(max_tokens=50, overlap_tokens=30)
