"""Incremental index builds; the implementation lives in :mod:`app.rag.build` (the service
runs re-index jobs too) and is re-exported here for ingestion code."""

from __future__ import annotations

from app.rag.build import BuildOutcome, DenseParams, IndexBuilder, Progress, content_hash

__all__ = ["BuildOutcome", "DenseParams", "IndexBuilder", "Progress", "content_hash"]
