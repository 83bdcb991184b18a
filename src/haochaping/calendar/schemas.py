"""Values the calendar returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DueTime:
    """A computed deadline; ``estimated`` when a year without an official schedule was crossed
    and weekends alone decided what a working day is (P2)."""

    at: datetime
    estimated: bool
