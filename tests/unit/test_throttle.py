"""Model slots: never more forward passes at once than slots."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app.rag.throttle import ModelSlots, ThrottledEmbedder, ThrottledReranker


class _Probe:
    """Records the most calls that were ever inside it at once."""

    name = "probe"
    dimension = 2

    def __init__(self) -> None:
        self.inside = self.most = 0
        self._lock = threading.Lock()

    def _enter(self) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.01)
        with self._lock:
            self.inside -= 1

    def embed_query(self, text: str) -> np.ndarray:
        self._enter()
        return np.zeros(2, np.float32)

    def embed_documents(self, texts):
        self._enter()
        return np.zeros((len(texts), 2), np.float32)

    def score(self, query, passages):
        self._enter()
        return np.zeros(len(passages), np.float32)


@pytest.mark.parametrize("slots", [1, 2])
def test_calls_never_exceed_the_slots_across_embedder_and_reranker(slots: int) -> None:
    probe, shared = _Probe(), ModelSlots(slots)
    embedder, reranker = ThrottledEmbedder(probe, shared), ThrottledReranker(probe, shared)
    with ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(embedder.embed_query, "q") for _ in range(12)]
        jobs += [pool.submit(reranker.score, "q", ["a", "b"]) for _ in range(12)]
        for job in jobs:
            job.result()
    assert probe.most == slots


def test_a_failing_call_gives_its_slot_back() -> None:
    class Broken(_Probe):
        def score(self, query, passages):
            raise RuntimeError("boom")

    shared = ModelSlots(1)
    reranker = ThrottledReranker(Broken(), shared)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            reranker.score("q", ["a"])
    assert ThrottledEmbedder(_Probe(), shared).embed_query("q").shape == (2,)


def test_zero_slots_is_refused() -> None:
    with pytest.raises(ValueError):
        ModelSlots(0)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset is not installed")
def test_model_slots_default_to_the_cores_a_pinned_process_may_use() -> None:
    code = "from app.rag.factory import usable_cores; print(usable_cores())"
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code],
                            capture_output=True, text=True, check=True)
    assert pinned.stdout.strip() == "1"
