"""The staff side of the counter rating device (评价器): "the service ended" and "was it rated?".

Only the window's business system (a signed business client serving the window's organisation
or region) or the window clerk (console session) may call these. C10: the answers carry a
status and nothing else: never the level, the labels or the text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from haochaping.access.principal import Permission, Principal
from haochaping.access.rules import Forbidden, Requires, request_body
from haochaping.accounts.models import Role
from haochaping.cases.models import Stage
from haochaping.channels import device_service as devices
from haochaping.inputs import InputModel
from haochaping.web import NowDep, SessionDep

router = APIRouter(tags=["评价器 counter devices"])


class WindowSide(Requires):
    """The window's own side: a signed business system (which may write evaluations) or an
    official holding the window clerk's role. Supervisors, managers and auditors watch the
    results; they do not run a counter."""

    def __init__(self) -> None:
        super().__init__(Permission.evaluations_read)

    async def __call__(
        self,
        request: Request,
        session: SessionDep,
        now: NowDep,
        body: Annotated[bytes, Depends(request_body)],
    ) -> Principal:
        principal = await super().__call__(request, session, now, body)
        if principal.kind == "client" and principal.can(Permission.evaluations_write):
            return principal
        if principal.kind == "user" and Role.window_staff in principal.roles:
            return principal
        raise Forbidden("forbidden", "只有窗口工作人员或其业务系统可以使用评价器信号")


WindowCaller = Annotated[Principal, Depends(WindowSide())]
WindowCode = Annotated[str, Path(min_length=1, max_length=50)]
SignalId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ServiceEndedIn(InputModel):
    case_no: str = Field(min_length=1, max_length=64, description="办件编号")
    stage: Stage | None = Field(
        None,
        description="评价环节（accept/approve/deliver/complete/overall）；缺省为最近一个可评价的环节",
    )


class ServiceEndedOut(BaseModel):
    signal_id: int
    device_connected: bool = Field(description="该窗口的评价器此刻是否在线")
    expires_at: datetime = Field(description="评价器在此之前未显示评价页面的，信号作废")


class SignalStatusOut(BaseModel):
    signal_id: int
    status: Literal["waiting", "shown", "rated", "not_rated"] = Field(
        description=(
            "waiting 待显示；shown 评价页面显示中；rated 已评价；"
            "not_rated 未评价（超时、放弃或过期）"
        )
    )


@router.post(
    "/windows/{window_code}/service-ended",
    response_model=ServiceEndedOut,
    status_code=202,
    summary="窗口服务结束：请该窗口的评价器显示本次办件的评价页面",
    responses={
        404: {"description": "window_not_found / case_not_found"},
        409: {"description": "occasion_not_open"},
    },
)
def service_ended(
    window_code: WindowCode,
    data: ServiceEndedIn,
    session: SessionDep,
    now: NowDep,
    caller: WindowCaller,
) -> ServiceEndedOut:
    queued = devices.signal_service_ended(
        session=session,
        window_code=window_code,
        case_no=data.case_no,
        stage=data.stage.value if data.stage is not None else None,
        scope=caller.scope,
        now=now,
        sender=caller.actor,
    )
    session.commit()
    return ServiceEndedOut(
        signal_id=queued.signal_id,
        device_connected=queued.device_connected,
        expires_at=queued.expires_at,
    )


@router.get(
    "/device-signals/{signal_id}",
    response_model=SignalStatusOut,
    summary="评价器信号的状态：是否已评价（不含评价等级和内容）",
    responses={404: {"description": "signal_not_found"}},
)
def signal_status(
    signal_id: SignalId, session: SessionDep, now: NowDep, caller: WindowCaller
) -> SignalStatusOut:
    status = devices.signal_status(
        session=session, signal_id=signal_id, scope=caller.scope, now=now
    )
    return SignalStatusOut(signal_id=signal_id, status=status.value)
