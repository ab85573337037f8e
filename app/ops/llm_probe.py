"""Whether the configured LLM endpoint answers, checked at most once per interval.

``/readyz`` reports it and start-up logs it. The check asks the endpoint for its models
(``GET base_url/models``, which OpenAI, vLLM, Ollama and the llama.cpp server all serve),
with a short timeout; the result is reused for ``llm.health_ttl_s`` seconds, and while one
check runs, other callers get the previous result instead of starting another. The service
stays ready when the endpoint fails: answers fall back to extractive and say so.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from app.settings import LLMSettings

logger = logging.getLogger(__name__)

MAX_TIMEOUT_S = 3.0  # a readiness probe must not hang on a slow endpoint


@dataclass(frozen=True, slots=True)
class LLMStatus:
    """The outcome of one check; ``detail`` never names the endpoint or the key."""

    configured: bool
    reachable: bool | None  # None: not configured, or no check has finished yet
    detail: str
    checked_at: float = 0.0  # time.monotonic() of the check

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"configured": self.configured, "reachable": self.reachable,
                                  "detail": self.detail}
        if self.checked_at:
            out["checked_s_ago"] = round(time.monotonic() - self.checked_at, 1)
        return out


class LLMProbe:
    """Checks an OpenAI-compatible endpoint, cached for ``ttl_s`` and one check at a time."""

    def __init__(self, *, base_url: str, api_key: str, ttl_s: float,
                 timeout_s: float = MAX_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.ttl_s = ttl_s
        self.timeout_s = min(timeout_s, MAX_TIMEOUT_S)
        self._last: LLMStatus | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> LLMProbe:
        """The probe of the configured endpoint (none when ``llm.base_url`` is empty)."""
        return cls(base_url=llm.base_url, api_key=llm.api_key.get_secret_value(),
                   ttl_s=llm.health_ttl_s, timeout_s=llm.timeout_s)

    def status(self) -> LLMStatus:
        """The latest result, checking again when it is older than ``ttl_s``."""
        if not self.base_url:
            return LLMStatus(False, None, "no LLM configured: answers are extractive")
        last = self._last
        if last is not None and time.monotonic() - last.checked_at < self.ttl_s:
            return last
        if not self._lock.acquire(blocking=False):  # another caller is checking
            return last or LLMStatus(True, None, "being checked")
        try:
            self._last = self._check()
            return self._last
        finally:
            self._lock.release()

    def _check(self) -> LLMStatus:
        import httpx

        try:
            response = httpx.get(f"{self.base_url}/models", timeout=self.timeout_s,
                                 headers={"Authorization": f"Bearer {self._api_key}"})
        except httpx.TimeoutException:
            return self._result(False, f"no answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return self._result(False, f"unreachable ({type(exc).__name__})")
        if response.is_success:
            return self._result(True, f"HTTP {response.status_code}")
        hints = {401: ": the endpoint refused the API key (GROUNDLINE_LLM__API_KEY)",
                 403: ": the endpoint refused the API key (GROUNDLINE_LLM__API_KEY)",
                 404: ": check GROUNDLINE_LLM__BASE_URL, which usually ends in /v1"}
        return self._result(False, f"HTTP {response.status_code}"
                                   f"{hints.get(response.status_code, '')}")

    def _result(self, reachable: bool, detail: str) -> LLMStatus:
        previous = self._last
        if previous is None or previous.reachable != reachable:
            log = logger.info if reachable else logger.warning
            log("LLM endpoint %s: %s", "reachable" if reachable else "not reachable", detail)
        return LLMStatus(True, reachable, detail, time.monotonic())
