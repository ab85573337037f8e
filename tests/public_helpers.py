"""Helpers for the public-edge tests: the fixture help center indexed, keys, served apps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy.engine import Engine

from app.auth import create_key
from app.db import make_engine, session_scope
from app.main import create_app
from app.rag.factory import expected_manifest, make_answer_service
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"
SITE = "http://shop.example.test"
OTHER_SITE = "http://evil.example.test"


@dataclass(frozen=True)
class Keys:
    admin: str
    widget: str
    widget_id: str
    other_widget: str  # a second site's key, for ownership checks


def base_settings(var: Path, **overrides: object) -> Settings:
    """Settings for a test app over ``var``: no reranker (fast), generous limits."""
    values: dict[str, object] = {
        "var_dir": var, "index": {"dir": var / "index"},
        "answer": {"threshold_file": var / "threshold.json"},
        "retrieval": {"reranker": "none"},
        "public": {"ip_limit": 10_000, "key_limit": 10_000},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def index_fixture_kb(var: Path, embedder) -> tuple[Settings, Engine]:  # type: ignore[no-untyped-def]
    """Index the small fixture help center into ``var`` with the session's embedder."""
    from ingest.pipeline import ingest_paths, make_builder

    settings = base_settings(var)
    engine = make_engine(settings.resolved_database_url)
    builder = make_builder(settings)
    builder._embedder = embedder
    ingest_paths([FIXTURE_KB], settings=settings, engine=engine, builder=builder)
    return settings, engine


def make_state(settings: Settings, engine: Engine, embedder) -> AppState:  # type: ignore[no-untyped-def]
    state = AppState(engine=engine, store=IndexStore(settings.index.dir), embedder=embedder,
                     expected=expected_manifest(settings, dimension=embedder.dimension))
    state.service = make_answer_service(settings, embedder=embedder)
    state.reload_active()
    return state


def make_keys(engine: Engine, *, origins: tuple[str, ...] = (SITE,)) -> Keys:
    with session_scope(engine) as session:
        _, admin = create_key(session, name="tests admin", scope="admin")
        row, widget = create_key(session, name="tests site", scope="widget",
                                 allowed_origins=origins)
        _, other = create_key(session, name="other site", scope="widget",
                              allowed_origins=(OTHER_SITE,))
        widget_id = row.id
    return Keys(admin=admin, widget=widget, widget_id=widget_id, other_widget=other)


def admin_headers(keys: Keys) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.admin}"}


def widget_headers(keys: Keys, origin: str = SITE) -> dict[str, str]:
    return {"X-Widget-Key": keys.widget, "Origin": origin}


def app_for(settings: Settings, state: AppState):  # type: ignore[no-untyped-def]
    return create_app(settings, state=state)


@dataclass
class Receiver:
    """A local webhook receiver's record: it answers with the scripted statuses in turn (the
    last one repeats) and keeps every delivery's headers and body."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"only {len(self.received)} deliveries"
            time.sleep(0.02)


@contextmanager
def receiver(*statuses: int) -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 taking webhook deliveries (200 unless scripted)."""
    rec = Receiver(list(statuses) or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = rec.statuses[min(len(rec.received), len(rec.statuses)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/handoff"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
