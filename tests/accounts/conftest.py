"""Fixtures of the accounts tests."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories import make_catalog


@pytest.fixture
def catalog(session: Session) -> dict[str, Any]:
    return make_catalog(session)
