"""No request a client can send yields a 500: schemathesis draws requests from the OpenAPI
schema (conforming and not) and sends them to the app, on both databases."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from haochaping.app import create_app
from haochaping.db import Database
from tests.factories import T0, make_catalog


def test_no_request_yields_a_server_error(committed_db: Database) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
    app = create_app(committed_db, clock=lambda: T0, tick_interval=0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    strategies = [
        op.as_strategy(generation_mode=mode)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    assert len(operations) >= 8
    seen: list[int] = []

    @settings(
        max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(st.one_of(strategies))
    def check(case: Any) -> None:
        response = case.call()
        seen.append(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        if response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "details"}

    check()
    # The requests did reach the routes: some were served, some refused.
    assert any(code < 300 for code in seen) and any(code >= 400 for code in seen)
