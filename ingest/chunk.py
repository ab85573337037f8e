"""Heading-aware chunking; the implementation lives in :mod:`app.rag.chunk` (the service
re-indexes too) and is re-exported here for ingestion code."""

from __future__ import annotations

from app.rag.chunk import Block, ChunkerParams, MarkdownChunker, parse_blocks, slugify

__all__ = ["Block", "ChunkerParams", "MarkdownChunker", "parse_blocks", "slugify"]
