"""Helpers for the admin console tests: keys of each scope, sign-in, the console's routes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine

from app.auth import create_key
from app.console import (
    pages_activity,
    pages_admin,
    pages_articles,
    pages_gaps,
    pages_index,
    routes,
)
from app.db import session_scope

PUBLIC = {("GET", "/admin/login"), ("POST", "/admin/login")}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class ScopedKeys:
    admin: str
    editor: str
    viewer: str
    widget: str
    editor_name: str = "Dana (support lead)"


def make_scoped_keys(engine: Engine) -> ScopedKeys:
    with session_scope(engine) as session:
        raws = {scope: create_key(session, name=name, scope=scope)[1] for scope, name in (
            ("admin", "Ops admin"), ("editor", "Dana (support lead)"), ("viewer", "Auditor"),
            ("widget", "Site"))}
    return ScopedKeys(**raws)


def console_routes() -> list[tuple[str, str]]:
    """Every console route as (method, path), path parameters filled with ``x``."""
    found = [r for r in routes.router.routes if isinstance(r, APIRoute)]
    for module in (pages_gaps, pages_articles, pages_index, pages_activity, pages_admin):
        found += [r for r in module.router.routes if isinstance(r, APIRoute)]
    out = set()
    for r in found:
        path = r.path if r.path.startswith("/admin") else "/admin" + r.path
        for method in r.methods or ():
            out.add((method, re.sub(r"\{[^}]+\}", "x", path)))
    return sorted(out)


@dataclass
class Signed:
    client: httpx.Client
    csrf: str


def sign_in(url: str, key: str) -> Signed:
    """A client holding a console session of ``key`` and the session's CSRF token."""
    client = httpx.Client(base_url=url, timeout=60)
    r = client.post("/admin/login", data={"key": key})
    assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
    page = client.get("/admin")
    assert page.status_code == 200, page.text
    match = _CSRF.search(page.text)
    assert match is not None
    return Signed(client=client, csrf=match.group(1))
