"""The effective configuration in a few lines, without secrets, logged at start-up.

An operator should see at a glance what the process will do: which generator answers (and at
which endpoint), whether it reranks, what decides whether to answer, which database and Redis
it uses, where traces go, and which keys are configured. Secrets never appear: keys are
reported as configured or not, and URLs lose their user, password and query.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from app.ops.tracing import export_endpoint
from app.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_LLM_KEY = "not-needed"  # LLMSettings.api_key's default: no key configured


def safe_url(url: str) -> str:
    """``url`` without user, password, query or fragment (e.g. ``http://host:8001/v1``)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable URL)"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def site(url: str) -> str:
    """Only the scheme and host of ``url``: a webhook's path often carries its token."""
    parts = urlsplit(safe_url(url))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def database_url(settings: Settings) -> str:
    """The database URL with the password hidden and without query options."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(settings.resolved_database_url).set(query={})
    except Exception:  # an URL SQLAlchemy cannot parse fails at connect, with its own error
        return "(unparsable URL)"
    return url.render_as_string(hide_password=True)


def effective_configuration(settings: Settings) -> dict[str, object]:
    """What this process will run with, as plain values safe to log and show."""
    r, llm, a = settings.retrieval, settings.llm, settings.answer
    generator = (f"openai-compatible model {llm.model} at {safe_url(llm.base_url)}"
                 if llm.base_url else "extractive (no LLM configured)")
    if r.rerank_depth == 0:
        reranker = "off (retrieval.rerank_depth 0)"
    else:
        reranker = (f"{r.reranker or 'the shipped model'} at depth {r.rerank_depth} "
                    f"({r.reranker_backend})")
    if a.gate_score == "model":
        source = a.decision_file if a.decision_file.exists() else settings.shipped_decision
        decision = (f"answerability model {source} at a false-answer rate of "
                    f"{a.max_false_answer_rate}")
    else:
        decision = f"{a.gate_score} score bars"
    return {
        "generator": generator,
        "reranker": reranker,
        "decision": decision,
        "embedder": settings.embedder.model,
        "index_dir": str(settings.index.dir),
        "index_store": settings.index.store if settings.index.store == "folder" else
        "database (versions fetched from it; re-index jobs under a lease)",
        "database": database_url(settings),
        "redis": safe_url(settings.redis_url) or "none (rate limits in memory, per process)",
        "keys": {
            "admin_api_key": settings.admin_api_key is not None,
            "llm_api_key": llm.api_key.get_secret_value() != DEFAULT_LLM_KEY,
            "judge_api_key": settings.judge.api_key.get_secret_value() != DEFAULT_LLM_KEY,
            "handoff_webhook_secret": bool(settings.handoff.webhook_secret.get_secret_value()),
        },
        "handoff_webhook": site(settings.handoff.webhook_url) or "none",
        "logs": settings.log.format,
        "metrics": ("off" if not settings.metrics.enabled else
                    "/metrics, admin key" if settings.metrics.require_admin else "/metrics, open"),
        "tracing": tracing(settings),
    }


def tracing(settings: Settings) -> str:
    """Whether spans are sent, and where (the URL without credentials or query)."""
    t = settings.tracing
    if not t.enabled:
        return "off"
    return (f"OTLP/HTTP to {safe_url(export_endpoint(t))} as {t.service_name}, "
            f"sampling {t.sample_ratio:g}")


def log_configuration(settings: Settings) -> dict[str, object]:
    """Log the effective configuration (one line; JSON logs also carry it as ``config``)."""
    config = effective_configuration(settings)
    keys = config["keys"]
    assert isinstance(keys, dict)
    configured = ", ".join(k for k, v in keys.items() if v) or "none"
    text = "; ".join(f"{k} {v}" for k, v in config.items() if k != "keys")
    logger.info("effective configuration: %s; keys configured: %s", text, configured,
                extra={"config": config})
    return config
