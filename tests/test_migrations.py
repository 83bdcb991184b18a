"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from haochaping import migrate
from haochaping.models import Base
from tests.conftest import IN_CI, PG_ADMIN_URL, _worker


def _fresh_pg(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_models(backend: str, tmp_path: Path) -> None:
    url = (
        f"sqlite:///{tmp_path / 'mig.db'}"
        if backend == "sqlite"
        else _fresh_pg(f"hcp_mig_{_worker()}")
    )
    migrate.upgrade_head(url)
    migrate.check(url)  # raises when models and migrations disagree (alembic check)
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    # Upgrading again is a no-op.
    migrate.upgrade_head(url)
