"""C9 (the rater's information is confidential, ratings are real-name): name, ID number and
phone are SM4-GCM ciphertext at rest, with a key id; lookups go through a keyed blind index."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from haochaping.cases import service as cases
from haochaping.cases.models import Case
from haochaping.config import get_settings
from haochaping.pii import keyring as kr
from haochaping.pii.cipher import blind_index, decrypt, encrypt, key_id_of, normalize
from haochaping.pii.keyring import KeyringError
from tests.factories import make_catalog, register

NAME, ID_NO, PHONE = "张三丰", "450224199001011234", "13812348000"


# --------------------------------------------------------------------------- the cipher


def test_c9_round_trip_with_key_id() -> None:
    ring = kr.current()
    for clear in ("张三丰", "", "广西壮族自治区融安县某某有限公司" * 10, "45022419900101123X"):
        value = encrypt(clear)
        assert value.startswith(f"sm4gcm:{ring.active_kid}:")
        assert key_id_of(value) == ring.active_kid
        assert clear not in value or clear == ""
        assert decrypt(value) == clear
    # A fresh nonce every time: equal values do not give equal ciphertexts.
    assert encrypt(NAME) != encrypt(NAME)


def test_c9_tampered_ciphertext_is_refused() -> None:
    value = encrypt(PHONE)
    prefix, payload = value.rsplit(":", 1)
    flipped = payload[:20] + ("A" if payload[20] != "A" else "B") + payload[21:]
    for bad in (f"{prefix}:{flipped}", f"{prefix}:{payload[:-4]}", f"{prefix}:!!!", "sm4gcm:k1"):
        with pytest.raises(KeyringError) as exc:
            decrypt(bad)
        assert exc.value.code == "pii_ciphertext_invalid"
        assert "篡改" in exc.value.message


def test_c9_key_id_is_authenticated_and_unknown_keys_refused() -> None:
    ring = kr.current().with_new_key()  # k1 and k2
    value = encrypt(NAME, ring)
    relabelled = value.replace(f":{ring.active_kid}:", ":k1:", 1)
    with pytest.raises(KeyringError) as exc:
        decrypt(relabelled, ring)
    assert exc.value.code == "pii_ciphertext_invalid"
    with pytest.raises(KeyringError) as unknown:
        decrypt(value.replace(f":{ring.active_kid}:", ":k99:", 1), ring)
    assert unknown.value.code == "pii_key_unknown" and "k99" in unknown.value.message


def test_c9_legacy_clear_values_read_as_they_are() -> None:
    assert decrypt("张三丰") == "张三丰"
    assert key_id_of("13812348000") is None
    assert key_id_of(encrypt("x")) == kr.current().active_kid


def test_c9_blind_index_normalises_and_depends_on_the_key() -> None:
    assert normalize("phone", " +86 138-1234-8000 ") == PHONE
    assert normalize("phone", "8613812348000") == PHONE
    assert normalize("id", " 45022419900101123x ") == "45022419900101123X"
    phone = blind_index("phone", PHONE)
    assert len(phone) == 64 and int(phone, 16) >= 0 and PHONE not in phone
    assert blind_index("phone", "+86 13812348000") == phone
    assert blind_index("phone", "13812348001") != phone
    assert blind_index("id", "45022419900101123x") == blind_index("id", "45022419900101123X")
    assert blind_index("id", PHONE) != phone  # the kind is part of the index
    assert blind_index("phone", PHONE, kr.new_keyring()) != phone


# --------------------------------------------------------------------------- the key file


def test_c9_key_file_created_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "keys.json"
    created = kr.create_keyring_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = kr.load_keyring(path)
    assert loaded == created and loaded.active_kid == "k1"
    assert "index_key" in json.loads(path.read_text()) and created.index_key.hex() not in repr(
        created
    )
    with pytest.raises(KeyringError) as exc:
        kr.create_keyring_file(path)
    assert exc.value.code == "key_file_exists"
    assert kr.load_keyring(path) == created  # untouched


def test_c9_add_key_keeps_old_keys_and_index_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = kr.create_keyring_file(path)
    assert kr.add_key(path) == "k2"
    assert kr.add_key(path) == "k3"
    ring = kr.load_keyring(path)
    assert ring.active_kid == "k3" and set(ring.keys) == {"k1", "k2", "k3"}
    assert ring.keys["k1"] == first.keys["k1"] and ring.index_key == first.index_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / "keys.json.tmp").exists()


def test_c9_bad_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    for content in ("not json", "{}", json.dumps({"format": kr.FORMAT, "active": "k1"})):
        path.write_text(content)
        with pytest.raises(KeyringError) as exc:
            kr.load_keyring(path)
        assert exc.value.code == "key_file_invalid"
    with pytest.raises(KeyringError) as missing:
        kr.load_keyring(tmp_path / "none.json")
    assert missing.value.code == "key_file_missing"


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process uses the key file of the settings, as outside tests."""
    path = tmp_path / "haochaping-keys.json"
    monkeypatch.setenv("HCP_KEY_FILE", str(path))
    get_settings.cache_clear()
    previous = kr.configure(None)
    try:
        yield path
    finally:
        kr.configure(previous)
        get_settings.cache_clear()


def test_c9_missing_key_file_tells_what_to_run(file_keyring: Path) -> None:
    with pytest.raises(KeyringError) as exc:
        encrypt(NAME)
    assert exc.value.code == "key_file_missing"
    assert "haochaping keys init" in exc.value.message and str(file_keyring) in exc.value.message


def test_c9_current_keyring_follows_the_key_file(file_keyring: Path) -> None:
    kr.create_keyring_file(file_keyring)
    old = encrypt(NAME)
    assert key_id_of(old) == "k1"
    kr.add_key(file_keyring)  # as `keys rotate` does while a server runs
    new = encrypt(NAME)
    assert key_id_of(new) == "k2"
    assert decrypt(old) == decrypt(new) == NAME


# --------------------------------------------------------------------------- in the database


def _raw(session: Session, case_no: str) -> dict[str, str | None]:
    row = session.execute(
        text(
            "SELECT applicant_name, applicant_id_no, applicant_phone, applicant_phone_index,"
            " applicant_id_index FROM cases WHERE case_no = :n"
        ),
        {"n": case_no},
    ).one()
    return dict(row._mapping)


def test_c9_database_holds_no_clear_personal_data(session: Session) -> None:
    make_catalog(session)
    case = register(session, "PII-1")
    session.flush()
    raw = _raw(session, "PII-1")
    kid = kr.current().active_kid
    for column in ("applicant_name", "applicant_id_no", "applicant_phone"):
        value = raw[column]
        assert value is not None and value.startswith(f"sm4gcm:{kid}:")
        for clear in (NAME, ID_NO, PHONE, PHONE[-4:] + "", ID_NO[-6:]):
            assert clear not in value
    assert raw["applicant_phone_index"] == blind_index("phone", PHONE)
    assert raw["applicant_id_index"] == blind_index("id", ID_NO)
    # The application still sees clear values, read back from the database.
    session.expire_all()
    again = session.get_one(Case, case.id)
    assert (again.applicant_name, again.applicant_id_no, again.applicant_phone) == (
        NAME,
        ID_NO,
        PHONE,
    )


def test_c9_update_and_missing_values(session: Session) -> None:
    make_catalog(session)
    register(session, "PII-2")
    register(session, "PII-2", applicant={"type": "person", "name": "李四"})
    session.flush()
    raw = _raw(session, "PII-2")
    assert raw["applicant_id_no"] is None and raw["applicant_phone"] is None
    assert raw["applicant_phone_index"] is None and raw["applicant_id_index"] is None
    assert decrypt(raw["applicant_name"] or "") == "李四"


def test_c9_lookup_by_blind_index_only(session: Session) -> None:
    make_catalog(session)
    first = register(session, "PII-A")
    second = register(session, "PII-B", item="I-O2")
    other = register(
        session,
        "PII-C",
        applicant={
            "type": "person",
            "name": "王五",
            "id_no": "45022419900101123x",
            "phone": "+86-139-0000-1111",
        },
    )
    session.flush()
    assert cases.case_ids_by_phone(session, "138 1234 8000") == [first.id, second.id]
    assert cases.case_ids_by_phone(session, "13900001111") == [other.id]
    assert cases.case_ids_by_phone(session, "13700000000") == []
    assert cases.case_ids_by_id_no(session, ID_NO) == [first.id, second.id]
    assert cases.case_ids_by_id_no(session, "45022419900101123X") == [other.id]
    # Comparing the encrypted column itself finds nothing: each encryption differs.
    assert session.scalars(select(Case.id).where(Case.applicant_phone == PHONE)).all() == []
