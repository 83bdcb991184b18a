"""The logged-in official a console page acts for, with the permission the page needs: one
dependency for reading (``reader``) and one for a form carrying the session's CSRF token
(``form``), refused with the console's 403 page otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from haochaping.access.principal import Permission, Principal
from haochaping.access.rules import Forbidden, principal_for_user
from haochaping.accounts.models import LoginSession, User
from haochaping.console.auth import CsrfCheckedUser, CurrentUser, PasswordChangeRequired
from haochaping.protection.proxies import client_ip
from haochaping.web import SessionDep


@dataclass(frozen=True)
class Official:
    user: User
    login: LoginSession
    principal: Principal


@dataclass(frozen=True)
class OfficialDependencies:
    reader: Callable[..., Official]
    form: Callable[..., Official]


def officials_with(refusal: str, *permissions: Permission) -> OfficialDependencies:
    """Dependencies resolving the official when they hold every one of ``permissions`` (else
    ``refusal``)."""

    def official(
        request: Request, session: SessionDep, user: User, login: LoginSession
    ) -> Official:
        principal = principal_for_user(
            session, user_id=user.id, username=user.username, ip=client_ip(request)
        )
        if not all(principal.can(p) for p in permissions):
            raise Forbidden("forbidden", refusal)
        return Official(user, login, principal)

    def reader(request: Request, session: SessionDep, who: CurrentUser) -> Official:
        return official(request, session, *who)

    def form(request: Request, session: SessionDep, who: CsrfCheckedUser) -> Official:
        if who[0].must_change_password:
            raise PasswordChangeRequired()
        return official(request, session, *who)

    return OfficialDependencies(reader, form)
