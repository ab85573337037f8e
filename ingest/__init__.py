"""Ingestion: load knowledge-base sources, clean, chunk, embed and build the hybrid index."""
