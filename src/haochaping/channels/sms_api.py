"""The SMS gateway's callbacks: raters' replies (D4) and delivery reports. Only the gateway may
call them: each request is signed with the shared key (``sms_gateway``), checked by the
``GatewaySigned`` access rule."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from haochaping.access.rules import AccessRule, Unauthenticated, request_body
from haochaping.channels import sms
from haochaping.channels.sms_gateway import HEADER_SIGNATURE, HEADER_TIMESTAMP, signature_valid
from haochaping.config import get_settings
from haochaping.errors import NotFound
from haochaping.inputs import InputModel
from haochaping.messaging import service as messaging
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

router = APIRouter(tags=["短信 sms"])


class GatewaySigned(AccessRule):
    """The SMS gateway, proven by the HMAC-SM3 signature of the body under the shared key
    (``HCP_SMS_SIGNING_KEY``) with a fresh timestamp. Nobody else, official or business
    system, may post replies or delivery reports."""

    async def __call__(
        self,
        request: Request,
        now: NowDep,
        body: Annotated[bytes, Depends(request_body)],
    ) -> None:
        key = get_settings().sms_signing_key
        if not signature_valid(
            key,
            request.headers.get(HEADER_TIMESTAMP),
            request.headers.get(HEADER_SIGNATURE),
            body,
            now,
        ):
            raise Unauthenticated(
                "gateway_signature_invalid", "短信网关签名校验失败，请核对共享密钥与时间戳"
            )


GATEWAY = [
    Depends(GatewaySigned()),
    Depends(RateLimit("sms-gateway", "3000/minute")),
]


class InboundIn(InputModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    msg_id: str = Field(min_length=1, max_length=64)
    phone: str = Field(alias="from", pattern=r"^\+?[0-9][0-9 \-]{4,31}$")
    text: str = Field(max_length=2000)


class InboundOut(BaseModel):
    outcome: str
    occasion_id: int | None
    evaluation_id: int | None
    reply_id: int | None
    duplicate: bool


class ReportIn(InputModel):
    msg_id: str = Field(min_length=1, max_length=64)
    status: Literal["delivered", "failed"]
    error: str | None = Field(None, max_length=500)


class ReportOut(BaseModel):
    status: str


@router.post(
    "/sms/inbound",
    response_model=InboundOut,
    summary="短信网关回调：办事人回复的短信（评价、退订等），每条回复都有答复短信",
    dependencies=GATEWAY,
)
def inbound(data: InboundIn, session: SessionDep, now: NowDep) -> InboundOut:
    def handle() -> sms.ReplyOutcome:
        return sms.handle_reply(
            session=session, gateway_id=data.msg_id, phone=data.phone, text=data.text, now=now
        )

    try:
        result = handle()
        session.commit()
    except IntegrityError:
        # The gateway's retry of the same message (or the same phone's "TD") committed first:
        # answer as it was answered.
        session.rollback()
        result = handle()
        session.commit()
    return InboundOut(
        outcome=result.outcome,
        occasion_id=result.occasion_id,
        evaluation_id=result.evaluation_id,
        reply_id=result.reply_id,
        duplicate=result.duplicate,
    )


@router.post(
    "/sms/delivery-reports",
    response_model=ReportOut,
    summary="短信网关回调：送达状态报告",
    dependencies=GATEWAY,
)
def delivery_report(data: ReportIn, session: SessionDep, now: NowDep) -> ReportOut:
    message = messaging.apply_delivery_report(
        session=session,
        gateway_id=data.msg_id,
        delivered=data.status == "delivered",
        error=data.error,
        now=now,
    )
    if message is None:
        raise NotFound("sms_message_not_found", "未找到该短信", details={"msg_id": data.msg_id})
    session.commit()
    return ReportOut(status=message.status)
