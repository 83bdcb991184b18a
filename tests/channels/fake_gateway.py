"""The SMS side of the channel tests: settings with a shared key, the real local fake gateway
(an HTTP server in a thread), an app whose clock the test moves, signed gateway callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.channels.sms_fake_gateway import FakeGateway
from haochaping.channels.sms_gateway import HttpGateway
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.messaging.models import OutboxMessage
from tests.factories import T0

KEY = "test-shared-sms-key"
ACCOUNT = "hcp-test"
BASE_URL = "https://pj.example.gov.cn"


@pytest.fixture
def sms_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The gateway's shared key, account and our public base URL; no gateway URL (texts wait
    unless a test configures one)."""
    monkeypatch.setenv("HCP_SMS_SIGNING_KEY", KEY)
    monkeypatch.setenv("HCP_SMS_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("HCP_PUBLIC_BASE_URL", BASE_URL)
    monkeypatch.delenv("HCP_SMS_GATEWAY_URL", raising=False)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: T0 + timedelta(hours=25))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class SmsWorld:
    db: Database
    clock: Clock
    client: TestClient
    gateway: FakeGateway

    def http_gateway(self) -> HttpGateway:
        return HttpGateway(self.gateway.url, account=ACCOUNT, key=KEY, clock=self.clock)

    def outbox(self, purpose: str | None = None) -> list[OutboxMessage]:
        with self.db.transaction() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if purpose is not None:
                query = query.where(OutboxMessage.purpose == purpose)
            return list(session.scalars(query))


@pytest.fixture
def sms_world(committed_db: Database, sms_settings: None) -> Iterator[SmsWorld]:
    clock = Clock()
    app = create_app(committed_db, clock=clock, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        gateway = FakeGateway(key=KEY, account=ACCOUNT, clock=clock, callback=client).start()
        try:
            yield SmsWorld(committed_db, clock, client, gateway)
        finally:
            gateway.stop()
