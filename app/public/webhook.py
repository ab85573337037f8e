"""Signed webhook deliveries with retries and exponential backoff.

Each request carries ``X-Groundline-Timestamp`` (Unix seconds) and
``X-Groundline-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>." + raw body``
under the shared secret. Receivers recompute it over the raw bytes, compare in constant time
and reject timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app import __version__

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Groundline-Signature"
TIMESTAMP_HEADER = "X-Groundline-Timestamp"
DELIVERY_HEADER = "X-Groundline-Delivery"
EVENT_HEADER = "X-Groundline-Event"
MAX_BACKOFF_S = 60.0


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """``sha256=<hex>`` over ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, body: bytes, *, timestamp: str, signature: str,
           tolerance_s: float = 300.0, now: float | None = None) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp=ts), signature)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where and how to deliver.

    Attributes:
        url: The receiver's URL.
        secret: The shared HMAC secret.
        attempts: Tries per delivery (the first included).
        backoff_s: Wait before the second try; doubles for each further one.
        timeout_s: Per-request timeout.
    """

    url: str
    secret: str
    attempts: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of a delivery; ``error`` names a status or an error class, never a body."""

    delivered: bool
    attempts: int
    error: str | None = None


def backoff_delays(target: WebhookTarget) -> list[float]:
    """The waits between tries: backoff, 2 x backoff, 4 x backoff, ... (capped)."""
    return [min(MAX_BACKOFF_S, target.backoff_s * 2**i) for i in range(target.attempts - 1)]


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 409, 425, 429)


def deliver(target: WebhookTarget, body: bytes, *, delivery_id: str, event: str,
            sleep: Callable[[float], None] = time.sleep) -> DeliveryResult:
    """POST ``body`` until it is accepted (2xx), retrying failures with backoff.

    Client errors other than timeouts and rate limits are not retried: the same request
    would fail again. A failed delivery is reported to the caller, who keeps it for
    re-delivery.
    """
    delays = backoff_delays(target)
    error: str | None = None
    with httpx.Client(timeout=target.timeout_s, follow_redirects=False) as client:
        for attempt in range(1, target.attempts + 1):
            error, retry = _attempt(client, target, body, delivery_id=delivery_id, event=event)
            if error is None:
                return DeliveryResult(True, attempt)
            logger.warning("webhook delivery %s attempt %d/%d failed: %s",
                           delivery_id, attempt, target.attempts, error)
            if not retry or attempt == target.attempts:
                return DeliveryResult(False, attempt, error)
            sleep(delays[attempt - 1])
    return DeliveryResult(False, target.attempts, error)


def _attempt(client: httpx.Client, target: WebhookTarget, body: bytes, *,
             delivery_id: str, event: str) -> tuple[str | None, bool]:
    """One POST: (None, _) on success, else (what failed, whether to retry)."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Groundline-Webhook/{__version__}",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(target.secret, body, timestamp=timestamp),
    }
    try:
        response = client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__, True
    if 200 <= response.status_code < 300:
        return None, False
    return f"HTTP {response.status_code}", _retryable(response.status_code)
