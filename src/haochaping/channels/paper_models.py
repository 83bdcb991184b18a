"""Paper evaluation forms (ZZ, C8) typed in by staff: where each paper rating came from."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class PaperForm(Base):
    """The paper form behind one evaluation: when the rater filled it in, who typed it in
    and how (console form or spreadsheet import)."""

    __tablename__ = "paper_forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    case_no: Mapped[str] = mapped_column(String(64))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    filled_on: Mapped[date] = mapped_column(Date)
    # "console" or "import"
    source: Mapped[str] = mapped_column(String(16))
    entered_by: Mapped[str] = mapped_column(String(120))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
