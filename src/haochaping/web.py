"""Request plumbing shared by the API modules: the session, the clock, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from haochaping.access import nonces
from haochaping.db import Database


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request. The route commits what it means to keep; anything left
    uncommitted (an error) is rolled back here. Async, so that opening and closing it cost no
    hand-over to the thread pool: a session does no I/O until the route uses it."""
    session = get_db(request).sessionmaker()
    try:
        yield session
    finally:
        try:
            if nonces.needs_finishing(session):
                # A signed request that failed or never committed still spends its nonce.
                await run_in_threadpool(nonces.finish, session)
        finally:
            session.rollback()
            session.close()


async def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
PageDep = Annotated[int, Query(ge=1, le=100_000, description="页码，从1开始")]
PageSizeDep = Annotated[int, Query(ge=1, le=500, description="每页条数")]
