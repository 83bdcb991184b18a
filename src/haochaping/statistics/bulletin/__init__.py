"""Monthly (quarterly, yearly) bulletins of the 好差评 results (G2, with G1, G3 and F6): an xlsx
workbook with the figures of every dimension, the rankings, the focus objects and the overdue
work orders, and a Word 通报 with the text, the best and last units, typical bad reviews and
their rectification, and charts.

``build_bulletin`` is what the console and the command line call; both pass the caller's scope,
so a supervisor gets bulletins of their own region subtree only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.statistics.bulletin import document, workbook
from haochaping.statistics.bulletin.content import Bulletin, gather
from haochaping.statistics.periods import Period

__all__ = ["Bulletin", "build_bulletin", "bulletin_filename", "gather", "render"]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def render(bulletin: Bulletin) -> tuple[bytes, bytes]:
    """The workbook and the Word document of a gathered bulletin."""
    return workbook.render(bulletin), document.render(bulletin)


def build_bulletin(
    session: Session,
    access: Scope,
    region_code: str | None,
    period: Period,
    *,
    now: datetime | None = None,
    issuer: str | None = None,
) -> tuple[bytes, bytes]:
    """(xlsx, docx) of the bulletin of ``region_code`` (the caller's own region when None) over
    ``period``, inside ``access``. The statistics read the rollups: fold the queue first
    (``sweeper.fold_statistics``) for figures up to the minute."""
    return render(gather(session, access, region_code, period, now=now, issuer=issuer))


def bulletin_filename(region_code: str, period: Period, extension: str) -> str:
    """通报-<region>-<period>.<extension>; a range of months is written 2026-07至2026-10."""
    return f"通报-{region_code}-{period.code.replace('..', '至')}.{extension}"
