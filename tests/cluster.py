"""Two Groundline hosts as separate server processes on one PostgreSQL and one Redis.

Each host has a ``var`` folder of its own (database-backed version store, so nothing is shared
on disk); the PostgreSQL schema and the Redis key prefix are private to the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("GROUNDLINE_TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_KEY = "gla_cluster-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def private_schema() -> Iterator[str]:
    """A database URL whose search path is a schema of its own; skips without PostgreSQL."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(libpq(PG_URL), autocommit=True, connect_timeout=2)
    except psycopg.Error as exc:
        pytest.skip(f"this test needs PostgreSQL: {exc}")
    # Not conftest's gl_test_ prefix: a PostgreSQL test session elsewhere on the machine drops
    # every schema of that prefix when it starts and ends, servers still running or not.
    schema = "glcluster_" + uuid.uuid4().hex[:8]
    conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with suppress(psycopg.Error):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


@contextmanager
def private_services() -> Iterator[tuple[str, str]]:
    """(database URL with a schema of its own, Redis key prefix); skips without the services."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"the cluster test needs Redis: {exc}")
    prefix = f"gl:cluster:{uuid.uuid4().hex}:"
    try:
        with private_schema() as url:
            yield url, prefix
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


@dataclass
class Host:
    """One server process and its own ``var`` folder."""

    name: str
    var: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    worker: bool = False  # ``python -m app.worker``: jobs only, no HTTP

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.var.parent / f"{self.name}.log", "ab")  # noqa: SIM115 - the child's
        server = ["-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
                  "--port", str(self.port)]
        self.process = subprocess.Popen(
            [sys.executable, *(["-m", "app.worker"] if self.worker else server)],
            cwd=ROOT, env={**self.env, "GROUNDLINE_VAR_DIR": str(self.var)},
            stdout=log, stderr=log)
        log.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            with suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"host {self.name} did not become ready: {self.log()}")

    def serving(self) -> str | None:
        versions = self.call("GET", "/v1/admin/index/versions").json()
        return next((v["name"] for v in versions if v["serving"]), None)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.var.parent / f"{self.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def host_env(database_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """The environment both hosts share: database, Redis, the database version store."""
    return {**{k: v for k, v in os.environ.items()
               if not k.startswith("GROUNDLINE_") or k == "GROUNDLINE_CONTENT__ALLOWED_DOMAINS"},
            "GROUNDLINE_DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
            "GROUNDLINE_PUBLIC__RATE_LIMIT_PREFIX": prefix,
            "GROUNDLINE_INDEX__STORE": "database", "GROUNDLINE_ADMIN__WATCH_INTERVAL_S": "0.5",
            "GROUNDLINE_ADMIN__JOB_LEASE_S": "3", "GROUNDLINE_RETRIEVAL__RERANKER": "none",
            "GROUNDLINE_TORCH_THREADS": "1", "ADMIN_API_KEY": ADMIN_KEY, **extra}


def job_claim(database_url: str, job_id: str) -> tuple[str, str | None, int]:
    """(status, claimed_by, attempts) of a job, read from the database."""
    import psycopg

    schema = database_url.split("search_path%3D", 1)[1]
    with psycopg.connect(libpq(PG_URL), autocommit=True) as conn:
        row = conn.execute(f'SELECT status, claimed_by, attempts FROM "{schema}".reindex_job '
                           "WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def wait_job(host: Host, job_id: str, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = host.call("GET", f"/v1/admin/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {timeout_s} s")
