"""Shared by the catalogue tests: write a catalogue file, count what the database holds."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping.catalog.importer import COLUMNS
from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Organization,
    Region,
    ServiceItem,
    Staff,
    Window,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.csv"
MODELS = (Region, BusinessLine, Hall, Organization, ServiceItem, Window, Staff)


def write_csv(path: Path, rows: list[dict[str, str]], *, bom: bool = False) -> Path:
    """A flat catalogue file with the standard header; missing cells are empty."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def table_counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in MODELS
    }
