"""Fixed-window rate limits, in memory or shared through Redis.

A bucket (``key:<id>`` or ``ip:<address>``) may be hit ``limit`` times per window of
``window_s`` seconds. In Redis one Lua script increments the counter and sets its expiry
atomically, so several workers (or hosts) share the same counts; in memory each process
counts on its own.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# INCR and PEXPIRE in one step: the first hit of a window starts its clock, and a key can
# never be left without an expiry (which would block a client for ever).
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

# The hits so far, without counting one.
_PEEK_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit.

    Attributes:
        allowed: False when the bucket is over its limit for this window.
        count: Hits in the current window, this one included.
        limit: The limit that applied.
        retry_after_s: Whole seconds until the window resets (at least 1).
    """

    allowed: bool
    count: int
    limit: int
    retry_after_s: int


class RateLimiter(Protocol):
    """Counts hits per bucket and says whether one more is allowed."""

    def hit(self, bucket: str, *, limit: int, window_s: float) -> Decision: ...

    def peek(self, bucket: str, *, limit: int, window_s: float) -> Decision:
        """The bucket's hits so far, not counting one; ``allowed``: one more would be."""
        ...


def _decision(count: int, limit: int, remaining_s: float, *, peek: bool = False) -> Decision:
    return Decision(allowed=count < limit if peek else count <= limit, count=count, limit=limit,
                    retry_after_s=max(1, math.ceil(remaining_s)))


class MemoryRateLimiter:
    """Per-process fixed windows; fine for one worker, not shared between processes."""

    def __init__(self, *, clock: Any = time.monotonic, max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._max_buckets = max_buckets
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, *, limit: int, window_s: float) -> Decision:
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(bucket, (now, 0))
            if now - start >= window_s:
                start, count = now, 0
            count += 1
            self._windows[bucket] = (start, count)
            if len(self._windows) > self._max_buckets:
                self._evict(now, window_s)
        return _decision(count, limit, start + window_s - now)

    def peek(self, bucket: str, *, limit: int, window_s: float) -> Decision:
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(bucket, (now, 0))
        if now - start >= window_s:
            start, count = now, 0
        return _decision(count, limit, start + window_s - now, peek=True)

    def _evict(self, now: float, window_s: float) -> None:
        """Drop expired windows so that a flood of addresses cannot grow memory for ever."""
        expired = [b for b, (start, _) in self._windows.items() if now - start >= window_s]
        for bucket in expired:
            del self._windows[bucket]


class RedisRateLimiter:
    """Fixed windows in Redis, shared by every worker that uses the same prefix.

    If Redis cannot be reached, hits are counted in memory (per process) until it is back,
    so an outage degrades the limits instead of failing every request.
    """

    def __init__(self, client: Any, *, prefix: str = "groundline:rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_HIT_SCRIPT)
        self._peek = client.register_script(_PEEK_SCRIPT)
        self._fallback = MemoryRateLimiter()
        self._warned_at = -math.inf

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "groundline:rl:") -> RedisRateLimiter:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, prefix=prefix)

    def hit(self, bucket: str, *, limit: int, window_s: float) -> Decision:
        window_ms = max(1, int(window_s * 1000))
        try:
            count, ttl_ms = self._script(keys=[self._prefix + bucket], args=[window_ms])
        except Exception as exc:  # any client or connection error: degrade, don't fail
            self._warn(exc)
            return self._fallback.hit(bucket, limit=limit, window_s=window_s)
        return _decision(int(count), limit, int(ttl_ms) / 1000)

    def peek(self, bucket: str, *, limit: int, window_s: float) -> Decision:
        try:
            count, ttl_ms = self._peek(keys=[self._prefix + bucket])
        except Exception as exc:  # as in hit: degrade to the in-memory counts
            self._warn(exc)
            return self._fallback.peek(bucket, limit=limit, window_s=window_s)
        remaining_s = int(ttl_ms) / 1000 if int(ttl_ms) > 0 else window_s
        return _decision(int(count), limit, remaining_s, peek=True)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            logger.warning("rate limits counted in memory: Redis unavailable (%s)",
                           type(exc).__name__)


def make_rate_limiter(redis_url: str, *, prefix: str) -> RateLimiter:
    """Redis-backed when a URL is configured, in memory otherwise."""
    if redis_url:
        return RedisRateLimiter.from_url(redis_url, prefix=prefix)
    return MemoryRateLimiter()
