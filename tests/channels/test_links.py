"""Signed, expiring links for one occasion (D2, D3) and the API that hands them to business
systems, with the dynamic QR code and the self-service terminal's way back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import segno
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from haochaping.app import create_app
from haochaping.calendar.service import add_duration
from haochaping.channels import links
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.errors import DomainError
from haochaping.pii import keyring as pii_keyring
from haochaping.policy.schemas import ClockUnit, Duration
from tests.api_clients import add_business_client, sign_as
from tests.factories import T0, make_catalog, occasions_of, register

NOW = T0 + timedelta(hours=1)
KIOSK = "https://kiosk.example.gov.cn"
PUBLIC = "https://pj.example.gov.cn"


def test_token_round_trip_names_the_occasion_and_expiry() -> None:
    expires = datetime(2026, 11, 17, 2, 0, 30, 900, tzinfo=UTC)
    token = links.occasion_link_token(4711, expires)
    assert len(token) < 40 and all(c.isalnum() or c in "._-" for c in token)
    claim = links.verify_token(token, now=expires - timedelta(seconds=1))
    assert claim.occasion_id == 4711
    assert claim.expires_at == expires.replace(microsecond=0)
    # The same link always has the same token (QR codes and SMS can be re-sent).
    assert links.occasion_link_token(4711, expires) == token


def test_expired_token_is_refused_with_a_chinese_message() -> None:
    expires = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)
    token = links.occasion_link_token(1, expires)
    links.verify_token(token, now=expires)  # the last second still works
    with pytest.raises(links.LinkExpired) as refused:
        links.verify_token(token, now=expires + timedelta(seconds=1))
    assert refused.value.status_code == 410
    assert "2026年11月17日 10:00" in refused.value.message and "过期" in refused.value.message


def _tampered(token: str) -> Iterator[str]:
    for index, char in enumerate(token):
        if char == ".":
            continue
        swapped = "1" if char != "1" else "2"
        yield token[:index] + swapped + token[index + 1 :]


def test_any_change_to_a_token_makes_it_invalid() -> None:
    expires = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)
    token = links.occasion_link_token(12, expires)
    other = links.occasion_link_token(13, expires)
    occasion, expiry, mac = token.split(".")
    later = links.occasion_link_token(12, expires + timedelta(days=30)).split(".")[1]
    forged = [
        *_tampered(token),
        # Another occasion's MAC, or a later expiry, on this token.
        f"{other.split('.')[0]}.{expiry}.{mac}",
        f"{occasion}.{later}.{mac}",
        # Non-canonical spellings of the same numbers.
        f"0{occasion}.{expiry}.{mac}",
        f"{occasion.upper()}.{expiry}.{mac}",
        token + "=",
        "",
        "abc",
        "1.2.3",
        "..",
        "测试.1.abc",
        token + "." + mac,
        "x" * 500,
    ]
    for bad in forged:
        with pytest.raises(links.LinkInvalid):
            links.verify_token(bad, now=T0)


def test_a_token_from_another_key_is_invalid() -> None:
    expires = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)
    previous = pii_keyring.configure(pii_keyring.new_keyring())
    try:
        foreign = links.occasion_link_token(12, expires)
    finally:
        pii_keyring.configure(previous)
    with pytest.raises(links.LinkInvalid):
        links.verify_token(foreign, now=T0)
    # Rotating the SM4 keys keeps the blind-index key, so links survive a rotation.
    token = links.occasion_link_token(12, expires)
    rotated = pii_keyring.current().with_new_key()
    previous = pii_keyring.configure(rotated)
    try:
        assert links.verify_token(token, now=T0).occasion_id == 12
    finally:
        pii_keyring.configure(previous)


def test_form_token_belongs_to_its_link() -> None:
    a = links.occasion_link_token(1, T0)
    b = links.occasion_link_token(2, T0)
    assert links.form_token_ok(a, links.form_token(a))
    assert not links.form_token_ok(a, links.form_token(b))
    assert not links.form_token_ok(a, None)
    assert not links.form_token_ok(a, "")


def test_link_lives_through_the_rating_window_and_the_follow_up(session: Session) -> None:
    make_catalog(session)
    # 融安 (GX): rated until the 7-day default (C7), then 15 days for a follow-up (C6).
    gx = occasions_of(session, register(session, "L-GX", staff_code="S1"))[0]
    assert gx.rate_until == T0 + timedelta(days=7)
    assert links.link_expiry(session=session, occasion_id=gx.id) == T0 + timedelta(days=22)
    # 枣庄 (ZZ): an on-site case may be rated late within 5 working days (C8).
    zz = occasions_of(session, register(session, "L-ZZ", "I-ZZ", staff_code="SZ"))[0]
    five = add_duration(
        session=session, start=T0, duration=Duration(amount=5, unit=ClockUnit.working_days)
    ).at
    assert zz.rate_until == five
    follow = Duration(amount=15, unit=ClockUnit.natural_days)
    expected = add_duration(session=session, start=five, duration=follow).at
    assert links.link_expiry(session=session, occasion_id=zz.id) == expected


def test_occasion_url_is_a_path_for_the_sms_sender(session: Session) -> None:
    make_catalog(session)
    occasion = occasions_of(session, register(session, "L-URL", staff_code="S1"))[0]
    path = links.occasion_url(session=session, occasion_id=occasion.id, now=NOW)
    assert path.startswith("/r/") and "?" not in path
    claim = links.verify_token(path.removeprefix("/r/"), now=NOW)
    assert claim.occasion_id == occasion.id
    assert claim.expires_at == T0 + timedelta(days=22)
    with_via = links.occasion_url(
        session=session, occasion_id=occasion.id, now=NOW, via=links.Via.sms
    )
    assert with_via == path + "?via=sms"
    with pytest.raises(DomainError) as late:
        links.occasion_url(session=session, occasion_id=occasion.id, now=T0 + timedelta(days=23))
    assert late.value.code == "rating_window_closed"
    with pytest.raises(DomainError) as missing:
        links.occasion_url(session=session, occasion_id=999_999, now=NOW)
    assert missing.value.code == "occasion_not_found"


@pytest.fixture
def kiosk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HCP_TERMINAL_RETURN_ORIGINS", f"{KIOSK},http://10.0.0.5:8080")
    monkeypatch.setenv("HCP_PUBLIC_BASE_URL", PUBLIC)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_only_allow_listed_terminal_pages_are_return_targets(kiosk: None) -> None:
    assert links.allowed_return_url(f"{KIOSK}/home") == f"{KIOSK}/home"
    assert links.allowed_return_url("HTTPS://KIOSK.example.gov.cn/") is not None
    assert links.allowed_return_url("http://10.0.0.5:8080/start?x=1") is not None
    for bad in (
        "https://evil.example.com/",
        f"{KIOSK}.evil.com/",
        f"https://user@{KIOSK.removeprefix('https://')}/",
        "https://kiosk.example.gov.cn@evil.com/",
        "http://kiosk.example.gov.cn/",  # another scheme is another origin
        "http://10.0.0.5/",  # another port
        "//kiosk.example.gov.cn/",
        "javascript:alert(1)",
        "/r/abc",
        f"{KIOSK}/\r\nSet-Cookie: x=1",
        "",
        None,
    ):
        assert links.allowed_return_url(bad) is None, bad


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def api(committed_db: Database, kiosk: None) -> Iterator[tuple[TestClient, int, TestClient]]:
    """A client of 融安 (in scope), one of 湖北 (out of scope), and a case of 融安."""
    with committed_db.transaction() as session:
        make_catalog(session)
        occasion_id = occasions_of(session, register(session, "API-1", staff_code="S1"))[0].id
    inside = add_business_client(committed_db, code="RA-SYS", regions=["450224"], now=NOW)
    outside = add_business_client(committed_db, code="HB-SYS", regions=["420000"], now=NOW)
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app) as tc, TestClient(app) as other:
        yield sign_as(tc, inside, lambda: NOW), occasion_id, sign_as(other, outside, lambda: NOW)


def test_business_system_gets_the_link_of_its_occasion(
    api: tuple[TestClient, int, TestClient],
) -> None:
    tc, occasion_id, outsider = api
    r = tc.post(f"/api/v1/occasions/{occasion_id}/link")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["occasion_id"] == occasion_id
    # Citizens get the public address; the business system's API address stays internal.
    assert body["url"] == PUBLIC + body["path"]
    assert body["path"].startswith("/r/") and "?" not in body["path"]
    assert datetime.fromisoformat(body["expires_at"]) == T0 + timedelta(days=22)
    assert body["qr_png"] == f"http://testserver/api/v1/occasions/{occasion_id}/qr.png"
    # The link opens the unified page of that occasion, for anyone holding it.
    page = TestClient(tc.app).get(body["path"])
    assert page.status_code == 200 and "事项I-IMM" in page.text

    sms = tc.post(f"/api/v1/occasions/{occasion_id}/link", json={"via": "sms"}).json()
    assert sms["path"] == body["path"] + "?via=sms"

    r = outsider.post(f"/api/v1/occasions/{occasion_id}/link")
    assert r.status_code == 404 and r.json()["code"] == "occasion_not_found"
    r = tc.post("/api/v1/occasions/999999/link")
    assert r.status_code == 404 and r.json()["code"] == "occasion_not_found"
    r = TestClient(tc.app).post(f"/api/v1/occasions/{occasion_id}/link")
    assert r.status_code == 401


def test_dynamic_qr_encodes_the_link_with_the_qr_channel(
    api: tuple[TestClient, int, TestClient],
) -> None:
    tc, occasion_id, outsider = api
    path = tc.post(f"/api/v1/occasions/{occasion_id}/link", json={"via": "qr"}).json()["path"]
    assert path.endswith("?via=qr")
    r = tc.get(f"/api/v1/occasions/{occasion_id}/qr.png?scale=5")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    expected = io.BytesIO()
    segno.make_qr(PUBLIC + path, error="m").save(expected, kind="png", scale=5, border=4)
    assert r.content == expected.getvalue()
    r = tc.get(f"/api/v1/occasions/{occasion_id}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.lstrip().startswith("<svg") and "评价二维码" in r.text
    assert outsider.get(f"/api/v1/occasions/{occasion_id}/qr.png").status_code == 404
    assert tc.get(f"/api/v1/occasions/{occasion_id}/qr.png?scale=0").status_code == 422


def test_terminal_link_returns_to_an_allow_listed_home_page_only(
    api: tuple[TestClient, int, TestClient],
) -> None:
    tc, occasion_id, _ = api
    r = tc.post(
        f"/api/v1/occasions/{occasion_id}/link",
        json={"via": "terminal", "return_url": f"{KIOSK}/home"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["path"].endswith("?via=terminal&back=https%3A%2F%2Fkiosk.example.gov.cn%2Fhome")
    r = tc.post(
        f"/api/v1/occasions/{occasion_id}/link",
        json={"via": "terminal", "return_url": "https://evil.example.com/"},
    )
    assert r.status_code == 422 and r.json()["code"] == "return_url_not_allowed"
    r = tc.post(
        f"/api/v1/occasions/{occasion_id}/link", json={"via": "qr", "return_url": f"{KIOSK}/"}
    )
    assert r.status_code == 422 and r.json()["code"] == "return_url_not_allowed"
    r = tc.post(f"/api/v1/occasions/{occasion_id}/link", json={"via": "fax"})
    assert r.status_code == 422
