"""The embeddable widget's files and the demo page at ``/``."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from app import __version__
from app.deps import SettingsDep, StateDep
from app.public.demo import ensure_demo_key

logger = logging.getLogger(__name__)
router = APIRouter(tags=["widget"])

STATIC = Path(__file__).resolve().parent.parent / "static"
CACHE = {"Cache-Control": "public, max-age=300"}
DEMO_KEY_FILE = "demo_widget_key.json"


@router.get("/widget.js", summary="The widget script", response_class=FileResponse)
def widget_js() -> FileResponse:
    """Embed with ``<script src="https://bot.example.com/widget.js" data-key="glw_...">``."""
    return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8",
                        headers=CACHE)


@router.get("/widget.css", summary="The widget styles (loaded by the script)",
            response_class=FileResponse)
def widget_css() -> FileResponse:
    return FileResponse(STATIC / "widget.css", media_type="text/css; charset=utf-8",
                        headers=CACHE)


@router.get("/", summary="The demo page (when the demo is on)", include_in_schema=False)
def demo_page(settings: SettingsDep, state: StateDep) -> Response:
    """A sample help page with the widget, keyed for ``public.demo_origins``."""
    if not settings.public.demo:
        return JSONResponse({"service": "groundline", "version": __version__, "docs": "/docs"})
    key = ensure_demo_key(state.engine, path=settings.var_dir / DEMO_KEY_FILE,
                          origins=settings.public.demo_origins)
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    page = page.replace("{{WIDGET_KEY}}", html.escape(key, quote=True))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
