"""Error bodies in the shapes the OpenAPI schema publishes.

Every 422 is ``{"detail": str, "errors": [{"field", "message"}]}`` (``HTTPValidationError``),
whether request validation found it or a route raised it with a message; a body that cannot
be read as JSON text (bytes that are not UTF-8) is a 422 of the same shape, not a bare 400.
Other errors keep FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi import HTTPException as ItemsError  # FastAPI's: its detail may be any JSON
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

# pydantic's string_unicode ("unable to parse raw data as a unicode string") is what a lone
# surrogate escape such as "\ud800" in a JSON string gets: say so, as require_text does.
from app.admin.schemas import _SURROGATE_HINT as SURROGATE_HINT

UNREADABLE_BODY = "There was an error parsing the body"  # FastAPI's own 400 detail


def invalid(detail: str, errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


def invalid_items(items: list[dict[str, Any]], *, field: str) -> ItemsError:
    """A 422 for the items of a batch that do not parse (nothing was written): one error per
    item, ``{"field": "<field>.<index>", "message", "index", "id"}``."""
    errors = [{"field": f"{field}.{item['index']}", "message": item["error"],
               "index": item["index"], "id": item.get("id")} for item in items]
    return ItemsError(422, detail={"detail": "invalid items: nothing was written",
                                   "errors": errors})


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": ".".join(str(p) for p in e["loc"][1:]),
               "message": SURROGATE_HINT if e["type"] == "string_unicode" else e["msg"]}
              for e in exc.errors()]
    return invalid("invalid request", errors)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == UNREADABLE_BODY:
        return invalid("invalid request", [{"field": "body", "message": "the body is not "
                                            "JSON in UTF-8"}])
    if exc.status_code == 422 and isinstance(exc.detail, str):
        return invalid(exc.detail, [{"field": "", "message": exc.detail}])
    if exc.status_code == 422 and isinstance(exc.detail, dict) and "errors" in exc.detail:
        return invalid(str(exc.detail["detail"]), list(exc.detail["errors"]))
    return await http_exception_handler(request, exc)


def install_error_shapes(app: FastAPI) -> None:
    """Register the handlers that give 422s (and unreadable bodies) the published shape."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)
