"""Run folders and the ``eval_run`` table.

A run lives in ``<var>/eval/runs/<UTC timestamp>-<name>/``: ``run.jsonl`` (one record per
question), ``metrics.json``, ``config.json`` (settings without secrets, index version,
dataset), ``report.md``, ``report.html`` and the plots. Its summary is also stored in the
database so that runs can be listed and charted over time. With the database version store
(``index.store`` database) the folder travels through the store too, so every host's console
shows the run's report.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.models import EvalRun, utcnow
from app.settings import Settings

logger = logging.getLogger(__name__)

SECRET_KEYS = ("api_key", "admin_api_key", "password", "secret", "token")


def runs_dir(settings: Settings) -> Path:
    return settings.eval_runs_dir


def new_run_dir(settings: Settings, name: str) -> Path:
    """A fresh folder named ``<UTC timestamp>-<name>`` (sortable by time)."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    folder = runs_dir(settings) / f"{stamp}-{safe}"
    folder.mkdir(parents=True)
    return folder


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: ("<redacted>" if any(s in k.lower() for s in SECRET_KEYS) else _scrub(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def settings_dump(settings: Settings) -> dict[str, Any]:
    """The settings as JSON, with keys, passwords and database credentials removed."""
    from sqlalchemy.engine import make_url

    data = _scrub(settings.model_dump(mode="json"))
    if settings.database_url:
        try:
            data["database_url"] = make_url(settings.database_url).render_as_string(
                hide_password=True)
        except Exception:  # an unparsable URL is shown as nothing rather than leaked
            data["database_url"] = "<redacted>"
    return data


def git_commit(root: Path) -> str | None:
    """The checked-out commit, when the code runs from a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                             capture_output=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_records(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def store_run(engine: Engine, *, name: str, run_dir: Path, metrics: Mapping[str, Any],
              config: Mapping[str, Any], gates_passed: bool | None,
              version_store: str = "folder") -> int | None:
    """Insert the run's summary into ``eval_run``; returns its id.

    With the database version store (``version_store``, the run's ``index.store`` setting),
    the finished folder is published first, so a host that lists the run can also fetch it.
    """
    from app.db import session_scope

    if version_store == "database":
        from app.cluster.runs import publish_run
        from app.cluster.store import DatabaseStore

        publish_run(DatabaseStore(engine), run_dir)
    dataset = config.get("dataset", {})
    row = EvalRun(name=name, dataset=str(dataset.get("name", "")),
                  index_version=str(config.get("index", {}).get("version", "")),
                  run_dir=str(run_dir), questions=int(metrics.get("questions", 0)),
                  gates_passed=gates_passed,
                  metrics={k: v for k, v in metrics.items() if k != "by_tag"},
                  config=dict(config))
    with session_scope(engine) as session:
        session.add(row)
        session.flush()
        run_id = row.id
    logger.info("stored evaluation run %s as eval_run %s", run_dir.name, run_id)
    return run_id
