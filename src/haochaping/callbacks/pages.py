"""Console pages of 监督查评 (D2, ZZ): the samples, the draw form, a sample's callbacks (phones
masked, an audited reveal per item, the outcome form), the findings with the denied
evaluations, and their xlsx exports (audited, phones masked). Holders of ``callbacks:manage``
only; everyone else gets the console's refusal page (403)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from haochaping.access.principal import Permission
from haochaping.accounts.models import Role
from haochaping.audit.service import record
from haochaping.callbacks import export, findings, reading, sampling, service
from haochaping.callbacks.schemas import (
    DEFAULT_PERIOD_DAYS,
    LEVEL_NAMES,
    RESULT_NAMES,
    SIZE_MAX,
    CallResult,
    SampleOut,
)
from haochaping.clock import BEIJING
from haochaping.console.officials import Official, officials_with
from haochaping.console.pages import ConsoleRoute, templates
from haochaping.errors import DomainError, InvalidInput
from haochaping.evaluations.models import CHANNEL_NAMES
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

BASE = "/console/callbacks"
PAGE_SIZE = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Denied evaluations in one summary export; narrower filters beyond that.
EXPORT_DENIALS_MAX = 5000

router = APIRouter(
    prefix=BASE,
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)

SampleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = Annotated[str, Form(max_length=500)]
Short = Annotated[str, Form(max_length=64)]
QueryText = Annotated[str, Query(max_length=20)]
NOTICES = {
    "drawn": "已抽取第 {id} 号抽查样本，请逐条回访并登记结果。",
    "recorded": "已登记回访结果。",
}


# An official allowed to draw samples and call raters back (D2).
_SUPERVISORS = officials_with(
    "您没有监督查评的权限，如需使用请联系系统管理员", Permission.callbacks_manage
)
SupervisorDep = Annotated[Official, Depends(_SUPERVISORS.reader)]
SupervisorFormDep = Annotated[Official, Depends(_SUPERVISORS.form)]


def local_time(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def _context(who: Official, **values: Any) -> dict[str, Any]:
    return {"user": who.user, "csrf_token": who.login.csrf_token, "local": local_time, **values}


def _home_region(who: Official) -> str:
    for grant in who.principal.grants:
        if grant.role == Role.supervisor and grant.region_code:
            return grant.region_code
    return ""


def _day(value: str, label: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("date_invalid", f"{label}格式不正确，请按“2026-11-01”填写") from exc


def _download(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


# ---- samples -------------------------------------------------------------------------------


def _list_page(
    request: Request,
    session: SessionDep,
    who: Official,
    *,
    page: int = 1,
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    total, items = reading.list_samples(
        session=session, scope=who.principal.scope, page=page, page_size=PAGE_SIZE
    )
    return templates.TemplateResponse(
        request,
        "callbacks_list.html",
        _context(
            who,
            items=items,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            notice=notice,
            error=error,
            form=form or {"region": _home_region(who), "size": "20"},
            channels={int(c): n for c, n in CHANNEL_NAMES.items()},
            size_max=SIZE_MAX,
            period_days=DEFAULT_PERIOD_DAYS,
        ),
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
def sample_list(
    request: Request,
    session: SessionDep,
    who: SupervisorDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    return _list_page(request, session, who, page=page)


@router.post("/draw")
def draw_sample(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: SupervisorFormDep,
    region: Annotated[str, Form(max_length=12)] = "",
    size: Annotated[str, Form(max_length=10)] = "",
    date_from: Annotated[str, Form(max_length=10)] = "",
    date_to: Annotated[str, Form(max_length=10)] = "",
    org: Short = "",
    staff: Short = "",
    channel: Annotated[str, Form(max_length=2)] = "",
    note: Text = "",
) -> Response:
    form = {
        "region": region,
        "size": size,
        "date_from": date_from,
        "date_to": date_to,
        "org": org,
        "staff": staff,
        "channel": channel,
        "note": note,
    }
    try:
        if not size.strip().isdigit():
            raise InvalidInput("callback_size_invalid", f"抽取数量应在 1 到 {SIZE_MAX} 之间")
        out = sampling.draw_sample(
            session=session,
            scope=who.principal.scope,
            actor=who.principal.actor,
            now=now,
            params=sampling.DrawParams(
                region_code=region.strip(),
                size=int(size),
                date_from=_day(date_from, "起始日期"),
                date_to=_day(date_to, "截止日期"),
                org_code=org.strip() or None,
                staff_code=staff.strip() or None,
                channel=int(channel) if channel.strip().isdigit() else None,
                note=note.strip() or None,
            ),
        )
    except DomainError as exc:
        session.rollback()
        return _list_page(
            request, session, who, error=exc.message, form=form, status_code=exc.status_code
        )
    session.commit()
    return RedirectResponse(f"{BASE}/{out.id}?done=drawn", status_code=303)


# ---- findings (before /{sample_id}: "summary" is not a number) -----------------------------


def _filters(region: str, date_from: str, date_to: str) -> findings.FindingFilter:
    return findings.FindingFilter(
        region_code=region.strip() or None,
        date_from=_day(date_from, "起始日期"),
        date_to=_day(date_to, "截止日期"),
    )


@router.get("/summary", response_class=HTMLResponse)
def summary_page(
    request: Request,
    session: SessionDep,
    who: SupervisorDep,
    region: QueryText = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    filters = _filters(region, date_from, date_to)
    found = findings.summary(session=session, scope=who.principal.scope, filters=filters)
    total, denied = findings.denials(
        session=session, scope=who.principal.scope, filters=filters, page=page, page_size=50
    )
    keep = {"region": region, "from": date_from, "to": date_to}
    return templates.TemplateResponse(
        request,
        "callbacks_summary.html",
        _context(
            who,
            found=found,
            denied=denied,
            total=total,
            page=page,
            pages=max(1, -(-total // 50)),
            filters=keep,
            query=urlencode(keep),
        ),
    )


@router.get("/summary.xlsx")
def summary_export(
    session: SessionDep,
    now: NowDep,
    who: SupervisorDep,
    region: QueryText = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    filters = _filters(region, date_from, date_to)
    scope = who.principal.scope
    found = findings.summary(session=session, scope=scope, filters=filters)
    _, denied = findings.denials(
        session=session, scope=scope, filters=filters, page=1, page_size=reading.PAGE_SIZE_MAX
    )
    rows = list(denied)
    page = 2
    while len(rows) < min(found.total.denied, EXPORT_DENIALS_MAX):
        _, more = findings.denials(
            session=session, scope=scope, filters=filters, page=page, page_size=500
        )
        if not more:
            break
        rows += more
        page += 1
    content = export.summary_xlsx(found, rows[:EXPORT_DENIALS_MAX])
    record(
        session,
        now=now,
        actor=who.principal.actor,
        action="export",
        target="callbacks/summary.xlsx",
        details={
            "rows": len(rows[:EXPORT_DENIALS_MAX]),
            "filters": {
                k: v for k, v in (("region", region), ("from", date_from), ("to", date_to)) if v
            },
        },
        ip=who.principal.ip,
    )
    session.commit()
    return _download(content, f"监督查评汇总-{now.astimezone(BEIJING):%Y%m%d-%H%M%S}.xlsx")


# ---- one sample ------------------------------------------------------------------------------


def _sample_page(
    request: Request,
    who: Official,
    sample: SampleOut,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_item: int | None = None,
    revealed: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "callbacks_sample.html",
        _context(
            who,
            sample=sample,
            notice=notice,
            error=error,
            error_item=error_item,
            revealed=revealed,
            results=RESULT_NAMES,
            levels=LEVEL_NAMES,
        ),
        status_code=status_code,
    )


@router.get("/{sample_id}", response_class=HTMLResponse)
def sample_page(
    request: Request,
    sample_id: SampleId,
    session: SessionDep,
    who: SupervisorDep,
    done: QueryText = "",
) -> Response:
    sample = reading.get_sample(session=session, sample_id=sample_id, scope=who.principal.scope)
    notice = NOTICES[done].format(id=sample_id) if done in NOTICES else None
    return _sample_page(request, who, sample, notice=notice)


@router.get("/{sample_id}/export.xlsx")
def sample_export(
    sample_id: SampleId, session: SessionDep, now: NowDep, who: SupervisorDep
) -> Response:
    sample = reading.get_sample(session=session, sample_id=sample_id, scope=who.principal.scope)
    content = export.sample_xlsx(sample)
    record(
        session,
        now=now,
        actor=who.principal.actor,
        action="export",
        target=f"callback_sample:{sample_id}.xlsx",
        details={"rows": len(sample.items), "sample_id": sample_id},
        ip=who.principal.ip,
    )
    session.commit()
    return _download(content, f"监督查评样本-{sample_id}.xlsx")


@router.post("/items/{item_id}/outcome")
def record_outcome(
    request: Request,
    item_id: ItemId,
    session: SessionDep,
    now: NowDep,
    who: SupervisorFormDep,
    result: Annotated[str, Form(max_length=20)] = "",
    stated_level: Annotated[str, Form(max_length=2)] = "",
    note: Text = "",
    reason: Text = "",
) -> Response:
    scope = who.principal.scope
    try:
        if result not in RESULT_NAMES:
            raise InvalidInput("callback_result_invalid", "请选择本次回访的结果")
        out = service.record_call(
            session=session,
            item_id=item_id,
            scope=scope,
            actor=who.principal.actor,
            now=now,
            result=CallResult(result),
            stated_level=int(stated_level) if stated_level.strip().isdigit() else None,
            note=note.strip() or None,
            reason=reason.strip() or None,
        )
    except DomainError as exc:
        session.rollback()
        item = reading.get_item(session=session, item_id=item_id, scope=scope)
        sample = reading.get_sample(session=session, sample_id=item.sample_id, scope=scope)
        return _sample_page(
            request,
            who,
            sample,
            error=exc.message,
            error_item=item_id,
            status_code=exc.status_code,
        )
    session.commit()
    return RedirectResponse(f"{BASE}/{out.sample_id}?done=recorded#item-{item_id}", status_code=303)


@router.post("/items/{item_id}/reveal", response_class=HTMLResponse)
def reveal_phone(
    request: Request,
    item_id: ItemId,
    session: SessionDep,
    now: NowDep,
    who: SupervisorFormDep,
) -> Response:
    """C9: the sample page again, this one item's phone in clear (never in a URL or a
    redirect); the reveal is in the audit log."""
    scope = who.principal.scope
    shown = service.reveal_phone(
        session=session,
        item_id=item_id,
        scope=scope,
        actor=who.principal.actor,
        now=now,
        ip=who.principal.ip,
    )
    session.commit()
    item = reading.get_item(session=session, item_id=item_id, scope=scope)
    sample = reading.get_sample(
        session=session, sample_id=item.sample_id, scope=scope, revealed={item_id: shown.phone}
    )
    return _sample_page(request, who, sample, revealed=item_id)
