"""Personal-data redaction; the implementation lives in :mod:`app.content.redact` (the admin
API redacts uploaded tickets too) and is re-exported here for ingestion code."""

from __future__ import annotations

from app.content.redact import find_personal_data, redact

__all__ = ["find_personal_data", "redact"]
