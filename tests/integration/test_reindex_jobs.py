"""The re-index job runner (real thread, real SQLite) with a build that waits for the test."""

from __future__ import annotations

import errno
import threading
import time

import pytest
from sqlmodel import Session

from app.admin.jobs import IndexBusyError, JobRunner
from app.admin.reindex import Reporter
from app.db import make_engine
from app.models import ReindexJob
from app.settings import Settings

pytestmark = pytest.mark.integration


class GatedBuild:
    """Blocks in the middle of each build until released; counts overlapping builds."""

    def __init__(self, failures: dict[int, Exception] | None = None) -> None:
        self.release = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.running = 0
        self.most_at_once = 0
        self.calls: list[bool] = []
        self.failures = failures or {}
        self._lock = threading.Lock()

    def run(self, *, rebuild: bool, report: Reporter) -> dict[str, object]:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.calls.append(rebuild)
            n = len(self.calls)
        report.phase("building")
        report.plan(10)
        report.advance(4)
        self.started.release()
        assert self.release.acquire(timeout=20)
        with self._lock:
            self.running -= 1
        if n in self.failures:
            raise self.failures[n]
        report.advance(6)
        return {"build": "built", "version": f"v{n}"}


@pytest.fixture()
def engine(tmp_path):
    return make_engine(Settings(var_dir=tmp_path).resolved_database_url)


@pytest.fixture()
def runner(engine):
    build = GatedBuild(failures={2: OSError(errno.ENOSPC, "No space left on device",
                                            "/srv/index/versions")})
    r = JobRunner(engine=engine, build=build, watch_interval_s=0.05)
    r.start()
    yield r
    for _ in range(5):
        build.release.release()
    r.stop()


def row(engine, job_id: str) -> ReindexJob:
    with Session(engine) as session:
        job = session.get(ReindexJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def test_requests_while_a_job_runs_are_queued_once_and_never_run_in_parallel(runner, engine):
    build = runner.build
    first = runner.submit(requested_by="key_a")
    assert build.started.acquire(timeout=10)  # the first job is now inside its build
    assert row(engine, first.job.id).status == "running"
    assert runner.live_progress(first.job.id) == ("embedding 10 chunks", 4, 10)
    assert row(engine, first.job.id).total == 10  # the plan is written at once
    second = runner.submit(requested_by="key_b")
    third = runner.submit(requested_by="key_c", rebuild=True)
    assert not second.coalesced and third.coalesced and third.job.id == second.job.id
    assert third.job.rebuild is True  # the queued job now does what the later request asked
    with pytest.raises(IndexBusyError), runner.exclusive():
        pass
    build.release.release()
    assert runner.wait(first.job.id).status == "succeeded"
    assert build.started.acquire(timeout=10)
    build.release.release()
    failed = runner.wait(second.job.id)
    assert build.most_at_once == 1 and build.calls == [False, True]
    assert failed.status == "failed"
    assert "could not write the index folder: No space left on device" in failed.error
    assert "/srv/index/versions" in failed.error and "keeps serving" in failed.error
    done = row(engine, first.job.id)
    assert done.result == {"build": "built", "version": "v1"} and done.version == "v1"
    assert (done.done, done.total, done.phase) == (10, 10, "finished")
    with runner.exclusive():  # free again once no job runs
        pass


def test_the_worker_survives_a_failed_job_and_runs_the_next(runner):
    build = runner.build
    jobs = []
    for _ in range(3):
        jobs.append(runner.submit(requested_by="key_a").job.id)
        assert build.started.acquire(timeout=10)
        build.release.release()
        runner.wait(jobs[-1])
    with Session(runner.engine) as session:
        statuses = [runner.get(session, j).status for j in jobs]
        listed = [j.id for j in runner.list(session)]
    assert statuses == ["succeeded", "failed", "succeeded"]
    assert listed == list(reversed(jobs))


def test_jobs_left_by_a_stopped_process_are_failed_at_start(engine):
    with Session(engine) as session:
        session.add(ReindexJob(id="job_old_running", status="running"))
        session.add(ReindexJob(id="job_old_queued", status="queued"))
        session.add(ReindexJob(id="job_old_done", status="succeeded"))
        session.commit()
    runner = JobRunner(engine=engine, build=GatedBuild(), watch_interval_s=0.05)
    runner.start()
    try:
        assert row(engine, "job_old_running").status == "failed"
        assert "interrupted" in row(engine, "job_old_queued").error
        assert row(engine, "job_old_done").status == "succeeded"
    finally:
        runner.stop()


def test_an_idle_worker_follows_the_active_version(engine):
    calls = []
    runner = JobRunner(engine=engine, build=GatedBuild(), watch=lambda: calls.append(1),
                       watch_interval_s=0.01)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) >= 3
    finally:
        runner.stop()
