"""A bad evaluation as the writer has just stored it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BadReview:
    """What the work-order intake (F4) and the text review (E1) need of a bad evaluation stored
    in the current transaction, handed over instead of read back. Being new (C1: an occasion is
    rated once), it has no work order and no text review yet."""

    id: int
    case_id: int | None
    bundle_id: int | None
    profile_name: str
    rated_at: datetime
    label_codes: list[str]
    text: str | None
