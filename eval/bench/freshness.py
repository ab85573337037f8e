"""Freshness: how soon a changed article is searchable after ``PUT`` and its re-index job.

``python -m eval.bench.freshness [--runs 5] [--out var/freshness.json]`` indexes the sample help
center into a private folder (or reuses ``--var``), serves it with the real app over HTTP,
then, for each run, changes one sentence of one article with ``PUT ...?reindex=true`` and
asks a question about that sentence every 20 ms until the answer quotes the new text. It
reports, per run and as medians: ``visible_s`` (from sending the PUT to the first answer
with the change), the job's own timings (``job_s`` from start to finish, ``served_after_s``
from start to the swap, ``embed_s``) and how many chunks were re-embedded.

``--url URL --key KEY`` measures a running service instead (it must hold ``--article``).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.environment import prepare_process

logger = logging.getLogger(__name__)

SENTENCE = "Refurbished Lumora Hubs from the Zeta outlet can be returned within {days} days."
QUESTION = "Within how many days can I return a refurbished Lumora Hub from the Zeta outlet?"


def one_run(client: httpx.Client, *, article_id: str, days: int,
            timeout_s: float = 60.0) -> dict[str, Any]:
    """Change ``article_id`` so it states ``days``; time until chat answers with it."""
    article = client.get(f"/v1/admin/articles/{article_id}").raise_for_status().json()
    body = article["body"].split("\n\nRefurbished Lumora Hubs from the Zeta")[0]
    fields = {k: article[k] for k in ("title", "url", "product", "locale", "status",
                                      "updated_at", "tags")}
    change = {**fields, "body": f"{body}\n\n{SENTENCE.format(days=days)}"}
    started = time.perf_counter()
    r = client.put(f"/v1/admin/articles/{article_id}", params={"reindex": "true"}, json=change)
    job_id = r.raise_for_status().json()["job"]["id"]
    polls = 0
    while time.perf_counter() - started < timeout_s:
        polls += 1
        answer = client.post("/v1/chat", json={"message": QUESTION}).raise_for_status().json()
        if f"{days} days" in answer["answer"]:
            visible = time.perf_counter() - started
            break
        time.sleep(0.02)
    else:
        raise RuntimeError(f"the change was not searchable after {timeout_s} s")
    job = _finished(client, job_id)
    result = job["result"]
    return {"visible_s": round(visible, 3), "job_s": result["total_seconds"],
            "served_after_s": result["served_after_seconds"],
            "embed_s": result["embed_seconds"], "embedded": result["embedded"],
            "chunks": result["chunks"], "polls": polls, "version": job["version"]}


def _finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job = client.get(f"/v1/admin/jobs/{job_id}").raise_for_status().json()
        if job["status"] not in ("queued", "running"):
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} {job['status']}: {job['error']}")
            return job  # type: ignore[no-any-return]
        time.sleep(0.02)


def measure(url: str, key: str, *, runs: int, article_id: str) -> dict[str, Any]:
    """Run the measurement against a service; returns every run and the medians."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        client.post("/v1/chat", json={"message": QUESTION}).raise_for_status()  # warm up
        stamp = int(time.time()) % 50
        results = [one_run(client, article_id=article_id, days=100 + stamp * 10 + n)
                   for n in range(runs)]
    medians = {k: round(statistics.median(r[k] for r in results), 3)
               for k in ("visible_s", "job_s", "served_after_s", "embed_s", "embedded")}
    return {"article": article_id, "runs": results, "median": medians,
            "chunks": results[-1]["chunks"]}


@contextmanager
def sample_service(var: Path, kb: Path) -> Iterator[tuple[str, str]]:
    """Index ``kb`` into ``var`` if needed, then serve it (real app, real models)."""
    import uvicorn

    from app.auth import create_key
    from app.db import make_engine, session_scope
    from app.main import create_app
    from app.settings import Settings
    from ingest.pipeline import ingest_paths, make_builder

    env = Settings()  # the environment's settings, with a private index and database
    settings = env.model_copy(update={
        "var_dir": var, "database_url": "",
        "index": env.index.model_copy(update={"dir": var / "index"}),
        "admin": env.admin.model_copy(update={"watch_interval_s": 0})})
    engine = make_engine(settings.resolved_database_url)
    if not (var / "index" / "ACTIVE").exists():
        logger.info("indexing %s into %s (once)", kb, var)
        ingest_paths([kb], settings=settings, engine=engine, builder=make_builder(settings))
    with session_scope(engine) as session:
        _, key = create_key(session, name="freshness measurement", scope="admin")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(30)


def table(report: dict[str, Any]) -> str:
    lines = ["run  visible_s  job_s  served_after_s  embed_s  embedded"]
    for n, r in enumerate(report["runs"], start=1):
        lines.append(f"{n:>3}  {r['visible_s']:>9}  {r['job_s']:>5}  {r['served_after_s']:>14}"
                     f"  {r['embed_s']:>7}  {r['embedded']:>8}")
    m = report["median"]
    lines.append(f"med  {m['visible_s']:>9}  {m['job_s']:>5}  {m['served_after_s']:>14}"
                 f"  {m['embed_s']:>7}  {m['embedded']:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    prepare_process()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m eval.bench.freshness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--article", default="ret-001", help="the article to change")
    parser.add_argument("--kb", type=Path, default=Path("data/kb"))
    parser.add_argument("--var", type=Path, help="index and database folder (kept)")
    parser.add_argument("--url", help="measure this running service instead")
    parser.add_argument("--key", help="its admin key (with --url)")
    parser.add_argument("--out", type=Path, default=Path("var/freshness.json"))
    args = parser.parse_args(argv)
    if args.url:
        report = measure(args.url, args.key or "", runs=args.runs, article_id=args.article)
    else:
        var = args.var or Path(tempfile.mkdtemp(prefix="groundline-freshness-"))
        with sample_service(var, args.kb) as (url, key):
            report = measure(url, key, runs=args.runs, article_id=args.article)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(table(report))
    print(f"median: searchable {report['median']['visible_s']} s after PUT; one-article "
          f"re-index job {report['median']['job_s']} s ({report['chunks']} chunks in the "
          f"index); written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
