"""Start-up as an operator meets it: the real server, ``python -m ingest`` and
``python -m eval`` started as processes. A configuration mistake ends each with one line
naming the variable; a good configuration is logged without secrets, in JSON lines that
carry the request id, and ``/metrics`` counts what the server did."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.public_helpers import index_fixture_kb
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
          "--host", "127.0.0.1"]
COMMANDS = {
    "server": [*SERVER, "--port", "0"],
    "ingest": [sys.executable, "-m", "ingest", "--no-progress"],
    "eval": [sys.executable, "-m", "eval", "run", "--sample", "1", "--no-progress"],
    "check": [sys.executable, "-m", "app.ops.config"],
}


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("program", sorted(COMMANDS))
def test_a_misspelt_variable_stops_start_up_with_did_you_mean(program):
    done = run(COMMANDS[program], GROUNDLINE_LLM_BASE_URL="http://127.0.0.1:8001/v1")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "configuration error: unknown variable GROUNDLINE_LLM_BASE_URL: did you mean "
        "GROUNDLINE_LLM__BASE_URL? (fields of a section are GROUNDLINE_<SECTION>__<FIELD>, "
        "two underscores)"]


@pytest.mark.parametrize("program", sorted(COMMANDS))
def test_an_invalid_value_stops_start_up_with_one_line(program):
    done = run(COMMANDS[program], GROUNDLINE_RETRIEVAL__RERANK_DEPTH="abc")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "configuration error: GROUNDLINE_RETRIEVAL__RERANK_DEPTH='abc' is not valid: "
        "expected an integer >= 0"]


SECRETS = {"GROUNDLINE_LLM__API_KEY": "sk-llm-secret-value",
           "ADMIN_API_KEY": "admin-secret-0123456789",
           "GROUNDLINE_HANDOFF__WEBHOOK_SECRET": "hmac-secret-value"}


@pytest.mark.slow  # about 40 s: a server process loads its models
def test_a_server_logs_its_configuration_and_requests_as_json_lines(tmp_path, embedder):
    settings, _ = index_fixture_kb(tmp_path / "var", embedder)
    port, dead_llm = free_port(), free_port()
    env = {**os.environ, **SECRETS, "GROUNDLINE_VAR_DIR": str(settings.var_dir),
           "GROUNDLINE_LOG__FORMAT": "json", "GROUNDLINE_ADMIN__WATCH_INTERVAL_S": "0",
           "GROUNDLINE_LLM__BASE_URL": f"http://127.0.0.1:{dead_llm}/v1",
           "GROUNDLINE_LLM__TIMEOUT_S": "2"}
    process = subprocess.Popen([*SERVER, "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(url, process)
        admin = {"Authorization": f"Bearer {SECRETS['ADMIN_API_KEY']}"}
        r = httpx.post(f"{url}/v1/chat", timeout=60, json={
            "message": "How many days do I have to return hardware?"},
            headers={**admin, "X-Request-ID": "req-e2e-1"})
        metrics = httpx.get(f"{url}/metrics", headers=admin, timeout=30).text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert ready["llm"]["configured"] is True and ready["llm"]["reachable"] is False
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-e2e-1"
    assert r.json()["llm_failed"] is True and r.json()["generator"] == "extractive"
    assert "groundline_llm_fallbacks_total 1.0" in metrics
    assert f'groundline_index_version_info{{version="{r.json()["index_version"]}"}} 1.0' \
        in metrics
    slot_waits = [line for line in metrics.splitlines()
                  if line.startswith("groundline_model_slot_wait_seconds_count")]
    assert slot_waits and float(slot_waits[0].split()[-1]) >= 1
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    config = next(x for x in lines if x["message"].startswith("effective configuration"))
    assert config["config"]["keys"]["llm_api_key"] is True
    assert config["config"]["generator"].endswith(f"127.0.0.1:{dead_llm}/v1")
    access = [x for x in lines if x["logger"] == "app.access" and x["route"] == "/v1/chat"]
    assert [x["request_id"] for x in access] == ["req-e2e-1"]
    assert any(x["message"].startswith("LLM endpoint not reachable") for x in lines)
    for secret in SECRETS.values():
        assert secret not in stderr
    assert "return hardware" not in stderr  # the customer's words are not logged


def wait_ready(url: str, process: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
            if r.status_code == 200:
                return r.json()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")
