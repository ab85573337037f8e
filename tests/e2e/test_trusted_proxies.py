"""Failed admin authentication behind a reverse proxy: counted per forwarded client address
only when the connection comes from a trusted proxy, and shared by workers through Redis
(real uvicorn servers, the real Redis on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from app.db import make_engine
from app.rag.index import IndexStore
from app.state import AppState
from tests.public_helpers import app_for, base_settings, make_keys
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = 3


@pytest.fixture()
def redis_prefix() -> Iterator[tuple[object, str]]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"groundline:test:{uuid.uuid4().hex}:"
    yield client, prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def _worker(var: Path, **overrides: object):  # type: ignore[no-untyped-def]
    settings = base_settings(var, admin={"auth_failure_limit": LIMIT}, **overrides)
    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    return app_for(settings, state), state.engine


def _keys(url: str, key: str, forwarded: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    return httpx.get(f"{url}/v1/admin/keys", headers=headers, timeout=30).status_code


def test_behind_a_trusted_proxy_each_client_is_limited_alone_across_workers(
        tmp_path, redis_prefix):
    client, prefix = redis_prefix
    shared = {"trusted_proxies": ["127.0.0.1"], "redis_url": REDIS_URL,
              "public": {"ip_limit": 10_000, "key_limit": 10_000,
                         "rate_limit_prefix": prefix}}
    first, engine = _worker(tmp_path, **shared)
    second, _ = _worker(tmp_path, **shared)
    admin = make_keys(engine).admin
    with ExitStack() as stack:
        a, b = stack.enter_context(serve(first)), stack.enter_context(serve(second))
        # The client forged an address; the proxy appended the real one.
        guesser = "198.51.100.1, 203.0.113.7"
        assert [_keys(a, "gla_wrong", guesser), _keys(b, "gla_wrong", guesser),
                _keys(a, "gla_wrong", guesser)] == [401] * LIMIT
        assert _keys(b, admin, guesser) == 429  # counted in Redis, seen by the other worker
        assert _keys(b, admin, "203.0.113.8") == 200  # another client behind the same proxy
        assert _keys(a, admin, "198.51.100.1") == 200  # the forged address is not the guesser
    assert int(client.get(prefix + "admin-auth:203.0.113.7")) == LIMIT


def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(tmp_path, redis_prefix):
    client, prefix = redis_prefix
    app, engine = _worker(tmp_path, redis_url=REDIS_URL,
                          public={"ip_limit": 10_000, "key_limit": 10_000,
                                  "rate_limit_prefix": prefix})
    admin = make_keys(engine).admin
    with serve(app) as url:
        codes = [_keys(url, "gla_wrong", f"203.0.113.{n}") for n in range(LIMIT)]
        assert codes == [401] * LIMIT
        assert _keys(url, admin, "203.0.113.99") == 429  # a new header is no new client
    assert int(client.get(prefix + "admin-auth:127.0.0.1")) == LIMIT
