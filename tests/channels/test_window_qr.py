"""The static QR code of a window (ZZ, D2; C8) through plain HTTP: phone → one-time code by
SMS (read from the outbox) → the rater's own recent cases at that window with their rating
links (via=qr); codes expire, are hashed, allow five attempts and are rate limited; nobody
sees another person's cases, and the phone is masked (C9)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.catalog.models import Window
from haochaping.channels import window_qr
from haochaping.channels.window_qr_models import WindowQrChallenge
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.messaging.models import OutboxMessage
from tests.factories import T0, make_catalog, occasions_of, rate, register

NOW = T0 + timedelta(hours=1)
PHONE = "13812348000"
OTHER_PHONE = "13900001111"


def applicant(phone: str) -> dict[str, Any]:
    return {
        "type": "person",
        "name": "张三丰",
        "id_type": "身份证",
        "id_no": "450224199001011234",
        "phone": phone,
    }


@dataclass
class World:
    db: Database
    w1: int
    w2: int


def build_world(db: Database) -> World:
    with db.transaction() as session:
        catalog = make_catalog(session)
        at_w1 = {"staff_code": "S1", "window_code": "W1"}
        register(session, "Q-OPEN", **at_w1)
        rated = register(session, "Q-RATED", **at_w1)
        rate(session, occasions_of(session, rated)[0].id, 5)
        register(session, "Q-OTHER", applicant=applicant(OTHER_PHONE), **at_w1)
        register(session, "Q-W2", "I-O2", staff_code="S3", window_code="W2")
        old = T0 - timedelta(days=20)
        register(session, "Q-OLD", now=old, accepted_at=old, completed_at=old, **at_w1)
        return World(db, catalog["windows"]["W1"].id, catalog["windows"]["W2"].id)


@pytest.fixture
def insecure_cookies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # TestClient speaks plain HTTP to "testserver": Secure cookies would not come back.
    monkeypatch.setenv("HCP_COOKIE_SECURE", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def world(committed_db: Database, insecure_cookies: None) -> World:
    return build_world(committed_db)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(world: World, clock: Clock) -> Iterator[TestClient]:
    app = create_app(world.db, clock=clock, tick_interval=0)
    with TestClient(app, follow_redirects=False) as tc:
        yield tc


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, "the form carries its token"
    return found.group(1)


def last_code(db: Database, phone: str = PHONE) -> str:
    with db.transaction() as session:
        texts = [
            m.text
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == window_qr.SMS_PURPOSE)
                .order_by(OutboxMessage.id.desc())
            )
            if m.phone == phone
        ]
    assert texts, "a code was queued for the phone"
    found = re.search(r"验证码为(\d{6})", texts[0])
    assert found
    return found.group(1)


def ask_code(tc: TestClient, path: str, phone: str = PHONE) -> str:
    page = tc.get(path)
    assert page.status_code == 200
    r = tc.post(f"{path}/code", data={"form_token": form_token(page.text), "phone": phone})
    assert r.status_code == 303, r.text
    found = re.search(r"c=([A-Za-z0-9_-]+)", r.headers["location"])
    assert found
    return found.group(1)


def send(tc: TestClient, path: str, challenge: str, code: str) -> Any:
    page = tc.get(f"{path}/verify?c={challenge}")
    assert page.status_code == 200
    token = form_token(page.text)
    return tc.post(f"{path}/verify", data={"form_token": token, "c": challenge, "code": code})


def test_window_url_is_stable_signed_and_refuses_forgery(world: World) -> None:
    url = window_qr.window_url(world.w1)
    assert url == window_qr.window_url(world.w1)
    assert url.startswith(get_settings().public_base_url + "/w/")
    token = url.rsplit("/", 1)[1]
    assert window_qr.read_window_token(token) == world.w1
    other = window_qr.window_token(world.w2)
    forged = token.split(".")[0] + "." + other.split(".")[1]
    for bad in (forged, token + "x", "1.abc", "", "a" * 200, token.replace(".", "")):
        with pytest.raises(Exception) as info:
            window_qr.read_window_token(bad)
        assert getattr(info.value, "code", None) == "window_qr_invalid"


def test_qr_flow_lists_only_the_raters_own_cases_at_the_window(
    client: TestClient, world: World
) -> None:
    path = window_qr.window_path(world.w1)
    page = client.get(path)
    assert page.status_code == 200
    assert "W1号窗口" in page.text and "融安县公安局" in page.text
    assert "融安县政务服务中心" in page.text
    challenge = ask_code(client, path, "138 1234 8000")
    verify = client.get(f"{path}/verify?c={challenge}")
    # C9: only the masked phone is shown.
    assert "138****8000" in verify.text and PHONE not in verify.text
    code = last_code(world.db)
    r = send(client, path, challenge, code)
    assert r.status_code == 303 and r.headers["location"] == f"{path}/cases"
    assert "hcp_wqr" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    listing = client.get(f"{path}/cases")
    assert listing.status_code == 200
    html = listing.text
    assert "Q-OPEN" in html and "Q-RATED" in html
    for absent in ("Q-OTHER", "Q-W2", "Q-OLD", PHONE, "张三丰", "450224199001011234"):
        assert absent not in html
    assert "138****8000" in html
    assert "已评价" in html
    links = re.findall(r'href="(/r/[^"]+)"', html)
    assert links and all(link.endswith("?via=qr") for link in links)
    # The rating page opens from the list and records D5 code 3 (QR).
    rating = client.get(links[0].replace("&amp;", "&"))
    assert rating.status_code == 200
    # With the cookie, the placard's address goes straight to the list.
    again = client.get(path)
    assert again.status_code == 303 and again.headers["location"] == f"{path}/cases"
    # The session is bound to its window: W2's page asks for the phone again.
    w2 = window_qr.window_path(world.w2)
    assert client.get(f"{w2}/cases").status_code == 401


def test_no_cookie_no_list_and_a_code_never_reveals_anything(
    client: TestClient, world: World
) -> None:
    path = window_qr.window_path(world.w1)
    r = client.get(f"{path}/cases")
    assert r.status_code == 401 and "请先验证手机号码" in r.text
    # A phone with no case at all gets a code just the same (no enumeration) and an empty list.
    challenge = ask_code(client, path, "13700000000")
    r = send(client, path, challenge, last_code(world.db, "13700000000"))
    assert r.status_code == 303
    listing = client.get(f"{path}/cases")
    assert "没有找到您近期在本窗口办理" in listing.text
    assert "Q-OPEN" not in listing.text


def test_code_is_hashed_expires_and_allows_five_attempts(
    client: TestClient, world: World, clock: Clock
) -> None:
    path = window_qr.window_path(world.w1)
    challenge = ask_code(client, path)
    code = last_code(world.db)
    with world.db.transaction() as session:
        stored = session.scalar(
            select(WindowQrChallenge).where(WindowQrChallenge.public_id == challenge)
        )
        assert stored is not None
        assert code not in stored.code_hash and stored.phone_masked == "138****8000"
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        r = send(client, path, challenge, wrong)
        assert r.status_code == 422 and f"还可以再试{left}次" in r.text
    r = send(client, path, challenge, wrong)
    assert r.status_code == 422 and "错误次数过多" in r.text
    # Locked: even the right code no longer works.
    r = send(client, path, challenge, code)
    assert r.status_code == 422 and "hcp_wqr" not in r.headers.get("set-cookie", "")
    # A new code, five minutes later, has expired.
    clock.now = NOW + timedelta(minutes=2)
    second = ask_code(client, path)
    code2 = last_code(world.db)
    clock.now = NOW + timedelta(minutes=8)
    r = send(client, path, second, code2)
    assert r.status_code == 422 and "验证码已过期" in r.text
    # A used code cannot be used twice.
    clock.now = NOW + timedelta(minutes=10)
    third = ask_code(client, path)
    code3 = last_code(world.db)
    assert send(client, path, third, code3).status_code == 303
    assert send(client, path, third, code3).status_code == 422


def test_codes_are_rate_limited_per_phone(client: TestClient, world: World, clock: Clock) -> None:
    path = window_qr.window_path(world.w1)
    ask_code(client, path)
    page = client.get(path)
    r = client.post(f"{path}/code", data={"form_token": form_token(page.text), "phone": PHONE})
    assert r.status_code == 429 and "验证码发送过于频繁" in r.text
    for minute in range(1, 5):
        clock.now = NOW + timedelta(minutes=minute * 2)
        ask_code(client, path)
    clock.now = NOW + timedelta(minutes=12)
    r = client.post(f"{path}/code", data={"form_token": form_token(page.text), "phone": PHONE})
    assert r.status_code == 429 and "次数过多" in r.text


@pytest.mark.parametrize(
    ("phone", "status"), [("12345", 422), ("", 422), ("1381234800x", 422), ("2" * 11, 422)]
)
def test_bad_phone_numbers_are_refused_on_the_page(
    client: TestClient, world: World, phone: str, status: int
) -> None:
    path = window_qr.window_path(world.w1)
    page = client.get(path)
    r = client.post(f"{path}/code", data={"form_token": form_token(page.text), "phone": phone})
    assert r.status_code == status and "请输入正确的11位手机号码" in r.text


def test_forged_tokens_and_forms_get_pages_never_500(client: TestClient, world: World) -> None:
    path = window_qr.window_path(world.w1)
    for bad in ("/w/nonsense", "/w/1.AAAAAAAAAAAAAAAA", "/w/" + "x" * 300):
        r = client.get(bad)
        assert r.status_code == 404 and "二维码无效" in r.text
    r = client.post(f"{path}/code", data={"form_token": "forged", "phone": PHONE})
    assert r.status_code == 403
    r = client.post(f"{path}/verify", data={"form_token": "x", "c": "nope", "code": "1"})
    assert r.status_code == 403
    odd = client.get(f"{path}/verify", params={"c": "a\x00b"})
    assert odd.status_code == 422
    r = client.post(f"{path}/code", data={"form_token": "x\x00", "phone": "1\x00"})
    assert r.status_code == 403
    page = client.get(f"{path}/verify?c=unknown")
    assert page.status_code == 422 and "重新获取验证码" in page.text
    with world.db.transaction() as session:
        assert session.scalar(select(Window.id).where(Window.id == world.w1)) is not None
    assert r.headers["referrer-policy"] == "no-referrer"


def test_elder_mode_switch_is_on_every_window_page_and_remembered(
    client: TestClient, world: World
) -> None:
    path = window_qr.window_path(world.w1)
    page = client.get(path)
    assert 'id="mode-switch"' in page.text and "切换到大字关怀版" in page.text
    assert '<html lang="zh-CN" class="elder">' not in page.text
    switch = re.search(r'id="mode-switch" href="([^"]+)"', page.text)
    assert switch
    r = client.get(switch.group(1).replace("&amp;", "&"))
    assert r.status_code == 303 and r.headers["location"] == path
    assert "hcp_elder=1" in r.headers["set-cookie"]
    page = client.get(path)
    assert '<html lang="zh-CN" class="elder">' in page.text and "切换到标准版" in page.text
    challenge = ask_code(client, path)
    verify = client.get(f"{path}/verify?c={challenge}")
    assert 'class="elder"' in verify.text
    back = re.search(r'id="mode-switch" href="([^"]+)"', verify.text)
    assert back
    r = client.get(back.group(1).replace("&amp;", "&"))
    assert r.status_code == 303 and r.headers["location"] == f"{path}/verify?c={challenge}"
    assert 'class="elder"' not in client.get(r.headers["location"]).text
    # Only the window's own pages are places to go back to.
    assert client.get(f"{path}/mode?then=https://evil.example").status_code == 422
    assert client.get("/w/forged.token/mode").status_code == 404
