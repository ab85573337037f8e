"""Benchmarks: latency, throughput, memory and scale of the service (``make bench``).

Modules: ``synth`` (synthetic help center), ``standin`` (cheap embedder for scale),
``scale`` (build one size in a child process), ``server`` (the service as a real uvicorn
process), ``load`` (HTTP clients), ``sizes`` (what is measured per size), ``ingestion``,
``compare`` (side by side), ``stats``, ``report`` and ``plot`` (outputs), ``run`` (the CLI).
"""
