"""The leak test (issue 3, C9): after a demo run, API use and an export, the clear phone and
ID numbers of the seeded raters appear nowhere: not in the database file or dump, not in the
log output, not in any exported file."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from haochaping.app import create_app
from haochaping.cases.models import Case
from haochaping.cli import app as cli
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.logfilter import configure_logging
from tests.api_clients import add_official
from tests.conftest import IN_CI, PG_ADMIN_URL

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def _fresh_pg(name: str) -> str | None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if IN_CI:
            raise RuntimeError(f"PostgreSQL is required in CI: {exc}") from exc
        return None
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leak.db'}"
        return
    name = f"hcp_leak_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = _fresh_pg(name)
    if url is None:
        pytest.skip("PostgreSQL not reachable (allowed outside CI only)")
    yield url
    _fresh_pg(name)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged, as the configured handlers would write it, SQL included."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    configure_logging("DEBUG")
    sql = logging.getLogger("sqlalchemy.engine")
    sql_level = sql.level
    sql.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        sql.setLevel(sql_level)


def _dump(url: str) -> bytes:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["pg_dump", "--no-owner", plain], check=True, capture_output=True).stdout


def _xlsx_text(content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def test_no_clear_phone_or_id_number_anywhere(
    demo_url: str, log_output: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HCP_DATABASE_URL", demo_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["demo", "--cases", "150", "--days", "15", "--now", NOW.isoformat()]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output

    db = Database(demo_url)
    try:
        with db.transaction() as session:
            cases = session.scalars(select(Case)).all()
            secrets = {c.applicant_phone for c in cases if c.applicant_phone} | {
                c.applicant_id_no for c in cases if c.applicant_id_no
            }
            case_nos = [c.case_no for c in cases[:20]]
        assert len(secrets) > 100

        supervisor = add_official(db, "leak-sup", "supervisor:450000", now=NOW)
        viewer = add_official(db, "leak-pii", "pii_viewer:450000", now=NOW)
        exported: list[bytes] = []
        app = create_app(db, clock=lambda: NOW, tick_interval=0)
        with TestClient(app, raise_server_exceptions=False) as api:
            r = api.get("/api/v1/evaluations.xlsx", headers=supervisor.headers())
            assert r.status_code == 200, r.text
            exported.append(_xlsx_text(r.content))
            (tmp_path / "export.xlsx").write_bytes(r.content)
            pages = api.get(
                "/api/v1/evaluations", params={"page_size": 500}, headers=supervisor.headers()
            )
            assert pages.status_code == 200 and pages.json()["total"] > 0
            exported.append(pages.content)
            for case_no in case_nos:
                r = api.get(f"/api/v1/cases/{case_no}", headers=supervisor.headers())
                assert r.status_code == 200, r.text
                exported.append(r.content)
            # Showing one in clear is allowed to the viewer, with a reason; it is recorded in
            # the audit log, which must not copy the clear values.
            r = api.post(
                f"/api/v1/cases/{case_nos[0]}/applicant/unmask",
                json={"reason": "差评回访核实"},
                headers=viewer.headers(),
            )
            assert r.status_code == 200 and r.json()["clear"] is True
            assert r.json()["phone"] in secrets
    finally:
        db.dispose()

    dump = _dump(demo_url)
    logs = log_output.getvalue()
    assert "INSERT INTO cases" in logs or "INSERT INTO" in logs  # the SQL log was captured
    leaks = {
        where: sorted(s for s in secrets if s.encode() in blob)
        for where, blob in (
            ("database", dump),
            ("log", logs.encode()),
            ("exports", b"\n".join(exported)),
            ("cli output", result.output.encode()),
        )
    }
    assert all(not found for found in leaks.values()), {k: v[:3] for k, v in leaks.items()}
