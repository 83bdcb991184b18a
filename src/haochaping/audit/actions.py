"""The codes of auditable acts (issue 3) and their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """What an audit entry records; the value is stored in ``audit_log.action`` (≤ 40 chars)."""

    login = "login"
    login_failed = "login_failed"
    logout = "logout"
    password_changed = "password_changed"
    user_created = "user_created"
    user_enabled = "user_enabled"
    user_disabled = "user_disabled"
    role_granted = "role_granted"
    role_revoked = "role_revoked"
    client_created = "client_created"
    client_key_rotated = "client_key_rotated"
    client_revoked = "client_revoked"
    keys_rotated = "keys_rotated"
    pii_unmasked = "pii_unmasked"
    profile_changed = "profile_changed"
    calendar_imported = "calendar_imported"
    evaluation_revoked = "evaluation_revoked"
    export = "export"
    # G1: a 综合点评 and its answer made public.
    remark_published = "remark_published"


ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.login: "登录",
    AuditAction.login_failed: "登录失败",
    AuditAction.logout: "退出登录",
    AuditAction.password_changed: "修改密码",
    AuditAction.user_created: "创建账号",
    AuditAction.user_enabled: "启用账号",
    AuditAction.user_disabled: "停用账号",
    AuditAction.role_granted: "授予角色",
    AuditAction.role_revoked: "撤销角色",
    AuditAction.client_created: "创建接入凭据",
    AuditAction.client_key_rotated: "轮换接入密钥",
    AuditAction.client_revoked: "吊销接入凭据",
    AuditAction.keys_rotated: "轮换加密密钥",
    AuditAction.pii_unmasked: "查看实名信息",
    AuditAction.profile_changed: "政策配置变更",
    AuditAction.calendar_imported: "导入工作日历",
    AuditAction.evaluation_revoked: "撤销评价",
    AuditAction.export: "导出数据",
    AuditAction.remark_published: "公开综合点评",
}


def action_label(code: str) -> str:
    """The Chinese label of an action code, or the code itself when it is not a known one."""
    try:
        return ACTION_LABELS[AuditAction(code)]
    except ValueError:
        return code
