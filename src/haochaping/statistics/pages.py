"""The supervision dashboard of the console (issue 6): KPIs, trend, distribution, channels,
labels, hot words, rankings and focus lists, drilling down region → sub-region → organisation →
window → staff → evaluations and work orders, with period and channel filters. Every table
links to its xlsx export (``/api/v1/stats/export.xlsx``, same scope).

Charts are drawn by ECharts, installed from the npm registry (``make assets``) and served by the
application; the figures travel in a JSON data block and every chart has a table beside it, so
the page reads without JavaScript and with a screen reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from haochaping.access.principal import Permission, Principal
from haochaping.access.rules import Forbidden
from haochaping.catalog.models import Organization, Region, RegionLevel, Staff, Window
from haochaping.clock import BEIJING, local_date
from haochaping.console.officials import Official, officials_with
from haochaping.console.pages import ConsoleRoute, templates
from haochaping.errors import NotFound
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import CHANNEL_NAMES, Channel
from haochaping.protection.ratelimit import RateLimit
from haochaping.statistics import export, hotwords, service
from haochaping.statistics.bulletin import (
    DOCX_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    bulletin_filename,
    document,
    gather,
    workbook,
)
from haochaping.statistics.export import FOCUS_REASONS
from haochaping.statistics.metrics import period_bounds
from haochaping.statistics.periods import Period, current_month, parse_period
from haochaping.statistics.schemas import DIMENSION_NAMES, Dimension, UnitMetrics
from haochaping.statistics.units import Unit, describe_unit, home_region, region_unit
from haochaping.web import NowDep, SessionDep

BASE = "/console/stats"
EXPORT = "/api/v1/stats/export.xlsx"
PAGE_SIZE = 50
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
# Region levels whose page lists organisations, not staff, among its focus objects.
WIDE_LEVELS = frozenset({RegionLevel.province.value, RegionLevel.city.value})
# The dashboard runs the ECharts bundle the application serves itself, nothing inline.
DASHBOARD_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

router = APIRouter(
    prefix=BASE,
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)


# A logged-in official allowed to read the statistics (issue 6).
_READERS = officials_with(
    "您没有查看统计分析的权限，如需使用请联系系统管理员", Permission.scores_read
)
Reader = Annotated[Official, Depends(_READERS.reader)]


@dataclass
class View:
    """Where in the drill-down the page is, and the way back up."""

    dimension: Dimension
    unit: Unit
    crumbs: list[tuple[str, str | None]]
    params: dict[str, str]


def _period(now_day: date, code: str | None) -> Period:
    return parse_period(code) if code else current_month(now_day)


def _period_choices(today: date) -> list[tuple[str, str]]:
    month = current_month(today)
    choices = []
    for back in range(12):
        p = month.previous(back) if back else month
        choices.append((p.code, p.label))
    quarter = (today.month - 1) // 3 + 1
    for year, q in ((today.year, quarter), *(_back_quarters(today.year, quarter, 3))):
        p = parse_period(f"{year}-Q{q}")
        choices.append((p.code, p.label))
    for year in (today.year, today.year - 1):
        choices.append((str(year), f"{year}年"))
    return choices


def _back_quarters(year: int, quarter: int, count: int) -> list[tuple[int, int]]:
    result = []
    for _ in range(count):
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
        result.append((year, quarter))
    return result


def _region_crumbs(
    session: Session, region: Region, top: Region | None
) -> list[tuple[str, str | None]]:
    codes = [c for c in region.path.strip("/").split("/") if c]
    if top is not None:
        top_codes = [c for c in top.path.strip("/").split("/") if c]
        codes = codes[len(top_codes) - 1 :] if codes[: len(top_codes)] == top_codes else codes
    crumbs: list[tuple[str, str | None]] = []
    for code in codes:
        found = session.get(Region, code)
        if found is not None:
            crumbs.append((found.name, f"region={code}"))
    return crumbs


def _view(
    session: Session,
    principal: Principal,
    *,
    region: str | None,
    org: int | None,
    window: int | None,
    staff: int | None,
) -> View:
    access = principal.scope
    top = home_region(session, access)
    if staff is not None:
        unit = describe_unit(session, access, Dimension.staff, str(staff))
        person = session.get_one(Staff, staff)
        crumbs = _org_crumbs(session, access, top, person.org_id)
        if person.window_id is not None:
            w = session.get_one(Window, person.window_id)
            crumbs.append((w.name, f"window={w.id}"))
        return View(Dimension.staff, unit, crumbs, {"staff": str(staff)})
    if window is not None:
        unit = describe_unit(session, access, Dimension.window, str(window))
        w = session.get_one(Window, window)
        return View(
            Dimension.window,
            unit,
            _org_crumbs(session, access, top, w.org_id),
            {"window": str(window)},
        )
    if org is not None:
        unit = describe_unit(session, access, Dimension.org, str(org))
        crumbs = _org_crumbs(session, access, top, org)[:-1]
        return View(Dimension.org, unit, crumbs, {"org": str(org)})
    if region is None and top is None:
        return _own_view(session, principal)
    if region:
        unit = describe_unit(session, access, Dimension.region, region)
    else:
        assert top is not None
        unit = region_unit(top)
    current = session.get_one(Region, unit.key)
    crumbs = _region_crumbs(session, current, top)[:-1]
    return View(Dimension.region, unit, crumbs, {"region": unit.key})


def _org_crumbs(
    session: Session, access: Any, top: Region | None, org_id: int
) -> list[tuple[str, str | None]]:
    organisation = session.get(Organization, org_id)
    if organisation is None:
        raise NotFound("org_not_found", "未找到该部门")
    crumbs: list[tuple[str, str | None]] = []
    if top is not None:
        region = session.get_one(Region, organisation.region_code)
        if region.path.startswith(top.path):
            crumbs.extend(_region_crumbs(session, region, top))
    crumbs.append((organisation.name, f"org={organisation.id}"))
    return crumbs


def _own_view(session: Session, principal: Principal) -> View:
    """An organisation's manager opens on their organisation, a clerk on themselves."""
    access = principal.scope
    if access.org_ids:
        org_id = min(access.org_ids)
        return View(
            Dimension.org,
            describe_unit(session, access, Dimension.org, str(org_id)),
            [],
            {"org": str(org_id)},
        )
    if access.staff_ids:
        staff_id = min(access.staff_ids)
        return View(
            Dimension.staff,
            describe_unit(session, access, Dimension.staff, str(staff_id)),
            [],
            {"staff": str(staff_id)},
        )
    raise Forbidden("forbidden", "您的授权范围内没有可统计的单位")


@dataclass
class Section:
    """One table of the page: its rows, where each row leads, and its export."""

    title: str
    dimension: Dimension
    rows: list[Any]
    link: str | None
    export: str
    ranked: bool = True
    explanation: str = ""
    total: int = 0
    page: int = 1
    pages: int = 1


def _sections(
    session: Session,
    principal: Principal,
    view: View,
    period: Period,
    channel: int | None,
    page: int,
) -> list[Section]:
    access = principal.scope
    base = {"period": period.code, **({"channel": str(channel)} if channel else {})}

    def ranked(
        title: str, selection: service.Selection, link: str | None, paged: bool = False
    ) -> Section:
        paging = service.Paging(page, PAGE_SIZE) if paged else None
        result = service.ranking(session, access, selection, paging=paging)
        total = result.total
        pages = max(1, -(-total // PAGE_SIZE)) if paged else 1
        current = min(page, pages)
        if paged and current != page:
            # Past the last page (a stale link): the last page.
            paging = service.Paging(current, PAGE_SIZE)
            result = service.ranking(session, access, selection, paging=paging)
        rows = result.items
        params = {**base, "dimension": selection.dimension.value, "kind": "ranking"}
        params.update(_selection_params(selection))
        return Section(
            title,
            selection.dimension,
            rows,
            link,
            f"{EXPORT}?{urlencode(params)}",
            explanation=result.explanation,
            total=total,
            page=current,
            pages=pages,
        )

    def select(dimension: Dimension, **kw: Any) -> service.Selection:
        return service.Selection(dimension, period, channel=channel, **kw)

    key = view.unit.key
    if view.dimension is Dimension.region:
        return [
            ranked("下级地区", select(Dimension.region, region=key), "region"),
            ranked("部门", select(Dimension.org, region=key), "org", paged=True),
            ranked("业务条线", select(Dimension.line, region=key), None),
        ]
    if view.dimension is Dimension.org:
        return [
            ranked("窗口", select(Dimension.window, org_id=int(key)), "window"),
            ranked("工作人员", select(Dimension.staff, org_id=int(key)), "staff", paged=True),
        ]
    if view.dimension is Dimension.window:
        return [ranked("工作人员", select(Dimension.staff, window_id=int(key)), "staff")]
    return []


def _selection_params(selection: service.Selection) -> dict[str, str]:
    params = {}
    if selection.region:
        params["region"] = selection.region
    if selection.org_id is not None:
        params["org"] = str(selection.org_id)
    if selection.window_id is not None:
        params["window"] = str(selection.window_id)
    return params


def _focus(
    session: Session, principal: Principal, view: View, period: Period, channel: int | None
) -> tuple[list[Any], str]:
    access = principal.scope
    key = view.unit.key
    selections: list[service.Selection] = []
    if view.dimension is Dimension.region:
        selections = [service.Selection(Dimension.org, period, region=key, channel=channel)]
        staff = service.Selection(Dimension.staff, period, region=key, channel=channel)
        # Staff are followed from their county and organisation pages: a province's or a
        # city's thousands of clerks would drown its organisations (the API still lists them).
        if view.unit.level not in WIDE_LEVELS:
            selections.append(staff)
    elif view.dimension is Dimension.org:
        selections = [service.Selection(Dimension.staff, period, org_id=int(key), channel=channel)]
    entries = []
    for selection in selections:
        for entry in service.focus(session, access, selection):
            entries.append(entry)
    export = ""
    if selections:
        params = {"period": period.code, "kind": "focus", "dimension": selections[0].dimension}
        params.update(_selection_params(selections[0]))
        export = f"{EXPORT}?{urlencode(params)}"
    return entries, export


def _charts(overview: Any) -> dict[str, Any]:
    unit: UnitMetrics = overview.unit
    return {
        "trend": {
            "days": [p.day[5:] for p in overview.trend],
            "evaluations": [p.evaluations for p in overview.trend],
            "active": [p.active for p in overview.trend],
            "average": [
                round(p.average, 2) if p.average is not None else None for p in overview.trend
            ],
        },
        "levels": [
            {"name": LEVEL_NAMES[level], "value": unit.levels.get(level, 0)}
            for level in (5, 4, 3, 2, 1)
        ],
        "channels": [{"name": c.name, "value": c.evaluations} for c in overview.channels],
        "labels": [{"name": s.name, "value": s.evaluations} for s in overview.labels[:10]],
    }


@router.get("", summary="统计分析")
def dashboard(
    request: Request,
    session: SessionDep,
    now: NowDep,
    reader: Reader,
    region: Annotated[str | None, Query(max_length=12, pattern=r"^\d{6,12}$")] = None,
    org: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    window: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    staff: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    period: Annotated[str | None, Query(max_length=20)] = None,
    # The filter form sends ``channel=`` for 全部渠道.
    channel_code: Annotated[str | None, Query(alias="channel", pattern=r"^[1-7]?$")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    user, login, principal = reader.user, reader.login, reader.principal
    channel = int(channel_code) if channel_code else None
    today = local_date(now)
    chosen = _period(today, period)
    view = _view(session, principal, region=region, org=org, window=window, staff=staff)
    overview = service.overview(
        session, principal.scope, view.dimension, view.unit.key, chosen, channel=channel
    )
    with service.one_page(session):
        # The organisations' ranking and their focus list read the same units and sums.
        sections = _sections(session, principal, view, chosen, channel, page)
        focus, focus_export = _focus(session, principal, view, chosen, channel)
    words = hotwords.hot_words(session, principal.scope, view.unit, chosen, top=30)
    recent: list[Any] = []
    if view.dimension is Dimension.staff:
        start, end = period_bounds(chosen)
        _, recent = evaluations.list_evaluations(
            session=session,
            filters=evaluations.EvaluationFilter(
                staff_code=view.unit.code, date_from=start, date_to=end
            ),
            page=1,
            page_size=50,
            scope=principal.scope,
        )
    keep = {"period": chosen.code, **({"channel": str(channel)} if channel else {})}
    response = templates.TemplateResponse(
        request,
        "stats_dashboard.html",
        {
            "user": user,
            "csrf_token": login.csrf_token,
            "base": BASE,
            "view": view,
            "unit": overview.unit,
            "overview": overview,
            "period": chosen,
            "periods": _period_choices(today),
            "channel": channel,
            "channels": [(int(c), CHANNEL_NAMES[c]) for c in Channel],
            "sections": sections,
            "focus": focus,
            "focus_export": focus_export,
            "focus_reasons": FOCUS_REASONS,
            "wide_levels": WIDE_LEVELS,
            "words": words,
            "recent": recent,
            "level_names": LEVEL_NAMES,
            "beijing": BEIJING,
            "dimension_names": DIMENSION_NAMES,
            "keep": keep,
            "q": lambda **extra: urlencode({**keep, **extra}),
            "charts_json": json.dumps(_charts(overview), ensure_ascii=False).replace("</", "<\\/"),
            "overview_export": f"{BASE}/overview.xlsx?" + urlencode({**keep, **view.params}),
            "table_export": f"{EXPORT}?"
            + urlencode(
                {**keep, "dimension": view.dimension.value, "kind": "table", **_own_params(view)}
            ),
            "workorders_link": _workorders_link(session, view, chosen),
            "can_bulletin": view.dimension is Dimension.region,
        },
    )
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


def _own_params(view: View) -> dict[str, str]:
    """Export parameters that list the page's own unit among its peers."""
    if view.dimension is Dimension.region:
        parent = view.crumbs[-1][1] if view.crumbs else None
        return {"region": parent.split("=", 1)[1]} if parent else {"region": view.unit.key}
    return view.params


def _workorders_link(session: Session, view: View, period: Period) -> str:
    params: dict[str, str] = {
        "f": "1",
        "from": period.start.isoformat(),
        "to": _last_day(period).isoformat(),
    }
    if view.dimension is Dimension.region:
        params["region"] = view.unit.key
    elif view.dimension is Dimension.org:
        params["org"] = view.unit.code
    elif view.dimension is Dimension.window:
        params["window"] = view.unit.code
    else:
        person = session.get_one(Staff, int(view.unit.key))
        params["org"] = session.get_one(Organization, person.org_id).code
        if person.window_id is not None:
            params["window"] = session.get_one(Window, person.window_id).code
    return "/console/workorders?" + urlencode(params)


def _last_day(period: Period) -> date:
    return period.end - timedelta(days=1)


@router.get("/overview.xlsx", summary="导出本页指标与图表数据（xlsx）")
def overview_export(
    session: SessionDep,
    now: NowDep,
    reader: Reader,
    region: Annotated[str | None, Query(max_length=12, pattern=r"^\d{6,12}$")] = None,
    org: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    window: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    staff: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    period: Annotated[str | None, Query(max_length=20)] = None,
    channel_code: Annotated[str | None, Query(alias="channel", pattern=r"^[1-7]?$")] = None,
) -> Response:
    """The unit of a dashboard page: its figures and the tables behind its charts."""
    principal = reader.principal
    chosen = _period(local_date(now), period)
    channel = int(channel_code) if channel_code else None
    view = _view(session, principal, region=region, org=org, window=window, staff=staff)
    overview = service.overview(
        session, principal.scope, view.dimension, view.unit.key, chosen, channel=channel
    )
    content = export.overview_xlsx(f"{view.unit.name}{chosen.label}"[:31], overview)
    name = f"统计-{view.unit.code}-{chosen.code.replace('..', '至')}.xlsx"
    return _download(content, XLSX_MEDIA_TYPE, name)


def _download(content: bytes, media_type: str, name: str) -> Response:
    """A file to save, under its Chinese name (RFC 5987)."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/bulletin.{extension}", summary="下载“好差评”情况通报（G2）")
def bulletin(
    session: SessionDep,
    now: NowDep,
    reader: Reader,
    extension: Literal["docx", "xlsx"],
    region: Annotated[str | None, Query(max_length=12, pattern=r"^\d{6,12}$")] = None,
    period: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The bulletin of a region of the caller's subtree: the Word 通报 or its workbook, the same
    files as ``haochaping report bulletin``."""
    principal = reader.principal
    chosen = _period(local_date(now), period)
    gathered = gather(session, principal.scope, region, chosen, now=now)
    if extension == "docx":
        content, media_type = document.render(gathered), DOCX_MEDIA_TYPE
    else:
        content, media_type = workbook.render(gathered), XLSX_MEDIA_TYPE
    name = bulletin_filename(gathered.region_code, chosen, extension)
    return _download(content, media_type, name)


@router.get("/reviews", summary="含热词的差评")
def reviews(
    request: Request,
    session: SessionDep,
    now: NowDep,
    reader: Reader,
    word: Annotated[str, Query(min_length=1, max_length=20)],
    dimension: Dimension = Dimension.region,
    key: Annotated[str | None, Query(max_length=40)] = None,
    period: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The bad reviews behind one hot word (G3), inside the caller's scope."""
    user, login, principal = reader.user, reader.login, reader.principal
    chosen = _period(local_date(now), period)
    unit = service.overview_unit(session, principal.scope, dimension, key)
    found = evaluations.describe(
        session=session,
        evaluations=hotwords.reviews_with_word(session, principal.scope, unit, chosen, word),
    )
    return templates.TemplateResponse(
        request,
        "stats_reviews.html",
        {
            "user": user,
            "csrf_token": login.csrf_token,
            "base": BASE,
            "word": word,
            "unit": unit,
            "period": chosen,
            "rows": found,
            "level_names": LEVEL_NAMES,
            "back": f"{BASE}?" + urlencode({"period": chosen.code, **_unit_params(unit)}),
        },
    )


def _unit_params(unit: Unit) -> dict[str, str]:
    if unit.dimension is Dimension.region:
        return {"region": unit.key}
    if unit.dimension in (Dimension.org, Dimension.window, Dimension.staff):
        return {unit.dimension.value: unit.key}
    return {"region": unit.key.partition(":")[0]}
