"""Key rotation re-encrypts raters' personal data in committed batches and resumes where it
stopped (C9: the rater's information is confidential, so no clear value is ever left behind)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from haochaping.cases import service as cases
from haochaping.cases.models import Case
from haochaping.db import Database
from haochaping.pii import keyring as kr
from haochaping.pii.cipher import blind_index, key_id_of
from haochaping.pii.rotation import CLEAR, rotate, status
from tests.factories import make_catalog, register

Snapshot = dict[str, tuple[str, str | None, str | None, str | None, str | None]]


class Interrupted(Exception):
    pass


def _register_cases(db: Database, n: int) -> None:
    with db.transaction() as s:
        make_catalog(s)
        for i in range(n):
            applicant = {
                "type": "person",
                "name": f"评价人{i}",
                "id_no": f"4502241990010{i:05d}",
                "phone": f"138{i:08d}",
            }
            register(s, f"ROT-{i}", applicant=applicant)
        # One applicant without ID number and phone.
        register(s, "ROT-X", applicant={"type": "person", "name": "王五"})


def _snapshot(db: Database) -> Snapshot:
    with db.transaction() as s:
        return {
            c.case_no: (
                c.applicant_name,
                c.applicant_id_no,
                c.applicant_phone,
                c.applicant_phone_index,
                c.applicant_id_index,
            )
            for c in s.scalars(select(Case))
        }


def _raw_values(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT applicant_name, applicant_id_no, applicant_phone FROM cases")
        ).all()
    return [v for row in rows for v in row if v is not None]


def test_c9_rotation_interrupted_then_resumed(committed_db: Database) -> None:
    old = kr.current()
    _register_cases(committed_db, 7)
    before = _snapshot(committed_db)
    assert status(committed_db) == {old.active_kid: 7 * 3 + 1, CLEAR: 0}

    new = old.with_new_key()
    kr.configure(new)
    try:
        calls: list[tuple[int, int]] = []

        def stop_after_first_batch(done: int, total: int) -> None:
            calls.append((done, total))
            raise Interrupted

        with pytest.raises(Interrupted):
            rotate(committed_db, batch_size=3, progress=stop_after_first_batch)
        assert calls == [(3, 8)]
        # The first batch is committed, under the new key; the rest is still readable.
        assert status(committed_db) == {old.active_kid: 4 * 3 + 1, new.active_kid: 9, CLEAR: 0}
        assert _snapshot(committed_db) == before

        progress: list[tuple[int, int]] = []
        result = rotate(committed_db, batch_size=3, progress=lambda d, t: progress.append((d, t)))
        assert (result.active_kid, result.rotated, result.remaining) == (new.active_kid, 5, 0)
        assert progress == [(3, 5), (5, 5)]
        assert status(committed_db) == {old.active_kid: 0, new.active_kid: 22, CLEAR: 0}
        assert {key_id_of(v) for v in _raw_values(committed_db)} == {new.active_kid}
        # Same clear values, same blind indexes (the index key does not rotate).
        assert _snapshot(committed_db) == before
        # Running again has nothing to do.
        assert rotate(committed_db, batch_size=3).rotated == 0
    finally:
        kr.configure(old)


def test_c9_rotation_needs_every_key_it_finds(committed_db: Database) -> None:
    _register_cases(committed_db, 2)
    stranger = kr.new_keyring("k7")
    with pytest.raises(kr.KeyringError) as exc:
        rotate(committed_db, keyring=stranger.with_new_key())
    assert exc.value.code == "pii_key_unknown"
    assert status(committed_db, stranger)["unknown"] == 2 * 3 + 1


def test_c9_legacy_clear_rows_get_encrypted_and_indexed(committed_db: Database) -> None:
    """Rows written before migration 0003 hold clear values and no blind index."""
    _register_cases(committed_db, 3)
    with committed_db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cases SET applicant_name = '赵六', applicant_id_no = '45022419900101123x',"
                " applicant_phone = '13900001111', applicant_phone_index = NULL,"
                " applicant_id_index = NULL WHERE case_no IN ('ROT-0', 'ROT-1')"
            )
        )
    active = kr.current().active_kid
    assert status(committed_db) == {active: 1 * 3 + 1, CLEAR: 6}
    with committed_db.transaction() as s:
        legacy = s.scalars(select(Case).where(Case.case_no.in_(["ROT-0", "ROT-1"]))).all()
        assert {(c.applicant_name, c.applicant_phone) for c in legacy} == {("赵六", "13900001111")}
        assert cases.case_ids_by_phone(s, "13900001111") == []  # no index yet
        ids = sorted(c.id for c in legacy)

    result = rotate(committed_db, batch_size=500)
    assert (result.rotated, result.remaining) == (2, 0)
    assert status(committed_db) == {active: 3 * 3 + 1, CLEAR: 0}
    raw = _raw_values(committed_db)
    assert all(key_id_of(v) == active for v in raw)
    assert not any("赵六" in v or "13900001111" in v for v in raw)
    with committed_db.transaction() as s:
        assert cases.case_ids_by_phone(s, "+86-13900001111") == ids
        assert cases.case_ids_by_id_no(s, "45022419900101123X") == ids
        row = s.get_one(Case, ids[0])
        assert (row.applicant_name, row.applicant_id_no) == ("赵六", "45022419900101123x")
        assert row.applicant_phone_index == blind_index("phone", "13900001111")
