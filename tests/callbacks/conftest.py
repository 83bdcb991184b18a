"""监督查评 (D2) fixtures: rated cases in and out of a supervisor's region, with and without
a phone, defaults and revoked ones, and the scopes that draw from them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope, scope_of
from haochaping.callbacks import sampling
from haochaping.callbacks.schemas import SampleOut
from haochaping.evaluations.models import Evaluation
from tests.factories import T0, occasions_of, rate, register

NOW = T0 + timedelta(days=1)
PHONE = "13812348000"
ACTOR = "user:sup"
# The windows of the staff of tests.factories.make_catalog.
WINDOWS = {"S1": "W1", "S2": "W1", "S3": "W2"}


def rated(
    session: Session,
    case_no: str,
    *,
    item: str = "I-IMM",
    staff: str | None = "S1",
    level: int = 5,
    channel: int = 4,
    phone: str | None = PHONE,
) -> int:
    """Register a case (its applicant with ``phone``, or none), rate its first occasion; the
    evaluation's id."""
    applicant: dict[str, Any] = {
        "type": "person",
        "name": "张三丰",
        "id_type": "身份证",
        "id_no": "450224199001011234",
    }
    if phone:
        applicant["phone"] = phone
    extra: dict[str, Any] = {"applicant": applicant}
    if staff:
        extra["staff_code"] = staff
    if staff in WINDOWS:
        extra["window_code"] = WINDOWS[staff]
    case = register(session, case_no, item, **extra)
    occasion = occasions_of(session, case)[0]
    text = "办理时间太长" if level <= 2 else None
    return rate(session, occasion.id, level, channel=channel, text=text).id


def evaluation(session: Session, evaluation_id: int) -> Evaluation:
    found = session.scalar(select(Evaluation).where(Evaluation.id == evaluation_id))
    assert found is not None
    return found


def region_scope(session: Session, *codes: str) -> Scope:
    """The scope of a supervisor of ``codes``."""
    return scope_of(session, region_codes=set(codes))


def draw(
    session: Session,
    scope: Scope,
    region: str = "450224",
    size: int = 500,
    *,
    seed: int | None = None,
    **params: Any,
) -> SampleOut:
    return sampling.draw_sample(
        session=session,
        scope=scope,
        actor=ACTOR,
        now=NOW,
        params=sampling.DrawParams(region_code=region, size=size, **params),
        seed=seed,
    )
