"""Small builders for tests: a catalogue spanning several profiles, and cases on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases import service as cases
from haochaping.cases.models import Case, Occasion
from haochaping.cases.schemas import CaseIn
from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Organization,
    Region,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Evaluation
from haochaping.evaluations.schemas import EvaluationIn

# Tuesday 2026-11-10, 10:00 Beijing time.
T0 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)

REGIONS = [
    # code, name, level, parent, profile
    ("450000", "广西壮族自治区", "province", None, "guangxi"),
    ("450200", "柳州市", "city", "450000", None),
    ("450224", "融安县", "county", "450200", "rongan"),
    ("450225", "融水苗族自治县", "county", "450200", None),
    ("420000", "湖北省", "province", None, "hubei"),
    ("420100", "武汉市", "city", "420000", None),
    ("370000", "山东省", "province", None, None),
    ("370400", "枣庄市", "city", "370000", "zaozhuang"),
]


def make_catalog(session: Session) -> dict[str, Any]:
    """Regions in GX (rongan), HB and ZZ; lines L1/L2; organisations, items, windows, staff."""
    paths: dict[str, str] = {}
    for code, name, level, parent, profile in REGIONS:
        paths[code] = (paths[parent] if parent else "/") + code + "/"
        session.add(
            Region(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                path=paths[code],
                profile=profile,
            )
        )
        session.flush()
    lines = {c: BusinessLine(code=c, name=n) for c, n in (("L1", "公安"), ("L2", "不动产"))}
    session.add_all(lines.values())
    session.flush()
    orgs = {
        code: Organization(code=code, name=name, region_code=region, line_id=lines[line].id)
        for code, name, region, line in (
            ("O1", "融安县公安局", "450224", "L1"),
            ("O2", "融安县不动产登记中心", "450224", "L2"),
            ("O3", "柳州市公安局", "450200", "L1"),
            ("O4", "融水县公安局", "450225", "L1"),
            ("H1", "武汉市公安局", "420100", "L1"),
            ("Z1", "枣庄市公安局", "370400", "L1"),
        )
    }
    session.add_all(orgs.values())
    session.flush()
    items = {}
    for code, org, kind, handling, days in (
        ("I-IMM", "O1", "immediate", "window,online,terminal", 0),
        ("I-PRO", "O1", "promised", "window,online", 3),
        ("I-O2", "O2", "immediate", "window,online", 0),
        ("I-O3", "O3", "immediate", "window,online", 0),
        ("I-O4", "O4", "immediate", "window", 0),
        ("I-HB", "H1", "immediate", "window,online", 0),
        ("I-ZZ", "Z1", "immediate", "window,online", 0),
    ):
        items[code] = ServiceItem(
            code=code,
            name=f"事项{code}",
            org_id=orgs[org].id,
            kind=kind,
            handling=handling,
            promised_days=days,
        )
    session.add_all(items.values())
    hall = Hall(code="HALL-RA", name="融安县政务服务中心", region_code="450224")
    session.add(hall)
    session.flush()
    windows = {
        code: Window(code=code, name=f"{code}号窗口", hall_id=hall.id, org_id=orgs[org].id)
        for code, org in (("W1", "O1"), ("W2", "O2"))
    }
    session.add_all(windows.values())
    session.flush()
    staff = {}
    for code, org, window in (
        ("S1", "O1", "W1"),
        ("S2", "O1", "W1"),
        ("S3", "O2", "W2"),
        ("S4", "O3", None),
        ("S5", "O4", None),
        ("SH", "H1", None),
        ("SZ", "Z1", None),
    ):
        staff[code] = Staff(
            code=code,
            name=f"工作人员{code}",
            org_id=orgs[org].id,
            window_id=windows[window].id if window else None,
        )
    session.add_all(staff.values())
    session.flush()
    return {"orgs": orgs, "items": items, "staff": staff, "lines": lines, "windows": windows}


def case_in(case_no: str, item: str = "I-IMM", **overrides: Any) -> CaseIn:
    data: dict[str, Any] = {
        "case_no": case_no,
        "item_code": item,
        "handling": "window",
        "applicant": {
            "type": "person",
            "name": "张三丰",
            "id_type": "身份证",
            "id_no": "450224199001011234",
            "phone": "13812348000",
        },
        "accepted_at": T0,
        "completed_at": T0,
    }
    data.update(overrides)
    return CaseIn.model_validate(data)


def register(
    session: Session, case_no: str, item: str = "I-IMM", *, now: datetime = T0, **overrides: Any
) -> Case:
    case, _ = cases.upsert_case(
        session=session, data=case_in(case_no, item, **overrides), now=now, scope=Scope.all()
    )
    return case


def occasions_of(session: Session, case: Case) -> list[Occasion]:
    own, shared = cases.case_occasions(session=session, case=case)
    return own or shared


def rate(
    session: Session,
    occasion_id: int,
    level: int,
    *,
    now: datetime = T0,
    channel: int = 4,
    labels: list[str] | None = None,
    text: str | None = None,
) -> Evaluation:
    data = EvaluationIn(
        occasion_id=occasion_id,
        level=level,
        channel=channel,  # type: ignore[arg-type]
        label_codes=labels or [],
        text=text,
    )
    return evaluations.submit(session=session, data=data, now=now, scope=Scope.all())
