"""D3, D4: the 12345 platform posts a caller's key press for a case; it rates the case's latest
open occasion with the phone channel, and the rater gets a text with the link to the detailed
page. The platform is a signed business system, within the units it serves."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from haochaping.channels import hotline
from haochaping.evaluations.models import Evaluation
from haochaping.messaging import service as messaging
from haochaping.messaging.models import OutboxMessage
from tests.api_clients import add_business_client, sign_as
from tests.channels.fake_gateway import BASE_URL, SmsWorld, sms_settings, sms_world
from tests.factories import T0, make_catalog, occasions_of, register

__all__ = ["sms_settings", "sms_world"]

PATH = "/api/v1/hotline/ratings"


def _setup(world: SmsWorld, *case_nos: str, region: str = "450224") -> None:
    with world.db.transaction() as session:
        make_catalog(session)
        for case_no in case_nos:
            register(session, case_no)
    issued = add_business_client(world.db, code="HOTLINE-12345", regions=[region], now=T0)
    sign_as(world.client, issued, world.clock)


def _links(world: SmsWorld) -> list[OutboxMessage]:
    return world.outbox(hotline.HOTLINE_LINK)


def test_a_key_press_rates_the_case_and_sends_the_link(sms_world: SmsWorld) -> None:
    _setup(sms_world, "HL-1")
    r = sms_world.client.post(PATH, json={"case_no": "HL-1", "key": 4})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sms"] == "queued"
    evaluation = body["evaluation"]
    assert (evaluation["level"], evaluation["channel"], evaluation["stage"]) == (4, 6, "complete")
    (text,) = _links(sms_world)
    assert text.phone == "13812348000" and text.occasion_id == evaluation["occasion_id"]
    assert f"{BASE_URL}/r/" in text.text and "12345" in text.text
    # One evaluation per occasion (C1): the same key press again is refused with 409.
    again = sms_world.client.post(PATH, json={"case_no": "HL-1", "key": 4})
    assert again.status_code == 409 and again.json()["code"] == "already_evaluated"
    assert len(_links(sms_world)) == 1


def test_a_bad_key_press_needs_a_reason_and_the_rater_gets_the_link(sms_world: SmsWorld) -> None:
    _setup(sms_world, "HL-2", "HL-3")
    r = sms_world.client.post(PATH, json={"case_no": "HL-2", "key": 1})
    assert r.status_code == 422, r.text
    error = r.json()
    assert error["code"] == "bad_review_reason_required" and error["details"]["sms"] == "queued"
    assert "差评须说明原因" in error["message"]
    with sms_world.db.transaction() as session:
        assert session.scalars(select(Evaluation)).all() == []
    (text,) = _links(sms_world)
    assert "选择原因" in text.text and "/r/" in text.text
    # With the reason the platform recorded, it is stored (B6).
    r = sms_world.client.post(PATH, json={"case_no": "HL-3", "key": 1, "text": "电话一直打不通"})
    assert r.status_code == 201, r.text
    assert r.json()["evaluation"]["is_bad"] is True


def test_opted_out_raters_get_no_text(sms_world: SmsWorld) -> None:
    _setup(sms_world, "HL-4")
    with sms_world.db.transaction() as session:
        messaging.opt_out(session=session, phone="13812348000", now=T0)
    r = sms_world.client.post(PATH, json={"case_no": "HL-4", "key": 5})
    assert r.status_code == 201 and r.json()["sms"] == "opted_out"
    assert _links(sms_world) == []


def test_refusals_have_stable_codes(sms_world: SmsWorld) -> None:
    _setup(sms_world, "HL-5")
    r = sms_world.client.post(PATH, json={"case_no": "NO-SUCH", "key": 5})
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"
    r = sms_world.client.post(PATH, json={"case_no": "HL-5", "key": 6})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    r = sms_world.client.post(PATH, json={"case_no": "HL-5"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    sms_world.clock.advance(timedelta(days=10))
    r = sms_world.client.post(PATH, json={"case_no": "HL-5", "key": 5})
    assert r.status_code == 422
    assert r.json()["code"] in ("rating_window_closed", "supplementary_window_closed")


def test_the_platform_rates_only_cases_it_serves(sms_world: SmsWorld) -> None:
    _setup(sms_world, "HL-6", region="420000")
    r = sms_world.client.post(PATH, json={"case_no": "HL-6", "key": 5})
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"


def test_the_link_opens_an_occasion_still_to_rate(sms_world: SmsWorld) -> None:
    with sms_world.db.transaction() as session:
        make_catalog(session)
        # A promised case: accepted at T0, completed a day later; both occasions open.
        case = register(
            session,
            "HL-7",
            "I-PRO",
            now=T0 + timedelta(days=1),
            completed_at=T0 + timedelta(days=1),
        )
        accept = next(o.id for o in occasions_of(session, case) if o.stage == "accept")
    issued = add_business_client(sms_world.db, code="HOTLINE-12345", regions=["450224"], now=T0)
    sign_as(sms_world.client, issued, sms_world.clock)
    r = sms_world.client.post(PATH, json={"case_no": "HL-7", "key": 5})
    assert r.status_code == 201, r.text
    assert r.json()["evaluation"]["stage"] == "complete"
    (text,) = _links(sms_world)
    assert text.occasion_id == accept
