"""The demo page's widget key: created once for the demo origins and reused across restarts.

Widget keys are publishable, so keeping the demo key's raw value in a file under the
runtime folder is no secret leak; it lets every restart (and every worker) serve the same key.
A key for other origins (``make run`` on another port) is revoked and replaced.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.admin import audit
from app.auth import create_key, find_key, revoke_key
from app.db import session_scope
from app.public.origins import try_origin

logger = logging.getLogger(__name__)

DEMO_KEY_NAME = "demo page"
DEMO_ACTOR = "demo"
_lock = threading.Lock()


def _wanted(origins: list[str]) -> list[str]:
    return sorted({o for o in (try_origin(v) for v in origins) if o})


def _reusable(engine: Engine, raw: str, wanted: list[str]) -> tuple[bool, str | None]:
    """Whether the stored key is live with exactly these origins, and its id if live."""
    with Session(engine) as session:
        key = find_key(session, raw)
        if key is None or key.scope != "widget":
            return False, None
        return _wanted(list(key.allowed_origins)) == wanted, key.id


def ensure_demo_key(engine: Engine, *, path: Path, origins: list[str]) -> str:
    """The raw demo widget key for ``origins``, creating (and storing) it when needed."""
    wanted = _wanted(origins)
    with _lock:
        stale_id = None
        if path.is_file():
            raw = json.loads(path.read_text(encoding="utf-8")).get("key", "")
            ok, stale_id = _reusable(engine, raw, wanted)
            if ok:
                return str(raw)
        with session_scope(engine) as session:
            if stale_id:
                revoke_key(session, stale_id)
                audit.record(session, actor=DEMO_ACTOR, action="key.revoke",
                             target_type="key", target_id=stale_id)
            row, raw = create_key(session, name=DEMO_KEY_NAME, scope="widget",
                                  allowed_origins=wanted)
            audit.record(session, actor=DEMO_ACTOR, action="key.create", target_type="key",
                         target_id=row.id, detail={"scope": "widget", "origins": wanted})
            key_id = row.id
        _write(path, {"id": key_id, "key": raw, "origins": wanted})
        logger.info("demo widget key %s for %s", key_id, ", ".join(wanted))
        return raw


def _write(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
