"""Request bodies over the limit over real HTTP: a declared Content-Length and a chunked
upload without one both get 413 with the API's error shape (uvicorn, SQLite, no models)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.db import make_engine
from app.main import create_app
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ADMIN_KEY = "gla_test-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
LIMIT = 64_000
TOO_LARGE = {"detail": "request body too large: the limit is 64,000 bytes "
                       "(GROUNDLINE_MAX_REQUEST_BYTES)"}


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> Iterator[str]:
    var: Path = tmp_path_factory.mktemp("var")
    settings = Settings(var_dir=var, index={"dir": var / "index"},  # type: ignore[arg-type]
                        admin_api_key=ADMIN_KEY, max_request_bytes=LIMIT)
    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    with serve(create_app(settings, state=state)) as base:
        yield base
    state.engine.dispose()


def chunks(total: int, size: int = 8_000) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


@pytest.mark.parametrize("kind", ["text/markdown", "application/xml"])
def test_a_chunked_body_over_the_limit_gets_413(url, kind):
    r = httpx.put(f"{url}/v1/admin/articles/big", content=chunks(4 * LIMIT),
                  headers={**AUTH, "content-type": kind}, timeout=30)
    assert r.status_code == (413 if kind == "text/markdown" else 415), r.text
    if kind == "text/markdown":
        assert r.json() == TOO_LARGE


def test_a_chunked_json_batch_over_the_limit_gets_413(url):
    r = httpx.post(f"{url}/v1/admin/articles", content=chunks(4 * LIMIT),
                   headers={**AUTH, "content-type": "application/json"}, timeout=30)
    assert r.status_code == 413, r.text
    assert r.json() == TOO_LARGE


def test_a_declared_length_over_the_limit_gets_413_on_any_route(url):
    for path in ("/v1/admin/articles", "/v1/admin/tickets", "/healthz"):
        r = httpx.post(url + path, content=b"{" + b" " * LIMIT + b"}",
                       headers={**AUTH, "content-type": "application/json"}, timeout=30)
        assert r.status_code == 413, (path, r.text)
        assert r.json() == TOO_LARGE


def test_a_chunked_body_under_the_limit_is_read(url):
    text = "---\nid: chunked-001\ntitle: Chunked\n---\nSent in pieces.\n"
    pieces = iter([text[:20].encode(), text[20:].encode()])
    r = httpx.put(f"{url}/v1/admin/articles/chunked-001", content=pieces,
                  headers={**AUTH, "content-type": "text/markdown"}, timeout=30)
    assert r.status_code == 201, r.text
