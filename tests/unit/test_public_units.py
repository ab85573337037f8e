"""Pure logic of the public edge: origins, fixed windows, signatures, OpenAI messages."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.public.completions import (
    CompletionInputError,
    fallback_text,
    footnotes,
    split_messages,
)
from app.public.origins import (
    OriginError,
    normalise_origin,
    origin_allowed,
    request_origin,
)
from app.public.ratelimit import MemoryRateLimiter
from app.public.schemas import CompletionMessage
from app.public.webhook import WebhookTarget, backoff_delays, sign, verify


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://Shop.Example.com", "https://shop.example.com"),
    ("https://shop.example.com/", "https://shop.example.com"),
    ("https://shop.example.com:443", "https://shop.example.com"),
    ("http://localhost:8000", "http://localhost:8000"),
    ("http://127.0.0.1:80", "http://127.0.0.1"),
])
def test_origins_are_normalised(raw, expected):
    assert normalise_origin(raw) == expected


@pytest.mark.parametrize("raw", ["null", "shop.example.com", "ftp://x.test",
                                 "https://x.test/path", "https://x.test?q=1", ""])
def test_non_origins_are_rejected(raw):
    with pytest.raises(OriginError):
        normalise_origin(raw)


def test_request_origin_prefers_origin_then_referer():
    assert request_origin({"origin": "https://a.test", "referer": "https://b.test/x"}) == \
        "https://a.test"
    assert request_origin({"referer": "https://b.test:8443/help?q=1"}) == "https://b.test:8443"
    assert request_origin({"origin": "null"}) is None
    assert request_origin({}) is None


def test_origin_allowed_compares_normalised_values():
    assert origin_allowed("https://a.test", ["https://A.test/"])
    assert not origin_allowed("https://a.test.evil", ["https://a.test"])
    assert not origin_allowed(None, ["https://a.test"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_fixed_window():
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    hits = [limiter.hit("ip:1", limit=2, window_s=60) for _ in range(3)]
    assert [h.allowed for h in hits] == [True, True, False]
    assert hits[2].retry_after_s == 60
    clock.now += 45
    assert limiter.hit("ip:1", limit=2, window_s=60).retry_after_s == 15
    assert limiter.hit("ip:2", limit=2, window_s=60).allowed  # buckets are separate
    clock.now += 16
    assert limiter.hit("ip:1", limit=2, window_s=60).allowed


def test_memory_limiter_evicts_expired_buckets():
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock, max_buckets=10)
    for i in range(10):
        limiter.hit(f"ip:{i}", limit=1, window_s=1)
    clock.now += 2
    limiter.hit("ip:new", limit=1, window_s=1)
    assert len(limiter._windows) == 1


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"event": "handoff.created"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", body, timestamp=1700000000) == "sha256=" + expected
    good = sign("s3cret", body, timestamp=1700000000)
    assert verify("s3cret", body, timestamp="1700000000", signature=good, now=1700000010)
    assert not verify("other", body, timestamp="1700000000", signature=good, now=1700000010)
    assert not verify("s3cret", body + b" ", timestamp="1700000000", signature=good,
                      now=1700000010)
    assert not verify("s3cret", body, timestamp="1700000000", signature=good,
                      now=1700009999)  # a replay, much later


def test_backoff_doubles_and_is_capped():
    assert backoff_delays(WebhookTarget(url="u", secret="s", attempts=4, backoff_s=0.5)) == \
        [0.5, 1.0, 2.0]
    assert backoff_delays(WebhookTarget(url="u", secret="s", attempts=10, backoff_s=30))[-1] \
        == 60.0


def msg(role: str, content: object) -> CompletionMessage:
    return CompletionMessage(role=role, content=content)  # type: ignore[arg-type]


def test_messages_become_history_question_and_cited_titles():
    answer = ("Plus costs $4.99 a month [1].\n\nSources:\n"
              "[1] Subscription plans and prices - https://help.example.test/articles/t-plans")
    history, question, titles = split_messages([
        msg("system", "You are a pirate."),
        msg("user", "How much is Plus?"),
        msg("assistant", answer),
        msg("user", [{"type": "text", "text": "and per year?"}]),
    ])
    assert question == "and per year?"
    assert [t.role for t in history] == ["user", "assistant"]
    assert history[1].text == "Plus costs $4.99 a month."
    assert titles == ["Subscription plans and prices"]
    _, _, from_ticket = split_messages([
        msg("user", "hub offline?"),
        msg("assistant", "Restart it [1].\n\nSources:\n[1] Hub offline - solid amber"),
        msg("user", "and then?")])
    assert from_ticket == ["Hub offline - solid amber"]


@pytest.mark.parametrize("messages", [
    [msg("assistant", "hello")],
    [msg("user", "  ")],
])
def test_the_last_message_must_be_a_user_question(messages):
    with pytest.raises(CompletionInputError):
        split_messages(messages)


def test_footnotes_and_fallback_text():
    cites = [{"n": 1, "title": "Returns", "url": "https://h.test/r"},
             {"n": 3, "title": "Refunds", "url": "https://h.test/f"}]
    assert footnotes(cites) == ("\n\nSources:\n[1] Returns - https://h.test/r\n"
                                "[3] Refunds - https://h.test/f")
    assert footnotes([]) == ""
    assert footnotes([{"n": 2, "title": "Hub offline (ticket)", "url": ""}]) == \
        "\n\nSources:\n[2] Hub offline (ticket)"
    text = fallback_text({"message": "I don't know.", "suggestions": [
        {"title": "Returns", "url": "https://h.test/r"}]})
    assert text == "I don't know.\n\nArticles that may help:\n- Returns - https://h.test/r"
