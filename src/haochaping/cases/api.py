"""Case endpoints: business systems register and read cases; the supervision office may show
a rater's personal data in clear, with a reason, recorded (C9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import Field
from sqlalchemy.orm import Session

from haochaping.access.principal import Principal
from haochaping.access.rules import CasesReader, CasesWriter, Unmasker
from haochaping.audit.service import record
from haochaping.cases import service
from haochaping.cases.models import Case, Occasion
from haochaping.cases.schemas import ApplicantOut, CaseIn, CaseOut, OccasionOut, UnmaskIn
from haochaping.catalog import service as catalog
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.schemas import EvaluationOut
from haochaping.privacy import mask_id_no, mask_name, mask_phone
from haochaping.web import NowDep, SessionDep

router = APIRouter(tags=["办件 cases"])

CaseNo = Annotated[str, Path(min_length=1, max_length=64)]


class CaseDetail(CaseOut):
    evaluations: list[EvaluationOut] = Field(default_factory=list)


@router.post(
    "/cases",
    response_model=CaseOut,
    summary="登记或更新办件（按办件编号幂等）",
    responses={201: {"description": "新登记"}, 200: {"description": "已更新"}},
)
def upsert_case(
    data: CaseIn, session: SessionDep, now: NowDep, response: Response, caller: CasesWriter
) -> CaseOut:
    case, created = service.upsert_case(session=session, data=data, now=now, scope=caller.scope)
    out = _case_out(session, case, caller)
    session.commit()
    out.created = created
    response.status_code = 201 if created else 200
    return out


@router.get("/cases/{case_no}", response_model=CaseDetail, summary="查询办件及其评价场次、评价")
def read_case(case_no: CaseNo, session: SessionDep, caller: CasesReader) -> CaseDetail:
    case = service.get_case(session=session, case_no=case_no, scope=caller.scope)
    out = _case_out(session, case, caller)
    occasion_ids = [o.id for o in out.occasions + out.bundle_occasions]
    return CaseDetail(
        **out.model_dump(),
        evaluations=evaluations.evaluations_of_occasions(
            session=session, occasion_ids=occasion_ids, scope=caller.scope
        ),
    )


@router.post(
    "/cases/{case_no}/applicant/unmask",
    response_model=ApplicantOut,
    summary="查看评价人实名信息（须说明理由，全程留痕；限政务服务管理办公室授权人员）",
)
def unmask_applicant(
    case_no: CaseNo, data: UnmaskIn, session: SessionDep, now: NowDep, caller: Unmasker
) -> ApplicantOut:
    """C9: the rater's identity stays confidential; the supervision office may see it to
    revisit a real-name bad review. Every showing is written to the audit log."""
    case = service.get_case(session=session, case_no=case_no, scope=caller.unmask_scope)
    record(
        session,
        now=now,
        actor=caller.actor,
        action="pii_unmasked",
        target=f"case:{case.case_no}",
        details={"reason": data.reason, "fields": ["name", "id_no", "phone"]},
        ip=caller.ip,
    )
    session.commit()
    return ApplicantOut(
        type=case.applicant_type,
        name=case.applicant_name,
        id_type=case.applicant_id_type,
        id_no=case.applicant_id_no,
        phone=case.applicant_phone,
        clear=True,
    )


def _occasion_out(o: Occasion) -> OccasionOut:
    return OccasionOut(
        id=o.id,
        stage=o.stage,
        rates_staff=o.rates_staff,
        on_site=o.on_site,
        credited=o.credited,
        opens_at=o.opens_at,
        rate_until=o.rate_until,
        default_due=o.default_due,
        window_estimated=o.window_estimated,
        status=o.status,
        profile_name=o.profile_name,
    )


def _applicant(case: Case, caller: Principal) -> ApplicantOut | None:
    if not caller.sees_identities:
        return None
    # C9: personal data leaves the system masked.
    return ApplicantOut(
        type=case.applicant_type,
        name=mask_name(case.applicant_name),
        id_type=case.applicant_id_type,
        id_no=mask_id_no(case.applicant_id_no),
        phone=mask_phone(case.applicant_phone),
    )


def _case_out(session: Session, case: Case, caller: Principal) -> CaseOut:
    codes = catalog.codes_for_case(
        session=session,
        item_id=case.item_id,
        org_id=case.org_id,
        hall_id=case.hall_id,
        window_id=case.window_id,
        staff_id=case.staff_id,
    )
    own, shared = service.case_occasions(session=session, case=case)
    bundle_no = service.bundle_no(session=session, case=case)
    return CaseOut(
        case_no=case.case_no,
        item_code=codes["item"] or "",
        org_code=codes["org"] or "",
        region_code=case.region_code,
        hall_code=codes["hall"],
        window_code=codes["window"],
        staff_code=codes["staff"],
        applicant=_applicant(case, caller),
        kind=case.kind,
        handling=case.handling,
        accepted_at=case.accepted_at,
        approved_at=case.approved_at,
        delivered_at=case.delivered_at,
        completed_at=case.completed_at,
        bundle_no=bundle_no,
        batch_size=case.batch_size,
        profile_name=case.profile_name,
        occasions=[_occasion_out(o) for o in own],
        bundle_occasions=[_occasion_out(o) for o in shared],
    )
