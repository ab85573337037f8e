"""Logging of the service: plain text or one JSON object per line, each with its request id.

Every record written while a request is handled carries that request's id (from the
``X-Request-ID`` header, or a new one), in both formats. Log calls name ids, routes, counts
and timings, never a customer's words or address, and never a secret.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.settings import LogSettings

REQUEST_ID: ContextVar[str | None] = ContextVar("groundline_request_id", default=None)
HANDLER_NAME = "groundline"
# Attributes that log calls add with ``extra=`` and that the JSON lines carry as fields.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms", "config")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Libraries whose INFO lines name URLs or repeat what the service logs itself.
QUIET = ("httpx", "httpcore", "openai", "urllib3", "filelock", "faiss.loader")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            out["request_id"] = request_id
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "request_id", None):
            record.request_id = "-"
        return super().format(record)


def install_request_ids() -> None:
    """Give every log record the id of the request it is written for (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "groundline", False):
        return

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    make.groundline = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)


def configure_logging(settings: LogSettings) -> None:
    """Send the process's logs to stderr in the configured format (once per process, at
    the entry point; calling again replaces the handler)."""
    install_request_ids()
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if settings.format == "json"
                         else _TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    if settings.format == "json":  # the server's own lines in the same format
        # Model loading draws progress bars on stderr, which would break one object a line.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        for name in ("uvicorn", "uvicorn.error"):
            server = logging.getLogger(name)
            server.handlers.clear()
            server.propagate = True
    # The server's access line names the client's address and the raw path; the service
    # writes its own (app.ops.http), by route template.
    logging.getLogger("uvicorn.access").disabled = settings.access
