"""E1 (GX Art.8): bad reviews' labels and text are reviewed by the supervision office within the
profile's window; silence approves where the profile says so; a reviewer approves or redacts
what is published and never changes the rating."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope, scope_of
from haochaping.audit.models import AuditEntry
from haochaping.deadlines import service as deadlines
from haochaping.deadlines.models import Deadline
from haochaping.errors import Conflict, InvalidInput, NotFound
from haochaping.textreview import service
from haochaping.textreview.models import ReviewStatus, TextReview
from haochaping.textreview.service import TEXT_REVIEW_KIND, ReviewFilter
from tests.factories import T0, make_catalog, occasions_of, rate, register
from tests.textreview.conftest import evaluation_row, rated, review_of, use_profile

PHONE = "13812345678"
ID_NO = "45022419900101123X"
ACTOR = "user:sup1"


@pytest.fixture
def cat(session: Session) -> Session:
    make_catalog(session)
    return session


def _reviews(session: Session, evaluation_ids: list[int]) -> dict[int, TextReview]:
    rows = session.scalars(select(TextReview).where(TextReview.evaluation_id.in_(evaluation_ids)))
    return {r.evaluation_id: r for r in rows}


# ---- opening ------------------------------------------------------------------------------


def test_E1_opens_a_review_only_for_bad_reviews_with_labels_or_text_and_only_once(
    cat: Session, strict_profile: str
) -> None:
    """E1: 不满意 / 非常不满意 with labels or text → one review each; good, neutral and bare
    bad reviews → none; a second call opens nothing."""
    session = cat
    use_profile(session, "450225", strict_profile)  # there a bad review may carry no reason
    with_text = rated(session, "O-1", 1, text="排队两个小时")
    with_labels = rated(session, "O-2", 2, labels=["attitude.1"])
    both = rated(session, "O-3", 1, labels=["attitude.3"], text="态度差")
    good = rated(session, "O-4", 5, text="很好")
    neutral = rated(session, "O-5", 3, text="一般")
    bare = rated(session, "O-6", 1, item="I-O4", staff="S5")
    ids = [with_text, with_labels, both, good, neutral, bare]
    already = len(_reviews(session, ids))

    opened = service.open_reviews(session=session, evaluation_ids=ids + ids, now=T0)

    reviews = _reviews(session, ids)
    assert set(reviews) == {with_text, with_labels, both}
    assert opened == 3 - already
    assert service.open_reviews(session=session, evaluation_ids=ids, now=T0) == 0
    assert len(_reviews(session, ids)) == 3
    for review in reviews.values():
        assert review.status == ReviewStatus.pending.value
        assert review.region_code == "450224"
        deadline = session.scalar(
            select(Deadline).where(
                Deadline.kind == TEXT_REVIEW_KIND, Deadline.subject_id == review.id
            )
        )
        assert deadline is not None and deadline.due_at == review.due_at


def test_E1_due_is_rating_plus_15_natural_days_under_guangxi(cat: Session) -> None:
    """E1, GX Art.8: 15 natural days from the rating, the exact instant (holidays count)."""
    session = cat
    evaluation_id = rated(session, "DUE-1", 1, item="I-O4", staff="S5", text="慢")
    assert evaluation_row(session, evaluation_id)["profile_name"] == "guangxi"
    review = review_of(session, evaluation_id)
    assert review.due_at == T0 + timedelta(days=15)
    assert review.due_at.isoformat() == "2026-11-25T02:00:00+00:00"
    assert review.region_code == "450225"


def test_E1_bundle_review_goes_to_the_region_of_the_bundles_first_case(cat: Session) -> None:
    """E1: a bundle (一件事) rating has no case: its first case's region reviews it."""
    session = cat
    common: dict[str, Any] = {"bundle_no": "B-TR", "approved_at": T0, "delivered_at": T0}
    register(session, "B-TR-a", "I-O4", staff_code="S5", **common)  # 450225, first by id
    last = register(session, "B-TR-b", "I-IMM", staff_code="S1", **common)  # 450224
    occasion = {o.stage: o for o in occasions_of(session, last)}["accept"]
    evaluation = rate(session, occasion.id, 1, text="材料反复提交")
    assert evaluation_row(session, evaluation.id)["case_id"] is None
    assert review_of(session, evaluation.id).region_code == "450225"


def test_E1_open_reviews_is_set_wise_for_many_evaluations(cat: Session) -> None:
    """E1 in bulk: one call opens every review of a batch, each with its deadline."""
    session = cat
    ids = [rated(session, f"BULK-{i}", 1 + i % 2, text=f"意见{i}") for i in range(30)]
    service.open_reviews(session=session, evaluation_ids=ids, now=T0)
    reviews = _reviews(session, ids)
    assert set(reviews) == set(ids)
    count = session.scalar(
        select(func.count())
        .select_from(Deadline)
        .where(
            Deadline.kind == TEXT_REVIEW_KIND,
            Deadline.subject_id.in_([r.id for r in reviews.values()]),
        )
    )
    assert count == 30


# ---- silence ------------------------------------------------------------------------------


def test_E1_silence_approves_under_guangxi_through_the_sweeper(cat: Session) -> None:
    """E1, GX Art.8: not reviewed in time counts as approved: the original is published."""
    session = cat
    evaluation_id = rated(session, "SIL-1", 1, labels=["attitude.1"], text=f"电话{PHONE}没人接")
    before = evaluation_row(session, evaluation_id)
    review = review_of(session, evaluation_id)
    handlers = {TEXT_REVIEW_KIND: service.expire_review}

    early = deadlines.sweep_batch(
        session=session, now=review.due_at - timedelta(seconds=1), handlers=handlers
    )
    assert early.processed.get(TEXT_REVIEW_KIND, 0) == 0
    session.refresh(review)
    assert review.status == ReviewStatus.pending.value

    done = deadlines.sweep_batch(
        session=session, now=review.due_at + timedelta(days=3), handlers=handlers
    )
    assert done.processed.get(TEXT_REVIEW_KIND) == 1 and done.failed == 0
    session.refresh(review)
    assert review.status == ReviewStatus.approved_by_silence.value
    assert review.published_text == f"电话{PHONE}没人接"
    assert review.published_labels == ["attitude.1"]
    assert review.decided_by == "system" and review.decided_at == review.due_at
    # Idempotent: a second run changes nothing.
    service.expire_review(session, review.id, review.due_at + timedelta(days=9))
    session.refresh(review)
    assert review.status == ReviewStatus.approved_by_silence.value
    assert review.decided_at == review.due_at
    assert evaluation_row(session, evaluation_id) == before
    published = service.published_text_for(session=session, evaluation_ids=[evaluation_id])
    assert published[evaluation_id].label_codes == ["attitude.1"]


def test_E1_silence_expires_unpublished_where_the_profile_says_so(
    cat: Session, strict_profile: str
) -> None:
    """E1: under a profile where silence does not approve, nothing is published."""
    session = cat
    use_profile(session, "450225", strict_profile)
    evaluation_id = rated(session, "SIL-2", 2, item="I-O4", staff="S5", text="办事慢")
    before = evaluation_row(session, evaluation_id)
    review = review_of(session, evaluation_id)
    assert review.due_at == T0 + timedelta(days=15)

    service.expire_review(session, review.id, review.due_at - timedelta(minutes=1))
    session.refresh(review)
    assert review.status == ReviewStatus.pending.value  # not yet due
    service.expire_review(session, review.id, review.due_at)
    session.refresh(review)
    assert review.status == ReviewStatus.expired.value
    assert review.published_text is None and review.published_labels == []
    assert service.published_text_for(session=session, evaluation_ids=[evaluation_id]) == {}
    assert evaluation_row(session, evaluation_id) == before


def test_E1_silence_leaves_a_decided_review_alone(cat: Session) -> None:
    """E1: the sweeper never overrides a reviewer's decision."""
    session = cat
    evaluation_id = rated(session, "SIL-3", 1, text=f"打{PHONE}")
    review = review_of(session, evaluation_id)
    service.redact(
        session=session,
        review_id=review.id,
        actor=ACTOR,
        scope=Scope.all(),
        now=T0 + timedelta(days=1),
        text="打***********",
        label_codes=[],
    )
    service.expire_review(session, review.id, review.due_at + timedelta(days=1))
    session.refresh(review)
    assert review.status == ReviewStatus.redacted.value
    assert review.published_text == "打***********"


# ---- decisions ----------------------------------------------------------------------------


def test_E1_approve_publishes_the_original_and_records_an_audit_entry(cat: Session) -> None:
    """E1: approval publishes text and labels as written; the rating is untouched; the audit
    entry carries no personal data."""
    session = cat
    text = f"工作人员不接电话，我的号码{PHONE}"
    evaluation_id = rated(session, "APP-1", 1, labels=["attitude.3"], text=text)
    before = evaluation_row(session, evaluation_id)
    review = review_of(session, evaluation_id)
    now = T0 + timedelta(days=2)

    out = service.approve(
        session=session,
        review_id=review.id,
        actor=ACTOR,
        scope=scope_of(session, region_codes={"450224"}),
        now=now,
        note="核实",
    )
    assert out.status is ReviewStatus.approved
    assert out.published_text == text
    assert [label.code for label in out.published_labels] == ["attitude.3"]
    assert out.decided_by == ACTOR and out.decided_at == now and out.note == "核实"
    assert evaluation_row(session, evaluation_id) == before
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.target == f"text_review:{review.id}")
    )
    assert entry is not None and entry.action == "text_review_approved" and entry.actor == ACTOR
    assert PHONE not in entry.details
    published = service.published_text_for(session=session, evaluation_ids=[evaluation_id])
    assert published[evaluation_id].text == text


def test_E1_a_decided_review_cannot_be_decided_again(cat: Session) -> None:
    """E1: one decision per review: a second one is ``text_review_decided`` (409)."""
    session = cat
    evaluation_id = rated(session, "TWICE-1", 2, labels=["attitude.1"], text="太慢")
    review = review_of(session, evaluation_id)
    service.approve(session=session, review_id=review.id, actor=ACTOR, scope=Scope.all(), now=T0)
    with pytest.raises(Conflict) as again:
        service.approve(
            session=session, review_id=review.id, actor=ACTOR, scope=Scope.all(), now=T0
        )
    assert again.value.code == "text_review_decided" and again.value.status_code == 409
    with pytest.raises(Conflict) as redact:
        service.redact(
            session=session,
            review_id=review.id,
            actor=ACTOR,
            scope=Scope.all(),
            now=T0,
            text="",
            label_codes=[],
        )
    assert redact.value.code == "text_review_decided"


def test_E1_redact_masks_text_and_drops_labels_without_touching_the_rating(
    cat: Session,
) -> None:
    """E1: personal data and abusive words are removed from what is published."""
    session = cat
    text = f"窗口人员态度差，垃圾服务，电话{PHONE}"
    evaluation_id = rated(session, "RED-1", 1, labels=["attitude.1", "attitude.3"], text=text)
    before = evaluation_row(session, evaluation_id)
    review = review_of(session, evaluation_id)
    detail = service.get_review(session=session, review_id=review.id, scope=Scope.all(), now=T0)
    assert detail.suggested_text == "窗口人员态度差，**服务，电话***********"
    assert detail.level_name == "非常不满意"
    assert [(label.code, label.name) for label in detail.labels] == [
        ("attitude.1", "不一次性告知"),
        ("attitude.3", "工作人员服务态度生硬"),
    ]

    out = service.redact(
        session=session,
        review_id=review.id,
        actor=ACTOR,
        scope=Scope.all(),
        now=T0 + timedelta(days=1),
        text="窗口人员态度差，＊＊服务",  # masked with full-width stars, phone deleted
        label_codes=["attitude.3"],
    )
    assert out.status is ReviewStatus.redacted
    assert out.published_text == "窗口人员态度差，＊＊服务"
    assert [label.code for label in out.published_labels] == ["attitude.3"]
    assert out.original_text == text
    assert evaluation_row(session, evaluation_id) == before
    published = service.published_text_for(session=session, evaluation_ids=[evaluation_id])
    assert published[evaluation_id].text == "窗口人员态度差，＊＊服务"
    assert published[evaluation_id].label_codes == ["attitude.3"]


@pytest.mark.parametrize(
    ("text", "labels", "code"),
    [
        ("窗口人员态度很好", ["attitude.1"], "text_review_not_redaction"),  # adds 很好
        ("态度差窗口人员", ["attitude.1"], "text_review_not_redaction"),  # reorders
        ("窗口人员态度差，办得快", ["attitude.1"], "text_review_not_redaction"),
        ("窗口人员态度差**多余****", ["attitude.1"], "text_review_not_redaction"),  # too long
        ("窗口人员", ["attitude.2"], "text_review_label_not_original"),
        ("窗口人员", ["attitude.1", "attitude.1"], "text_review_label_duplicate"),
    ],
)
def test_E1_redact_refuses_anything_but_deleting_or_masking(
    cat: Session, text: str, labels: list[str], code: str
) -> None:
    """E1: a reviewer may remove or mask, never add, reword or add a label; the review stays
    pending after a refusal."""
    session = cat
    evaluation_id = rated(session, "REF-1", 1, labels=["attitude.1"], text="窗口人员态度差")
    before = evaluation_row(session, evaluation_id)
    review = review_of(session, evaluation_id)
    with pytest.raises(InvalidInput) as refused:
        service.redact(
            session=session,
            review_id=review.id,
            actor=ACTOR,
            scope=Scope.all(),
            now=T0,
            text=text,
            label_codes=labels,
        )
    assert refused.value.code == code
    session.refresh(review)
    assert review.status == ReviewStatus.pending.value
    assert evaluation_row(session, evaluation_id) == before


def test_E1_redact_that_removes_nothing_is_an_approval(cat: Session) -> None:
    """E1: sending the original back unchanged approves it as written."""
    session = cat
    evaluation_id = rated(session, "SAME-1", 2, labels=["attitude.1"], text="等太久")
    review = review_of(session, evaluation_id)
    out = service.redact(
        session=session,
        review_id=review.id,
        actor=ACTOR,
        scope=Scope.all(),
        now=T0,
        text="等太久",
        label_codes=["attitude.1"],
    )
    assert out.status is ReviewStatus.approved


def test_E1_a_review_outside_the_scope_is_answered_as_absent(cat: Session) -> None:
    """E1 is the job of the region's supervision office: another region's office neither sees
    nor decides the review (404, as if absent)."""
    session = cat
    evaluation_id = rated(session, "SCOPE-1", 1, text="态度差")
    review = review_of(session, evaluation_id)
    hubei = scope_of(session, region_codes={"420000"})
    attempts: list[Callable[[], object]] = [
        lambda: service.approve(
            session=session, review_id=review.id, actor=ACTOR, scope=hubei, now=T0
        ),
        lambda: service.redact(
            session=session,
            review_id=review.id,
            actor=ACTOR,
            scope=hubei,
            now=T0,
            text="",
            label_codes=[],
        ),
        lambda: service.get_review(session=session, review_id=review.id, scope=hubei, now=T0),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as absent:
            attempt()
        assert absent.value.code == "text_review_not_found"
    total, _ = service.list_reviews(session=session, scope=hubei, filters=ReviewFilter(), now=T0)
    assert total == 0
    guangxi = scope_of(session, region_codes={"450000"})
    total, items = service.list_reviews(
        session=session, scope=guangxi, filters=ReviewFilter(), now=T0
    )
    assert total == 1 and items[0].id == review.id
    session.refresh(review)
    assert review.status == ReviewStatus.pending.value


def test_E1_list_filters_pages_and_sorts_by_due_date(cat: Session) -> None:
    """E1: the office's work list: by status, region subtree and due date, soonest first."""
    session = cat
    first = rated(session, "L-1", 1, text="一")
    second = rated(session, "L-2", 1, item="I-O4", staff="S5", text="二")
    late_case = register(session, "L-3", staff_code="S1", now=T0 + timedelta(days=1))
    third = rate(
        session, occasions_of(session, late_case)[0].id, 2, text="三", now=T0 + timedelta(days=1)
    ).id
    reviews = {e: review_of(session, e) for e in (first, second, third)}
    service.approve(
        session=session, review_id=reviews[second].id, actor=ACTOR, scope=Scope.all(), now=T0
    )
    everything = Scope.all()

    total, items = service.list_reviews(
        session=session, scope=everything, filters=ReviewFilter(), now=T0
    )
    assert total == 3
    assert [i.evaluation_id for i in items][-1] == third  # due last
    total, items = service.list_reviews(
        session=session, scope=everything, filters=ReviewFilter(), now=T0, pending_first=True
    )
    assert [i.evaluation_id for i in items][-1] == second  # decided goes after pending
    _, pending = service.list_reviews(
        session=session,
        scope=everything,
        filters=ReviewFilter(status=ReviewStatus.pending),
        now=T0,
    )
    assert {i.evaluation_id for i in pending} == {first, third}
    _, rongan = service.list_reviews(
        session=session, scope=everything, filters=ReviewFilter(region_code="450224"), now=T0
    )
    assert {i.evaluation_id for i in rongan} == {first, third}
    _, liuzhou = service.list_reviews(
        session=session, scope=everything, filters=ReviewFilter(region_code="450200"), now=T0
    )
    assert len(liuzhou) == 3  # the city's subtree holds both counties
    _, soon = service.list_reviews(
        session=session,
        scope=everything,
        filters=ReviewFilter(due_before=T0 + timedelta(days=15, hours=1)),
        now=T0,
    )
    assert {i.evaluation_id for i in soon} == {first, second}
    total, page2 = service.list_reviews(
        session=session, scope=everything, filters=ReviewFilter(), now=T0, page=2, page_size=2
    )
    assert total == 3 and len(page2) == 1
    overdue = service.list_reviews(
        session=session, scope=everything, filters=ReviewFilter(), now=T0 + timedelta(days=30)
    )[1]
    assert {i.evaluation_id for i in overdue if i.overdue} == {first, third}


def test_E1_published_text_leaves_out_what_needs_no_or_has_no_approval(cat: Session) -> None:
    """E1/G1: only approved, redacted or silence-approved reviews are publishable; pending
    ones and evaluations that needed no review give nothing."""
    session = cat
    pending = rated(session, "P-1", 1, text="待审")
    good = rated(session, "P-2", 5, text="很好")
    approved = rated(session, "P-3", 2, text="可以公开")
    service.approve(
        session=session,
        review_id=review_of(session, approved).id,
        actor=ACTOR,
        scope=Scope.all(),
        now=T0,
    )
    review_of(session, pending)
    published = service.published_text_for(
        session=session, evaluation_ids=[pending, good, approved]
    )
    assert set(published) == {approved}
    assert published[approved].text == "可以公开"


# ---- suggestions and the rule -------------------------------------------------------------


def test_E1_suggest_redaction_masks_phones_id_numbers_and_abuse() -> None:
    """E1: the suggestion masks a mainland mobile number, an 18-digit ID number (with X) and
    abusive words, one '*' per character, and keeps everything else."""
    text = (
        f"我叫张三，身份证{ID_NO}，手机{PHONE}，也可打138-1234-5678。窗口的人是傻逼，混蛋，去死吧"
    )
    suggested = service.suggest_redaction(text)
    assert ID_NO not in suggested and "*" * 18 in suggested
    assert PHONE not in suggested and "1234-5678" not in suggested
    for word in ("傻逼", "混蛋", "去死"):
        assert word not in suggested
    assert suggested.startswith("我叫张三，身份证") and suggested.endswith("吧")
    assert len(suggested) == len(text)
    assert service.is_redaction_of(text, suggested)
    assert service.suggest_redaction("王八蛋！垃圾！") == "***！**！"
    # Not personal data, not abuse: left alone.
    assert service.suggest_redaction("垃圾分类窗口办事快") == "垃圾分类窗口办事快"
    assert service.suggest_redaction("编号 12345678901 的USB") == "编号 12345678901 的USB"
    assert service.suggest_redaction("订单号1381234567890") == "订单号1381234567890"


def test_E1_redaction_rule_only_deletes_or_masks() -> None:
    """E1: published text = the original with characters deleted or replaced by '*'/'＊'."""
    original = "态度差，电话13812345678"
    assert service.is_redaction_of(original, original)
    assert service.is_redaction_of(original, "")
    assert service.is_redaction_of(original, "态度差")
    assert service.is_redaction_of(original, "态度差，电话***********")
    assert service.is_redaction_of(original, "＊度差")
    assert service.is_redaction_of("a*b", "a*b")
    assert not service.is_redaction_of(original, "态度好")
    assert not service.is_redaction_of(original, "差态度")
    assert not service.is_redaction_of(original, original + "!")
    assert not service.is_redaction_of("短", "**")  # more masks than characters
    assert service.first_addition(original, "态度很差") == 2
