"""Index versions: list them, activate one, roll back to the one before.

Activation checks the version against the service's settings first, repoints ``ACTIVE`` and
swaps the version into the running service; a version that cannot be served is refused and
nothing changes. The caller holds the job runner's index lock, so no build runs meanwhile.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from app.errors import IndexMismatchError, IndexNotFoundError, RagError
from app.rag.index import check_manifest
from app.state import AppState

logger = logging.getLogger(__name__)


class VersionError(RagError):
    """The version cannot be activated; the message says why."""


def _manifest(state: AppState, name: str) -> dict[str, Any] | None:
    path = state.store.versions_dir / name / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _compatible(state: AppState, manifest: dict[str, Any]) -> str | None:
    """None if the service can serve this manifest, else the reason it cannot."""
    if state.expected is None:
        return None
    try:
        check_manifest(manifest, state.expected)
    except IndexMismatchError as exc:
        return str(exc)
    return None


def list_versions(state: AppState) -> list[dict[str, Any]]:
    """Every complete version, newest first, with what it holds and whether it can be served."""
    active = state.store.active_name()
    served = state.index.name if state.index is not None else None
    out = []
    for name in reversed(state.store.versions()):
        manifest = _manifest(state, name) or {}
        problem = _compatible(state, manifest)
        out.append({
            "name": name, "created_at": manifest.get("created_at"),
            "active": name == active, "serving": name == served,
            "counts": manifest.get("counts", {}),
            "embedder": (manifest.get("embedder") or {}).get("name"),
            "content_hash": manifest.get("content_hash"),
            "servable": problem is None, "problem": problem,
        })
    return out


def activate(state: AppState, name: str) -> str | None:
    """Serve version ``name``; returns the name of the version served before.

    Raises:
        IndexNotFoundError: If there is no complete version of that name.
        VersionError: If the version was built with other settings than the service's.
    """
    if name not in state.store.versions():
        raise IndexNotFoundError(f"no index version named {name!r}: list them with "
                                 "GET /v1/admin/index/versions")
    manifest = _manifest(state, name) or {}
    problem = _compatible(state, manifest)
    if problem is not None:
        raise VersionError(f"version {name} cannot be served: {problem}")
    before = state.index.name if state.index is not None else None
    previous_active = state.store.active_name()
    state.store.activate(name)
    try:
        state.reload_active()
    except Exception as exc:
        if previous_active is not None:
            state.store.activate(previous_active)
        raise VersionError(f"version {name} could not be loaded: {exc}") from exc
    if state.sync is not None:  # every host follows
        state.sync.push(name)
    logger.info("activated index version %s (was %s)", name, before)
    return before


def previous_version(state: AppState) -> str:
    """The newest version older than the active one.

    Raises:
        VersionError: If there is none to roll back to.
    """
    active = state.store.active_name()
    names = state.store.versions()
    older = [n for n in names if active is None or n < active]
    if not older:
        raise VersionError("no older index version to roll back to (versions are kept "
                           "after each build, up to GROUNDLINE_INDEX__KEEP_VERSIONS)")
    return older[-1]
