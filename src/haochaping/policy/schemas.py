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


class Party(StrEnum):
    """Who performs a step of the work-order procedure (F1-F5)."""

    # 政务服务管理办公室 of the order's region (or an ancestor region).
    office = "office"
    # The responsible window: its staff member or its organisation's manager (F4 谁办理、谁负责).
    window = "window"
    # The supervising office of the office (RA: 柳州市政务服务监督管理办公室).
    upper_office = "upper_office"


class Cause(StrEnum):
    """RA Art.10 (F5, F6): what a verified bad review was caused by."""

    attitude = "attitude"
    quality = "quality"
    efficiency = "efficiency"
    environment = "environment"
    system = "system"


class WorkOrderPolicy(BaseModel):
    """F1-F6: the bad-review procedure of a profile: deadlines, optional steps, performers and
    deduction points. ``work_orders.procedure`` turns it into the state machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registration: Duration | None = None
    verify: Duration | None = None
    revisit: Duration | None = None
    rectify: Duration | None = None
    report: Duration | None = None
    report_upward: Duration | None = None
    appeal: Duration | None = None
    appeal_review: Duration | None = None
    # How long before a deadline the sweeper warns.
    warn_before: Duration
    # Who revisits the rater and verifies the bad review.
    verified_by: Party
    # Who tells the rater the result and revisits them.
    feedback_by: Party
    # The window's head approves the investigation and rectification report (RA Art.5).
    head_approval: bool
    # The office verifies the rectification before the order goes on (RA Art.7).
    office_verification: bool
    # The leader in charge (分管领导) reviews reports and appeal requests (RA Art.7, Art.9).
    leader_review: bool
    # The report goes to the upper office (RA Art.7, 附件3).
    reports_upward: bool
    # Who decides an appeal to revoke (申诉撤销).
    appeal_decided_by: Party
    # ZZ 二(三)1: a complaint without legal basis is answered with an explanation.
    explain_path: bool
    # F4 (ZZ): every real-name bad review is revisited; "unreachable" cannot close it.
    revisit_all_real_name: bool
    # F6, RA Art.10: performance points deducted per verified order, by cause.
    deductions: dict[Cause, float]

    @field_validator("appeal_decided_by")
    @classmethod
    def _decider(cls, value: Party) -> Party:
        if value is Party.window:
            raise ValueError("an appeal is decided by office or upper_office, never the window")
        return value

    @field_validator("deductions")
    @classmethod
    def _every_cause(cls, value: dict[Cause, float]) -> dict[Cause, float]:
        missing = [c.value for c in Cause if c not in value]
        if missing:
            raise ValueError(f"deductions must give points for every cause; missing: {missing}")
        if any(points < 0 for points in value.values()):
            raise ValueError("deduction points cannot be negative")
        return value


class Scoring(BaseModel):
    """B2, B5, C4: what counts toward the four dimensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # False = only direct evaluations of window staff count for organisation, line and region
    # (GX Art.4); True = item-only evaluations (online, terminal) count too.
    item_only_counts_for_units: bool
    # C4: a batch's one rating counts once per transaction of the batch.
    batch_counts_each_transaction: bool


class Supervision(BaseModel):
    """F6, G1, G2: how results are ranked, who becomes a focus object, what is published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Evaluations a unit needs in the period before it is ranked at all.
    ranking_min_evaluations: int = Field(ge=1)
    # Weight of the group's mean in the shrunk score: (prior × mean + points) / (prior + n).
    ranking_prior_weight: int = Field(ge=0)
    # F6: ratings at or below this level are the "≤ 基本满意" ratings a focus list watches.
    focus_max_level: int = Field(ge=1, le=5)
    # F6: a unit whose share of such ratings reaches this (0..1) is a focus object...
    focus_share: float = Field(gt=0, le=1)
    # ... once it has at least this many evaluations in the period.
    focus_min_evaluations: int = Field(ge=1)
    # F6: units in the bottom ``bottom_n`` of their group for ``bottom_periods`` consecutive
    # months.
    bottom_n: int = Field(ge=1)
    bottom_periods: int = Field(ge=1, le=12)
    # G1: approved review texts are shown on the public results pages.
    publish_texts: bool
    # D2 (ZZ 监督查评): calls made before a sampled rater may be recorded as unreachable.
    callback_attempts: int = Field(default=3, ge=1, le=10)


class RemarkCategory(StrEnum):
    """综合点评 (D2, D3): what a suggestion or complaint not tied to a case is."""

    suggestion = "suggestion"
    complaint = "complaint"
    inquiry = "inquiry"
    praise = "praise"
    other = "other"


class RemarkTopic(BaseModel):
    """A topic remarks are classified under, with the words that suggest it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=40)
    keywords: list[str]

    def __str__(self) -> str:
        # ``haochaping policy show`` lists topics by name and code.
        return f"{self.name}（{self.code}）"


class Remarks(BaseModel):
    """综合点评 (D2, D3, G1): publication, the answer deadline and the classification aids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # G1: answered remarks may be published (with the text as the office approves it).
    publish: bool
    # How long the organisation has to answer, from receipt.
    answer_within: Duration
    # Words suggesting each category (the office decides; this is only a suggestion).
    category_keywords: dict[RemarkCategory, list[str]]
    topics: list[RemarkTopic] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_topics(self) -> Remarks:
        codes = [topic.code for topic in self.topics]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate remark topic codes: {', '.join(dupes)}")
        return self

    def topic_names(self) -> dict[str, str]:
        return {topic.code: topic.name for topic in self.topics}


class StaffShown(StrEnum):
    """How the rating page names the staff member being rated (D2, D3; C9 protects raters,
    not staff, but a province may keep staff names off citizen pages)."""

    name_and_number = "name_and_number"
    number = "number"
    hidden = "hidden"


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
    work_order: WorkOrderPolicy
    scoring: Scoring
    supervision: Supervision
    labels: LabelCatalogue
    # B6: a bad review must carry a label or some text.
    bad_review_requires_reason: bool
    # D2, D3: what the unified rating page shows of the staff member rated.
    staff_shown: StaffShown
    # 综合点评 (D2, D3, G1): suggestions and complaints not tied to a case.
    remarks: Remarks

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
