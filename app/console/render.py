"""Rendering console pages: one Jinja2 environment over ``app/console/templates``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.console.session import ConsoleUser

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(TEMPLATES))

NAV = (("overview", "Overview", "/admin"), ("gaps", "Knowledge gaps", "/admin/gaps"),
       ("conversations", "Conversations", "/admin/conversations"),
       ("articles", "Articles", "/admin/articles"), ("index", "Index", "/admin/index"),
       ("evaluation", "Evaluation", "/admin/evaluation"),
       ("handoffs", "Handoffs", "/admin/handoffs"), ("keys", "Keys", "/admin/keys"),
       ("audit", "Audit log", "/admin/audit"))


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


templates.env.filters["when"] = _when
templates.env.filters["percent"] = _percent
templates.env.filters["pretty"] = _pretty
templates.env.globals["nav"] = NAV


def page(request: Request, name: str, *, user: ConsoleUser | None, section: str = "",
         status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` for ``user`` (None on the sign-in page)."""
    return templates.TemplateResponse(
        request, name, {"user": user, "section": section, **context},
        status_code=status_code)
