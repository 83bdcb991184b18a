"""Score results (B2): averages of evaluations, with counts, active and default apart."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Dimension(StrEnum):
    """A5: the four dimensions, plus items."""

    staff = "staff"
    org = "org"
    line = "line"
    region = "region"
    item = "item"


class Tally(BaseModel):
    evaluations: int = 0
    # Transactions the evaluations stand for (C4 batches count each transaction).
    transactions: int = 0
    average: float | None = None


class ScoreRow(BaseModel):
    code: str
    name: str
    level: str | None = None
    all: Tally
    active: Tally
    default: Tally


class ScorePage(BaseModel):
    dimension: Dimension
    total: int
    page: int
    page_size: int
    items: list[ScoreRow]
