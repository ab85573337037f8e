"""The service under benchmark: a real uvicorn process, started and measured from outside.

``python -m eval.bench.server --root var/bench/10000 --port 8123`` serves the benchmark
index of one size with the real application (``create_app``), loading models and the index
the way the service's lifespan does, except that queries are embedded with
:class:`PacedEmbedder` (the real model runs, its cost counts, the stand-in vector searches
the stand-in index). :class:`BenchServer` starts that process, times it from ``Popen`` to
the first ``/readyz`` 200, and reads its memory from ``/proc``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from app.environment import prepare_process
from eval.bench.scale import bench_settings, peak_rss_mb

logger = logging.getLogger(__name__)


def load_state(settings: Any, *, standin_queries: bool = False,
               phases: dict[str, float] | None = None) -> Any:
    """Models and the active index, loaded by ``app.main.load_models`` with the stand-in.

    ``phases`` receives the seconds spent loading the models and the index.
    """
    started = time.perf_counter()
    from app.db import make_engine
    from app.main import load_models
    from app.rag.embed import SentenceTransformerEmbedder
    from app.rag.index import IndexStore
    from app.state import AppState
    from eval.bench.standin import HashingEmbedder, PacedEmbedder

    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    vectors = HashingEmbedder()
    e = settings.embedder
    embedder: Any = vectors if standin_queries else PacedEmbedder(
        vectors, pace=SentenceTransformerEmbedder(batch_size=e.batch_size,
                                                  max_seq_length=e.max_seq_length))
    load_models(state, settings, embedder=embedder, load_index=False)
    loaded = time.perf_counter()
    state.reload_active()
    if phases is not None:
        phases["models_s"] = round(loaded - started, 3)
        phases["index_s"] = round(time.perf_counter() - loaded, 3)
    return state


def main(argv: list[str] | None = None) -> int:
    prepare_process()
    parser = argparse.ArgumentParser(prog="python -m eval.bench.server", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="benchmark size folder")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reranker", default=None, help="CrossEncoder folder, or 'none'")
    parser.add_argument("--rerank-depth", type=int, default=None)
    parser.add_argument("--standin-queries", action="store_true",
                        help="embed queries with the stand-in only (skips the real model)")
    parser.add_argument("--phases", type=Path, help="write start-up phase times here (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    import uvicorn

    from app.main import create_app
    from app.rag.rerank import MODEL_DEPTH

    retrieval: dict[str, Any] = {}
    if args.reranker is not None:
        retrieval["reranker"] = args.reranker
        if args.reranker != "none" and args.rerank_depth is None:
            retrieval["rerank_depth"] = MODEL_DEPTH  # a named reranker is measured reranking
    if args.rerank_depth is not None:
        retrieval["rerank_depth"] = args.rerank_depth
    settings = bench_settings(args.root, **({"retrieval": retrieval} if retrieval else {}))
    phases = {"imports_s": round(time.perf_counter() - started, 3)}
    state = load_state(settings, standin_queries=args.standin_queries, phases=phases)
    if args.phases:
        args.phases.write_text(json.dumps(phases), encoding="utf-8")
    uvicorn.run(create_app(settings, state=state), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchServer:
    """Start ``python -m eval.bench.server`` and wait until it is ready.

    Attributes:
        url: Base URL once started.
        ready_s: Seconds from starting the process to the first ``/readyz`` 200.
        api_key: The admin key the process accepts (``Authorization: Bearer``).
    """

    def __init__(self, root: Path, *, reranker: str | None = None,
                 rerank_depth: int | None = None, standin_queries: bool = False,
                 timeout_s: float = 600.0, log: Path | None = None) -> None:
        self.root = root
        self.args = ["--root", str(root)]
        if reranker is not None:
            self.args += ["--reranker", reranker]
        if rerank_depth is not None:
            self.args += ["--rerank-depth", str(rerank_depth)]
        if standin_queries:
            self.args.append("--standin-queries")
        self.timeout_s = timeout_s
        self.log = log or root / "server.log"
        self.api_key = "gla_bench_" + secrets.token_urlsafe(24)
        self.url = ""
        self.ready_s = 0.0
        self.ready: dict[str, Any] = {}
        self.phases: dict[str, float] = {}
        self._phases_file = root / f".phases-{secrets.token_hex(4)}.json"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BenchServer:
        port = free_port()
        env = {**os.environ, "ADMIN_API_KEY": self.api_key,
               "MALLOC_ARENA_MAX": "2"}  # as `make run` serves
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "ab") as log:
            started = time.perf_counter()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "eval.bench.server", *self.args, "--port", str(port),
                 "--phases", str(self._phases_file)],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready(started)
        return self

    def _wait_ready(self, started: float) -> None:
        assert self._proc is not None
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"the benchmark server exited with {self._proc.returncode}"
                                       f"; see {self.log}")
                if time.perf_counter() - started > self.timeout_s:
                    self.stop()
                    raise RuntimeError(f"the benchmark server was not ready in {self.timeout_s} s")
                try:
                    response = client.get(self.url + "/readyz")
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    self.ready_s = time.perf_counter() - started
                    self.ready = response.json()
                    self._read_phases()
                    return
                if response is not None and response.status_code == 503:
                    # Models and index load before the server listens: 503 means it failed.
                    self.stop()
                    raise RuntimeError(f"the benchmark server is not ready: {response.text}")
                time.sleep(0.05)

    def _read_phases(self) -> None:
        if self._phases_file.exists():
            self.phases = json.loads(self._phases_file.read_text(encoding="utf-8"))
            self._phases_file.unlink()
        # What is left is the interpreter's start and uvicorn's: process start to serving.
        self.phases["other_s"] = round(self.ready_s - sum(self.phases.values()), 3)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def memory(self) -> dict[str, float]:
        """Resident and peak resident memory of the server process, in MB."""
        return peak_rss_mb(self.pid)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
