"""Chat keeps answering, consistently, while re-index jobs build and swap versions."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.admin_server import AUTH, admin_server, build_index

pytestmark = pytest.mark.integration

FIXTURE_KB = Path(__file__).resolve().parents[1] / "fixtures" / "kb"
QUESTION = "How do I pair the Lumora Orbit speaker?"
ARTICLE = """---
id: orbit-001
title: Pair the Lumora Orbit speaker
---
To pair the Lumora Orbit speaker, hold its top button for {n} seconds until the ring pulses.
"""


@pytest.fixture(scope="module")
def golden(tmp_path_factory, embedder) -> Path:
    var = tmp_path_factory.mktemp("golden") / "var"
    build_index(var, [FIXTURE_KB], embedder)
    return var


def test_chat_answers_every_request_during_reindex_jobs_each_from_one_version(
        golden, tmp_path, embedder):
    with admin_server(golden, tmp_path / "var", embedder) as server:
        server.call("PUT", "/v1/admin/articles/orbit-001", content=ARTICLE.format(n=7),
                    headers={"content-type": "text/markdown"})
        seconds_in = {server.reindex()["version"]: 7}
        stop = threading.Event()
        answers: list[tuple[int, dict]] = []
        errors: list[BaseException] = []

        def ask() -> None:
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
                while not stop.is_set():
                    try:
                        r = client.post("/v1/chat", json={"message": QUESTION})
                        answers.append((r.status_code, r.json()))
                    except BaseException as exc:  # noqa: BLE001 - reported by the test
                        errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for n in (12, 20, 30):
                server.call("PUT", "/v1/admin/articles/orbit-001",
                            content=ARTICLE.format(n=n), headers={"content-type": "text/markdown"})
                job = server.reindex(rebuild=n == 20)  # one full rebuild among them
                assert job["status"] == "succeeded", job
                seconds_in[job["version"]] = n
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not errors
        assert len(answers) >= 20 and all(status == 200 for status, _ in answers)
        for _, body in answers:
            assert body["fallback"] is None
            # The answer matches the version that served it: no request saw half a swap.
            assert f"{seconds_in[body['index_version']]} seconds" in body["answer"]
        assert len({body["index_version"] for _, body in answers}) >= 3
