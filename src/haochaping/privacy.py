"""Masking of a rater's personal data (C9): 姓名 张*, phone 138****8000, ID 4501**********1234."""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1] if len(name) > 3 else name[0] + "**"


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_no(id_no: str | None) -> str | None:
    if not id_no:
        return id_no
    if len(id_no) < 9:
        return "*" * len(id_no)
    return id_no[:4] + "*" * (len(id_no) - 8) + id_no[-4:]
