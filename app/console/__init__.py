"""The admin console under ``/admin``: server-rendered pages (Jinja2) with htmx, shipped in
the package, for the people who own the help center."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles


def install_console(app: FastAPI) -> None:
    """Serve the console's pages, its static files and its sign-in redirects on ``app``."""
    from app.console import routes
    from app.console.render import STATIC, page
    from app.console.session import ConsoleAuthError

    app.include_router(routes.router)
    app.mount("/admin/static", StaticFiles(directory=str(STATIC)), name="console-static")

    @app.exception_handler(ConsoleAuthError)
    async def _refused(request: Request, exc: ConsoleAuthError) -> Response:
        if exc.status == 401 and request.method == "GET":
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": "/admin/login"})
            return RedirectResponse("/admin/login", status_code=303)
        return page(request, "refused.html", user=None, status_code=exc.status,
                    message=exc.message)
