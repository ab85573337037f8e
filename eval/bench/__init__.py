"""Benchmarks: latency, throughput, memory and scale of the service (``make bench``).

Modules: ``synth`` (synthetic help center), ``standin`` (cheap embedder for scale),
``scale`` (build one size in a child process), ``server`` (the service as a real uvicorn
process), ``load`` (HTTP clients), ``sizes`` (what is measured per size), ``ingestion``,
``compare`` (side by side), ``workers`` (requests per second per pinned worker on
PostgreSQL), ``stats``, ``report`` and ``plot`` (outputs), ``run`` (the CLI).
Run on their own: ``sparse`` (BM25 query latency at scale against rank-bm25) and
``freshness`` (time from an article edit through the admin API to a changed answer).
"""
