"""``python -m tests.fuzz``: schema fuzzing of the HTTP API (``make fuzz``, run by CI).

Starts the real service (uvicorn, a child process) on a throwaway SQLite database and index of
the fixture help center, then runs schemathesis from the published OpenAPI schema twice: as a
widget (a widget key from its allowed origin) and as an admin (an admin bearer key). Each run
is bounded by ``--max-examples`` per operation. It passes when no response is a 5xx and every
response matches the schema (status code documented, content type, body).

    python -m tests.fuzz                    # both runs, 50 examples per operation
    python -m tests.fuzz --max-examples 5 --as admin
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "tests" / "fixtures" / "kb"
ORIGIN = "http://fuzz.example"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=50,
                        help="test cases per operation, per run (default 50)")
    parser.add_argument("--as", dest="roles", action="append", choices=("widget", "admin"),
                        help="which runs (default: both)")
    parser.add_argument("--seed", type=int, default=1, help="schemathesis' random seed")
    parser.add_argument("--report", type=Path, default=None,
                        help="folder for the runs' JSON reports (default: a temporary one)")
    return parser.parse_args(argv)


def _env(var_dir: Path, admin_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GROUNDLINE_") and k not in ("REDIS_URL", "ADMIN_API_KEY")}
    return env | {
        "GROUNDLINE_VAR_DIR": str(var_dir), "ADMIN_API_KEY": admin_key,
        # The fuzzer sends thousands of requests from one address: limits off, not under test.
        "GROUNDLINE_PUBLIC__IP_LIMIT": "100000000", "GROUNDLINE_PUBLIC__KEY_LIMIT": "100000000",
        "GROUNDLINE_ADMIN__AUTH_FAILURE_LIMIT": "100000000",
        "GROUNDLINE_ADMIN__WATCH_INTERVAL_S": "0", "GROUNDLINE_MODEL_CONCURRENCY": "2",
    }


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def service(env: dict[str, str]) -> Iterator[str]:
    """The service on a free port until the block ends."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(Path(env["GROUNDLINE_VAR_DIR"]) / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers",
                             "--log-level", "warning"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the service did not become ready; see its log:\n"
                                 + Path(log.name).read_text())
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def fuzz(url: str, *, headers: list[str], max_examples: int, seed: int,
         report: Path) -> dict[str, int]:
    """One schemathesis run; counts of test cases, 5xx responses and schema violations."""
    # One worker: schemathesis' generator parses lambdas' source with ast.parse, which is not
    # thread-safe on CPython 3.11 ("AST constructor recursion depth mismatch" with two).
    command = [str(Path(sys.executable).parent / "schemathesis"), "run",
               f"{url}/openapi.json", "--url", url, "--checks", CHECKS,
               "--max-examples", str(max_examples), "--seed", str(seed),
               "--phases", "examples,coverage,fuzzing", "--workers", "1",
               "--generation-database", "none", "--no-color", "--request-timeout", "60",
               "--report", "json", "--report-json-path", str(report),
               "--warnings", "off", "--output-truncate", "true"]
    for header in headers:
        command += ["-H", header]
    # In the scratch folder: schemathesis keeps a state folder in its working directory.
    done = subprocess.run(command, cwd=report.parent, text=True, capture_output=True,
                          timeout=1800)
    print(done.stdout[-6000:])
    if done.returncode not in (0, 1):
        print(done.stderr[-3000:], file=sys.stderr)
    counts = count_events(report)
    counts["exit"] = done.returncode
    return counts


def count_events(path: Path) -> dict[str, int]:
    """Cases, 5xx responses and schema violations from schemathesis' JSON run report (unique
    failures: one bug found by many cases counts once)."""
    report = json.loads(path.read_text(encoding="utf-8"))
    failures = report.get("failures", [])
    server = sum(f["count"] for f in failures if f["type"] == "ServerError")
    return {"cases": int(report["test_cases"]["generated"]), "5xx": server,
            "violations": sum(f["count"] for f in failures) - server,
            "errored": len(report.get("errors", []))}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    roles = args.roles or ["widget", "admin"]
    admin_key = "gla_" + secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="groundline-fuzz-") as scratch:
        var_dir, reports = Path(scratch), args.report or Path(scratch) / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        env = _env(var_dir, admin_key)
        _run(["-m", "ingest", str(KB), "--no-progress"], env)
        created = json.loads(_run(["-m", "app.keys", "create", "--scope", "widget", "--name",
                                   "fuzz", "--origin", ORIGIN, "--json"], env))
        widget = [f"X-Widget-Key: {created['key']}", f"Origin: {ORIGIN}"]
        started, totals = time.monotonic(), {}
        with service(env) as url:
            for role in roles:
                headers = widget if role == "widget" else [f"Authorization: Bearer {admin_key}"]
                totals[role] = fuzz(url, headers=headers, max_examples=args.max_examples,
                                    seed=args.seed, report=reports / f"{role}.json")
        for role, counts in totals.items():
            print(f"fuzz as {role}: {counts['cases']} cases, {counts['5xx']} responses 5xx, "
                  f"{counts['violations']} schema violations")
        print(f"{time.monotonic() - started:.0f} s")
        failed = any(c["5xx"] or c["violations"] or c["errored"] or c["exit"]
                     for c in totals.values())
        log = (var_dir / "server.log").read_text(encoding="utf-8", errors="replace")
        (reports / "server.log").write_text(log, encoding="utf-8")
        if failed and "Traceback" in log:
            print("the server's last error:\n" + log[log.rindex("Traceback") - 200:][:4000])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
