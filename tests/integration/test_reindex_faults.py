"""Faults during builds: a build killed halfway, an unwritable index folder, a full disk.

In each case the active version keeps serving, nothing half-written is ever listed or
loaded, and a later job completes once the cause is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.admin_server import Server, admin_server, build_index

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_KB = ROOT / "tests" / "fixtures" / "kb"
QUESTION = "How do I pair the Lumora Orbit speaker?"
ARTICLE = """---
id: orbit-001
title: Pair the Lumora Orbit speaker
---
To pair the Lumora Orbit speaker, hold its top button for 7 seconds until the ring pulses.
"""
# Runs the real ingestion CLI, but stops for good after the dense index file of the new
# version is written and before its BM25 files and manifest are: a build caught halfway.
HALFWAY_RUNNER = textwrap.dedent("""
    import sys, time
    from app.rag.dense import DenseIndex
    save = DenseIndex.save
    def save_then_hang(self, folder):
        save(self, folder)
        print("HALFWAY", folder, flush=True)
        time.sleep(600)
    DenseIndex.save = save_then_hang
    from ingest.__main__ import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.fixture(scope="module")
def golden(tmp_path_factory, embedder) -> Path:
    var = tmp_path_factory.mktemp("golden") / "var"
    build_index(var, [FIXTURE_KB], embedder)
    return var


@pytest.fixture()
def server(golden, tmp_path, embedder) -> Iterator[Server]:
    with admin_server(golden, tmp_path / "var", embedder) as s:
        yield s


def add_article_and_reindex(server: Server) -> dict:
    server.call("PUT", "/v1/admin/articles/orbit-001", content=ARTICLE,
                headers={"content-type": "text/markdown"})
    return server.reindex()


def assert_still_serving(server: Server, version: str) -> None:
    ready = httpx.get(f"{server.url}/readyz", timeout=30).json()
    assert ready["status"] == "ready" and ready["index_version"] == version
    body = server.chat("How long do I have to return hardware?")
    assert body["fallback"] is None and body["index_version"] == version
    assert server.state.store.active_name() == version


def test_a_build_killed_halfway_leaves_the_active_version_and_the_next_job_completes(server):
    store = server.state.store
    active, versions = store.active_name(), store.versions()
    env = {**os.environ, "GROUNDLINE_VAR_DIR": str(server.var),
           "GROUNDLINE_INDEX__DIR": str(server.settings.index.dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HALFWAY_RUNNER, str(FIXTURE_KB),
                             "--rebuild", "--no-progress"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("HALFWAY"), "the runner ended before writing a version"
        staging = Path(line.split()[1])
        assert staging.name.startswith(".tmp-") and (staging / "dense.faiss").exists()
        assert not (staging / "manifest.json").exists()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.versions() == versions and staging.exists()  # half-written, never listed
    listed = server.call("GET", "/v1/admin/index/versions").json()
    assert [v["name"] for v in listed] == versions[::-1]
    assert_still_serving(server, active)
    # The killed build held the build lock; the kernel released it with the process.
    job = add_article_and_reindex(server)
    assert job["status"] == "succeeded", job
    assert store.active_name() == job["version"] != active
    assert not staging.exists()  # the next build cleared the dead build's leftovers
    assert "orbit-001" in {c["article_id"] for c in server.chat(QUESTION)["citations"]}


def _make_unwritable(folder: Path) -> tuple[list[str], list[str]] | None:
    """Commands that make ``folder`` unwritable and writable again, even for root."""
    if os.geteuid() != 0:
        return ["chmod", "0555", str(folder)], ["chmod", "0755", str(folder)]
    if shutil.which("chattr") is None:
        return None
    probe = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if probe.returncode != 0:
        return None
    subprocess.run(["chattr", "-i", str(folder)], check=True)
    return ["chattr", "+i", str(folder)], ["chattr", "-i", str(folder)]


def test_an_unwritable_index_folder_fails_the_job_clearly_and_the_service_stays_up(server):
    versions_dir = server.state.store.versions_dir
    commands = _make_unwritable(versions_dir)
    if commands is None:
        pytest.skip("running as root on a file system without chattr: cannot make a folder "
                    "unwritable")
    lock, unlock = commands
    active = server.state.store.active_name()
    subprocess.run(lock, check=True)
    try:
        job = add_article_and_reindex(server)
    finally:
        subprocess.run(unlock, check=True)
    assert job["status"] == "failed"
    assert "could not write index version" in job["error"]
    assert str(versions_dir) in job["error"] and "keeps serving" in job["error"]
    assert_still_serving(server, active)
    job = server.reindex()
    assert job["status"] == "succeeded", job
    assert "orbit-001" in {c["article_id"] for c in server.chat(QUESTION)["citations"]}


@contextmanager
def small_tmpfs(folder: Path, *, spare_kib: int) -> Iterator[None]:
    """Move ``folder`` onto a tmpfs with ``spare_kib`` free: a disk that is nearly full."""
    used = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    size_kib = used // 1024 + 64 + spare_kib  # tmpfs rounds every file up to a page
    backup = folder.with_name(folder.name + ".orig")
    folder.rename(backup)
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                              str(folder)], capture_output=True)
    if mounted.returncode != 0:
        folder.rmdir()
        backup.rename(folder)
        pytest.skip("cannot mount a small tmpfs here (needs root): no full-disk test")
    try:
        shutil.copytree(backup, folder, dirs_exist_ok=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_fails_the_job_clearly_and_the_service_stays_up(golden, tmp_path, embedder):
    target = tmp_path / "var"
    shutil.copytree(golden, target)
    index_dir = target / "index"
    with small_tmpfs(index_dir, spare_kib=8), \
            admin_server(target, tmp_path / "served", embedder,
                         index={"dir": index_dir}) as server:
        active = server.state.store.active_name()
        job = add_article_and_reindex(server)
        assert job["status"] == "failed"
        assert "No space left on device" in job["error"], job["error"]
        assert_still_serving(server, active)
        leftovers = [p.name for p in server.state.store.versions_dir.iterdir()]
        assert leftovers == [active]  # the failed build removed its staging folder
