"""Request plumbing shared by the API modules: the session, the clock, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from haochaping.db import Database


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. The route commits what it means to keep; anything left
    uncommitted (an error) is rolled back here."""
    session = get_db(request).sessionmaker()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
PageDep = Annotated[int, Query(ge=1, le=100_000, description="页码，从1开始")]
PageSizeDep = Annotated[int, Query(ge=1, le=500, description="每页条数")]
