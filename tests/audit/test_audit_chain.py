"""Issue 3: the append-only audit log; its SM3 hash chain reveals edited and deleted rows."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from haochaping.audit import service
from haochaping.audit.actions import ACTION_LABELS, AuditAction, action_label
from haochaping.audit.models import AuditEntry
from haochaping.audit.profiles import current_profile_fingerprints, record_current_profiles
from haochaping.clock import BEIJING
from haochaping.db import Database
from haochaping.errors import InvalidInput

T0 = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)

_ACTS: list[tuple[str, AuditAction, str, dict[str, object]]] = [
    ("user:alice", AuditAction.login, "alice", {"method": "password"}),
    ("user:bob", AuditAction.login_failed, "bob", {"reason": "密码错误", "attempt": 3}),
    ("cli:root", AuditAction.role_granted, "user:alice", {"role": "auditor", "scope": "450000"}),
    (
        "user:alice",
        AuditAction.pii_unmasked,
        "evaluation:17",
        {"reason": "投诉核查", "phone": "138****0000"},
    ),
    ("client:gx-yth", AuditAction.export, "scores", {"rows": 1200}),
    ("system", AuditAction.profile_changed, "guangxi", {"fingerprint": "ab" * 32}),
]


def _fill(session: Session, count: int = 6) -> list[AuditEntry]:
    entries = []
    for i in range(count):
        actor, action, target, details = _ACTS[i % len(_ACTS)]
        entries.append(
            service.record(
                session,
                now=T0 + timedelta(minutes=i),
                actor=actor,
                action=action,
                target=target,
                details=details,
                ip="10.0.0.7" if actor.startswith("user:") else "",
            )
        )
    return entries


def test_audit_chain_of_entries_verifies(session: Session) -> None:
    entries = _fill(session)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == service.GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
        assert len(after.hash) == 64
    session.expire_all()  # what is verified is what the database gives back
    result = service.verify(session, batch_size=2)
    assert result.ok and result.reason is None and result.first_bad_seq is None
    assert result.checked == 6
    assert (result.last_seq, result.last_hash) == (6, entries[-1].hash)
    assert result.anchor == f"6:{entries[-1].hash}"


def test_audit_empty_log_verifies(session: Session) -> None:
    result = service.verify(session)
    assert result.ok and result.checked == 0
    assert (result.last_seq, result.last_hash) == (0, service.GENESIS_HASH)


def test_audit_record_stores_canonical_utc_values(session: Session) -> None:
    entry = service.record(
        session,
        now=datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING),
        actor="user:" + "x" * 300,
        action="login",
        target="t" * 500,
        details={"b": 1, "a": "中文"},
    )
    assert entry.at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert entry.details == '{"a":"中文","b":1}'
    assert len(entry.actor) == 100 and len(entry.target) == 200
    assert service.entry_details(entry) == {"a": "中文", "b": 1}
    assert service.verify(session).ok
    with pytest.raises(ValueError):
        service.record(session, now=datetime(2026, 1, 1), actor="system", action="login")
    with pytest.raises(ValueError):
        service.record(session, now=T0, actor="system", action="x" * 41)


def test_audit_hash_is_sm3_of_the_documented_serialization(session: Session) -> None:
    entry = service.record(session, now=T0, actor="system", action="export", details={"n": 1})
    payload = (
        '["hcp-audit-v1",1,"2026-11-23T01:02:03.456789+00:00","system","","export","",'
        '"{\\"n\\":1}","' + "0" * 64 + '"]'
    )
    assert entry.hash == service.sm3_hex(payload.encode("utf-8"))
    # SM3("abc"), GB/T 32905-2016 example 1.
    assert service.sm3_hex(b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_audit_verify_catches_a_row_edited_in_the_database(session: Session) -> None:
    _fill(session)
    session.execute(
        text("UPDATE audit_log SET details = :d WHERE seq = 4"), {"d": '{"reason":"无"}'}
    )
    result = service.verify(session)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert result.reason == "第 4 条记录内容被修改（哈希不符）"
    assert result.checked == 3 and result.last_seq == 3


def test_audit_verify_catches_an_edited_time_actor_or_action(session: Session) -> None:
    _fill(session)
    session.execute(text("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 2"))
    result = service.verify(session)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    session.execute(text("UPDATE audit_log SET actor = 'user:bob' WHERE seq = 2"))
    assert service.verify(session).ok  # restored exactly: the chain holds again
    session.execute(
        text("UPDATE audit_log SET at = :at WHERE seq = 5"), {"at": T0 + timedelta(days=1)}
    )
    result = service.verify(session)
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_audit_verify_catches_a_deleted_middle_row(session: Session) -> None:
    _fill(session)
    session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    result = service.verify(session)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.reason == "第 3 条记录缺失（序号不连续）"
    session.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    assert service.verify(session).reason == "第 3–4 条记录缺失（序号不连续）"


def test_audit_verify_catches_a_deleted_first_row(session: Session) -> None:
    _fill(session)
    session.execute(text("DELETE FROM audit_log WHERE seq = 1"))
    result = service.verify(session)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert result.last_seq == 0


def test_audit_verify_catches_a_deleted_row_with_renumbered_successors(session: Session) -> None:
    _fill(session)
    session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    for seq in (4, 5, 6):
        session.execute(
            text("UPDATE audit_log SET seq = :n WHERE seq = :o"), {"n": seq - 1, "o": seq}
        )
    result = service.verify(session)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason == "第 3 条记录的前序哈希与第 2 条不符"


def test_audit_verify_catches_an_edited_prev_hash(session: Session) -> None:
    _fill(session)
    session.execute(text("UPDATE audit_log SET prev_hash = :h WHERE seq = 5"), {"h": "f" * 64})
    result = service.verify(session)
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert result.reason == "第 5 条记录的前序哈希与第 4 条不符"
    session.execute(text("UPDATE audit_log SET prev_hash = :h WHERE seq = 1"), {"h": "f" * 64})
    result = service.verify(session)
    assert (result.first_bad_seq, result.reason) == (1, "第 1 条记录的前序哈希不是初始值（全零）")


def test_audit_verify_catches_a_rewritten_row_at_its_successor(session: Session) -> None:
    entries = _fill(session)
    row = entries[2]
    forged = service.entry_hash(
        seq=3,
        at=row.at,
        actor="user:mallory",
        actor_ip=row.actor_ip,
        action=row.action,
        target=row.target,
        details=row.details,
        prev_hash=row.prev_hash,
    )
    session.execute(
        text("UPDATE audit_log SET actor = 'user:mallory', hash = :h WHERE seq = 3"), {"h": forged}
    )
    result = service.verify(session)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.reason == "第 4 条记录的前序哈希与第 3 条不符"


def test_audit_anchor_detects_a_truncated_tail(session: Session) -> None:
    _fill(session)
    anchor = service.parse_anchor(service.verify(session).anchor)
    assert anchor.seq == 6
    assert service.verify(session, anchor=anchor).ok
    session.execute(text("DELETE FROM audit_log WHERE seq >= 5"))
    assert service.verify(session).ok  # the chain alone cannot see a deleted tail
    result = service.verify(session, anchor=anchor)
    assert not result.ok
    assert result.first_bad_seq == 5
    assert result.reason is not None and "锚点第 6 条记录不存在" in result.reason
    assert result.checked == 4


def test_audit_anchor_detects_a_wrong_hash(session: Session) -> None:
    _fill(session)
    result = service.verify(session, anchor=service.Anchor(seq=2, hash="0" * 64))
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.reason is not None and "锚点不符" in result.reason


@pytest.mark.parametrize(
    "bad", ["", "12", "x:" + "a" * 64, "3:abc", "0:" + "a" * 64, "3:" + "g" * 64]
)
def test_audit_parse_anchor_refuses_bad_text(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.parse_anchor(bad)
    assert caught.value.code == service.ANCHOR_INVALID


def test_audit_parse_anchor_accepts_upper_case_and_spaces() -> None:
    assert service.parse_anchor(f" 7:{'AB' * 32} ") == service.Anchor(seq=7, hash="ab" * 32)


def test_audit_list_entries_filters_and_pages(session: Session) -> None:
    _fill(session, 12)
    total, rows = service.list_entries(session, page_size=5)
    assert total == 12 and [r.seq for r in rows] == [12, 11, 10, 9, 8]
    total, rows = service.list_entries(session, page=3, page_size=5)
    assert [r.seq for r in rows] == [2, 1]
    total, rows = service.list_entries(session, action="login")
    assert total == 2 and {r.seq for r in rows} == {1, 7}
    total, rows = service.list_entries(session, actor="user:alice", action="pii_unmasked")
    assert [r.seq for r in rows] == [10, 4]
    # T0 is 2026-11-23 09:02 Beijing; entry i is i minutes later.
    total, _ = service.list_entries(
        session, date_from=T0 + timedelta(minutes=3), date_to=T0 + timedelta(minutes=5)
    )
    assert total == 3
    total, _ = service.list_entries(
        session, date_from=date(2026, 11, 23), date_to=date(2026, 11, 23)
    )
    assert total == 12
    total, _ = service.list_entries(session, date_to=date(2026, 11, 22))
    assert total == 0
    with pytest.raises(InvalidInput):
        service.list_entries(session, page=0)
    with pytest.raises(InvalidInput):
        service.list_entries(session, page_size=501)


def test_audit_profile_fingerprints_recorded_only_when_changed(session: Session) -> None:
    now = T0
    changed = service.record_profile_fingerprints(
        session, now, {"national": "a" * 64, "guangxi": "b" * 64}
    )
    assert changed == ["guangxi", "national"]
    assert (
        service.record_profile_fingerprints(
            session, now, {"national": "a" * 64, "guangxi": "b" * 64}
        )
        == []
    )
    assert service.record_profile_fingerprints(
        session, now, {"national": "c" * 64, "guangxi": "b" * 64}
    ) == ["national"]
    total, rows = service.list_entries(session, action=AuditAction.profile_changed)
    assert total == 3
    assert service.entry_details(rows[0]) == {"fingerprint": "c" * 64, "previous": "a" * 64}
    assert rows[0].actor == "system" and rows[0].target == "national"
    assert service.verify(session).ok


def test_audit_current_profiles_fingerprinted_and_recorded(session: Session) -> None:
    prints = current_profile_fingerprints()
    assert "national" in prints and all(len(v) == 64 for v in prints.values())
    assert current_profile_fingerprints() == prints  # deterministic
    recorded = record_current_profiles(session, T0)
    assert recorded == sorted(prints)
    assert record_current_profiles(session, T0) == []


def test_audit_action_labels_are_complete() -> None:
    assert set(ACTION_LABELS) == set(AuditAction)
    assert all(len(a.value) <= service.ACTION_MAX for a in AuditAction)
    assert action_label("pii_unmasked") == "查看实名信息"
    assert action_label("something_new") == "something_new"


def test_audit_concurrent_appends_form_one_unbroken_chain(committed_db: Database) -> None:
    threads_count, per_thread = 4, 15
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with committed_db.transaction() as s:
                    service.record(
                        s,
                        now=datetime.now(UTC),
                        actor=f"user:w{n}",
                        action=AuditAction.export,
                        target=str(i),
                    )
                    time.sleep(0.002)  # widen the window between reading the tail and commit
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with committed_db.transaction() as s:
        result = service.verify(s, batch_size=7)
        seqs = list(s.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
    assert result.ok, result.reason
    assert result.checked == threads_count * per_thread
    assert seqs == list(range(1, threads_count * per_thread + 1))
