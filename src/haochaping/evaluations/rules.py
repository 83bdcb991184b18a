"""Checks an evaluation must pass before it is stored (B4, B6, C1, C8)."""

from __future__ import annotations

from datetime import datetime

from haochaping.cases.models import OccasionStatus
from haochaping.cases.service import RatingTarget
from haochaping.errors import Conflict, InvalidInput
from haochaping.policy.schemas import Profile


def check_open(occasion: RatingTarget, profile: Profile, now: datetime) -> None:
    """C1: one evaluation per occasion; C8: a late on-site rating only within its window."""
    if occasion.status in (OccasionStatus.rated.value, OccasionStatus.defaulted.value):
        raise Conflict(
            "already_evaluated",
            "该办件此环节已评价，每个评价场次只能评价一次",
            details={"occasion_id": occasion.occasion_id},
        )
    if now < occasion.opens_at:
        raise InvalidInput(
            "occasion_not_open_yet",
            "该环节尚未办理，暂不能评价",
            details={"opens_at": occasion.opens_at.isoformat()},
        )
    if occasion.status == OccasionStatus.expired.value or now > occasion.rate_until:
        if occasion.on_site and profile.supplementary_window is not None:
            window = profile.supplementary_window.describe()
            raise InvalidInput(
                "supplementary_window_closed",
                f"现场办理未当场评价的，须在办理之日起{window}内补充评价，现已超过期限，无法评价",
                details={"rate_until": occasion.rate_until.isoformat()},
            )
        raise InvalidInput(
            "rating_window_closed",
            "该办件的评价期限已过，无法评价",
            details={"rate_until": occasion.rate_until.isoformat()},
        )


def check_content(
    profile: Profile, level: int, label_codes: list[str], text: str | None, *, follow_up: bool
) -> None:
    """B4: labels come from the profile's catalogue and fit the level; B6: a bad review
    carries at least one label or some text."""
    allowed = {label.code for label in profile.labels.for_level(level)}
    unknown = [code for code in label_codes if code not in allowed]
    if unknown:
        raise InvalidInput(
            "label_invalid",
            "所选评价内容不适用于该评价等级",
            details={"labels": unknown, "level": level, "catalogue": profile.labels.version},
        )
    if len(set(label_codes)) != len(label_codes):
        raise InvalidInput(
            "label_duplicate", "评价内容不能重复选择", details={"labels": label_codes}
        )
    if follow_up:
        if not label_codes and not text:
            raise InvalidInput("follow_up_empty", "追加评价请填写意见或选择评价内容")
        return
    if (
        profile.bad_review_requires_reason
        and profile.is_bad(level)
        and not label_codes
        and not text
    ):
        raise InvalidInput(
            "bad_review_reason_required",
            "评价为“不满意”或“非常不满意”时，请至少选择一项评价内容或填写意见",
            details={"level": level},
        )
