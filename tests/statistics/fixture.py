"""A hand-computed month (November 2026) for the statistics tests.

融安县 (450224, profile rongan: scores 10/8/6/3/0, default 非常满意 after 7 days):
- S1 (O1 融安县公安局, window W1): 非常满意, 满意, 基本满意, and one silent case (default 非常满意)
- S2 (O1, W1): 非常不满意 (label attitude.3, text), 非常满意
- S3 (O2 不动产登记中心, W2): 不满意 (label quality.1)
融水县 (450225): S5 (O4): 非常满意
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from haochaping.config import get_settings
from haochaping.deadlines import service as deadlines
from haochaping.policy.loader import clear_cache
from haochaping.statistics import rollup
from haochaping.sweeper import HANDLERS
from tests.factories import T0, make_catalog, occasions_of, rate, register

NOVEMBER = "2026-11"


def rated(
    session: Session,
    case_no: str,
    staff: str,
    level: int | None,
    *,
    when: datetime = T0,
    channel: int = 4,
    item: str = "I-IMM",
    labels: list[str] | None = None,
    text: str | None = None,
) -> int | None:
    windows = {"S1": "W1", "S2": "W1", "S3": "W2"}
    extra = {"window_code": windows[staff]} if staff in windows else {}
    case = register(
        session,
        case_no,
        item,
        now=when,
        staff_code=staff,
        accepted_at=when,
        completed_at=when,
        **extra,
    )
    if level is None:
        return None
    occasion = occasions_of(session, case)[0]
    return rate(session, occasion.id, level, now=when, channel=channel, labels=labels, text=text).id


def build_november(session: Session) -> dict[str, object]:
    catalog = make_catalog(session)
    ids = {
        "s1a": rated(session, "N-S1-A", "S1", 5),
        "s1b": rated(session, "N-S1-B", "S1", 4),
        "s1c": rated(session, "N-S1-C", "S1", 3, channel=2),
        "s1d": rated(session, "N-S1-D", "S1", None),
        "s2a": rated(
            session,
            "N-S2-A",
            "S2",
            1,
            labels=["attitude.3"],
            text="窗口工作人员态度生硬，材料反复退回",
        ),
        "s2b": rated(session, "N-S2-B", "S2", 5),
        "s3a": rated(
            session, "N-S3-A", "S3", 2, item="I-O2", labels=["quality.1"], text="材料反复退回"
        ),
        "s5a": rated(session, "N-S5-A", "S5", 5, item="I-O4"),
    }
    sweep(session, T0 + timedelta(days=8))
    return {"catalog": catalog, "ids": ids}


def sweep(session: Session, now: datetime) -> None:
    """Defaults due by ``now`` (C7), then the statistics queue folded."""
    while deadlines.sweep_batch(session=session, now=now, handlers=HANDLERS, limit=500).total:
        pass
    rollup.fold(session)


@contextmanager
def extra_profile(directory: Path, name: str, text: str) -> Iterator[str]:
    """A profile file of the test's own (``HCP_POLICY_DIR``), loaded for the ``with`` block."""
    import os

    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    saved = os.environ.get("HCP_POLICY_DIR")
    os.environ["HCP_POLICY_DIR"] = str(directory)
    get_settings.cache_clear()
    clear_cache()
    try:
        yield name
    finally:
        if saved is None:
            os.environ.pop("HCP_POLICY_DIR", None)
        else:
            os.environ["HCP_POLICY_DIR"] = saved
        get_settings.cache_clear()
        clear_cache()
