"""Turning article and ticket texts into clean, redacted :class:`SourceDocument` records.

Shared by file ingestion (``ingest/``) and the admin API, so both produce the same
documents, and the same content hashes, from the same input.
"""
