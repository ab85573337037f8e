"""Keep this host's index folder and decision calibration in step with the database store.

Every host keeps its own index root (``index.dir``) as a cache: a version is built or fetched
there, and served from there. With ``index.store`` set to ``database``:

- a build publishes its new version into the database and points the cluster's active pointer
  at it (:meth:`VersionSync.push`); an activation or rollback moves the pointer;
- every host's watcher (``admin.watch_interval_s``) compares the pointer with its own ``ACTIVE``
  and, when they differ, fetches the version, checks its hash and manifest, and only then
  activates it locally (:meth:`VersionSync.pull`), so the service swaps it in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from app.cluster.store import ACTIVE_INDEX, DatabaseStore, StoreError, index_key, tar_folder
from app.rag.index import IndexStore, check_manifest

if TYPE_CHECKING:
    from app.settings import Settings
    from app.state import AppState

logger = logging.getLogger(__name__)

DECISION_KEY = "file/decision.json"


class VersionSync:
    """Publishes this host's versions to the database store and fetches the active one."""

    def __init__(self, *, engine: Engine, store: IndexStore, decision_file: Path | None = None,
                 keep_versions: int = 5) -> None:
        self.db = DatabaseStore(engine)
        self.store = store
        self.decision_file = decision_file
        self.keep_versions = keep_versions

    def active(self) -> str | None:
        """The version the cluster serves (the database's pointer)."""
        return self.db.pointer(ACTIVE_INDEX)

    def push(self, name: str, *, activate: bool = True) -> None:
        """Publish a local version (if the store lacks it) and, by default, activate it."""
        if self.db.get(index_key(name)) is None:
            folder = self.store.versions_dir / name
            manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
            with tar_folder(folder) as data:
                self.db.put(index_key(name), data, kind="index", manifest=manifest)
        if activate:
            self.db.set_pointer(ACTIVE_INDEX, name)
            logger.info("index version %s is active on every host", name)
            self._prune(keep=name)

    def pull(self, *, expected: dict[str, Any] | None = None) -> str | None:
        """Make the local ``ACTIVE`` the cluster's version, fetching it if needed.

        Returns:
            The version now active here, or None if the cluster has none yet.

        Raises:
            StoreError: If the version is incomplete or does not match its hash.
            IndexMismatchError: If it was built with other settings than this host's.
        """
        name = self.active()
        if name is None or self.store.active_name() == name:
            return name
        if name not in self.store.versions():
            self._fetch(name, expected=expected)
        self.store.activate(name)
        return name

    def _fetch(self, name: str, *, expected: dict[str, Any] | None) -> None:
        row = self.db.get(index_key(name))
        if row is None:
            raise StoreError(f"index version {name} is active but not in the version store")
        if expected is not None:
            check_manifest(row.manifest, expected)
        staging = self.store.staging_folder(name)
        try:
            with self.db.read(index_key(name)) as data, \
                    tarfile.open(fileobj=data, mode="r:") as tar:
                tar.extractall(staging, filter="data")
            manifest = json.loads((staging / "manifest.json").read_text("utf-8"))
            if manifest.get("content_hash") != row.manifest.get("content_hash"):
                raise StoreError(f"index version {name}: its manifest differs from the store's")
            self.store.publish(staging, name, activate=False)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if name in self.store.versions():  # another process of this host fetched it
                return
            raise
        logger.info("fetched index version %s (%d bytes)", name, row.size)

    def bootstrap(self, *, expected: dict[str, Any] | None = None) -> None:
        """At start-up: serve the cluster's version, or seed the store with this host's."""
        local = self.store.active_name()
        if self.active() is None and local is not None:
            logger.info("the version store is empty: publishing this host's version %s", local)
            self.push(local)
        self.pull(expected=expected)
        self.sync_decision()

    def sync_decision(self) -> None:
        """Fetch the cluster's decision calibration, or publish this host's if it has none."""
        path = self.decision_file
        if path is None:
            return
        row = self.db.get(DECISION_KEY)
        if row is None:
            if path.exists():
                self.push_decision()
            return
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256:
            return
        with self.db.read(DECISION_KEY) as data:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_bytes(data.read())
            os.replace(tmp, path)
        logger.info("fetched the decision calibration from the version store")

    def push_decision(self) -> None:
        """Publish this host's decision calibration for every host (read at their start)."""
        if self.decision_file is None or not self.decision_file.exists():
            raise StoreError("no decision calibration to publish: run `make calibrate` first")
        with open(self.decision_file, "rb") as data:
            self.db.put(DECISION_KEY, data, kind="file")

    def _prune(self, *, keep: str) -> None:
        names = [k.removeprefix("index/") for k in self.db.keys("index/")]
        for name in names[:-self.keep_versions]:
            if name != keep:
                self.db.remove(index_key(name))


def attach_version_store(state: AppState, settings: Settings) -> None:
    """With ``index.store`` database: before the models load, fetch the cluster's decision
    calibration and active version into this host's folders (or seed an empty store with
    this host's), and keep them in step from then on.

    Raises:
        LeaseError: If the database is not PostgreSQL.
    """
    state.sync = version_sync(settings, state.engine, store=state.store)
    if state.sync is not None:
        state.sync.bootstrap()


def version_sync(settings: Settings, engine: Engine, *,
                 store: IndexStore | None = None) -> VersionSync | None:
    """The version store's link for this host, or None with the default folder store.

    Raises:
        LeaseError: If ``index.store`` is database but the database is not PostgreSQL.
    """
    if settings.index.store != "database":
        return None
    from app.cluster.lease import LeaseError

    if engine.dialect.name != "postgresql":
        raise LeaseError("GROUNDLINE_INDEX__STORE=database shares index versions and jobs "
                         "through PostgreSQL: set GROUNDLINE_DATABASE_URL to a PostgreSQL URL")
    return VersionSync(engine=engine, store=store or IndexStore(settings.index.dir),
                       decision_file=settings.answer.decision_file,
                       keep_versions=settings.index.keep_versions)
