"""What each admin key scope may do, for the admin API and the admin console alike.

``admin`` does everything; ``editor`` changes articles, tickets and knowledge gaps, approves
held content and starts re-index jobs so that its changes reach answers; ``viewer`` reads.
Keys, index versions, conversation erasure and handoff redelivery are the admin's alone.
"""

from __future__ import annotations

ADMIN_SCOPES = ("admin", "editor", "viewer")
RANKS = {"viewer": 0, "editor": 1, "admin": 2}
# The first path segment under /v1/admin/ whose changes an editor may make.
EDITOR_AREAS = frozenset({"articles", "tickets", "held", "reindex", "gaps"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def at_least(scope: str, needed: str) -> bool:
    """Whether a key of ``scope`` has the rights of ``needed`` (admin > editor > viewer)."""
    return scope in RANKS and RANKS[scope] >= RANKS[needed]


def api_scope_needed(method: str, path: str) -> str:
    """The least scope an admin API request needs.

    Args:
        method: The HTTP method.
        path: The request path, e.g. ``/v1/admin/articles/ret-001``.

    Returns:
        ``viewer`` for reads, ``editor`` for changes to articles, tickets, gaps and for
        re-index jobs, ``admin`` for every other change.
    """
    if method.upper() in SAFE_METHODS:
        return "viewer"
    area = path.removeprefix("/v1/admin/").split("/", 1)[0]
    return "editor" if area in EDITOR_AREAS else "admin"
