"""API shapes of the text review of bad reviews (E1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from haochaping.inputs import InputModel
from haochaping.textreview.models import ReviewStatus

STATUS_NAMES: dict[str, str] = {
    ReviewStatus.pending.value: "待审核",
    ReviewStatus.approved.value: "已通过",
    ReviewStatus.redacted.value: "删改后通过",
    ReviewStatus.approved_by_silence.value: "逾期未审，视为通过",
    ReviewStatus.expired.value: "逾期未审，不予公开",
}

# An evaluation's text is at most 1,000 characters (evaluations.schemas.Text): a redaction,
# which can only shorten it, is too.
RedactedText = Annotated[str, StringConstraints(max_length=1000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
LabelCode = Annotated[str, StringConstraints(max_length=64)]


class LabelOut(BaseModel):
    code: str
    # The label's text in the evaluation's profile; a code the catalogue no longer has is shown
    # as it is.
    name: str


class TextReviewSummary(BaseModel):
    """One review in a list: the text is shown only as its suggested redaction's beginning, so
    that a list page never displays personal data a rater typed."""

    id: int
    evaluation_id: int
    region_code: str
    region_name: str
    level: int
    level_name: str
    status: ReviewStatus
    status_name: str
    excerpt: str | None
    label_count: int
    rated_at: datetime
    due_at: datetime
    overdue: bool
    decided_at: datetime | None
    decided_by: str | None


class TextReviewOut(TextReviewSummary):
    """One review in full (E1): what the rater wrote, what the system suggests to mask, and what
    is published once decided. The rating itself is shown, never changed."""

    labels: list[LabelOut]
    original_text: str | None
    suggested_text: str | None
    published_text: str | None
    published_labels: list[LabelOut]
    note: str | None


class TextReviewPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[TextReviewSummary]


class ApproveIn(InputModel):
    """Publish the text and labels as the rater wrote them."""

    note: Note | None = None


class RedactIn(InputModel):
    """Publish a redacted text and a subset of the labels (E1).

    ``text`` may only delete characters of the original or replace them with ``*`` / ``＊``
    (see ``service.is_redaction_of``); empty or absent publishes no text at all.
    """

    text: RedactedText | None = None
    label_codes: list[LabelCode] = Field(default_factory=list, max_length=30)
    note: Note | None = None


class PublishedText(BaseModel):
    """What may be published of one bad review after its text review (E1, G1)."""

    evaluation_id: int
    status: ReviewStatus
    text: str | None
    label_codes: list[str]
