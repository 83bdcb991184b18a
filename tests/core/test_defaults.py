"""C7: silence becomes the profile's default rating; the sweep is idempotent and safe when two
sweepers run at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.cases.models import Occasion
from haochaping.db import Database
from haochaping.deadlines import service as deadlines
from haochaping.evaluations.models import Evaluation
from tests.factories import T0, make_catalog, occasions_of, rate, register


def _sweep_in(session: Session, when: object) -> dict[str, int]:
    result = deadlines.sweep_batch(session=session, now=when, handlers=sweeper.HANDLERS)  # type: ignore[arg-type]
    return result.processed


def test_C7_guangxi_default_is_very_satisfied_after_7_natural_days(session: Session) -> None:
    make_catalog(session)
    occ = occasions_of(session, register(session, "C7-GX", staff_code="S1"))[0]
    # Before the default, only the C5 SMS reminder (24 hours after completion) was due.
    assert _sweep_in(session, T0 + timedelta(days=6, hours=23)) == {"occasion.sms_reminder": 1}
    assert _sweep_in(session, T0 + timedelta(days=7)) == {"occasion.default": 1}
    e = session.scalar(select(Evaluation).where(Evaluation.occasion_id == occ.id))
    assert e is not None and e.level == 5 and e.score == 10 and e.is_default is True
    assert e.channel is None and e.rated_at == T0 + timedelta(days=7)
    assert occ.status == "defaulted"
    # Idempotent: a second sweep finds nothing to do.
    assert _sweep_in(session, T0 + timedelta(days=30)) == {}


def test_C7_hubei_default_is_basically_satisfied(session: Session) -> None:
    make_catalog(session)
    occ = occasions_of(session, register(session, "C7-HB", "I-HB", staff_code="SH"))[0]
    _sweep_in(session, T0 + timedelta(days=8))
    e = session.scalar(select(Evaluation).where(Evaluation.occasion_id == occ.id))
    assert e is not None and (e.level, e.score, e.is_default) == (3, 6, True)


def test_C7_profile_without_default_closes_unrated(session: Session) -> None:
    make_catalog(session)
    occ = occasions_of(session, register(session, "C7-ZZ", "I-ZZ", staff_code="SZ"))[0]
    assert _sweep_in(session, T0 + timedelta(days=30)) == {
        "occasion.sms_reminder": 1,
        "occasion.close": 1,
    }
    assert occ.status == "expired"
    assert session.scalar(select(func.count()).select_from(Evaluation)) == 0


def test_C7_rated_occasion_gets_no_default(session: Session) -> None:
    make_catalog(session)
    occ = occasions_of(session, register(session, "C7-RATED", staff_code="S1"))[0]
    rate(session, occ.id, 4)
    _sweep_in(session, T0 + timedelta(days=8))
    rows = session.scalars(select(Evaluation).where(Evaluation.occasion_id == occ.id)).all()
    assert [(e.level, e.is_default) for e in rows] == [(4, False)]


def test_two_sweepers_never_process_a_row_twice(committed_db: Database) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
        for i in range(120):
            register(session, f"SWEEP-{i:03d}", staff_code="S1")
    results: list[sweeper.SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(sweeper.run_sweep(committed_db, T0 + timedelta(days=8), batch=10))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Each occasion's default once, and its C5 reminder row once (too late to send by then).
    assert sum(r.processed.get("occasion.default", 0) for r in results) == 120
    assert sum(r.total for r in results) == 240
    with committed_db.transaction() as session:
        per_occasion = session.execute(
            select(Evaluation.occasion_id, func.count()).group_by(Evaluation.occasion_id)
        ).all()
        assert len(per_occasion) == 120 and all(n == 1 for _, n in per_occasion)
        statuses = set(session.scalars(select(Occasion.status)))
        assert statuses == {"defaulted"}
    again = sweeper.run_sweep(committed_db, T0 + timedelta(days=9))
    assert again.total == 0


def test_a_failing_task_is_recorded_and_does_not_block_the_others(
    session: Session, caplog: object
) -> None:
    from haochaping.deadlines.models import Deadline

    done: list[int] = []

    def flaky(_: Session, subject_id: int, __: object) -> None:
        if subject_id == 2:
            raise RuntimeError("gateway down")
        done.append(subject_id)

    for subject in (1, 2, 3):
        deadlines.schedule(session=session, kind="test.flaky", subject_id=subject, due_at=T0)
    result = deadlines.sweep_batch(session=session, now=T0, handlers={"test.flaky": flaky})
    assert (result.processed, result.failed, done) == ({"test.flaky": 2}, 1, [1, 3])
    row = session.scalar(select(Deadline).where(Deadline.subject_id == 2))
    assert row is not None and row.status == "pending" and row.attempts == 1
    assert row.last_error == "RuntimeError: gateway down"
    assert "gateway down" in caplog.text  # type: ignore[attr-defined]
