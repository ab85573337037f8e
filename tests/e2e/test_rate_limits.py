"""Rate limits over real HTTP: per client IP, per key, and shared by two workers via Redis."""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack

import httpx
import pytest

from app.db import make_engine
from app.rag.index import IndexStore
from app.state import AppState
from tests.public_helpers import SITE, app_for, base_settings, make_keys, widget_headers
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REDIS_URL = "redis://127.0.0.1:6379/0"


def worker(var, **public):  # type: ignore[no-untyped-def]
    """One app instance ("worker") with its own engine and limiter over a shared database."""
    redis_url = public.pop("redis_url", "")
    settings = base_settings(var, public={"ip_limit": 10_000, "key_limit": 10_000, **public},
                             redis_url=redis_url)
    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    return app_for(settings, state), state.engine


def models(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{url}/v1/models", headers=headers)


def test_per_ip_limit_with_retry_after(tmp_path):
    app, engine = worker(tmp_path, ip_limit=3)
    keys, more = make_keys(engine), make_keys(engine)
    with serve(app) as url:
        assert [models(url, widget_headers(keys)).status_code for _ in range(3)] == [200] * 3
        limited = models(url, widget_headers(keys))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "address" in limited.json()["detail"]
        assert limited.headers["access-control-allow-origin"] == SITE  # the widget can read it
        assert models(url, widget_headers(more)).status_code == 429  # same address
        admin = {"Authorization": f"Bearer {keys.admin}"}
        assert models(url, admin).status_code == 200  # admin keys are not limited


def test_per_key_limit(tmp_path):
    app, engine = worker(tmp_path, key_limit=2)
    keys, more = make_keys(engine), make_keys(engine)
    with serve(app) as url:
        assert [models(url, widget_headers(keys)).status_code for _ in range(3)] == [200, 200,
                                                                                    429]
        assert "key" in models(url, widget_headers(keys)).json()["detail"]
        assert models(url, widget_headers(more)).status_code == 200


def test_guessing_keys_counts_against_the_address(tmp_path):
    app, engine = worker(tmp_path, ip_limit=2)
    with serve(app) as url:
        codes = [models(url, {"X-Widget-Key": f"glw_guess{i}", "Origin": SITE}).status_code
                 for i in range(3)]
    assert codes == [401, 401, 429]


def test_the_window_resets(tmp_path):
    app, engine = worker(tmp_path, key_limit=1, rate_window_s=1.0)
    keys = make_keys(engine)
    with serve(app) as url:
        assert models(url, widget_headers(keys)).status_code == 200
        assert models(url, widget_headers(keys)).status_code == 429
        time.sleep(1.2)
        assert models(url, widget_headers(keys)).status_code == 200


@pytest.fixture()
def redis_prefix():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"groundline:test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def two_workers(tmp_path, **public):  # type: ignore[no-untyped-def]
    first, engine = worker(tmp_path, **public)
    second, _ = worker(tmp_path, **public)
    return first, second, make_keys(engine)


def test_two_workers_share_limits_through_redis(tmp_path, redis_prefix):
    a, b, keys = two_workers(tmp_path, key_limit=4, redis_url=REDIS_URL,
                             rate_limit_prefix=redis_prefix)
    with ExitStack() as stack:
        url_a, url_b = stack.enter_context(serve(a)), stack.enter_context(serve(b))
        codes = [models(u, widget_headers(keys)).status_code
                 for u in (url_a, url_b, url_a, url_b)]
        assert codes == [200] * 4
        over = models(url_b, widget_headers(keys))
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
        assert models(url_a, widget_headers(keys)).status_code == 429


def test_without_redis_each_worker_counts_alone(tmp_path):
    a, b, keys = two_workers(tmp_path, key_limit=4)
    with ExitStack() as stack:
        url_a, url_b = stack.enter_context(serve(a)), stack.enter_context(serve(b))
        codes = [models(u, widget_headers(keys)).status_code
                 for u in (url_a, url_b) * 4]
    assert codes == [200] * 8


def test_an_unreachable_redis_degrades_to_memory_limits(tmp_path):
    app, engine = worker(tmp_path, key_limit=2, redis_url="redis://127.0.0.1:9/0")
    keys = make_keys(engine)
    with serve(app) as url:
        codes = [models(url, widget_headers(keys)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
