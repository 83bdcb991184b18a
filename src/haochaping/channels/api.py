"""Business systems ask for the rating link of an occasion (D2, D3): to show after acceptance or
completion, to send, to print on a receipt as a dynamic QR code, or to make a self-service
terminal jump to the unified page and come back to its home page afterwards."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from haochaping.access.principal import Principal
from haochaping.access.rules import EvaluationsWriter
from haochaping.cases import service as cases
from haochaping.channels import links
from haochaping.config import get_settings
from haochaping.errors import InvalidInput, NotFound
from haochaping.inputs import InputModel
from haochaping.web import NowDep, SessionDep

router = APIRouter(tags=["评价渠道 channels"])

OccasionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class LinkIn(InputModel):
    via: links.Via | None = Field(
        None, description="qr（二维码）、terminal（自助终端）或 sms（短信）；决定评价渠道代码（D5）"
    )
    return_url: str | None = Field(
        None,
        max_length=2000,
        description=(
            "仅 via=terminal：评价完成后返回的终端首页（须在 HCP_TERMINAL_RETURN_ORIGINS 内）"
        ),
    )


class LinkOut(BaseModel):
    occasion_id: int
    url: str = Field(description="评价页面的完整地址（以 HCP_PUBLIC_BASE_URL 开头）")
    path: str
    expires_at: datetime
    qr_png: str
    qr_svg: str


def _checked_occasion(session: Session, occasion_id: int, caller: Principal) -> None:
    """An occasion outside the caller's organisations and regions is as if it did not exist."""
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    units = [(s.org_id, s.region_code) for s in target.sources] if target else []
    if target is None or not caller.scope.contains_units(session, units):
        raise NotFound(
            "occasion_not_found", "未找到该评价场次", details={"occasion_id": occasion_id}
        )


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _public_url(path: str) -> str:
    """Citizens open the page at the service's public address (``HCP_PUBLIC_BASE_URL``), not
    at the internal one a business system may use to call this API."""
    return get_settings().public_base_url.rstrip("/") + path


@router.post(
    "/occasions/{occasion_id}/link",
    response_model=LinkOut,
    summary="获取评价场次的评价链接（一事一评；可用于短信、回执二维码、自助终端跳转）",
)
def occasion_link(
    occasion_id: OccasionId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    caller: EvaluationsWriter,
    data: LinkIn | None = None,
) -> LinkOut:
    data = data or LinkIn()
    _checked_occasion(session, occasion_id, caller)
    path = links.occasion_url(session=session, occasion_id=occasion_id, now=now, via=data.via)
    if data.return_url is not None:
        if data.via is not links.Via.terminal:
            raise InvalidInput(
                "return_url_not_allowed", "只有自助终端（via=terminal）可以指定返回地址"
            )
        if links.allowed_return_url(data.return_url) is None:
            raise InvalidInput(
                "return_url_not_allowed",
                "返回地址不在允许的自助终端地址范围内（HCP_TERMINAL_RETURN_ORIGINS）",
                details={"return_url": data.return_url},
            )
        path += ("&" if "?" in path else "?") + urlencode({"back": data.return_url})
    qr = f"{_base_url(request)}/api/v1/occasions/{occasion_id}/qr"
    return LinkOut(
        occasion_id=occasion_id,
        url=_public_url(path),
        path=path,
        expires_at=links.link_expiry(session=session, occasion_id=occasion_id),
        qr_png=qr + ".png",
        qr_svg=qr + ".svg",
    )


ScaleQuery = Annotated[int, Query(ge=1, le=40, description="每个模块的像素数（PNG）或单位（SVG）")]


def _qr(
    occasion_id: int, request: Request, session: Session, now: datetime, caller: Principal
) -> segno.QRCode:
    _checked_occasion(session, occasion_id, caller)
    path = links.occasion_url(session=session, occasion_id=occasion_id, now=now, via=links.Via.qr)
    # Error correction M: a receipt may be creased or smudged.
    return segno.make_qr(_public_url(path), error="m")


def _render(code: segno.QRCode, kind: Literal["png", "svg"], scale: int) -> bytes:
    out = io.BytesIO()
    if kind == "svg":
        code.save(out, kind="svg", scale=scale, border=4, xmldecl=False, title="评价二维码")
    else:
        code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


@router.get(
    "/occasions/{occasion_id}/qr.png",
    summary="评价场次的动态二维码（PNG，扫码直达评价页面，D3）",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def occasion_qr_png(
    occasion_id: OccasionId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    caller: EvaluationsWriter,
    scale: ScaleQuery = 8,
) -> Response:
    code = _qr(occasion_id, request, session, now, caller)
    return Response(
        _render(code, "png", scale), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/occasions/{occasion_id}/qr.svg",
    summary="评价场次的动态二维码（SVG，扫码直达评价页面，D3）",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def occasion_qr_svg(
    occasion_id: OccasionId,
    request: Request,
    session: SessionDep,
    now: NowDep,
    caller: EvaluationsWriter,
    scale: ScaleQuery = 4,
) -> Response:
    code = _qr(occasion_id, request, session, now, caller)
    return Response(
        _render(code, "svg", scale),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )
