"""The counter rating device (评价器): pairing once with a one-time code, the long-lived
credential and its revocation, the staff's "service ended" signal inside their scope, the
status that never carries the level (C10), the event stream with Last-Event-ID, expiry."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from haochaping.app import create_app
from haochaping.channels import device_pages
from haochaping.channels import device_service as devices
from haochaping.channels.device_models import CounterDevice, DeviceSignal
from haochaping.cli import app as cli_app
from haochaping.clients.signing import SignedAuth
from haochaping.db import Database
from haochaping.evaluations.models import Evaluation
from tests.api_clients import add_business_client, add_official
from tests.factories import T0, make_catalog, occasions_of, register

NOW = T0 + timedelta(hours=1)
BAD_TEXT = "窗口人员态度生硬"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    db: Database
    clock: Clock
    app: Any
    code: str
    device_id: int
    occasions: dict[str, int]
    callers: dict[str, dict[str, Any]]


@pytest.fixture
def world(committed_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("HCP_COOKIE_SECURE", "false")
    from haochaping.config import get_settings

    get_settings.cache_clear()
    clock = Clock(NOW)
    occasions: dict[str, int] = {}
    with committed_db.transaction() as session:
        make_catalog(session)
        for case_no, window, staff, item in (
            ("D-1", "W1", "S1", "I-IMM"),
            ("D-2", "W1", "S1", "I-IMM"),
            ("D-3", "W1", "S1", "I-IMM"),
            ("D-W2", "W2", "S3", "I-O2"),
        ):
            case = register(session, case_no, item, staff_code=staff, window_code=window)
            occasions[case_no] = occasions_of(session, case)[0].id
        device, code = devices.add_device(
            session=session, window_code="W1", name="1号评价器", now=NOW, actor="cli:test"
        )
        device_id = device.id
    callers: dict[str, dict[str, Any]] = {}
    for name, region in (("client_in", "450224"), ("client_out", "420000")):
        issued = add_business_client(committed_db, code=name, regions=[region], now=NOW)
        callers[name] = {"auth": SignedAuth(issued.client, issued.kid, issued.secret, clock=clock)}
    callers["clerk"] = {
        "headers": add_official(committed_db, "clerk-s1", "window_staff:S1", now=NOW).headers()
    }
    callers["supervisor"] = {
        "headers": add_official(committed_db, "sup-1", "supervisor:450224", now=NOW).headers()
    }
    app = create_app(committed_db, clock=clock, tick_interval=0)
    yield World(committed_db, clock, app, code, device_id, occasions, callers)
    get_settings.cache_clear()


@pytest.fixture
def tc(world: World) -> Iterator[TestClient]:
    with TestClient(world.app, raise_server_exceptions=True, follow_redirects=False) as client:
        yield client


def pair(tc: TestClient, code: str) -> httpx.Response:
    return tc.post("/device/pair", data={"code": code})


def signal(tc: TestClient, world: World, case_no: str, caller: str = "client_in") -> Any:
    return tc.post(
        "/api/v1/windows/W1/service-ended", json={"case_no": case_no}, **world.callers[caller]
    )


def status(tc: TestClient, world: World, signal_id: int, caller: str = "client_in") -> Any:
    return tc.get(f"/api/v1/device-signals/{signal_id}", **world.callers[caller])


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_pairing_code_works_once_and_the_cookie_binds_the_window(
    tc: TestClient, world: World
) -> None:
    page = tc.get("/device")
    assert page.status_code == 200 and "配对码" in page.text
    assert page.headers["cache-control"] == "no-store"

    wrong = pair(tc, "AAAA-AAAA")
    assert wrong.status_code == 422 and "配对码无效或已过期" in wrong.text

    r = pair(tc, devices.format_code(world.code).lower())  # typed in lower case, with a dash
    assert r.status_code == 303 and r.headers["location"] == "/device"
    cookie = r.headers["set-cookie"]
    assert "hcp_device=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    idle = tc.get("/device")
    assert idle.status_code == 200
    assert "W1号窗口" in idle.text and 'data-mode="idle"' in idle.text
    assert "请启用脚本" in idle.text  # a kiosk without JavaScript says so

    # Only hashes are stored, and the code is spent.
    with world.db.transaction() as session:
        device = session.get_one(CounterDevice, world.device_id)
        assert device.pairing_hash is None and device.paired_at == NOW
        secret = tc.cookies["hcp_device"].split(".", 1)[1]
        assert device.token_hash is not None and secret not in device.token_hash
    with TestClient(world.app, follow_redirects=False) as other:
        again = pair(other, world.code)
        assert again.status_code == 422 and "配对码无效或已过期" in again.text


def test_an_expired_pairing_code_is_refused(tc: TestClient, world: World) -> None:
    world.clock.at = NOW + devices.PAIRING_VALID + timedelta(seconds=1)
    assert pair(tc, world.code).status_code == 422


def test_revocation_takes_effect_at_once(tc: TestClient, world: World) -> None:
    assert pair(tc, world.code).status_code == 303
    assert 'data-mode="idle"' in tc.get("/device").text
    with world.db.transaction() as session:
        devices.revoke_device(session=session, device_id=world.device_id, now=NOW, actor="t")
    page = tc.get("/device")
    assert "配对码" in page.text and "已被停用" in page.text
    events = tc.get("/device/events")
    assert events.status_code == 401
    sid = signal(tc, world, "D-1").json()["signal_id"]
    r = tc.get(f"/device/rate/{sid}")
    assert r.status_code == 303 and r.headers["location"] == "/device"
    with world.db.transaction() as session, pytest.raises(devices.DeviceUnpaired):
        devices.device_for_credential(session=session, credential=tc.cookies["hcp_device"])


def test_signal_scope_and_refusals(tc: TestClient, world: World) -> None:
    # Another region's business system does not even learn that the window exists.
    r = signal(tc, world, "D-1", "client_out")
    assert r.status_code == 404 and r.json()["code"] == "window_not_found"
    assert r.json()["message"]
    r = tc.post("/api/v1/windows/W1/service-ended", json={"case_no": "D-1"})
    assert r.status_code == 401
    # A supervisor watches results; they do not run a counter.
    r = signal(tc, world, "D-1", "supervisor")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"

    r = signal(tc, world, "D-1")
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"signal_id", "device_connected", "expires_at"}
    assert body["device_connected"] is False  # not paired yet
    # The same occasion again is the same signal; the clerk may send it too.
    r = signal(tc, world, "D-1", "clerk")
    assert r.status_code == 202 and r.json()["signal_id"] == body["signal_id"]
    # Another region's client cannot read the status either.
    assert status(tc, world, body["signal_id"], "client_out").status_code == 404
    assert status(tc, world, body["signal_id"], "clerk").json()["status"] == "waiting"

    r = tc.post(
        "/api/v1/windows/W1/service-ended", json={"case_no": "D-W2"}, **world.callers["client_in"]
    )
    assert r.status_code == 422 and r.json()["code"] == "case_not_at_window"
    r = signal(tc, world, "NOPE")
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"
    r = tc.post(
        "/api/v1/windows/W1/service-ended",
        json={"case_no": "D-1", "stage": "bogus"},
        **world.callers["client_in"],
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert status(tc, world, 999999).status_code == 404

    # A new case at the window replaces the signal still waiting (that citizen has gone).
    second = signal(tc, world, "D-2").json()["signal_id"]
    assert second != body["signal_id"]
    assert status(tc, world, body["signal_id"]).json()["status"] == "not_rated"
    assert status(tc, world, second).json()["status"] == "waiting"


def _rate_on_device(tc: TestClient, signal_id: int, **fields: Any) -> httpx.Response:
    page = tc.get(f"/device/rate/{signal_id}")
    assert page.status_code == 200, page.text
    assert "请您对本次服务进行评价" in page.text
    data = {"form_token": form_token(page.text), **fields}
    return tc.post(f"/device/rate/{signal_id}", data=data)


def test_the_staff_side_learns_rated_and_never_the_level(tc: TestClient, world: World) -> None:
    assert pair(tc, world.code).status_code == 303
    sid = signal(tc, world, "D-1").json()["signal_id"]
    seen = [status(tc, world, sid)]
    assert seen[-1].json() == {"signal_id": sid, "status": "waiting"}

    page = tc.get(f"/device/rate/{sid}")
    assert "D-1" in page.text and "事项I-IMM" in page.text
    seen.append(status(tc, world, sid, "clerk"))
    assert seen[-1].json() == {"signal_id": sid, "status": "shown"}

    # B6 as on the unified page: a bad review needs a reason.
    r = tc.post(f"/device/rate/{sid}", data={"form_token": form_token(page.text), "level": "1"})
    assert r.status_code == 422 and "请至少选择一项评价内容或填写意见" in r.text
    r = tc.post(
        f"/device/rate/{sid}",
        data={"form_token": form_token(page.text), "level": "1", "text": BAD_TEXT},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/device/rate/{sid}/done"
    done = tc.get(r.headers["location"])
    assert "感谢您的评价" in done.text
    assert "非常不满意" not in done.text  # the screen faces the counter too

    for caller in ("client_in", "clerk"):
        seen.append(status(tc, world, sid, caller))
        assert seen[-1].json() == {"signal_id": sid, "status": "rated"}
    for response in seen:
        assert set(response.json()) == {"signal_id", "status"}
        for word in ("level", "label", "非常不满意", "不满意", BAD_TEXT, "text", "score"):
            assert word not in response.text
    with world.db.transaction() as session:
        (evaluation,) = session.scalars(
            select(Evaluation).where(Evaluation.occasion_id == world.occasions["D-1"])
        ).all()
        assert evaluation.level == 1 and evaluation.channel == 4  # D5: hall device
        assert evaluation.text == BAD_TEXT
    # The screen is closed: the signal cannot be shown or rated again (C1).
    assert tc.get(f"/device/rate/{sid}").status_code == 303
    again = tc.post(f"/device/rate/{sid}", data={"form_token": form_token(page.text), "level": "5"})
    assert again.status_code == 409
    # The occasion is rated: no new signal for it.
    r = signal(tc, world, "D-1")
    assert r.status_code == 409 and r.json()["code"] == "occasion_not_open"


def test_leaving_without_rating_and_forged_forms(tc: TestClient, world: World) -> None:
    assert pair(tc, world.code).status_code == 303
    sid = signal(tc, world, "D-2").json()["signal_id"]
    page = tc.get(f"/device/rate/{sid}")
    r = tc.post(f"/device/rate/{sid}/dismiss", data={"form_token": "forged"})
    assert r.status_code == 403 and "页面已过期" in r.text
    r = tc.post(f"/device/rate/{sid}", data={"form_token": "forged", "level": "5"})
    assert r.status_code == 403
    r = tc.post(f"/device/rate/{sid}/dismiss", data={"form_token": form_token(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/device"
    assert status(tc, world, sid).json()["status"] == "not_rated"
    # Later, through another channel, the citizen may still rate (C8): the occasion is open.
    again = signal(tc, world, "D-2").json()["signal_id"]
    assert status(tc, world, again).json()["status"] == "waiting"


def test_signals_expire(tc: TestClient, world: World) -> None:
    assert pair(tc, world.code).status_code == 303
    sid = signal(tc, world, "D-1").json()["signal_id"]
    world.clock.at = NOW + devices.SIGNAL_WAIT + timedelta(seconds=1)
    assert status(tc, world, sid).json()["status"] == "not_rated"
    with world.db.transaction() as session:
        window_id = session.get_one(DeviceSignal, sid).window_id
        assert not devices.pending_signals(
            session=session, window_id=window_id, after_id=0, now=world.clock.at
        )
    r = tc.get(f"/device/rate/{sid}")
    assert r.status_code == 303 and r.headers["location"] == "/device"
    # A shown screen has its own limit.
    world.clock.at = NOW
    other = signal(tc, world, "D-3").json()["signal_id"]
    assert tc.get(f"/device/rate/{other}").status_code == 200
    world.clock.at = NOW + devices.SCREEN_LIMIT + timedelta(seconds=1)
    assert status(tc, world, other).json()["status"] == "not_rated"


# ---- the event stream, through a real server --------------------------------------------


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _events(
    client: httpx.Client,
    headers: dict[str, str],
    want: int,
    seconds: float = 5.0,
    connected: Callable[[], None] | None = None,
) -> tuple[list[dict[str, str]], list[str]]:
    """The first ``want`` events of one connection (or those sent within ``seconds``), and
    the comment and retry lines seen; ``connected`` runs once the stream has started."""
    events: list[dict[str, str]] = []
    other: list[str] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    with client.stream("GET", "/device/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line == "":
                if connected is not None:
                    connected()
                    connected = None
                if current:
                    events.append(current)
                    current = {}
                if len(events) >= want or time.monotonic() > deadline:
                    break
            elif line.startswith((":", "retry:")):
                other.append(line)
            else:
                field, _, value = line.partition(":")
                current[field] = value.strip()
    return events, other


def test_the_event_stream_yields_signals_and_resumes_after_last_event_id(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device_pages, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(device_pages, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(device_pages, "STREAM_SECONDS", 1.5)
    with (
        _serving(world.app) as base,
        httpx.Client(base_url=base, timeout=10) as device,
        TestClient(world.app) as tc,
    ):
        assert device.post("/device/pair", data={"code": world.code}).status_code == 303
        cookie = {"Cookie": f"hcp_device={device.cookies['hcp_device']}"}
        first = signal(tc, world, "D-1").json()
        assert first["device_connected"] is True  # paired just now, listening soon

        events, other = _events(device, cookie, want=1)
        assert events == [
            {
                "id": str(first["signal_id"]),
                "event": "signal",
                "data": f'{{"signal_id": {first["signal_id"]}, "url": "/device/rate/'
                f'{first["signal_id"]}"}}',
            }
        ]
        assert any(line.startswith("retry:") for line in other)

        # Reconnecting with Last-Event-ID: the signal already received is not sent again,
        # heartbeats keep the connection alive, and the next signal comes through.
        resumed = {**cookie, "Last-Event-ID": str(first["signal_id"])}
        events, other = _events(device, resumed, want=1, seconds=0.6)
        assert events == []
        assert ": heartbeat" in other
        second = signal(tc, world, "D-2").json()
        events, _ = _events(device, resumed, want=1)
        assert [e["id"] for e in events] == [str(second["signal_id"])]
        # A fresh page (no Last-Event-ID) gets what still waits: only the newest.
        events, _ = _events(device, cookie, want=1)
        assert [e["id"] for e in events] == [str(second["signal_id"])]

        # Revoked while listening: the stream says so and ends.
        def revoke() -> None:
            with world.db.transaction() as session:
                devices.revoke_device(
                    session=session, device_id=world.device_id, now=NOW, actor="t"
                )

        latest = {**cookie, "Last-Event-ID": str(second["signal_id"])}
        events, _ = _events(device, latest, want=1, connected=revoke)
        assert events and events[0]["event"] == "revoked"
        assert device.get("/device/events", headers=cookie).status_code == 401


def test_cli_adds_lists_and_revokes_devices(
    committed_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
    monkeypatch.setenv("HCP_DATABASE_URL", committed_db.url)
    monkeypatch.setenv("COLUMNS", "200")
    from haochaping.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    try:
        result = runner.invoke(cli_app, ["device", "add", "--window", "W1", "--name", "一号"])
        assert result.exit_code == 0, result.output
        code = re.search(r"配对码（仅显示这一次）：(\S+)", result.output)
        assert code is not None and re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code.group(1))
        with committed_db.transaction() as session:
            (device,) = session.scalars(select(CounterDevice)).all()
            assert device.pairing_hash is not None
            assert code.group(1).replace("-", "") not in device.pairing_hash
            device_id = device.id
        result = runner.invoke(cli_app, ["device", "list"])
        assert result.exit_code == 0 and "W1" in result.output and "待配对" in result.output
        result = runner.invoke(cli_app, ["device", "revoke", str(device_id)])
        assert result.exit_code == 0, result.output
        result = runner.invoke(cli_app, ["device", "list"])
        assert "已停用" in result.output
        result = runner.invoke(cli_app, ["device", "revoke", str(device_id)])
        assert result.exit_code == 1 and "device_already_revoked" in result.output
        result = runner.invoke(cli_app, ["device", "add", "--window", "NOPE"])
        assert result.exit_code == 1 and "window_not_found" in result.output
    finally:
        get_settings.cache_clear()


def test_one_screen_per_signal_and_refusals_are_pages(tc: TestClient, world: World) -> None:
    assert pair(tc, world.code).status_code == 303
    with world.db.transaction() as session:
        _, code = devices.add_device(session=session, window_code="W1", name="", now=NOW, actor="t")
    sid = signal(tc, world, "D-1").json()["signal_id"]
    assert tc.get(f"/device/rate/{sid}").status_code == 200
    assert tc.get(f"/device/rate/{sid}").status_code == 200  # a reload of the same screen
    with TestClient(world.app, follow_redirects=False) as other:
        assert pair(other, code).status_code == 303
        # The second device of the window cannot take a screen the first one shows.
        r = other.get(f"/device/rate/{sid}")
        assert r.status_code == 303 and r.headers["location"] == "/device"
        r = other.post(f"/device/rate/{sid}/dismiss", data={"form_token": "x"})
        assert r.status_code == 403
    # Nothing a device sends produces a server error; every refusal is a page in Chinese.
    assert tc.get("/device/rate/999999").headers["location"] == "/device"  # back to idle
    for response in (
        tc.get("/device/rate/0"),
        tc.get("/device/rate/999999/done"),
        tc.post("/device/pair", data={"code": "X" * 100}),
        tc.post("/device/rate/999999", data={"form_token": "x", "level": "9"}),
    ):
        assert 400 <= response.status_code < 500, response.status_code
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>" in response.text
    r = tc.get("/device/events", headers={"Last-Event-ID": "x" * 100})
    assert r.status_code == 422
    # Large type by default; the switch goes back to the same screen only.
    assert 'class="elder"' in tc.get(f"/device/rate/{sid}").text
    r = tc.get(f"/device/mode?elder=0&then=/device/rate/{sid}")
    assert r.status_code == 303 and r.headers["location"] == f"/device/rate/{sid}"
    assert 'class="elder"' not in tc.get(f"/device/rate/{sid}").text
    r = tc.get("/device/mode?elder=1&then=https://evil.example/")
    assert r.headers["location"] == "/device"
