"""Console pages of bad-review work orders (差评工单, F1-F5): the inbox, the order's page with
the steps the official may take now, evidence uploads and the registration of complaints.

Everything goes through ``workorders.service``: the scope of the official, the party that takes
each step (F1-F5), the fields a step needs and the version the official saw are all checked
there, so a form can never do more than the JSON API. The rater is shown masked (C9), and not
at all to a clerk of the rated window (C10): the page shows what ``OrderOut`` gives, nothing
more. A refusal re-renders the page with the Chinese message and its status; nothing is kept
(the session is rolled back). No JavaScript: the CSP forbids it and nothing needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from haochaping.access.principal import Permission
from haochaping.clock import BEIJING, local_date
from haochaping.console.officials import Official, officials_with
from haochaping.console.pages import ConsoleRoute, templates
from haochaping.errors import DomainError, InvalidInput
from haochaping.policy import service as policy_service
from haochaping.policy.schemas import Cause
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep
from haochaping.workorders import service
from haochaping.workorders.models import SOURCE_LABELS, VERDICT_LABELS, OrderSource, Verdict
from haochaping.workorders.procedure import FINAL_STATES, STATE_LABELS, Action, State
from haochaping.workorders.schemas import ActionIn, ComplaintIn, EventOut, OrderOut

BASE = "/console/workorders"
API = "/api/v1/work-orders"
PAGE_SIZE = 20

router = APIRouter(
    prefix=BASE,
    route_class=ConsoleRoute,
    include_in_schema=False,
    # The console's own budget, shared with its other pages (same name and rate).
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)

OrderNo = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9-]+$")]

# F6, RA Art.10: the cause classes of a verified bad review.
CAUSE_LABELS: dict[Cause, str] = {
    Cause.attitude: "服务态度",
    Cause.quality: "服务质量",
    Cause.efficiency: "服务效率",
    Cause.environment: "服务环境",
    Cause.system: "信息系统或其他客观原因",
}
OUTCOME_LABELS = {
    "satisfied": "评价人满意",
    "unsatisfied": "评价人不满意（重新整改）",
    "unreachable": "未能联系到评价人",
}
RESOLUTION_LABELS = {
    "rectify": "整改",
    "ledger": "无法按期整改，已建立台账",
    "explain": "无法定依据，已解释说明",
}
TIMING_LABELS = {"due_soon": "24小时内到期", "overdue": "已超期"}
SORT_LABELS = {"received": "受理时间", "due": "当前环节时限", "no": "工单编号"}
# The direction a column is sorted in when first clicked.
SORT_FIRST = {"received": "desc", "due": "asc", "no": "asc"}
NOTICES = {
    "done": "已办理。",
    "uploaded": "佐证材料已上传。",
    "registered": "投诉已登记，已生成差评工单，请及时转办。",
}


# --- who is asking ---------------------------------------------------------------------------


NO_READ = "您没有查看差评工单的权限，如需使用请联系系统管理员"
NO_ACT = "您没有办理差评工单的权限，如需使用请联系系统管理员"
NO_INTAKE = "您没有登记投诉的权限，如需使用请联系系统管理员"

# Officials who may read work orders (F1-F5); who may take steps, by a form carrying the
# session's CSRF token; who register on-site and hotline complaints (RA 附件2, HB Art.14).
_READERS = officials_with(NO_READ, Permission.workorders_read)
_ACTORS = officials_with(NO_ACT, Permission.workorders_read, Permission.workorders_act)
_INTAKE = officials_with(NO_INTAKE, Permission.workorders_intake)
ReaderDep = Annotated[Official, Depends(_READERS.reader)]
ActorFormDep = Annotated[Official, Depends(_ACTORS.form)]
IntakeDep = Annotated[Official, Depends(_INTAKE.reader)]
IntakeFormDep = Annotated[Official, Depends(_INTAKE.form)]


# --- formatting for people -------------------------------------------------------------------


def local_time(value: datetime | None) -> str:
    """Beijing time for people: 2026-11-25 10:00."""
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def due_time(value: datetime | None) -> str:
    """A deadline for people: the end of a day reads 2026-11-10 24:00, not 11-11 00:00."""
    if value is None:
        return ""
    local = value.astimezone(BEIJING)
    if local.time() == time.min:
        return f"{local.date() - timedelta(days=1):%Y-%m-%d} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} 天" + (f" {hours} 小时" if hours else "")
    if hours:
        return f"{hours} 小时"
    if minutes:
        return f"{minutes} 分钟"
    return "不足 1 分钟"


def time_left(seconds: int | None) -> str:
    """F1-F5 deadlines in words: 剩余 3 小时, 已超期 2 天."""
    if seconds is None:
        return ""
    if seconds >= 0:
        return f"剩余 {_span(seconds)}"
    return f"已超期 {_span(-seconds)}"


def _label(labels: Mapping[Any, str], value: str | None) -> str:
    if value is None:
        return ""
    for key, text in labels.items():
        if str(key) == value:
            return text
    return value


def _who(actor: str) -> str:
    """The account behind an event: ``user:zgb-ra`` → ``zgb-ra``."""
    if actor == "system":
        return "系统"
    kind, _, name = actor.partition(":")
    if kind == "client":
        return f"业务系统 {name}"
    return name or actor


def event_details(event: EventOut) -> list[str]:
    """What an event recorded besides its note, in words."""
    data = event.data
    out: list[str] = []
    if isinstance(data.get("verdict"), str):
        out.append(f"核实结论：{_label(VERDICT_LABELS, str(data['verdict']))}")
    if isinstance(data.get("cause"), str):
        out.append(f"差评原因分类：{_label(CAUSE_LABELS, str(data['cause']))}")
    if isinstance(data.get("new_due_date"), str):
        out.append(f"新的整改期限：{data['new_due_date']}")
    if isinstance(data.get("outcome"), str):
        out.append(f"回访结果：{_label(OUTCOME_LABELS, str(data['outcome']))}")
    if isinstance(data.get("approved"), bool):
        out.append("审核意见：" + ("同意" if data["approved"] else "不同意"))
    sms = data.get("sms")
    if sms == "queued":
        out.append("已向评价人发送短信")
    elif sms == "no_phone":
        out.append("评价人未留手机号码，未发送短信")
    if isinstance(data.get("hotline_ticket"), str):
        out.append(f"12345热线工单号：{data['hotline_ticket']}")
    if isinstance(data.get("escalated_to"), str):
        out.append(f"提请督办地区：{data['escalated_to']}")
    return out


def _points(value: float) -> str:
    return f"{value:g}"


def _context(who: Official, **values: Any) -> dict[str, Any]:
    return {
        "user": who.user,
        "csrf_token": who.login.csrf_token,
        "local": local_time,
        "due": due_time,
        "time_left": time_left,
        "base": BASE,
        "api": API,
        **values,
    }


# --- the inbox -------------------------------------------------------------------------------

SortKey = Literal["received", "due", "no"]


@dataclass
class InboxQuery:
    """The inbox's filters as the page shows and links them."""

    states: list[str] = field(default_factory=list)
    timing: str = ""
    source: str = ""
    org: str = ""
    window: str = ""
    region: str = ""
    date_from: str = ""
    date_to: str = ""
    mine: bool = False
    escalated: bool = False
    q: str = ""
    sort: SortKey = "received"
    order: str = "desc"
    page: int = 1
    page_size: int = PAGE_SIZE

    def params(self, **over: Any) -> list[tuple[str, str]]:
        values: dict[str, Any] = {
            "f": "1",
            "state": self.states,
            "timing": self.timing,
            "source": self.source,
            "org": self.org,
            "window": self.window,
            "region": self.region,
            "from": self.date_from,
            "to": self.date_to,
            "mine": "1" if self.mine else "",
            "escalated": "1" if self.escalated else "",
            "q": self.q,
            "sort": self.sort,
            "order": self.order,
            "page": str(self.page) if self.page > 1 else "",
            "page_size": str(self.page_size) if self.page_size != PAGE_SIZE else "",
        }
        values.update(over)
        pairs: list[tuple[str, str]] = []
        for key, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                if item not in ("", None):
                    pairs.append((key, str(item)))
        return pairs

    def url(self, **over: Any) -> str:
        return f"{BASE}?{urlencode(self.params(**over))}"

    def sort_url(self, key: str) -> str:
        flipped = "asc" if self.order == "desc" else "desc"
        order = flipped if key == self.sort else SORT_FIRST[key]
        return self.url(sort=key, order=order, page="")

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "ascending" if self.order == "asc" else "descending"


def _day(text: str, label: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "workorder_date_invalid", f"{label}的格式不正确，请按“年-月-日”填写"
        ) from None


def _beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BEIJING)


ShortQuery = Annotated[str, Query(max_length=50)]


@router.get("", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: ReaderDep,
    state: Annotated[list[str] | None, Query()] = None,
    timing: ShortQuery = "",
    source: ShortQuery = "",
    org: ShortQuery = "",
    window: ShortQuery = "",
    region: Annotated[str, Query(max_length=12)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    mine: Annotated[str, Query(max_length=5)] = "",
    escalated: Annotated[str, Query(max_length=5)] = "",
    q: Annotated[str, Query(max_length=64)] = "",
    sort: ShortQuery = "received",
    order: ShortQuery = "desc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
) -> Response:
    """F1-F5: the orders in the official's scope. A first visit shows the orders waiting for a
    step the official takes (只看待我办理); the filter form keeps its choices in the address."""
    can_act = who.principal.can(Permission.workorders_act)
    states = list(dict.fromkeys(s for s in state or [] if s))
    if any(s not in State.__members__ for s in states):
        raise InvalidInput("workorder_state_invalid", "工单状态不正确，请重新选择")
    if timing not in ("", "due_soon", "overdue"):
        raise InvalidInput("workorder_timing_invalid", "时限条件不正确，请重新选择")
    if source and source not in OrderSource.__members__:
        raise InvalidInput("workorder_source_invalid", "工单来源不正确，请重新选择")
    if sort not in SORT_LABELS or order not in ("asc", "desc"):
        raise InvalidInput("workorder_sort_invalid", "排序方式不正确")
    day_from = _day(date_from, "受理日期（起）")
    day_to = _day(date_to, "受理日期（止）")
    first_visit = not request.query_params
    query = InboxQuery(
        states=states,
        timing=timing,
        source=source,
        org=org.strip(),
        window=window.strip(),
        region=region.strip(),
        date_from=date_from,
        date_to=date_to,
        mine=can_act if first_visit else bool(mine),
        escalated=bool(escalated),
        q=q.strip(),
        sort="due" if sort == "due" else "no" if sort == "no" else "received",
        order=order,
        page=page,
        page_size=page_size,
    )
    result = service.list_orders(
        session=session,
        principal=who.principal,
        now=now,
        filters=service.OrderFilter(
            states=states,
            source=query.source or None,
            org_code=query.org or None,
            window_code=query.window or None,
            region_code=query.region or None,
            received_from=_beijing_midnight(day_from) if day_from else None,
            received_to=_beijing_midnight(day_to + timedelta(days=1)) if day_to else None,
            timing="due_soon" if timing == "due_soon" else "overdue" if timing else None,
            mine=query.mine,
            escalated=query.escalated,
            query=query.q or None,
        ),
        sort=query.sort,
        descending=query.order == "desc",
        page=page,
        page_size=page_size,
    )
    session.commit()
    pages = max(1, -(-result.total // page_size))
    final = {s.value for s in FINAL_STATES}
    rows = [
        {
            "item": item,
            "late": item.state not in final
            and (item.overdue or (item.seconds_left is not None and item.seconds_left < 0)),
        }
        for item in result.items
    ]
    return templates.TemplateResponse(
        request,
        "workorders_list.html",
        _context(
            who,
            rows=rows,
            total=result.total,
            page=page,
            pages=pages,
            query=query,
            states=[(s.value, STATE_LABELS[s]) for s in State],
            sources=[(s.value, SOURCE_LABELS[s]) for s in OrderSource],
            timings=TIMING_LABELS,
            sort_labels=SORT_LABELS,
            can_act=can_act,
            can_intake=who.principal.can(Permission.workorders_intake),
        ),
    )


# --- the order's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: Literal["text", "textarea", "date", "select", "approved"]
    need: str = "必填"
    maxlength: int | None = None
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""


CAUSE_OPTIONS = tuple((c.value, CAUSE_LABELS[c]) for c in Cause)
VERDICT_OPTIONS = tuple((v.value, VERDICT_LABELS[v]) for v in Verdict)
OUTCOME_OPTIONS = tuple(OUTCOME_LABELS.items())


def _note(label: str, need: str = "必填") -> FieldSpec:
    return FieldSpec("note", label, "textarea", need, 4000)


APPEAL_FIELDS = (
    FieldSpec("approved", "审核意见", "approved"),
    _note("审核说明", "不同意时必填"),
    FieldSpec(
        "cause",
        "差评原因分类",
        "select",
        "不同意时必填",
        options=CAUSE_OPTIONS,
        hint="不同意撤销的，差评成立，转入整改并按原因分类扣分。",
    ),
)

# The fields each step needs (service._apply), with labels for people.
ACTION_FIELDS: dict[Action, tuple[FieldSpec, ...]] = {
    Action.transfer: (),
    Action.verify: (
        FieldSpec("verdict", "核实结论", "select", options=VERDICT_OPTIONS),
        FieldSpec(
            "cause",
            "差评原因分类",
            "select",
            "核实属实时必填",
            options=CAUSE_OPTIONS,
            hint="按原因分类计入扣分。",
        ),
        _note("回访核实情况说明"),
    ),
    Action.submit_report: (
        FieldSpec("measures", "整改措施", "textarea", maxlength=4000),
        FieldSpec("responsible_person", "责任人", "text", maxlength=100),
        FieldSpec("report_text", "调查整改报告", "textarea", maxlength=4000),
    ),
    Action.defer: (
        _note("无法按期整改的理由说明"),
        FieldSpec("new_due_date", "新的整改期限", "date", hint="不能早于今天。"),
    ),
    Action.explain: (
        _note("解释说明"),
        FieldSpec("responsible_person", "责任人", "text", maxlength=100),
    ),
    Action.approve_report: (),
    Action.return_report: (_note("退回理由说明"),),
    Action.confirm_rectification: (
        FieldSpec(
            "cause",
            "差评原因分类",
            "select",
            "选填",
            options=CAUSE_OPTIONS,
            hint="需要调整原因分类时选择。",
        ),
    ),
    Action.reject_rectification: (_note("退回理由说明"),),
    Action.leader_approve: (),
    Action.leader_return: (_note("退回理由说明"),),
    Action.report_upward: (),
    Action.send_feedback: (
        FieldSpec(
            "feedback_text",
            "告知评价人的内容",
            "textarea",
            maxlength=140,
            hint="以短信发送给评价人，不超过140字。",
        ),
    ),
    Action.record_revisit: (
        FieldSpec("outcome", "回访结果", "select", options=OUTCOME_OPTIONS),
        _note("回访情况说明"),
        FieldSpec(
            "feedback_text",
            "回访短信内容",
            "textarea",
            "选填",
            140,
            hint="填写后以短信发送给评价人，不超过140字。",
        ),
    ),
    Action.file_appeal: (_note("申诉理由说明", "必填"),),
    Action.withdraw_appeal: (FieldSpec("cause", "差评原因分类", "select", options=CAUSE_OPTIONS),),
    Action.check_appeal: APPEAL_FIELDS,
    Action.approve_appeal: APPEAL_FIELDS,
    Action.decide_appeal: (
        APPEAL_FIELDS[0],
        _note("复核说明"),
        APPEAL_FIELDS[2],
    ),
}
FORM_FIELDS = (
    "note",
    "verdict",
    "cause",
    "measures",
    "responsible_person",
    "report_text",
    "new_due_date",
    "feedback_text",
    "outcome",
    "approved",
)


def _order_page(
    request: Request,
    session: Session,
    who: Official,
    order_no: str,
    now: datetime,
    *,
    notice: str | None = None,
    error: str | None = None,
    failed: str | None = None,
    values: Mapping[str, str] | None = None,
    upload_note: str = "",
    upload_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    order = service.get_order(session=session, principal=who.principal, order_no=order_no, now=now)
    row = service.load_order(session=session, principal=who.principal, order_no=order_no)
    capacities = service.capacities(session, who.principal, row)
    final = order.state in {s.value for s in FINAL_STATES}
    forms = [
        {
            "action": option.action,
            "label": option.label,
            "actor": option.actor,
            "fields": ACTION_FIELDS.get(Action(option.action), ()),
        }
        for option in order.actions
        if option.action in Action.__members__
    ]
    session.commit()
    return templates.TemplateResponse(
        request,
        "workorders_order.html",
        _context(
            who,
            order=order,
            profile_title=_profile_title(order),
            forms=forms,
            can_upload=(bool(order.actions) or bool(capacities))
            and not final
            and who.principal.can(Permission.workorders_act),
            final=final,
            notice=notice,
            error=error,
            failed=failed,
            values=values or {},
            upload_note=upload_note,
            upload_error=upload_error,
            today=local_date(now).isoformat(),
            verdict_label=_label(VERDICT_LABELS, order.verdict),
            cause_label=_label(CAUSE_LABELS, order.cause),
            resolution_label=_label(RESOLUTION_LABELS, order.resolution),
            points=_points(order.deduction_points),
            event_details=event_details,
            who_of=_who,
            max_mb=service.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        ),
        status_code=status_code,
    )


def _profile_title(order: OrderOut) -> str:
    try:
        return policy_service.get_profile(name=order.profile_name).title
    except DomainError:
        return order.profile_name


@router.get("/complaints/new", response_class=HTMLResponse)
def complaint_form(request: Request, who: IntakeDep) -> Response:
    """RA 附件2 (现场投诉) and HB Art.14 (12345热线转办): the registration form."""
    return _complaint_page(request, who, {"source": "onsite"})


@router.get("/{order_no}", response_class=HTMLResponse)
def order_page(
    request: Request,
    order_no: OrderNo,
    session: SessionDep,
    now: NowDep,
    who: ReaderDep,
    done: Annotated[str, Query(max_length=5)] = "",
    uploaded: Annotated[str, Query(max_length=5)] = "",
    registered: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    """F1-F5: the order, its deadlines (F5), its timeline, its documents, and one form per
    step the official may take now."""
    notice = next(
        (
            text
            for key, text in NOTICES.items()
            if {"done": done, "uploaded": uploaded, "registered": registered}[key]
        ),
        None,
    )
    return _order_page(request, session, who, order_no, now, notice=notice)


# --- taking a step ---------------------------------------------------------------------------

FIELD_LABELS = {
    **service.FIELD_NAMES,
    "action": "办理操作",
    "version": "页面版本",
}


def _validation_message(exc: ValidationError, labels: Mapping[str, str]) -> str:
    """The first problem of a form, in Chinese."""
    for error in exc.errors():
        loc = error.get("loc", ())
        name = str(loc[0]) if loc else ""
        if not name:
            continue
        label = labels.get(name, name)
        kind = error.get("type", "")
        ctx = error.get("ctx") or {}
        if kind == "missing":
            return f"请填写{label}"
        if kind == "string_too_long":
            return f"{label}不能超过 {ctx.get('max_length')} 字"
        if kind == "string_too_short":
            return f"请填写{label}"
        if kind == "string_pattern_mismatch":
            return f"{label}的格式不正确"
        if kind in ("enum", "literal_error", "bool_parsing"):
            return f"请重新选择{label}"
        if kind.startswith("date"):
            return f"{label}的格式不正确，请按“年-月-日”填写"
        return f"{label}填写不正确，请检查后重试"
    return "提交的内容不符合要求，请检查后重试"


def _action_in(action: str, version: str, values: Mapping[str, str]) -> ActionIn:
    if not action:
        raise InvalidInput("workorder_action_missing", "请选择要办理的操作")
    payload: dict[str, Any] = {"action": action, "version": version or None}
    payload.update({name: value for name, value in values.items() if value != ""})
    try:
        return ActionIn.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(
            "workorder_form_invalid", _validation_message(exc, FIELD_LABELS)
        ) from None


def _form_message(exc: DomainError, action: str) -> str:
    """The service names a missing field in general words; the page names it as its form's
    label does (请填写回访核实情况说明)."""
    field_name = exc.details.get("field") if isinstance(exc.details, dict) else None
    if exc.code == "workorder_field_required" and action in Action.__members__:
        for spec in ACTION_FIELDS.get(Action(action), ()):
            if spec.name == field_name:
                return f"请填写{spec.label}"
    return exc.message


LongText = Annotated[str, Form(max_length=8000)]
ShortText = Annotated[str, Form(max_length=200)]


def _clean(value: str) -> str:
    # Browsers send a textarea's line breaks as CRLF.
    return value.replace("\r\n", "\n").strip()


@router.post("/{order_no}/act", response_class=HTMLResponse)
def act(
    request: Request,
    order_no: OrderNo,
    session: SessionDep,
    now: NowDep,
    who: ActorFormDep,
    action: Annotated[str, Form(max_length=40)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    note: LongText = "",
    verdict: ShortText = "",
    cause: ShortText = "",
    measures: LongText = "",
    responsible_person: ShortText = "",
    report_text: LongText = "",
    new_due_date: ShortText = "",
    feedback_text: LongText = "",
    outcome: ShortText = "",
    approved: ShortText = "",
) -> Response:
    """F1-F5: one step of the procedure from its form. Refused (illegal step, missing field,
    not the official's step, stale page): the page again with the reason, nothing changed."""
    values = {
        "note": _clean(note),
        "verdict": verdict.strip(),
        "cause": cause.strip(),
        "measures": _clean(measures),
        "responsible_person": responsible_person.strip(),
        "report_text": _clean(report_text),
        "new_due_date": new_due_date.strip(),
        "feedback_text": _clean(feedback_text),
        "outcome": outcome.strip(),
        "approved": approved.strip(),
    }
    try:
        data = _action_in(action.strip(), version.strip(), values)
        service.perform(
            session=session, principal=who.principal, order_no=order_no, data=data, now=now
        )
    except DomainError as exc:
        session.rollback()
        return _order_page(
            request,
            session,
            who,
            order_no,
            now,
            error=_form_message(exc, action.strip()),
            failed=action.strip(),
            values=values,
            status_code=exc.status_code,
        )
    session.commit()
    return RedirectResponse(f"{BASE}/{order_no}?done=1", status_code=303)


@router.post("/{order_no}/attachments", response_class=HTMLResponse)
def upload(
    request: Request,
    order_no: OrderNo,
    session: SessionDep,
    now: NowDep,
    who: ActorFormDep,
    file: Annotated[UploadFile | None, File()] = None,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """RA Art.6 (佐证材料): a photo, recording, video or scan; the type is read from the
    content by the service, never from the name."""
    note = _clean(note)
    try:
        if file is None or not file.filename:
            raise InvalidInput("attachment_missing", "请选择要上传的文件")
        content = file.file.read(service.MAX_ATTACHMENT_BYTES + 1)
        service.add_attachment(
            session=session,
            principal=who.principal,
            order_no=order_no,
            filename=file.filename,
            content=content,
            note=note or None,
            now=now,
        )
    except DomainError as exc:
        session.rollback()
        return _order_page(
            request,
            session,
            who,
            order_no,
            now,
            upload_note=note,
            upload_error=exc.message,
            status_code=exc.status_code,
        )
    session.commit()
    return RedirectResponse(f"{BASE}/{order_no}?uploaded=1", status_code=303)


# --- complaints ------------------------------------------------------------------------------

COMPLAINT_LABELS = {
    "source": "投诉来源",
    "case_no": "办件编号",
    "org_code": "责任机构编码",
    "window_code": "窗口编码",
    "staff_code": "工作人员编码",
    "complainant_name": "投诉人姓名",
    "complainant_phone": "投诉人联系电话",
    "text": "投诉内容",
    "hotline_ticket": "12345热线工单号",
}
COMPLAINT_SOURCES = (("onsite", "现场投诉"), ("hotline", "12345热线转办"))


def _complaint_page(
    request: Request,
    who: Official,
    values: Mapping[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "workorders_complaint.html",
        _context(
            who,
            values=values,
            sources=COMPLAINT_SOURCES,
            labels=COMPLAINT_LABELS,
            error=error,
        ),
        status_code=status_code,
    )


@router.post("/complaints/new", response_class=HTMLResponse)
def complaint_submit(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: IntakeFormDep,
    source: ShortText = "",
    case_no: ShortText = "",
    org_code: ShortText = "",
    window_code: ShortText = "",
    staff_code: ShortText = "",
    complainant_name: ShortText = "",
    complainant_phone: ShortText = "",
    text: LongText = "",
    hotline_ticket: ShortText = "",
) -> Response:
    """RA 附件2, HB Art.14: register the complaint; it becomes an order routed like a bad
    review (F4), and the official lands on its page."""
    values = {
        "source": source.strip(),
        "case_no": case_no.strip(),
        "org_code": org_code.strip(),
        "window_code": window_code.strip(),
        "staff_code": staff_code.strip(),
        "complainant_name": complainant_name.strip(),
        "complainant_phone": complainant_phone.strip(),
        "text": _clean(text),
        "hotline_ticket": hotline_ticket.strip(),
    }
    try:
        if not values["source"]:
            raise InvalidInput("complaint_source_missing", "请选择投诉来源")
        if not values["case_no"] and not values["org_code"]:
            raise InvalidInput(
                "complaint_unit_missing", "请填写办件编号或责任机构编码（至少填写一项）"
            )
        try:
            data = ComplaintIn.model_validate({k: v for k, v in values.items() if v != ""})
        except ValidationError as exc:
            raise InvalidInput(
                "complaint_form_invalid", _validation_message(exc, COMPLAINT_LABELS)
            ) from None
        out = service.register_complaint(
            session=session, principal=who.principal, data=data, now=now
        )
    except DomainError as exc:
        session.rollback()
        return _complaint_page(request, who, values, error=exc.message, status_code=exc.status_code)
    session.commit()
    return RedirectResponse(f"{BASE}/{out.order_no}?registered=1", status_code=303)
