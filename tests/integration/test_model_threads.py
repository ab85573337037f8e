"""Models shared by request threads: the shipped reranker (focusing on) and the embedder give
each thread the scores it would get alone, with two threads interleaved at the worst moment.

The interleaving is forced, not hoped for: the shared fast tokenizer's backend is wrapped so
that its first two ``encode_batch`` calls wait for each other at a barrier. Before the fix, the
focusing step's token count switched the tokenizer to "no padding" while ``predict`` in the
other thread had just switched it to "pad", and ``predict`` then failed with "expected
sequence of length ... at dim 1".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "data" / "models" / "support-reranker"
QUESTION = "how do I reset the hub when the light stays amber after a firmware update"
SENTENCES = [
    "A solid amber LED ring means your Lumora Hub is connected to your router but cannot "
    "reach the internet.",
    "Restart your router and wait two minutes before you check the light again.",
    "If the light stays amber after a firmware update, hold the reset button for ten seconds.",
    "The Hub then restarts and the ring turns blue while it reconnects to your account.",
    "Promo codes give you a discount or free months on Lumora Plus or Pro.",
    "Night vision switches on automatically when it gets dark in the room.",
    "Shipping addresses can be changed while an order is still processing.",
    "The API answers 429 Too Many Requests when a token goes over its limit.",
]
# Long passages of different lengths: each is over the shipped model's 96-token budget, so
# the focusing step counts tokens; their pairs tokenise to different lengths, so predict pads.
PASSAGES = ["Hub shows a solid amber light\n" + " ".join(SENTENCES[:n] * 2)
            for n in range(4, 9)] + ["Redeem a promo code\n" + SENTENCES[4]]


class _Rendezvous:
    """A tokenizers backend whose first two ``encode_batch`` calls wait for each other, so
    that two threads have each set the tokenizer up before either encodes."""

    def __init__(self, inner: Any, *, timeout_s: float = 1.0) -> None:
        self._inner, self._timeout = inner, timeout_s
        self._barrier = threading.Barrier(2)
        self._calls = 0
        self._lock = threading.Lock()

    def encode_batch(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._calls += 1
            wait = self._calls <= 2
        if wait:  # a thread that cannot arrive (it waits for a lock the other holds) is fine
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait(self._timeout)
        return self._inner.encode_batch(*args, **kwargs)

    @property
    def waiting(self) -> int:
        return self._barrier.n_waiting

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)


def _interleaved(tokenizer: Any, first: Callable[[], Any],
                 second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``first`` until it waits in the tokenizer, then ``second``; both results (or the
    exceptions they raised)."""
    real = tokenizer._tokenizer
    gate = _Rendezvous(real)
    tokenizer._tokenizer = gate
    results: dict[str, Any] = {}

    def run(name: str, fn: Callable[[], Any]) -> None:
        try:
            results[name] = fn()
        except Exception as exc:  # the failure is the result under test
            results[name] = exc

    try:
        a = threading.Thread(target=run, args=("first", first))
        a.start()
        for _ in range(500):  # until ``first`` has set the tokenizer up and waits
            if gate.waiting or not a.is_alive():
                break
            threading.Event().wait(0.01)
        b = threading.Thread(target=run, args=("second", second))
        b.start()
        a.join(60)
        b.join(60)
    finally:
        tokenizer._tokenizer = real
    return results["first"], results["second"]


@pytest.fixture(scope="module")
def reranker():
    if not (SHIPPED / "config.json").exists():
        pytest.skip(f"no shipped reranker at {SHIPPED}")
    from app.rag.rerank import CrossEncoderReranker

    model = CrossEncoderReranker(str(SHIPPED), max_length=None)
    assert model.focus and model.max_length == 96
    return model


def test_the_focusing_step_never_changes_what_predict_sees(reranker):
    from app.rag.rerank import focused_pairs

    pairs = [(QUESTION, p) for p in PASSAGES]
    fitted = focused_pairs(pairs, count=reranker._count, budget=reranker.max_length)
    assert sum(f != p for f, p in zip(fitted, PASSAGES, strict=True)) >= 3  # focusing works
    alone = reranker.score(QUESTION, PASSAGES)

    def predict() -> np.ndarray:  # a second request whose passages are not focused
        return reranker.score_pairs([(QUESTION, p) for p in fitted])

    def focus_then_predict() -> np.ndarray:
        return reranker.score(QUESTION, PASSAGES)

    second_alone = predict()
    got_predict, got_focus = _interleaved(reranker._model.tokenizer, predict,
                                          focus_then_predict)
    for got, want in ((got_predict, second_alone), (got_focus, alone)):
        assert isinstance(got, np.ndarray), f"{type(got).__name__}: {got}"
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_token_counts_match_the_models_tokenizer(reranker):
    texts = [QUESTION, *PASSAGES, "café naïve ünïcode", ""]
    want = [len(ids) for ids in reranker._model.tokenizer(
        texts, add_special_tokens=False, verbose=False)["input_ids"]]
    assert reranker._count(texts) == want


def test_two_threads_embed_as_one_does(embedder):
    texts = ["short", *PASSAGES, "return policy for the annual plan"]
    alone = embedder.embed_documents(texts)
    query = embedder.embed_query(QUESTION)
    got_docs, got_query = _interleaved(
        embedder._model.tokenizer, lambda: embedder.embed_documents(texts),
        lambda: embedder.embed_query(QUESTION))
    assert isinstance(got_docs, np.ndarray), got_docs
    assert isinstance(got_query, np.ndarray), got_query
    np.testing.assert_allclose(got_docs, alone, atol=1e-5)
    np.testing.assert_allclose(got_query, query, atol=1e-5)
