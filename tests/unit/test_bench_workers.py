"""The worker-scaling benchmark: client binding, the row of one worker count, its table, and
(slow, on the local PostgreSQL) one measured worker count. Timings are never asserted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eval.bench.report import worker_scaling
from eval.bench.workers import (
    Shot,
    WorkerPlan,
    bind_clients,
    busy_seconds,
    cluster_env,
    cpu_seconds,
    libpq,
    measure_workers,
    postgres_seconds,
    private_database,
    questions,
    scaling_row,
    server_url,
    unavailable,
)


def test_clients_are_bound_round_robin_so_no_process_gets_two_more_than_another() -> None:
    assert bind_clients(1, 2) == [0, 0]
    assert bind_clients(2, 4) == [0, 1, 0, 1]
    assert bind_clients(2, 3) == [0, 1, 0]
    with pytest.raises(ValueError):
        bind_clients(0, 2)


def test_a_row_counts_throughput_and_latency_over_answered_requests_only() -> None:
    shots = [Shot(0, 100.0, True), Shot(1, 300.0, True), Shot(1, 5.0, False),
             Shot(0, 200.0, True)]
    row = scaling_row(2, 4, shots, 2.0, cpu_s=0.6)
    assert row["requests"] == 4 and row["errors"] == 1
    assert row["requests_per_s"] == 1.5 and row["requests_per_s_per_worker"] == 0.75
    assert row["latency_ms"]["p50"] == 200.0 and row["latency_ms"]["n"] == 3
    assert row["cpu_ms_per_request"] == 200.0
    assert row["requests_by_worker"] == [2, 2]
    assert scaling_row(1, 2, [Shot(0, 1.0, False)], 1.0)["cpu_ms_per_request"] is None


def test_questions_are_the_single_turn_ones_in_a_seeded_order(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [{"question": f"q{i}", "history": []} for i in range(20)]
    rows.append({"question": "follow-up", "history": [{"role": "user", "content": "q0"}]})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    asked = questions(path, seed=1)
    assert sorted(asked) == sorted(f"q{i}" for i in range(20))
    assert asked == questions(path, seed=1) != questions(path, seed=2)


def test_processes_get_the_defaults_not_the_callers_settings(monkeypatch) -> None:
    monkeypatch.setenv("GROUNDLINE_RETRIEVAL__RERANK_DEPTH", "20")
    env = cluster_env("postgresql+psycopg://db/x", prefix="p:", api_key="k")
    assert "GROUNDLINE_RETRIEVAL__RERANK_DEPTH" not in env
    assert env["GROUNDLINE_INDEX__STORE"] == "database"
    assert env["GROUNDLINE_TORCH_THREADS"] == env["GROUNDLINE_MODEL_CONCURRENCY"] == "1"


def test_cpu_time_of_a_process_and_of_the_machine_grow_with_its_work() -> None:
    before, busy = cpu_seconds(os.getpid()), busy_seconds()
    sum(i * i for i in range(2_000_000))
    assert cpu_seconds(os.getpid()) > before
    assert busy_seconds() - busy >= cpu_seconds(os.getpid()) - before - 0.05
    assert os.getpid() not in postgres_seconds()


def test_the_table_has_one_row_per_worker_count_or_says_why_it_is_missing() -> None:
    assert worker_scaling(None) == []
    assert "not measured (no PostgreSQL" in worker_scaling({"skipped": "no PostgreSQL"})[1]
    rows = [scaling_row(n, 2 * n, [Shot(0, 120.0, True), Shot(0, 140.0, True)], 1.0, cpu_s=0.2)
            for n in (1, 2)]
    lines = worker_scaling({"ingest": {"chunks": 1082}, "rows": rows})
    assert "Worker scaling (PostgreSQL)" in lines[1] and "1082 chunks" in lines[1]
    assert lines[3].startswith("| workers | clients | requests | req/s | req/s per worker | p50")
    assert lines[5] == "| 1 | 2 | 2 | 2 | 2 | 130.0 | 139.0 | 0 | 100.0 | - | - | - |"
    assert lines[6].startswith("| 2 | 4 | 2 | 2 | 1 |")


@pytest.mark.slow
@pytest.mark.integration
def test_one_pinned_worker_on_postgresql_answers_every_request(tmp_path: Path) -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    import psycopg

    def databases() -> set[str]:
        with psycopg.connect(libpq(server_url())) as conn:
            return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}

    with private_database() as url:
        name = url.rsplit("/", 1)[1]
        assert name.startswith("groundline_bench_") and name in databases()
    assert name not in databases()
    plan = WorkerPlan(workers=(1,), requests_per_worker=6, warmup=1)
    result = measure_workers(tmp_path, plan, say=lambda message: None)
    (row,) = result["rows"]
    assert row["workers"] == 1 and row["requests"] == 6 and row["errors"] == 0
    assert row["cpu_ms_per_request"] > 0
    assert result["ready"]["chunks"] == result["ingest"]["chunks"] > 0
