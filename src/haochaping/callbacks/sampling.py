"""监督查评 (D2, ZZ: "适时抽取参与评价的企业和群众，开展回访调查"): drawing a random sample of
recent evaluations for callbacks.

Eligible: evaluations a rater actually made (not a default, C7), not revoked, of a case in the
chosen region subtree (inside the caller's scope) whose applicant left a phone (real-name, C9),
rated in the period, optionally of one organisation, staff member or channel, and not already
in an open sample. Bundle (一件事) evaluations have no single applicant to call: not eligible.

How the random draw scales (millions of rows, SQLite and PostgreSQL alike): no
``ORDER BY random()``, which would give every eligible row a random key and sort them all.

1. one ``COUNT(*)`` of the eligible evaluations (the period bounds the scan through the
   ``rated_at`` index) gives ``eligible``;
2. ``random.Random(seed).sample(range(eligible), n)`` picks ``n`` distinct ranks in Python,
   in O(n) time and memory, with a fresh 64-bit ``seed`` stored on the sample;
3. one query numbers the eligible evaluations by ``(rated_at, id)`` with ``row_number()`` and
   keeps those whose number is one of the ranks: the database streams the eligible rows once in
   index order, sorts nothing random, and returns only the ``n`` chosen ids.

Every eligible evaluation has the same chance, ``n / eligible``; the ranks are reproducible from
the stored seed, so a draw can be explained ("the k-th eligible evaluation by time").
Concurrent draws cannot put one evaluation into two open samples: a partial unique index on
open items refuses the second (``callback_draw_conflict``, retry).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.callbacks.models import CallbackEvent, CallbackItem, CallbackSample, SampleStatus
from haochaping.callbacks.reading import day_end, day_start, get_sample, out_of_scope
from haochaping.callbacks.schemas import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    SIZE_MAX,
    SIZE_MIN,
    SampleOut,
)
from haochaping.cases.models import Case
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Region
from haochaping.clock import local_date
from haochaping.errors import Conflict, InvalidInput
from haochaping.evaluations.models import Evaluation

METHOD = "seeded_ranks_v1"


@dataclass(frozen=True)
class DrawParams:
    region_code: str
    size: int
    date_from: date | None = None
    date_to: date | None = None
    org_code: str | None = None
    staff_code: str | None = None
    channel: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Eligibility:
    """The resolved conditions of a draw."""

    region_code: str
    region_path: str
    start: datetime
    end: datetime
    org_id: int | None
    staff_id: int | None
    channel: int | None


def period(date_from: date | None, date_to: date | None, now: datetime) -> tuple[date, date]:
    """The Beijing calendar days drawn from, both included: by default the last 30 days."""
    last = date_to or local_date(now)
    first = date_from or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise InvalidInput(
            "callback_period_invalid",
            "起始日期不能晚于截止日期",
            details={"from": first.isoformat(), "to": last.isoformat()},
        )
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "callback_period_too_long",
            f"抽查期间最长为 {MAX_PERIOD_DAYS} 天，请缩短期间",
            details={"from": first.isoformat(), "to": last.isoformat()},
        )
    return first, last


def resolve(*, session: Session, scope: Scope, params: DrawParams, now: datetime) -> Eligibility:
    """Check a draw's parameters against the catalogue and the caller's scope."""
    if not SIZE_MIN <= params.size <= SIZE_MAX:
        raise InvalidInput(
            "callback_size_invalid",
            f"抽取数量应在 {SIZE_MIN} 到 {SIZE_MAX} 之间",
            details={"size": params.size, "min": SIZE_MIN, "max": SIZE_MAX},
        )
    region = catalog.get_region(session=session, code=params.region_code)
    if not scope.contains_region(session, region.code):
        raise out_of_scope("该地区")
    first, last = period(params.date_from, params.date_to, now)
    org_id = staff_id = None
    if params.org_code:
        org_id = catalog.get_org(session=session, code=params.org_code).id
    if params.staff_code:
        staff_id = catalog.get_staff(session=session, code=params.staff_code).id
    return Eligibility(
        region_code=region.code,
        region_path=region.path,
        start=day_start(first),
        end=day_end(last),
        org_id=org_id,
        staff_id=staff_id,
        channel=params.channel,
    )


def eligible_conditions(e: Eligibility, scope: Scope) -> list[ColumnElement[bool]]:
    """Evaluations (joined to their case) that may be drawn (see the module docstring)."""
    conds = [
        Evaluation.rated_at >= e.start,
        Evaluation.rated_at < e.end,
        Evaluation.is_default.is_(False),
        Evaluation.revoked_at.is_(None),
        Case.applicant_phone.is_not(None),
        Case.region_code.in_(
            select(Region.code).where(Region.path.startswith(e.region_path, autoescape=True))
        ),
        scope.case_clause(),
        ~select(CallbackItem.id)
        .where(CallbackItem.evaluation_id == Evaluation.id, CallbackItem.in_open_sample.is_(True))
        .exists(),
    ]
    if e.org_id is not None:
        conds.append(Case.org_id == e.org_id)
    if e.staff_id is not None:
        conds.append(Case.staff_id == e.staff_id)
    if e.channel is not None:
        conds.append(Evaluation.channel == e.channel)
    return conds


def count_eligible(session: Session, e: Eligibility, scope: Scope) -> int:
    return int(
        session.scalar(
            select(func.count(Evaluation.id))
            .join(Case, Case.id == Evaluation.case_id)
            .where(*eligible_conditions(e, scope))
        )
        or 0
    )


def ranked_ids(session: Session, e: Eligibility, scope: Scope, ranks: list[int]) -> list[Any]:
    """The eligible evaluations numbered 1.. by (rated_at, id) whose number is in ``ranks``."""
    number = func.row_number().over(order_by=(Evaluation.rated_at, Evaluation.id))
    numbered = (
        select(Evaluation.id.label("evaluation_id"), number.label("rn"))
        .join(Case, Case.id == Evaluation.case_id)
        .where(*eligible_conditions(e, scope))
        .subquery()
    )
    chosen = select(numbered.c.evaluation_id, numbered.c.rn).where(numbered.c.rn.in_(ranks))
    return list(session.execute(chosen))


def draw_sample(
    *,
    session: Session,
    scope: Scope,
    actor: str,
    now: datetime,
    params: DrawParams,
    seed: int | None = None,
) -> SampleOut:
    """D2: draw up to ``params.size`` (1..500) eligible evaluations at random into a new open
    sample; reports how many were eligible. ``callback_nothing_eligible`` (422) when none is;
    a region outside ``scope`` is refused (403). ``seed``: for tests, else a fresh random one."""
    e = resolve(session=session, scope=scope, params=params, now=now)
    eligible = count_eligible(session, e, scope)
    if eligible == 0:
        raise InvalidInput(
            "callback_nothing_eligible",
            "所选地区和期间内没有可回访的评价（须为评价人主动作出、未撤销、留有联系电话，"
            "且不在尚未回访完毕的抽查样本中）",
            details={"eligible": 0},
        )
    seed = secrets.randbits(64) if seed is None else seed
    size = min(params.size, eligible)
    ranks = random.Random(seed).sample(range(eligible), size)
    position_of = {rank + 1: index for index, rank in enumerate(ranks, start=1)}
    found = ranked_ids(session, e, scope, sorted(position_of))
    positions = {row.evaluation_id: position_of[int(row.rn)] for row in found}
    sample = CallbackSample(
        region_code=e.region_code,
        period_from=e.start,
        period_to=e.end,
        org_id=e.org_id,
        staff_id=e.staff_id,
        channel=e.channel,
        requested_size=params.size,
        eligible=eligible,
        size=len(positions),
        seed=f"{seed:016x}",
        method=METHOD,
        status=SampleStatus.open.value,
        note=params.note or None,
        created_by=actor,
        created_at=now,
    )
    session.add(sample)
    session.flush()
    rows = session.execute(
        select(
            Evaluation.id,
            Evaluation.case_id,
            Evaluation.channel,
            Evaluation.level,
            Evaluation.rated_at,
            Case.region_code,
            Case.org_id,
            Case.window_id,
            Case.staff_id,
        )
        .join(Case, Case.id == Evaluation.case_id)
        .where(Evaluation.id.in_(list(positions)))
    ).all()
    items = [
        CallbackItem(
            sample_id=sample.id,
            position=positions[r.id],
            evaluation_id=r.id,
            in_open_sample=True,
            case_id=r.case_id,
            region_code=r.region_code,
            org_id=r.org_id,
            window_id=r.window_id,
            staff_id=r.staff_id,
            channel=r.channel,
            level=r.level,
            rated_at=r.rated_at,
            attempts=0,
        )
        for r in sorted(rows, key=lambda r: positions[r.id])
    ]
    try:
        with session.begin_nested():
            session.add_all(items)
            session.flush()
    except IntegrityError as exc:
        # Another draw took one of these evaluations between our count and our insert.
        raise Conflict(
            "callback_draw_conflict",
            "有其他抽查同时进行，部分评价已被抽取，请重新抽取",
        ) from exc
    session.add(
        CallbackEvent(
            sample_id=sample.id,
            at=now,
            actor=actor,
            action="drawn",
            data={
                "eligible": eligible,
                "requested": params.size,
                "size": len(items),
                "seed": sample.seed,
                "method": METHOD,
            },
        )
    )
    session.flush()
    return get_sample(session=session, sample_id=sample.id, scope=scope)
