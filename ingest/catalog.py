"""The article catalogue in the database; the implementation lives in :mod:`app.catalog`
(shared with the admin API) and is re-exported here for ingestion code."""

from __future__ import annotations

from app.catalog import (
    SyncReport,
    all_documents,
    record_chunks,
    sync_documents,
    to_document,
    upsert,
)

__all__ = ["SyncReport", "all_documents", "record_chunks", "sync_documents", "to_document",
           "upsert"]
