"""Client address and scheme behind reverse proxies: believed only from trusted peers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import ValidationError

from haochaping.config import Settings
from haochaping.protection import install
from haochaping.protection.proxies import TrustedProxies, client_ip, parse_address


def _app(trusted: list[str]) -> FastAPI:
    app = FastAPI()
    install(app, Settings(trusted_proxies=trusted, rate_limit_storage="memory://"))

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"ip": client_ip(request), "scheme": request.url.scheme}

    return app


def _whoami(app: FastAPI, peer: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    client = TestClient(app, client=(peer, 40000))
    response = client.get("/whoami", headers=headers or {})
    assert response.status_code == 200
    data: dict[str, str] = response.json()
    return data


def test_untrusted_peer_headers_are_ignored() -> None:
    app = _app(["127.0.0.1"])
    seen = _whoami(
        app, "203.0.113.7", {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}
    )
    assert seen == {"ip": "203.0.113.7", "scheme": "http"}


def test_trusted_peer_gives_forwarded_client_and_scheme() -> None:
    app = _app(["127.0.0.1"])
    seen = _whoami(
        app, "127.0.0.1", {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}
    )
    assert seen == {"ip": "198.51.100.1", "scheme": "https"}


def test_trusted_peer_without_header_keeps_peer() -> None:
    assert _whoami(_app(["127.0.0.1"]), "127.0.0.1") == {"ip": "127.0.0.1", "scheme": "http"}


def test_client_supplied_entries_left_of_the_proxy_are_not_believed() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; our proxy appended the address it saw.
    app = _app(["127.0.0.1"])
    seen = _whoami(app, "127.0.0.1", {"X-Forwarded-For": "1.1.1.1, 198.51.100.9"})
    assert seen["ip"] == "198.51.100.9"


def test_chain_of_trusted_proxies_walks_from_the_right() -> None:
    app = _app(["127.0.0.1", "10.0.0.0/8"])
    seen = _whoami(app, "127.0.0.1", {"X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.1.2.3"})
    assert seen["ip"] == "198.51.100.9"


def test_cidr_entry_trusts_the_whole_block() -> None:
    app = _app(["10.0.0.0/8"])
    assert _whoami(app, "10.20.30.40", {"X-Forwarded-For": "198.51.100.2"})["ip"] == (
        "198.51.100.2"
    )
    assert _whoami(app, "11.0.0.1", {"X-Forwarded-For": "198.51.100.2"})["ip"] == "11.0.0.1"


def test_ipv6_proxy_and_client() -> None:
    app = _app(["fd00::/8"])
    seen = _whoami(app, "fd00::1", {"X-Forwarded-For": "2001:db8::5"})
    assert seen["ip"] == "2001:db8::5"


def test_several_forwarded_for_headers_are_one_list() -> None:
    app = _app(["127.0.0.1"])
    client = TestClient(app, client=("127.0.0.1", 1))
    response = client.get(
        "/whoami",
        headers=[("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "198.51.100.3")],
    )
    assert response.json()["ip"] == "198.51.100.3"


def test_garbage_forwarded_for_keeps_the_peer() -> None:
    app = _app(["127.0.0.1"])
    assert _whoami(app, "127.0.0.1", {"X-Forwarded-For": "unknown"})["ip"] == "127.0.0.1"


def test_unusual_forwarded_proto_is_ignored() -> None:
    app = _app(["127.0.0.1"])
    assert _whoami(app, "127.0.0.1", {"X-Forwarded-Proto": "gopher"})["scheme"] == "http"


def test_all_entries_trusted_gives_the_left_most() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_from("10.0.0.1, 10.0.0.2") == "10.0.0.1"
    assert proxies.client_from(" , ") is None


def test_non_ip_peer_is_never_trusted() -> None:
    assert not TrustedProxies(["127.0.0.1"]).trusts("testclient")
    assert not TrustedProxies(["127.0.0.1"]).trusts(None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("nonsense", None),
    ],
)
def test_parse_address(text: str, expected: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed else None) == expected


def test_settings_accept_comma_separated_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCP_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    monkeypatch.setenv("HCP_TRUSTED_PROXIES", '["::1", "192.168.0.0/16"]')
    assert Settings().trusted_proxies == ["::1", "192.168.0.0/16"]
    monkeypatch.setenv("HCP_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == []


def test_settings_refuse_a_bad_proxy_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCP_TRUSTED_PROXIES", "10.0.0.0/8,not-an-address")
    with pytest.raises(ValidationError, match="not-an-address"):
        Settings()


def test_default_trusts_only_loopback() -> None:
    assert Settings().trusted_proxies == ["127.0.0.1", "::1"]
