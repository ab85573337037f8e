"""Objects published once into the database and fetched by every host.

An object is a key, its bytes in slices of ``PART_BYTES`` (``stored_part``) and a row that
names its SHA-256 (``stored_object``), written after the slices in the same transaction: a host
sees a complete object or none. Index versions are stored as a tar of their folder under
``index/<name>``, finished evaluation runs as a tar of theirs under ``eval/<run>``; single files
(the decision calibration) under their own key. Named pointers (``store_pointer``) say which
index version is active.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import session_scope
from app.errors import RagError
from app.models import StoredObject, StoredPart, StorePointer, utcnow

logger = logging.getLogger(__name__)

PART_BYTES = 4 * 1024 * 1024
ACTIVE_INDEX = "index_active"


class StoreError(RagError):
    """An object of the version store is missing or does not match its hash."""


def index_key(name: str) -> str:
    return f"index/{name}"


@contextmanager
def tar_folder(folder: Path) -> Iterator[IO[bytes]]:
    """A tar of a folder's files (an index version, a run) in a temporary file positioned at 0."""
    with tempfile.TemporaryFile() as out:
        with tarfile.open(fileobj=out, mode="w:") as tar:
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=path.name)
        out.seek(0)
        yield out


class DatabaseStore:
    """Reads and writes the version store's tables through one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str) -> StoredObject | None:
        with Session(self.engine) as session:
            row = session.get(StoredObject, key)
            if row is not None:
                session.expunge(row)
            return row

    def keys(self, prefix: str) -> list[str]:
        """Keys of complete objects starting with ``prefix``, in key order."""
        with Session(self.engine) as session:
            query = select(StoredObject.key).where(col(StoredObject.key).startswith(prefix))
            return sorted(session.exec(query).all())

    def put(self, key: str, data: IO[bytes], *, kind: str,
            manifest: dict[str, Any] | None = None) -> StoredObject:
        """Store the bytes of ``data`` under ``key`` (an existing object is replaced).

        Processes that publish the same object at once (workers starting together) all
        succeed: the one that loses the race finds the winner's object.
        """
        try:
            return self._put(key, data, kind=kind, manifest=manifest)
        except IntegrityError:
            row = self.get(key)
            if row is None:
                raise
            return row

    def _put(self, key: str, data: IO[bytes], *, kind: str,
             manifest: dict[str, Any] | None) -> StoredObject:
        digest = hashlib.sha256()
        size = seq = 0
        with session_scope(self.engine) as session:
            session.exec(delete(StoredPart).where(col(StoredPart.key) == key))  # type: ignore[call-overload]
            session.exec(delete(StoredObject).where(col(StoredObject.key) == key))  # type: ignore[call-overload]
            while part := data.read(PART_BYTES):
                digest.update(part)
                size += len(part)
                session.add(StoredPart(key=key, seq=seq, data=part))
                session.flush()  # one slice in memory at a time
                session.expunge_all()
                seq += 1
            row = StoredObject(key=key, kind=kind, sha256=digest.hexdigest(), size=size,
                               parts=seq, manifest=manifest or {})
            session.add(row)
            session.flush()
            session.expunge(row)
        logger.info("stored %s (%d bytes, sha256 %s)", key, size, row.sha256[:12])
        return row

    def read(self, key: str) -> tempfile.SpooledTemporaryFile[bytes]:
        """The object's bytes, checked against its SHA-256, in a file positioned at 0.

        Raises:
            StoreError: If the object is missing, incomplete or does not match its hash.
        """
        row = self.get(key)
        if row is None:
            raise StoreError(f"no object {key!r} in the version store")
        out: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            PART_BYTES)  # the caller closes it
        digest = hashlib.sha256()
        count = 0
        for part in self._parts(key):
            digest.update(part)
            out.write(part)
            count += 1
        if count != row.parts or digest.hexdigest() != row.sha256:
            out.close()
            raise StoreError(f"object {key!r} does not match its hash in the version store "
                             f"({count} of {row.parts} parts): publish it again")
        out.seek(0)
        return out

    def _parts(self, key: str) -> Iterator[bytes]:
        with Session(self.engine) as session:
            query = (select(StoredPart.seq).where(col(StoredPart.key) == key)
                     .order_by(col(StoredPart.seq)))
            for seq in list(session.exec(query).all()):
                part = session.get(StoredPart, (key, seq))
                if part is not None:
                    yield part.data
                    session.expunge(part)

    def remove(self, key: str) -> None:
        with session_scope(self.engine) as session:
            session.exec(delete(StoredObject).where(col(StoredObject.key) == key))  # type: ignore[call-overload]
            session.exec(delete(StoredPart).where(col(StoredPart.key) == key))  # type: ignore[call-overload]

    def pointer(self, name: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(StorePointer, name)
            return row.value if row is not None else None

    def set_pointer(self, name: str, value: str) -> None:
        for attempt in range(2):  # a second try updates the row a concurrent writer created
            try:
                with session_scope(self.engine) as session:
                    row = session.get(StorePointer, name) or StorePointer(name=name, value=value)
                    row.value, row.updated_at = value, utcnow()
                    session.add(row)
                return
            except IntegrityError:
                if attempt:
                    raise
