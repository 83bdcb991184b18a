"""The shape of a policy profile (P1). Loaded from YAML, validated here; see ``loader.py``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ClockUnit(StrEnum):
    hours = "hours"
    natural_days = "natural_days"
    working_days = "working_days"


class Duration(BaseModel):
    """A delay with its clock (P1, P2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(ge=0)
    unit: ClockUnit

    def describe(self) -> str:
        names = {"hours": "小时", "natural_days": "个自然日", "working_days": "个工作日"}
        return f"{self.amount}{names[self.unit.value]}"


class LevelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    score: float = Field(ge=0)


class DefaultRating(BaseModel):
    """C7: the level written when the rater stays silent, and after how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: int = Field(ge=1, le=5)
    delay: Duration


class Label(BaseModel):
    """B4: one label of the catalogue, shown for the levels listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    group: str
    levels: list[int]


class LabelCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    labels: list[Label]

    @model_validator(mode="after")
    def _unique_codes(self) -> LabelCatalogue:
        codes = [label.code for label in self.labels]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate label codes: {', '.join(dupes)}")
        return self

    def for_level(self, level: int) -> list[Label]:
        return [label for label in self.labels if level in label.levels]

    def by_code(self) -> dict[str, Label]:
        return {label.code: label for label in self.labels}


class TextReview(BaseModel):
    """E1: review of bad-review text by the supervision office."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration
    silence_means_approved: bool


class WorkOrderDeadlines(BaseModel):
    """F1-F5 deadlines; the work-order issue uses them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registration: Duration | None = None
    verify: Duration | None = None
    revisit: Duration | None = None
    rectify: Duration | None = None
    report: Duration | None = None
    report_upward: Duration | None = None
    appeal: Duration | None = None
    appeal_review: Duration | None = None


class Scoring(BaseModel):
    """B2, B5, C4: what counts toward the four dimensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # False = only direct evaluations of window staff count for organisation, line and region
    # (GX Art.4); True = item-only evaluations (online, terminal) count too.
    item_only_counts_for_units: bool
    # C4: a batch's one rating counts once per transaction of the batch.
    batch_counts_each_transaction: bool


class Profile(BaseModel):
    """A resolved policy profile: every value the engine needs, none hidden in code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    version: str
    extends: str | None = None
    levels: dict[int, LevelSpec]
    bad_levels: list[int]
    default_rating: DefaultRating | None
    reminder_delay: Duration | None
    supplementary_window: Duration | None
    follow_up_window: Duration | None
    # How long a non-on-site occasion stays open for rating when the profile gives no default.
    rating_window: Duration
    text_review: TextReview
    work_order: WorkOrderDeadlines
    scoring: Scoring
    labels: LabelCatalogue
    # B6: a bad review must carry a label or some text.
    bad_review_requires_reason: bool

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, value: dict[int, LevelSpec]) -> dict[int, LevelSpec]:
        if sorted(value) != [1, 2, 3, 4, 5]:
            raise ValueError("levels must be exactly 1..5")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        for level in self.bad_levels:
            if level not in self.levels:
                raise ValueError(f"bad_levels contains unknown level {level}")
        for label in self.labels.labels:
            for level in label.levels:
                if level not in self.levels:
                    raise ValueError(f"label {label.code} names unknown level {level}")
        return self

    def score_of(self, level: int) -> float:
        return self.levels[level].score

    def is_bad(self, level: int) -> bool:
        return level in self.bad_levels
