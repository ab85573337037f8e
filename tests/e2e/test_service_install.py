"""The service installed alone: no extras, a fresh virtual environment, the shipped defaults.

The package is built and installed (not linked) with its base dependencies only, so a module
of the service that imports an undeclared library, or a file the wheel leaves out, fails here.
In that environment the HTTP chat tests pass, and a real server started from it indexes the
sample help center and answers with the shipped defaults (the answer decision, no reranker).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
LAB = ("ragas", "matplotlib", "rank_bm25", "onnxruntime", "pytest_timeout", "accelerate")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def service_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with torch (CPU, pinned) and the package without extras."""
    venv = tmp_path_factory.mktemp("service") / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=ROOT)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run(*pip, "torch==2.13.0", cwd=ROOT)  # first and pinned: its CPU build
    # A copy without build leftovers, so the wheel is built from tracked sources only.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "app", "ingest", "eval"):
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, src / name)
    _run(*pip, src, cwd=ROOT)
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GROUNDLINE_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


def test_no_library_of_the_lab_is_installed(service_env: Path) -> None:
    probe = ("import importlib.util, json; "
             f"print(json.dumps([m for m in {LAB!r} if importlib.util.find_spec(m)]))")
    out = _run(service_env / "bin" / "python", "-c", probe, cwd=service_env.parent)
    assert json.loads(out.stdout) == []


def test_the_http_chat_tests_pass_in_the_service_environment(service_env: Path,
                                                            tmp_path: Path) -> None:
    # The tests run against the installed package: the work folder holds no app/ to import.
    work = tmp_path / "work"
    shutil.copytree(ROOT / "tests", work / "tests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (work / "data").symlink_to(ROOT / "data")
    (work / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    slow: s\n    integration: i\n    e2e: e\n", encoding="utf-8")
    _run(service_env / "bin" / "python", "-m", "pip", "install", "-q",
         "--disable-pip-version-check", "pytest", cwd=work)  # the runner, not a dependency
    proc = _run(service_env / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "tests/e2e/test_chat_http.py", cwd=work, env=_clean_env())
    assert " passed" in proc.stdout and " failed" not in proc.stdout


def test_a_server_from_the_service_environment_answers_with_the_shipped_defaults(
        service_env: Path, tmp_path: Path) -> None:
    """Ingest and serve as `make run` does: no reranker loaded, the shipped answer decision."""
    python = service_env / "bin" / "python"
    env = _clean_env(GROUNDLINE_VAR_DIR=str(tmp_path / "var"),
                     GROUNDLINE_DATA_DIR=str(ROOT / "data"),
                     ADMIN_API_KEY="install-test-admin-key-0123456789")
    _run(python, "-m", "ingest", "--no-progress", cwd=tmp_path, env=env)  # as make run does
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(python), "-m", "uvicorn", "app.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(base, server)
        assert ready["reranker"] is False  # reranking is off by default
        answer = httpx.post(f"{base}/v1/chat", timeout=60,
                            headers={"Authorization": f"Bearer {env['ADMIN_API_KEY']}"},
                            json={"message": "does the hub have a battery for when the power "
                                             "goes out"}).json()
        assert answer["fallback"] is None, answer
        assert answer["answer"].startswith("The Lumora Hub (2nd gen) has no built-in battery")
        assert answer["citations"], answer
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited; see server.log"
        try:
            r = httpx.get(f"{base}/readyz", timeout=5)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the server did not become ready")
