"""Who is calling: an official (console session) or a business system (signed request), with
the permissions of their roles and the scope they may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from haochaping.access.scope import Scope
from haochaping.accounts.models import Role


class Permission(StrEnum):
    cases_write = "cases:write"
    cases_read = "cases:read"
    evaluations_write = "evaluations:write"
    evaluations_read = "evaluations:read"
    scores_read = "scores:read"
    # C9: a rater's name, ID number and phone in clear; asks for a reason, recorded.
    pii_unmask = "pii:unmask"
    users_manage = "users:manage"
    audit_read = "audit:read"
    console = "console"
    # Work orders (F1-F5): see the orders in scope; take the steps one's role performs.
    workorders_read = "workorders:read"
    workorders_act = "workorders:act"
    # Register an on-site or hotline complaint (RA 附件2, HB Art.14).
    workorders_intake = "workorders:intake"
    # E1: approve or redact bad-review text before publication.
    texts_review = "texts:review"
    # 综合点评 (D2, D3): read remarks in scope; classify, route, publish, close and type in
    # suggestion-box and book remarks (the office); answer (the routed organisation, the office).
    remarks_read = "remarks:read"
    remarks_manage = "remarks:manage"
    remarks_answer = "remarks:answer"
    # The 12345 platform transfers 综合点评 as a signed business system.
    remarks_submit = "remarks:submit"
    # D2 (ZZ 监督查评): draw samples of evaluations, call raters back, record the outcomes.
    callbacks_manage = "callbacks:manage"


READ = {
    Permission.cases_read,
    Permission.evaluations_read,
    Permission.scores_read,
    Permission.workorders_read,
    Permission.remarks_read,
}
ACT = {Permission.workorders_act, Permission.console}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(
        {*READ, Permission.users_manage, Permission.audit_read, Permission.console}
    ),
    Role.supervisor: frozenset(
        {
            *READ,
            *ACT,
            Permission.workorders_intake,
            Permission.texts_review,
            Permission.remarks_manage,
            Permission.remarks_answer,
            Permission.callbacks_manage,
        }
    ),
    Role.org_manager: frozenset({*READ, *ACT, Permission.remarks_answer}),
    # C10: window staff read their own evaluations and work orders, never who gave them.
    Role.window_staff: frozenset(
        {
            Permission.evaluations_read,
            Permission.scores_read,
            Permission.workorders_read,
            *ACT,
        }
    ),
    Role.auditor: frozenset({*READ, Permission.audit_read, Permission.console}),
    Role.pii_viewer: frozenset({Permission.pii_unmask, Permission.console}),
    Role.leader: frozenset({*READ, *ACT}),
}

# What a business system's credential may do (within the organisations and regions it serves).
CLIENT_PERMISSIONS = frozenset(
    {
        Permission.cases_write,
        Permission.cases_read,
        Permission.evaluations_write,
        Permission.evaluations_read,
        # HB Art.14: the 12345 platform transfers complaints into the work-order procedure.
        Permission.workorders_intake,
        # D2 (ZZ 二(二)3), D3 (GD Art.13): the 12345 platform transfers 综合点评.
        Permission.remarks_submit,
    }
)


@dataclass(frozen=True)
class Grant:
    """One role of an official with the scope it is bound to (exactly one of the three)."""

    role: Role
    region_code: str | None = None
    org_id: int | None = None
    staff_id: int | None = None


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "client"]
    id: int
    name: str
    permissions: frozenset[Permission]
    # Where the caller may read and write.
    scope: Scope
    roles: frozenset[Role] = field(default_factory=frozenset)
    # Where the caller may show personal data in clear (pii_viewer grants), C9.
    unmask_scope: Scope = field(default_factory=Scope.nothing)
    ip: str = ""
    grants: tuple[Grant, ...] = ()

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def sees_identities(self) -> bool:
        """C10: whether masked rater details may be shown at all. A window clerk, the rated
        person, must not learn who rated them, not even a masked name."""
        return not (self.roles and self.roles <= {Role.window_staff})
