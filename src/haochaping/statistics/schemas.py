"""Metrics of a unit over a period (issue 6): what the dashboard, the API, the public pages and
the bulletins show."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Dimension(StrEnum):
    """A5's four dimensions, with windows (between organisation and staff) and items."""

    region = "region"
    org = "org"
    window = "window"
    staff = "staff"
    line = "line"
    item = "item"


DIMENSION_NAMES = {
    Dimension.region: "地区",
    Dimension.org: "部门",
    Dimension.window: "窗口",
    Dimension.staff: "工作人员",
    Dimension.line: "业务条线",
    Dimension.item: "服务事项",
}


class Part(BaseModel):
    evaluations: int = 0
    transactions: int = 0
    average: float | None = None


class WorkOrderTally(BaseModel):
    """F1-F6 from the work orders received in the period."""

    opened: int = 0
    closed: int = 0
    on_time: int = 0
    overdue: int = 0
    rectified: int = 0
    appealed: int = 0
    upheld: int = 0
    real_name: int = 0
    revisited: int = 0
    # F4 (ZZ): revisited real-name bad reviews / real-name bad reviews; 100% is asked.
    revisit_rate: float | None = None
    deductions: float = 0.0


class UnitMetrics(BaseModel):
    dimension: Dimension
    key: str = Field(description="统计单元键：地区代码、编号，或“地区代码:编号”（条线、事项）")
    code: str
    name: str
    level: str | None = Field(default=None, description="地区层级（地区维度）")
    group: str = Field(default="", description="可比组（同层级地区、同条线部门等）")
    evaluations: int = 0
    transactions: int = 0
    average: float | None = Field(default=None, description="平均得分（B2，按评价计算）")
    active: Part = Field(default_factory=Part)
    default: Part = Field(default_factory=Part)
    levels: dict[int, int] = Field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    bad: int = 0
    bad_rate: float | None = None
    active_rate: float | None = Field(default=None, description="主动评价率：主动评价 / 全部评价")
    expired: int = 0
    coverage: float | None = Field(
        default=None, description="评价覆盖率：主动评价的评价场次 / 已结束的评价场次"
    )
    low: int = Field(default=0, description="基本满意及以下的评价数（F6）")
    low_share: float | None = None
    work_orders: WorkOrderTally = Field(default_factory=WorkOrderTally)


class RankedUnit(UnitMetrics):
    ranked: bool = False
    rank: int | None = None
    group_size: int = 0
    shrunk: float | None = Field(default=None, description="修正得分（向组内平均收缩）")
    group_mean: float | None = None


# What a table of units can be sorted by.
SortKey = Literal[
    "code", "evaluations", "average", "bad_rate", "active_rate", "coverage", "overdue"
]


class Ranking(BaseModel):
    dimension: Dimension
    period: str
    period_label: str
    region: str
    min_evaluations: int
    prior_weight: int
    explanation: str
    # Units ranked in all (``items`` may be one page of them).
    total: int = 0
    page: int = 1
    items: list[RankedUnit]


class FocusEntry(BaseModel):
    dimension: Dimension
    key: str
    code: str
    name: str
    reason: str = Field(description="concentrated_low | bottom_consecutive")
    detail: str
    evaluations: int
    average: float | None
    low_share: float | None = None


class TrendPoint(BaseModel):
    day: str
    evaluations: int
    active: int
    average: float | None
    bad: int


class LabelShare(BaseModel):
    code: str
    name: str
    group: str
    evaluations: int
    share: float


class ChannelShare(BaseModel):
    channel: int
    name: str
    evaluations: int
    average: float | None
    share: float


class HotWord(BaseModel):
    word: str
    count: int
    evaluation_ids: list[int]


class Overview(BaseModel):
    """One unit's page: its own metrics, trend, channels, labels."""

    unit: UnitMetrics
    period: str
    period_label: str
    trend: list[TrendPoint]
    channels: list[ChannelShare]
    labels: list[LabelShare]
