"""Evaluation run folders in the database version store.

A finished run (``python -m eval run``) is published like an index version: a tar of its folder
under ``eval/<run folder name>``, checked against its SHA-256 when read. A host asked to show a
run whose folder it lacks (the console's report of a run recorded on another host) fetches it
into its own runs folder (``<var>/eval/runs``) the first time, and reads it from there after.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
from pathlib import Path

from app.cluster.store import DatabaseStore, tar_folder

logger = logging.getLogger(__name__)

RUN_PREFIX = "eval/"


def run_key(name: str) -> str:
    return f"{RUN_PREFIX}{name}"


def publish_run(db: DatabaseStore, folder: Path) -> None:
    """Store a finished run folder for every host (published again, it is replaced)."""
    with tar_folder(folder) as data:
        db.put(run_key(folder.name), data, kind="eval_run")


def local_run(db: DatabaseStore, run_dir: str, *, runs_dir: Path) -> Path | None:
    """A run's folder on this host, fetched from the store if only another host wrote it.

    Args:
        db: The version store.
        run_dir: The folder the run was written to, as its ``eval_run`` row records it.
        runs_dir: This host's runs folder, where fetched runs are kept.

    Returns:
        ``run_dir`` if this host has it, else this host's copy; None if the store lacks it.

    Raises:
        StoreError: If the stored run does not match its hash.
    """
    written = Path(run_dir)
    if written.is_dir():
        return written
    name = written.name
    if name in ("", ".", ".."):
        return None
    copy = runs_dir / name
    if copy.is_dir():
        return copy
    if db.get(run_key(name)) is None:
        return None
    runs_dir.mkdir(parents=True, exist_ok=True)
    # Unpacked beside the runs folder, not in it, so that a half-written copy is never a run.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=runs_dir.parent))
    try:
        with db.read(run_key(name)) as data, tarfile.open(fileobj=data, mode="r:") as tar:
            tar.extractall(staging, filter="data")
        staging.rename(copy)
    except OSError:
        if not copy.is_dir():  # otherwise a concurrent request of this host fetched it
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("fetched evaluation run %s from the version store", name)
    return copy
