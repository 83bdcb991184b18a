"""API shapes for cases and occasions. Personal data leaves the system masked (C9)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from haochaping.cases.models import ApplicantType
from haochaping.catalog.models import Handling, ItemKind
from haochaping.inputs import InputModel

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ApplicantIn(InputModel):
    type: ApplicantType = ApplicantType.person
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    id_type: Annotated[str, StringConstraints(max_length=20)] | None = None
    id_no: Annotated[str, StringConstraints(max_length=64)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9\-]{5,20}$")] | None = None


class CaseIn(InputModel):
    """A case as a business system sends it; upserted by ``case_no``."""

    case_no: Code
    item_code: Code
    org_code: Code | None = Field(None, description="默认取事项所属机构")
    region_code: Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{6})?$")] | None = Field(
        None, description="默认取机构所在行政区划"
    )
    hall_code: Code | None = None
    window_code: Code | None = None
    staff_code: Code | None = None
    applicant: ApplicantIn
    kind: ItemKind | None = Field(None, description="默认取事项的办件类型")
    handling: Handling
    accepted_at: datetime
    approved_at: datetime | None = None
    delivered_at: datetime | None = None
    completed_at: datetime | None = None
    bundle_no: Code | None = None
    bundle_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    batch_size: int = Field(1, ge=1, le=10_000)


class ApplicantOut(BaseModel):
    type: str
    name: str | None
    id_type: str | None
    id_no: str | None
    phone: str | None
    # False: masked (C9). True only in the answer to an unmask request, which is recorded.
    clear: bool = False


class UnmaskIn(InputModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=500)]


class OccasionOut(BaseModel):
    id: int
    stage: str
    rates_staff: bool
    on_site: bool
    credited: bool
    opens_at: datetime
    rate_until: datetime
    default_due: datetime | None
    window_estimated: bool
    status: str
    profile_name: str


class CaseOut(BaseModel):
    case_no: str
    item_code: str
    org_code: str
    region_code: str
    hall_code: str | None
    window_code: str | None
    staff_code: str | None
    # None for a window clerk: the rated never learn who rated them (C10).
    applicant: ApplicantOut | None
    kind: str
    handling: str
    accepted_at: datetime | None
    approved_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    bundle_no: str | None
    batch_size: int
    profile_name: str
    created: bool = False
    occasions: list[OccasionOut] = Field(default_factory=list)
    bundle_occasions: list[OccasionOut] = Field(default_factory=list)
