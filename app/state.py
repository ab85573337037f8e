"""The process's long-lived objects: models loaded once, and the index being served."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from app.ops.metrics import set_index_version
from app.rag.answer import AnswerService
from app.rag.index import IndexStore, IndexVersion
from app.rag.protocols import Embedder

if TYPE_CHECKING:
    from app.cluster.sync import VersionSync

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    """Holds the active index; a swap replaces one reference, so a request that already
    took the old version finishes on it while new requests get the new one."""

    engine: Engine
    store: IndexStore
    embedder: Embedder | None = None
    service: AnswerService | None = None
    expected: dict[str, object] | None = None
    _index: IndexVersion | None = None
    not_ready_reason: str | None = "starting"
    sync: VersionSync | None = None  # the database version store (index.store database)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def index(self) -> IndexVersion | None:
        return self._index

    def swap(self, version: IndexVersion) -> IndexVersion | None:
        with self._lock:
            old, self._index = self._index, version
            self.not_ready_reason = None if self.service is not None else self.not_ready_reason
        logger.info("serving index version %s", version.name)
        set_index_version(version.name, version.manifest.get("counts", {}).get("chunks"))
        return old

    def reload_active(self) -> bool:
        """Load the version ACTIVE points to if it is not the one being served."""
        name = self.store.active_name()
        if name is None or (self._index is not None and self._index.name == name):
            return False
        self.swap(self.store.load_active(expected=self.expected))
        return True
