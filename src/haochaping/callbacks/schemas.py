"""API shapes of 监督查评 (D2, ZZ): drawing samples, recording callbacks, their findings."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from haochaping.callbacks.models import Outcome, SampleStatus
from haochaping.inputs import InputModel

SIZE_MIN = 1
SIZE_MAX = 500
# Days before ``to`` that a draw looks back when no ``from`` is given.
DEFAULT_PERIOD_DAYS = 30
# The longest period one draw may cover: a year and a day (a leap year's whole year).
MAX_PERIOD_DAYS = 366


class CallResult(StrEnum):
    """What one call gives: an outcome, or ``no_answer`` (one more attempt, still pending)."""

    confirmed = "confirmed"
    denied = "denied"
    unreachable = "unreachable"
    no_answer = "no_answer"


OUTCOME_NAMES: dict[str, str] = {
    Outcome.confirmed.value: "评价属实（评价人确认）",
    Outcome.denied.value: "评价人否认作出该评价",
    Outcome.unreachable.value: "多次联系未果",
}
RESULT_NAMES: dict[str, str] = {**OUTCOME_NAMES, CallResult.no_answer.value: "本次未接通"}
PENDING_NAME = "待回访"
STATUS_NAMES: dict[str, str] = {
    SampleStatus.open.value: "回访中",
    SampleStatus.closed.value: "回访完毕",
}
ACTION_NAMES: dict[str, str] = {
    "drawn": "抽取样本",
    "attempt": "拨打未接通",
    "recorded": "登记回访结果",
    "corrected": "更正回访结果",
    "phone_revealed": "查看联系电话",
    "closed": "样本回访完毕",
}
# The national names of the five levels (B1); every profile uses them.
LEVEL_NAMES: dict[int, str] = {
    5: "非常满意",
    4: "满意",
    3: "基本满意",
    2: "不满意",
    1: "非常不满意",
}

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class DrawIn(InputModel):
    """Draw ``size`` evaluations at random for callbacks (D2). Dates are Beijing calendar days,
    both included; without them the last 30 days up to today. ``size`` is checked by the
    service (1..500) so that a wrong number gets its own message."""

    region: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)]
    size: int = Field(ge=-(2**31), le=2**31 - 1)
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")
    org: Code | None = None
    staff: Code | None = None
    channel: int | None = Field(default=None, ge=1, le=7)
    note: Note | None = None


class OutcomeIn(InputModel):
    """One call's result. An outcome already recorded changes only with a ``reason``."""

    result: CallResult
    # For ``confirmed``: the level the rater now states, if it differs (the rating is kept).
    stated_level: int | None = Field(default=None, ge=1, le=5)
    note: Note | None = None
    reason: Note | None = None


class EventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    action_name: str
    from_outcome: str | None
    to_outcome: str | None
    note: str | None


class ItemOut(BaseModel):
    """One sampled evaluation. ``phone`` is masked unless ``phone_clear`` (an audited reveal)."""

    id: int
    sample_id: int
    position: int
    evaluation_id: int
    case_no: str
    region_name: str
    org_name: str
    window_name: str | None
    staff_name: str | None
    channel: int | None
    channel_name: str
    level: int
    level_name: str
    rated_at: datetime
    phone: str | None
    phone_clear: bool = False
    outcome: Outcome | None
    outcome_name: str
    attempts: int
    stated_level: int | None
    note: str | None
    outcome_at: datetime | None
    outcome_by: str | None
    events: list[EventOut] = Field(default_factory=list)


class Tally(BaseModel):
    """Callback results of one unit (D2, C10): ``denial_rate`` = denied / (confirmed + denied),
    the share of raters reached who deny having rated; None before anyone was reached."""

    key: str
    name: str
    drawn: int = 0
    confirmed: int = 0
    denied: int = 0
    unreachable: int = 0
    pending: int = 0
    denial_rate: float | None = None


class SampleSummary(BaseModel):
    id: int
    region_code: str
    region_name: str
    period_from: datetime
    period_to: datetime
    org_name: str | None
    staff_name: str | None
    channel: int | None
    channel_name: str | None
    requested_size: int
    eligible: int
    size: int
    seed: str
    method: str
    status: SampleStatus
    status_name: str
    note: str | None
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    tally: Tally


class SampleOut(SampleSummary):
    items: list[ItemOut]
    events: list[EventOut]


class SamplePage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[SampleSummary]


class SummaryOut(BaseModel):
    """Findings over the samples in scope (C10, G4): per organisation, staff and channel."""

    total: Tally
    by_org: list[Tally]
    by_staff: list[Tally]
    by_channel: list[Tally]


class DenialOut(BaseModel):
    """A sampled evaluation whose rater denies having rated (a lead for the fraud checks)."""

    item_id: int
    sample_id: int
    evaluation_id: int
    case_no: str
    region_name: str
    org_name: str
    window_name: str | None
    staff_name: str | None
    channel: int | None
    channel_name: str
    level: int
    level_name: str
    rated_at: datetime
    outcome_at: datetime | None
    outcome_by: str | None
    note: str | None


class DenialPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[DenialOut]


class RevealOut(BaseModel):
    """The rater's phone in clear for one sampled item; the showing is in the audit log."""

    item_id: int
    phone: str | None
    clear: bool = True
