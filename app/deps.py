"""Annotated dependency aliases for the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from app.rag.answer import AnswerService
from app.rag.index import IndexVersion
from app.settings import Settings
from app.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.groundline  # type: ignore[no-any-return]


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with Session(state.engine) as session:
        yield session


def get_index(state: Annotated[AppState, Depends(get_state)]) -> IndexVersion:
    """The version this request will use from start to end, even if a swap happens."""
    index = state.index
    if index is None or state.service is None:
        # The reason may name folders on the server: it is logged and shown by /readyz only.
        raise HTTPException(503, detail="not ready: no index is loaded yet")
    return index


def get_service(state: Annotated[AppState, Depends(get_state)]) -> AnswerService:
    if state.service is None:
        raise HTTPException(503, detail="not ready: models are loading")
    return state.service


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
IndexDep = Annotated[IndexVersion, Depends(get_index)]
AnswerServiceDep = Annotated[AnswerService, Depends(get_service)]
