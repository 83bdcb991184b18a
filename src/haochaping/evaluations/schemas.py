"""API shapes for evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from haochaping.evaluations.models import Channel
from haochaping.inputs import InputModel

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class EvaluationIn(InputModel):
    """Rate one occasion: by its id, or by case number and stage."""

    occasion_id: int | None = Field(None, ge=1, le=2**31 - 1)
    case_no: str | None = Field(None, max_length=64)
    stage: str | None = Field(None, description="accept/approve/deliver/complete/overall")
    level: int = Field(ge=1, le=5, description="5 = 非常满意 … 1 = 非常不满意")
    label_codes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=30
    )
    text: Text | None = None
    channel: Channel

    @model_validator(mode="after")
    def _target(self) -> EvaluationIn:
        if self.occasion_id is None and not self.case_no:
            raise ValueError("occasion_id 或 case_no 必须提供其一")
        return self


class FollowUpIn(InputModel):
    text: Text | None = None
    label_codes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=30
    )
    channel: Channel


class FollowUpOut(BaseModel):
    text: str | None
    label_codes: list[str]
    channel: int
    created_at: datetime


class EvaluationOut(BaseModel):
    id: int
    occasion_id: int
    case_no: str | None
    bundle_no: str | None = None
    stage: str
    level: int
    level_name: str
    score: float
    is_bad: bool
    label_codes: list[str]
    # The labels' texts from the profile's current catalogue (B4); a code it no longer has is
    # shown as it is.
    label_names: list[str]
    text: str | None
    channel: int | None
    is_default: bool
    supplementary: bool
    profile_name: str
    profile_version: str
    labels_version: str
    rated_at: datetime
    # 申诉撤销 upheld (F1-F5): out of every score, still shown with the decision.
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    follow_up: FollowUpOut | None = None


class EvaluationPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[EvaluationOut]


class BulkIn(InputModel):
    items: list[EvaluationIn] = Field(min_length=1, max_length=5000)


class BulkItemResult(BaseModel):
    index: int
    accepted: bool
    evaluation_id: int | None = None
    code: str | None = None
    message: str | None = None
    details: object | None = None


class BulkOut(BaseModel):
    accepted: int
    rejected: int
    results: list[BulkItemResult]
