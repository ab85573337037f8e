"""Text normalisation; the implementation lives in :mod:`app.content.clean` (shared with the
admin API) and is re-exported here for ingestion code."""

from __future__ import annotations

from app.content.clean import (
    clean_text,
    collapse_blank_lines,
    normalize_newlines,
    split_fenced,
    strip_bom,
    strip_trailing_spaces,
)

__all__ = [
    "clean_text",
    "collapse_blank_lines",
    "normalize_newlines",
    "split_fenced",
    "strip_bom",
    "strip_trailing_spaces",
]
