"""Shared helpers of the accounts tests: accounts and the audit entries they leave."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.accounts import service as accounts
from haochaping.accounts.models import User
from haochaping.audit.models import AuditEntry
from tests.factories import T0

GOOD = "Rongan-2026-ok"
ACTOR = "cli:tester"


def new_user(session: Session, username: str = "zhangsan", password: str = GOOD) -> User:
    user, _ = accounts.create_user(
        session,
        username=username,
        display_name="张三",
        password=password,
        now=T0,
        actor=ACTOR,
    )
    return user


def audit_actions(session: Session, target: str | None = None) -> list[str]:
    query = select(AuditEntry.action).order_by(AuditEntry.seq)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    return list(session.scalars(query))


def audit_entries(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
