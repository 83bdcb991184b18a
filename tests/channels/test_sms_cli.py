"""``haochaping sms send`` flushes the outbox once through the configured gateway (here the
real local fake one); ``sms status`` counts the delivery states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from haochaping.channels.sms_fake_gateway import FakeGateway
from haochaping.cli import app
from haochaping.clock import utcnow
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.messaging import service as messaging
from tests.channels.fake_gateway import ACCOUNT, KEY


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway(key=KEY, account=ACCOUNT).start()
    yield fake
    fake.stop()


def _env(monkeypatch: pytest.MonkeyPatch, db: Database, gateway_url: str | None) -> None:
    monkeypatch.setenv("HCP_DATABASE_URL", db.url)
    monkeypatch.setenv("HCP_SMS_SIGNING_KEY", KEY)
    monkeypatch.setenv("HCP_SMS_ACCOUNT", ACCOUNT)
    if gateway_url:
        monkeypatch.setenv("HCP_SMS_GATEWAY_URL", gateway_url)
    else:
        monkeypatch.delenv("HCP_SMS_GATEWAY_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()


def test_sms_send_flushes_the_outbox(
    committed_db: Database, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed_db.transaction() as session:
        for i in range(3):
            messaging.enqueue(
                session=session,
                phone="13812348000",
                text=f"【政务服务好差评】回访{i}",
                purpose="workorder_revisit",
                ref=f"WO-{i}",
                now=utcnow(),
            )
    runner = CliRunner()
    _env(monkeypatch, committed_db, None)
    try:
        result = runner.invoke(app, ["sms", "send"])
        assert result.exit_code == 1 and "HCP_SMS_GATEWAY_URL" in result.output
        _env(monkeypatch, committed_db, gateway.url)
        result = runner.invoke(app, ["sms", "send"])
        assert result.exit_code == 0, result.output
        assert "已发送 3 条" in result.output
        assert sorted(m.text for m in gateway.messages) == [
            f"【政务服务好差评】回访{i}" for i in range(3)
        ]
        result = runner.invoke(app, ["sms", "status"])
        assert result.exit_code == 0 and "已发送：3" in result.output
    finally:
        get_settings.cache_clear()
