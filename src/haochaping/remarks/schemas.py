"""Shapes of 综合点评 (D2, D3) in the API, with the Chinese names people read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from haochaping.inputs import InputModel
from haochaping.policy.schemas import RemarkCategory
from haochaping.remarks.models import RemarkSource, RemarkStatus

CATEGORY_NAMES: dict[str, str] = {
    RemarkCategory.suggestion.value: "建议",
    RemarkCategory.complaint.value: "投诉",
    RemarkCategory.inquiry.value: "咨询",
    RemarkCategory.praise.value: "表扬",
    RemarkCategory.other.value: "其他",
}

SOURCE_NAMES: dict[str, str] = {
    RemarkSource.web.value: "网上意见箱",
    RemarkSource.email.value: "电子邮箱",
    RemarkSource.hotline.value: "12345热线",
    RemarkSource.box.value: "意见箱",
    RemarkSource.book.value: "意见簿",
}

TEXT_MAX = 2000
RemarkText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=20, pattern=r"^\+?[0-9][0-9 -]{5,18}$")
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=500)]


class ContactIn(InputModel):
    """C9: optional, confidential, encrypted at rest, masked wherever shown."""

    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None


class RemarkIn(InputModel):
    """A remark the 12345 platform transfers (D2, D3), idempotent by its own ``external_id``."""

    external_id: str = Field(min_length=1, max_length=64, description="12345平台工单编号")
    region: str = Field(min_length=6, max_length=12, description="行政区划代码")
    org_code: str | None = Field(default=None, max_length=64, description="涉及的政务服务机构")
    category: RemarkCategory | None = Field(default=None, description="不填则按关键词建议")
    text: RemarkText
    contact: ContactIn | None = None


class ContactOut(BaseModel):
    """Masked (张*, 138****8000, z***@example.com) unless ``clear`` after an audited reveal."""

    name: str | None
    phone: str | None
    email: str | None
    clear: bool = False


class RemarkEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    action_name: str
    from_status: str | None
    to_status: str | None
    note: str | None


class RemarkSummary(BaseModel):
    remark_no: str
    source: RemarkSource
    source_name: str
    category: RemarkCategory
    category_name: str
    topic: str | None
    topic_name: str | None
    status: RemarkStatus
    status_name: str
    region_code: str
    region_name: str
    org_code: str | None
    org_name: str | None
    # The beginning of the text with phone and ID numbers masked (lists show no personal data).
    excerpt: str
    has_contact: bool
    received_at: datetime
    due_at: datetime
    overdue: bool
    answered_at: datetime | None


class RemarkOut(RemarkSummary):
    text: str
    contact: ContactOut
    answer_text: str | None
    answered_by: str | None
    published_text: str | None
    published_at: datetime | None
    closed_at: datetime | None
    profile_name: str
    # Whether the remark's profile publishes answered remarks (G1).
    publishing: bool
    suggested_category: RemarkCategory
    suggested_topic: str | None
    # Suggested text for publication: phone, ID numbers and abusive words masked.
    suggested_text: str
    allowed_actions: list[str]
    events: list[RemarkEventOut]


class RemarkPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[RemarkSummary]


class RouteIn(InputModel):
    org_code: str = Field(min_length=1, max_length=64)
    category: RemarkCategory
    topic: str | None = Field(default=None, max_length=40)
    note: Note | None = None


class AnswerIn(InputModel):
    text: Answer


class PublishIn(InputModel):
    """G1: publish the answered remark; ``text`` (a redaction of the original: characters
    deleted or masked with ``*`` only) replaces the remark's text on the public page."""

    text: Annotated[str, StringConstraints(max_length=TEXT_MAX)] | None = None


class CloseIn(InputModel):
    note: Note | None = None


class UnmaskIn(InputModel):
    reason: Reason


class SubmittedOut(BaseModel):
    """The receipt: the number and the private query code (shown once, stored hashed)."""

    remark_no: str
    query_code: str | None
    status: RemarkStatus
    # False when the same external id was submitted before (idempotent retry).
    created: bool


class PublicStatus(BaseModel):
    """What the citizen sees with receipt number and query code: never the contact."""

    remark_no: str
    status_name: str
    category_name: str
    region_name: str
    org_name: str | None
    received_at: datetime
    due_at: datetime
    answer_text: str | None
    answered_at: datetime | None
    published: bool


class PublishedRemark(BaseModel):
    """One published remark (G1): approved text and the answer, never the contact (C9)."""

    remark_no: str
    month: str
    region_name: str
    org_name: str | None
    category_name: str
    topic_name: str | None
    text: str
    answer_text: str
    answered_at: datetime
