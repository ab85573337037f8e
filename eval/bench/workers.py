"""Worker scaling on PostgreSQL: requests/s and latency per number of served processes.

The sample help center is indexed once with the shipped models (``python -m ingest``, the
real embedding model) into a PostgreSQL database of its own, published through the database
version store (``GROUNDLINE_INDEX__STORE=database``, as ``make run-cluster``). For each worker
count N, N single-worker uvicorn processes serve ``app.main:create_app`` with the default
settings (the shipped cross-encoder scoring sentences, the shipped answerability model), each
under ``taskset -c i`` on a core of its own, with a ``var`` folder of its own, one torch
thread and one model slot, sharing the database and Redis; each fetches the published version
when it starts. The processes of a smaller count keep serving in the next one. Concurrent
clients, bound round robin to the processes (as a round-robin proxy would), take the sample
set's questions from one shared queue over HTTP. The database is created with a random name
and dropped after.

``make bench`` runs this as its ``workers`` part; ``python -m eval.bench.workers [--quick]``
runs it alone and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from app.environment import prepare_process
from eval.bench.load import TIMEOUT_S
from eval.bench.server import BenchServer, free_port
from eval.bench.stats import summary

ROOT = Path(__file__).resolve().parents[2]
# The server on which the benchmark creates (and drops) its database; BENCH_DATABASE_URL
# names another.
SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """Worker counts to measure and the load on each.

    Two clients per process keep its one core busy (one request computing, the next one
    arriving) without queueing more than one request behind it.
    """

    workers: tuple[int, ...] = (1, 2)
    clients_per_worker: int = 2
    requests_per_worker: int = 150
    warmup: int = 3  # requests per process before it is measured
    seed: int = 5


QUICK_WORKERS = WorkerPlan(requests_per_worker=30)


@dataclass(frozen=True, slots=True)
class Shot:
    """One request of a load run: the process it went to, its round trip, its outcome."""

    host: int
    ms: float
    ok: bool


def server_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", SERVER_URL)


def unavailable() -> str | None:
    """Why the worker-scaling part cannot run here (no PostgreSQL, no ``taskset``), or None."""
    if shutil.which("taskset") is None:
        return "taskset (util-linux) is not installed"
    try:
        import psycopg

        psycopg.connect(libpq(server_url()), connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "skip"
        return f"no PostgreSQL at the benchmark's server ({type(exc).__name__})"
    return None


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def private_database() -> Iterator[str]:
    """A new database ``groundline_bench_<random>`` on the benchmark's server; dropped after."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = "groundline_bench_" + uuid.uuid4().hex[:10]
    admin = psycopg.connect(libpq(server_url()), autocommit=True)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url()).set(database=name).render_as_string(
                hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def cluster_env(database_url: str, *, prefix: str, api_key: str) -> dict[str, str]:
    """The environment of every process: defaults (no ``GROUNDLINE_`` variable of the caller),
    the database and its version store, Redis under a private key prefix, one torch thread
    and one model slot (the default is one per core of the machine, which a pinned process
    does not have)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDLINE_")}
    return {**inherited, "GROUNDLINE_DATABASE_URL": database_url,
            "GROUNDLINE_INDEX__STORE": "database", "REDIS_URL": os.environ.get(
                "REDIS_URL", REDIS_URL), "GROUNDLINE_PUBLIC__RATE_LIMIT_PREFIX": prefix,
            "GROUNDLINE_TORCH_THREADS": "1", "GROUNDLINE_MODEL_CONCURRENCY": "1",
            "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", "ADMIN_API_KEY": api_key}


def ingest(env: dict[str, str], var: Path) -> dict[str, Any]:
    """Index the sample help center with the real model and publish it to the database."""
    var.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "ingest", "--no-progress", "--json"], cwd=ROOT,
                          env={**env, "GROUNDLINE_VAR_DIR": str(var)}, check=False,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode not in (0, 2):  # 2: some files failed, the rest is indexed
        raise RuntimeError(f"python -m ingest failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class PinnedServer(BenchServer):
    """``uvicorn app.main:create_app --factory`` under ``taskset -c core``, with its own var."""

    def __init__(self, var: Path, *, core: int, env: dict[str, str], api_key: str) -> None:
        var.mkdir(parents=True, exist_ok=True)
        super().__init__(var, timeout_s=300.0, log=var / "server.log")
        self.core = core
        self.env = {**env, "GROUNDLINE_VAR_DIR": str(var)}
        self.api_key = api_key

    def start(self) -> PinnedServer:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "ab") as log:
            started = time.perf_counter()
            self._proc = subprocess.Popen(
                ["taskset", "-c", str(self.core), sys.executable, "-m", "uvicorn",
                 "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
                 "--no-proxy-headers", "--no-access-log", "--log-level", "warning"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        self._wait_ready(started)
        return self


def questions(path: Path, *, seed: int) -> list[str]:
    """The single-turn questions of an evaluation set (JSON lines), shuffled with ``seed``."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    texts = [r["question"] for r in rows if not r.get("history")]
    random.Random(seed).shuffle(texts)
    return texts


def bind_clients(hosts: int, clients: int) -> list[int]:
    """The process each client sends to: round robin, so the counts differ by one at most."""
    if hosts < 1 or clients < 1:
        raise ValueError("hosts and clients must be positive")
    return [i % hosts for i in range(clients)]


async def _load(urls: Sequence[str], texts: Sequence[str], *, api_key: str, clients: int,
                requests: int) -> tuple[list[Shot], float]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(texts[i % len(texts)])
    shots: list[Shot] = []
    headers = {"Authorization": f"Bearer {api_key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    sessions = [httpx.AsyncClient(base_url=u, timeout=TIMEOUT_S, limits=limits, headers=headers)
                for u in urls]

    async def client(host: int) -> None:
        while not queue.empty():
            text = queue.get_nowait()
            started = time.perf_counter()
            try:
                r = await sessions[host].post("/v1/chat", json={"message": text})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            shots.append(Shot(host, (time.perf_counter() - started) * 1000, ok))

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(h) for h in bind_clients(len(urls), clients)))
    finally:
        for s in sessions:
            await s.aclose()
    return shots, time.perf_counter() - started


def scaling_row(workers: int, clients: int, shots: Sequence[Shot], wall_s: float, *,
                cpu_s: float | None = None) -> dict[str, Any]:
    """Throughput, latency of the answered requests and errors of one worker count;
    ``cpu_s``, the CPU time the processes spent meanwhile, gives the CPU time per request."""
    ok = [s for s in shots if s.ok]
    rps = round(len(ok) / wall_s, 2) if wall_s > 0 else 0.0
    return {"workers": workers, "clients": clients, "requests": len(shots),
            "wall_s": round(wall_s, 2), "requests_per_s": rps,
            "requests_per_s_per_worker": round(rps / workers, 2),
            "latency_ms": summary(s.ms for s in ok), "errors": len(shots) - len(ok),
            "cpu_ms_per_request": (round(cpu_s * 1000 / len(ok), 1)
                                   if cpu_s is not None and ok else None),
            "requests_by_worker": [sum(s.host == h for s in shots) for h in range(workers)]}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (all its threads) so far, from ``/proc``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_seconds() -> dict[int, float]:
    """CPU time so far of each PostgreSQL server process on this machine (``postgres``)."""
    out = {}
    for proc in Path("/proc").iterdir():
        with suppress(OSError, ValueError):
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                out[int(proc.name)] = cpu_seconds(int(proc.name))
    return out


def busy_seconds() -> float:
    """CPU time all cores of the machine have spent busy so far (not idle, not waiting)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _start(work: Path, core: int, *, env: dict[str, str], api_key: str, texts: Sequence[str],
           warmup: int) -> PinnedServer:
    """A process on ``core``, ready and asked ``warmup`` questions; stopped if that fails."""
    server = PinnedServer(work / f"worker-{core}" / "var", core=core, env=env, api_key=api_key)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=TIMEOUT_S,
                          headers={"Authorization": f"Bearer {api_key}"}) as client:
            for text in texts[:warmup]:
                client.post("/v1/chat", json={"message": text}).raise_for_status()
    except BaseException:
        server.stop()
        raise
    return server


def _measure(servers: Sequence[PinnedServer], texts: Sequence[str], plan: WorkerPlan
             ) -> dict[str, Any]:
    n = len(servers)
    clients = n * plan.clients_per_worker
    cpu, busy, db = [cpu_seconds(s.pid) for s in servers], busy_seconds(), postgres_seconds()
    client = time.process_time()
    shots, wall = asyncio.run(_load([s.url for s in servers], texts, api_key=servers[0].api_key,
                                    clients=clients, requests=n * plan.requests_per_worker))
    client = time.process_time() - client
    cpu_s = sum(cpu_seconds(s.pid) - before for s, before in zip(servers, cpu, strict=True))
    db_s = sum(t - db.get(pid, 0.0) for pid, t in postgres_seconds().items())
    row = scaling_row(n, clients, shots, wall, cpu_s=cpu_s)
    answered = row["requests"] - row["errors"]
    # What else ran meanwhile (the load generator is this process): other work on the machine.
    others = max(busy_seconds() - busy - cpu_s - db_s - client, 0.0)
    return {**row, "postgres_cpu_ms_per_request": (round(db_s * 1000 / answered, 1)
                                                   if answered else None),
            "client_cores_busy": round(client / wall, 2), "other_cores_busy": round(
                others / wall, 2), "peak_rss_mb": [s.memory()["peak_rss_mb"] for s in servers]}


def measure_workers(work: Path, plan: WorkerPlan, *, say: Any) -> dict[str, Any]:
    """Index the sample help center into a private database and measure each worker count.

    The index under ``work/ingest`` is kept between runs (unchanged articles are not embedded
    again); the processes' folders are made afresh.
    """
    work = work.resolve()  # the processes run in the repository root
    if max(plan.workers) > len(os.sched_getaffinity(0)):
        raise ValueError(f"{max(plan.workers)} workers need as many cores; this process may use "
                         f"{len(os.sched_getaffinity(0))}")
    for old in work.glob("worker-*"):
        shutil.rmtree(old)
    texts = questions(ROOT / "data" / "eval" / "sample.jsonl", seed=plan.seed)
    api_key = "gla_bench_" + uuid.uuid4().hex
    prefix = f"groundline:bench:{uuid.uuid4().hex[:10]}:"
    out: dict[str, Any] = {"plan": asdict(plan), "rows": [], "loadavg_start": os.getloadavg()}
    with private_database() as url, ExitStack() as stack:
        env = cluster_env(url, prefix=prefix, api_key=api_key)
        stack.callback(_forget_redis, prefix)
        out["ingest"] = ingest(env, work / "ingest" / "var")
        say(f"{out['ingest']['chunks']} chunks ({out['ingest']['embedded']} embedded) published "
            f"to PostgreSQL in {out['ingest']['seconds']} s")
        servers: list[PinnedServer] = []
        for n in sorted(plan.workers):
            while len(servers) < n:
                server = _start(work, len(servers), env=env, api_key=api_key, texts=texts,
                                warmup=plan.warmup)
                stack.callback(server.stop)
                servers.append(server)
                out["ready"] = server.ready
                say(f"worker on core {server.core} ready in {server.ready_s:.1f} s "
                    f"({server.ready.get('chunks')} chunks)")
            out["rows"].append(row := _measure(servers[:n], texts, plan))
            say(f"{n} workers, {row['clients']} clients: {row['requests_per_s']} req/s, p95 "
                f"{row['latency_ms'].get('p95')} ms, {row['errors']} errors, "
                f"{row['cpu_ms_per_request']} CPU ms a request")
    out["loadavg_end"] = os.getloadavg()
    return out


def _forget_redis(prefix: str) -> None:
    """Delete the run's Redis keys (rate-limit counters under its private prefix)."""
    with suppress(Exception):
        import redis

        client = redis.Redis.from_url(os.environ.get("REDIS_URL", REDIS_URL),
                                      socket_connect_timeout=1)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.workers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="make bench --quick's load")
    parser.add_argument("--work", type=Path, default=Path("var/bench/workers"))
    parser.add_argument("--out", type=Path, help="write the result here (JSON)")
    args = parser.parse_args(argv)
    prepare_process()
    reason = unavailable()
    if reason:
        print(f"worker scaling not measured: {reason}", file=sys.stderr)
        return 1
    from eval.bench.report import worker_scaling

    plan = QUICK_WORKERS if args.quick else WorkerPlan()
    started = time.perf_counter()
    result = measure_workers(args.work, plan, say=lambda m: print(
        f"[workers +{time.perf_counter() - started:4.0f}s] {m}", flush=True))
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("\n".join(worker_scaling(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
