"""The demo's 综合点评 and 监督查评 (D2, D3): a few remarks at every step of their procedure and
one callback sample with some calls made, so that a fresh demo's console pages are not empty."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.callbacks import sampling
from haochaping.callbacks import service as callbacks
from haochaping.callbacks.schemas import CallResult
from haochaping.catalog.models import Organization
from haochaping.demo.catalogue import PROVINCE
from haochaping.policy.schemas import RemarkCategory
from haochaping.remarks import service as remarks
from haochaping.remarks.models import RemarkSource
from haochaping.remarks.schemas import ContactIn

ACTOR = "cli:demo"

# category, source, text
REMARKS: tuple[tuple[RemarkCategory, RemarkSource, str], ...] = (
    (
        RemarkCategory.suggestion,
        RemarkSource.web,
        "建议大厅在周六上午增开不动产登记窗口，方便上班族办事。",
    ),
    (
        RemarkCategory.complaint,
        RemarkSource.hotline,
        "社保窗口排队时间太长，叫号系统经常出错，等了两个多小时。",
    ),
    (
        RemarkCategory.inquiry,
        RemarkSource.email,
        "请问个体工商户营业执照变更经营范围，网上办理需要准备哪些材料？",
    ),
    (
        RemarkCategory.praise,
        RemarkSource.box,
        "公积金窗口的工作人员耐心细致，一次就帮我办好了提取手续，特此表扬。",
    ),
    (
        RemarkCategory.suggestion,
        RemarkSource.book,
        "自助服务区的打印机经常缺纸，希望安排专人巡查。",
    ),
    (
        RemarkCategory.complaint,
        RemarkSource.web,
        "网上申报系统提交后一直显示审核中，电话咨询无人接听。",
    ),
    (
        RemarkCategory.suggestion,
        RemarkSource.hotline,
        "希望停车场增加残疾人车位，并在入口处设置无障碍指引。",
    ),
    (
        RemarkCategory.other,
        RemarkSource.email,
        "办事指南中的咨询电话已停用，请及时更新。",
    ),
)
ANSWER = "感谢您的意见。我单位已核实有关情况并落实改进措施，欢迎继续监督。"


@dataclass(frozen=True)
class Voices:
    remarks: int
    sample_items: int


def add_voices(session: Session, *, rng: random.Random, now: datetime) -> Voices:
    """Remarks received over the last three weeks (some routed, some answered) and one callback
    sample of the province's recent evaluations with a few calls recorded."""
    orgs = list(session.scalars(select(Organization).order_by(Organization.id)))
    scope = Scope.all()
    for index, (category, source, text) in enumerate(REMARKS):
        org = rng.choice(orgs)
        at = now - timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 8))
        phone = f"1387710{rng.randint(0, 9999):04d}"
        submitted = remarks.submit(
            session=session,
            region_code=org.region_code,
            text=text,
            source=source,
            actor=ACTOR,
            scope=scope,
            now=at,
            category=category,
            contact=ContactIn(phone=phone) if index % 2 == 0 else None,
        )
        number = submitted.remark.remark_no
        if index % 3 == 0:
            continue
        remarks.route(
            session=session,
            remark_no=number,
            actor=ACTOR,
            scope=scope,
            now=at + timedelta(hours=2),
            org_code=org.code,
            category=category,
            topic=None,
        )
        if index % 3 == 2:
            remarks.answer(
                session=session,
                remark_no=number,
                actor=ACTOR,
                scope=scope,
                now=at + timedelta(days=1),
                text=ANSWER,
            )
    sample = sampling.draw_sample(
        session=session,
        scope=scope,
        actor=ACTOR,
        now=now,
        params=sampling.DrawParams(region_code=PROVINCE, size=20, note="演示：本月监督查评"),
        seed=rng.getrandbits(64),
    )
    calls = (CallResult.confirmed, CallResult.confirmed, CallResult.no_answer, CallResult.denied)
    for item, result in zip(sample.items, calls, strict=False):
        callbacks.record_call(
            session=session, item_id=item.id, scope=scope, actor=ACTOR, now=now, result=result
        )
    return Voices(len(REMARKS), len(sample.items))
