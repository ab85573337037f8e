"""Web origins: normalising them and finding the one a browser request came from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from app.errors import RagError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginError(RagError, ValueError):
    """A value that is not a web origin like ``https://shop.example.com``."""


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, without a default port or a trailing slash.

    Raises:
        OriginError: For anything but an http(s) origin (paths, queries and ``null`` included).
    """
    raw = value.strip()
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise OriginError(f"{value!r} is not an origin like https://shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise OriginError(f"{value!r} is not an origin: remove the path, query or user name")
    try:
        port = parts.port
    except ValueError as exc:
        raise OriginError(f"{value!r} has an invalid port") from exc
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def try_origin(value: str | None) -> str | None:
    """The normalised origin, or None when ``value`` is missing or not an origin."""
    if not value:
        return None
    try:
        return normalise_origin(value)
    except OriginError:
        return None


def request_origin(headers: Mapping[str, str]) -> str | None:
    """The page origin of a browser request: ``Origin``, else the origin part of ``Referer``.

    Browsers send ``Origin`` on cross-origin requests and on POSTs, but not on same-origin
    GETs; those carry a ``Referer`` (the widget asks for at least the origin part).
    """
    origin = headers.get("origin")
    if origin:
        return try_origin(origin)
    referer = headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if not parts.scheme or not parts.netloc:
        return None
    return try_origin(f"{parts.scheme}://{parts.netloc}")


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """True when ``origin`` is one of ``allowed`` (compared after normalising both)."""
    if origin is None:
        return False
    return origin in {o for o in (try_origin(a) for a in allowed) if o}
