"""Outbox delivery through the real local fake gateway: retries with backoff after a gateway
failure, delivery reports posted back, callbacks refused without the gateway's signature."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from haochaping import sweeper
from haochaping.channels import sms_delivery
from haochaping.channels.sms_gateway import HttpGateway, signed_headers
from haochaping.clock import utcnow
from haochaping.config import get_settings
from haochaping.messaging import service as messaging
from haochaping.messaging.models import OutboxMessage
from tests.channels.fake_gateway import ACCOUNT, KEY, SmsWorld, sms_settings, sms_world

__all__ = ["sms_settings", "sms_world"]

PHONES = ("13812348000", "13912345678", "13700001111")


def _queue(world: SmsWorld, n: int = 3, purpose: str = "workorder_feedback") -> list[int]:
    with world.db.transaction() as session:
        ids = [
            messaging.enqueue(
                session=session,
                phone=PHONES[i % len(PHONES)],
                text=f"【政务服务好差评】第{i + 1}条",
                purpose=purpose,
                ref=f"WO-{i}",
                now=world.clock(),
            ).id
            for i in range(n)
        ]
    return ids


def _message(world: SmsWorld, message_id: int) -> OutboxMessage:
    with world.db.transaction() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


def test_queued_texts_reach_the_gateway_and_a_failure_is_retried_later(
    sms_world: SmsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    first, second, third = _queue(sms_world)
    sms_world.gateway.fail_next(1)
    with caplog.at_level(logging.WARNING, logger="haochaping.channels.sms_delivery"):
        result = sms_delivery.flush_outbox(
            sms_world.db, sms_world.clock(), sms_world.http_gateway(), batch=2
        )
    assert (result.sent, result.failed_attempts, result.given_up) == (2, 1, 0)
    failed = _message(sms_world, first)
    assert failed.status == "queued" and failed.attempts == 1
    assert failed.last_error == "gateway answered 503"
    assert failed.next_attempt_at == sms_world.clock() + timedelta(minutes=1)
    # One log line for the failure, the phone masked (C9).
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"sms #{first}" in line and "138****8000" in line and PHONES[0] not in line
    for message_id in (second, third):
        sent = _message(sms_world, message_id)
        assert sent.status == "sent" and sent.attempts == 1 and sent.gateway_id
    # What the gateway took: our account, the clear phone (only the gateway sees it), the text.
    got = {m.ref: m for m in sms_world.gateway.messages}
    assert got[str(second)].to == PHONES[1] and got[str(second)].account == ACCOUNT
    assert got[str(third)].text == "【政务服务好差评】第3条"

    # Not due again before its backoff ends.
    again = sms_delivery.flush_outbox(sms_world.db, sms_world.clock(), sms_world.http_gateway())
    assert again.tried == 0
    sms_world.clock.advance(timedelta(minutes=2))
    retry = sms_delivery.flush_outbox(sms_world.db, sms_world.clock(), sms_world.http_gateway())
    assert (retry.sent, retry.failed_attempts) == (1, 0)
    retried = _message(sms_world, first)
    assert retried.status == "sent" and retried.attempts == 2 and retried.last_error is None
    assert len(sms_world.gateway.messages) == 3


def test_delivery_reports_mark_texts_delivered_or_failed(sms_world: SmsWorld) -> None:
    first, second = _queue(sms_world, 2)
    sms_delivery.flush_outbox(sms_world.db, sms_world.clock(), sms_world.http_gateway())
    by_ref = {m.ref: m.msg_id for m in sms_world.gateway.messages}

    r = sms_world.gateway.report(by_ref[str(first)], "delivered")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "delivered"}
    delivered = _message(sms_world, first)
    assert delivered.status == "delivered" and delivered.delivered_at == sms_world.clock()
    # A resent report changes nothing.
    assert sms_world.gateway.report(by_ref[str(first)], "failed").json() == {"status": "delivered"}

    r = sms_world.gateway.report(by_ref[str(second)], "failed", "用户关机")
    assert r.json() == {"status": "failed"}
    assert _message(sms_world, second).last_error == "用户关机"

    r = sms_world.gateway.report("no-such-id", "delivered")
    assert r.status_code == 404 and r.json()["code"] == "sms_message_not_found"


def test_callbacks_need_the_gateways_signature(sms_world: SmsWorld) -> None:
    body = json.dumps({"msg_id": "fake-1", "status": "delivered"}).encode()
    client = sms_world.client
    paths = ("/api/v1/sms/delivery-reports", "/api/v1/sms/inbound")
    for path in paths:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 401 and r.json()["code"] == "gateway_signature_invalid"
        wrong = signed_headers("another-key", body, sms_world.clock())
        r = client.post(path, content=body, headers={"content-type": "application/json", **wrong})
        assert r.status_code == 401
        stale = signed_headers(KEY, body, sms_world.clock() - timedelta(minutes=10))
        r = client.post(path, content=body, headers={"content-type": "application/json", **stale})
        assert r.status_code == 401
    # Signed, but not what the gateway sends: a stable code, nothing stored.
    bad = json.dumps({"msg_id": "x", "status": "lost"}).encode()
    headers = {"content-type": "application/json", **signed_headers(KEY, bad, sms_world.clock())}
    r = client.post(paths[0], content=bad, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


def test_a_text_is_given_up_after_the_last_attempt(sms_world: SmsWorld) -> None:
    (message_id,) = _queue(sms_world, 1)
    sms_world.gateway.fail_next(messaging.MAX_ATTEMPTS)
    for _ in range(messaging.MAX_ATTEMPTS):
        sms_delivery.flush_outbox(sms_world.db, sms_world.clock(), sms_world.http_gateway())
        sms_world.clock.advance(timedelta(hours=3))
    message = _message(sms_world, message_id)
    assert message.status == "failed" and message.attempts == messaging.MAX_ATTEMPTS
    assert sms_world.gateway.messages == []


def test_the_sweep_sends_work_order_texts_through_the_configured_gateway(
    sms_world: SmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    (message_id,) = _queue(sms_world, 1, purpose="workorder_revisit")
    # Without a gateway the text waits.
    sweeper.run_sweep(sms_world.db, sms_world.clock())
    assert _message(sms_world, message_id).status == "queued"
    monkeypatch.setenv("HCP_SMS_GATEWAY_URL", sms_world.gateway.url)
    get_settings.cache_clear()
    # The configured gateway signs with the real time, as in production.
    sms_world.gateway.clock = utcnow
    sweeper.run_sweep(sms_world.db, sms_world.clock())
    assert _message(sms_world, message_id).status == "sent"
    assert [m.ref for m in sms_world.gateway.messages] == [str(message_id)]


def test_the_fake_gateway_refuses_unsigned_sends(sms_world: SmsWorld) -> None:
    (message_id,) = _queue(sms_world, 1)
    impostor = HttpGateway(sms_world.gateway.url, account=ACCOUNT, key="wrong")
    result = sms_delivery.flush_outbox(sms_world.db, sms_world.clock(), impostor)
    assert result.failed_attempts == 1 and sms_world.gateway.rejected_signatures == 1
    assert _message(sms_world, message_id).last_error == "gateway answered 401"
