"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

Outside CI a missing PostgreSQL skips its half; with CI=true it fails (DEVELOPERS.md).
Each test runs inside a transaction that is rolled back (savepoints for the code under test),
except tests that ask for ``committed_db``, which see real commits and get emptied tables after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from haochaping.access.rules import clear_caches
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.models import Base
from haochaping.pii import keyring as pii_keyring

PG_ADMIN_URL = os.environ.get(
    "HCP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_url(tmp_name: str) -> str | None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": tmp_name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{tmp_name}"'))
    except Exception as exc:  # PostgreSQL unreachable
        if IN_CI:
            raise RuntimeError(f"PostgreSQL is required in CI: {exc}") from exc
        return None
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{tmp_name}"


def _build_schema(database: Database) -> None:
    # The schema comes from the models here for speed; tests/test_migrations.py proves that
    # the Alembic migrations build exactly the same schema on both databases.
    with database.engine.begin() as conn:
        if database.is_sqlite:
            Base.metadata.drop_all(conn)
        else:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        Base.metadata.create_all(conn)


@pytest.fixture(scope="session", autouse=True)
def pii_test_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pii_keyring.Keyring]:
    """C9 (the rater's information is confidential): personal data is encrypted at rest, here
    under random in-memory keys; a key file a command creates goes to a temporary directory."""
    saved_env = os.environ.get("HCP_KEY_FILE")
    os.environ["HCP_KEY_FILE"] = str(tmp_path_factory.mktemp("keys") / "haochaping-keys.json")
    get_settings.cache_clear()
    keyring = pii_keyring.new_keyring()
    previous = pii_keyring.configure(keyring)
    yield keyring
    pii_keyring.configure(previous)
    if saved_env is None:
        os.environ.pop("HCP_KEY_FILE", None)
    else:
        os.environ["HCP_KEY_FILE"] = saved_env
    get_settings.cache_clear()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
    else:
        maybe = _pg_url(f"hcp_test_{_worker()}")
        if maybe is None:
            pytest.skip("PostgreSQL not reachable (allowed outside CI only)")
        url = maybe
    db = Database(url, pool_size=5)
    _build_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session whose whole work is rolled back after the test."""
    conn = database.engine.connect()
    outer = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def committed_db(database: Database) -> Iterator[Database]:
    """The database itself, for tests that need real commits (concurrency, API, CLI)."""
    _truncate(database)
    yield database
    _truncate(database)


def _truncate(database: Database) -> None:
    clear_caches()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " CASCADE"))
