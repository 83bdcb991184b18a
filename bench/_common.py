"""Shared by the bench scripts: a fresh PostgreSQL database, a small catalogue, open occasions.

Seeding goes through the service layer, never HTTP. ``core`` mode registers a few template cases
with ``cases.service.upsert_case`` and copies their ``cases``/``occasions``/``deadlines`` rows with
SQLAlchemy Core bulk INSERTs (only ids, case numbers and staff change), so the rows are exactly what
the service writes, at ~100x the speed; ``service`` mode registers every case through
``upsert_case``.

Since issue 3 the API is closed to anonymous callers and raters' personal data is encrypted: the
bench creates a key file (``setup_keyring``; the server gets it through ``HCP_KEY_FILE``) and a
business client serving every region of the catalogue (``create_bench_client``), whose secret
signs every request (HMAC-SM3, ``haochaping.clients.signing``).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Table, select, text
from sqlalchemy.engine import make_url

from haochaping.access.scope import Scope
from haochaping.cases import service as cases
from haochaping.cases.models import Case, Occasion, OccasionStatus
from haochaping.cases.schemas import CaseIn
from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Organization,
    Region,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.clients import service as clients
from haochaping.clients.service import IssuedKey
from haochaping.db import Database
from haochaping.deadlines.models import Deadline
from haochaping.pii import keyring

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench"

# Level mix of citizens' ratings: mostly 5/4, some 3, a few bad ones (which carry text, B6).
LEVEL_WEIGHTS = {5: 62, 4: 24, 3: 9, 2: 3, 1: 2}
BAD_TEXT = "窗口工作人员态度生硬，材料要求前后不一致，跑了两次才办成"
BAD_LABELS = ["attitude.3", "quality.3"]

# (template, weight): profile guangxi (region 450200 inherits it) or national (region 110100).
TEMPLATES = {
    "gx-window": ("I-GX", "window", "S-GX", 5),
    "gx-online": ("I-GX", "online", None, 2),
    "bj-window": ("I-BJ", "window", "S-BJ", 2),
    "bj-online": ("I-BJ", "online", None, 1),
}
STAFF_PER_ORG = 20

# The business client the load generators sign as.
BENCH_CLIENT = "bench-loadgen"
KEY_FILE_NAME = "haochaping-keys.json"

Log = Callable[[str], None]


@dataclass(frozen=True)
class SeedResult:
    mode: str
    occasion_ids: list[int]
    seconds: float
    profiles: dict[str, int]


def admin_url(url: str) -> str:
    """libpq URL of the ``postgres`` maintenance database on the same server."""
    return (
        make_url(url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


def recreate_database(url: str) -> None:
    """Drop (forcing other sessions out) and create the benchmark database."""
    u = make_url(url)
    name = u.database
    assert name and name.replace("_", "").isalnum(), f"odd database name {name!r}"
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def migrate(url: str, log: Log) -> str:
    """Build the schema with the shipped Alembic migrations (create_all only if they are gone)."""
    try:
        from haochaping.migrate import upgrade_head
    except ImportError:
        upgrade_head = None
    if upgrade_head is not None:
        upgrade_head(url)
        return "alembic upgrade head (haochaping.migrate.upgrade_head)"
    log("WARNING: haochaping.migrate.upgrade_head missing, falling back to metadata.create_all")
    from haochaping.models import Base

    db = Database(url)
    Base.metadata.create_all(db.engine)
    db.dispose()
    return "Base.metadata.create_all (temporary fallback)"


def pg_settings(url: str) -> dict[str, str]:
    db = Database(url, pool_size=1)
    try:
        with db.engine.connect() as conn:
            return {
                name: str(conn.exec_driver_sql(f"SHOW {name}").scalar())
                for name in (
                    "server_version",
                    "synchronous_commit",
                    "fsync",
                    "shared_buffers",
                    "max_connections",
                )
            }
    finally:
        db.dispose()


def setup_keyring(workdir: Path) -> Path:
    """A fresh key file in ``workdir`` (``haochaping keys init``), used by this process from now
    on; give the same path to the server as ``HCP_KEY_FILE``. Returns the path."""
    path = workdir / KEY_FILE_NAME
    keyring.create_keyring_file(path)
    # get_settings() is cached: set the variable for anything not yet loaded, and configure the
    # keyring explicitly for anything that already has.
    os.environ["HCP_KEY_FILE"] = str(path)
    keyring.configure(keyring.load_keyring(path))
    return path


def create_bench_client(db: Database, *, now: datetime) -> IssuedKey:
    """A business client serving every region of the catalogue (its root regions' subtrees),
    with its first key."""
    with db.transaction() as s:
        roots = list(
            s.scalars(select(Region.code).where(Region.parent_code.is_(None)).order_by(Region.code))
        )
        return clients.create_client(
            s,
            code=BENCH_CLIENT,
            name="压测业务系统",
            org_codes=[],
            region_codes=roots,
            now=now,
            actor="bench",
        )


def make_catalog(db: Database) -> None:
    """Guangxi (450200 inherits ``guangxi`` from 450000) and Beijing (no profile: ``national``)."""
    with db.transaction() as s:
        for code, name, level, parent, path, profile in (
            ("450000", "广西壮族自治区", "province", None, "/450000/", "guangxi"),
            ("450200", "柳州市", "city", "450000", "/450000/450200/", None),
            ("110000", "北京市", "province", None, "/110000/", None),
            ("110100", "北京市市辖区", "city", "110000", "/110000/110100/", None),
        ):
            s.add(
                Region(
                    code=code,
                    name=name,
                    level=level,
                    parent_code=parent,
                    path=path,
                    profile=profile,
                )
            )
            s.flush()
        line = BusinessLine(code="L1", name="公安")
        s.add(line)
        s.flush()
        orgs = {
            "GX": Organization(
                code="O-GX", name="柳州市公安局", region_code="450200", line_id=line.id
            ),
            "BJ": Organization(
                code="O-BJ", name="北京市公安局", region_code="110100", line_id=line.id
            ),
        }
        s.add_all(orgs.values())
        s.flush()
        for key, org in orgs.items():
            s.add(
                ServiceItem(
                    code=f"I-{key}",
                    name=f"居民身份证换领（{org.name}）",
                    org_id=org.id,
                    kind="immediate",
                    handling="window,online,terminal",
                    promised_days=0,
                )
            )
            hall = Hall(code=f"HALL-{key}", name=f"{org.name}办证大厅", region_code=org.region_code)
            s.add(hall)
            s.flush()
            window = Window(code=f"W-{key}", name="1号窗口", hall_id=hall.id, org_id=org.id)
            s.add(window)
            s.flush()
            for n in range(1, STAFF_PER_ORG + 1):
                s.add(
                    Staff(
                        code=f"S-{key}{n}",
                        name=f"工作人员{key}{n}",
                        org_id=org.id,
                        window_id=window.id,
                    )
                )
        s.flush()


def _case_in(case_no: str, template: str, n: int, opens_at: datetime) -> CaseIn:
    item, handling, staff_prefix, _ = TEMPLATES[template]
    data: dict[str, Any] = {
        "case_no": case_no,
        "item_code": item,
        "handling": handling,
        "applicant": {
            "type": "person",
            "name": "张三丰",
            "id_type": "身份证",
            "id_no": "450224199001011234",
            "phone": "13812348000",
        },
        "accepted_at": opens_at,
        "completed_at": opens_at,
    }
    if staff_prefix:
        data["staff_code"] = f"{staff_prefix}{n % STAFF_PER_ORG + 1}"
    return CaseIn.model_validate(data)


def _template_cycle() -> list[str]:
    cycle = [name for name, (*_, weight) in TEMPLATES.items() for _ in range(weight)]
    random.Random(7).shuffle(cycle)
    return cycle


def seed_occasions(db: Database, *, count: int, now: datetime, mode: str, log: Log) -> SeedResult:
    """``count`` cases of immediate items, each with one open ``complete`` occasion that opened
    10 minutes before ``now`` (rateable for days under both profiles)."""
    opens_at = now - timedelta(minutes=10)
    cycle = _template_cycle()
    started = time.perf_counter()
    if mode == "service":
        _seed_service(db, count=count, now=now, opens_at=opens_at, cycle=cycle, log=log)
    elif mode == "core":
        _seed_core(db, count=count, now=now, opens_at=opens_at, cycle=cycle)
    else:
        raise ValueError(f"unknown seed mode {mode!r}")
    seconds = time.perf_counter() - started
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with db.transaction() as s:
        ids = list(
            s.scalars(
                select(Occasion.id)
                .where(Occasion.status == OccasionStatus.open.value, Occasion.rate_until > now)
                .order_by(Occasion.id)
            )
        )
        profiles = dict(
            s.execute(
                select(Occasion.profile_name, text("count(*)")).group_by(Occasion.profile_name)
            ).all()
        )
    return SeedResult(mode=mode, occasion_ids=ids, seconds=seconds, profiles=profiles)


def _seed_service(
    db: Database, *, count: int, now: datetime, opens_at: datetime, cycle: list[str], log: Log
) -> None:
    batch = 500
    for start in range(0, count, batch):
        with db.transaction() as s:
            for n in range(start, min(count, start + batch)):
                data = _case_in(f"BENCH-{n:08d}", cycle[n % len(cycle)], n, opens_at)
                cases.upsert_case(session=s, data=data, now=now, scope=Scope.all())
        if start and start % 10_000 == 0:
            log(f"  … {start} cases registered")


def _seed_core(
    db: Database, *, count: int, now: datetime, opens_at: datetime, cycle: list[str]
) -> None:
    case_t: Table = Case.__table__  # type: ignore[assignment]
    occ_t: Table = Occasion.__table__  # type: ignore[assignment]
    dl_t: Table = Deadline.__table__  # type: ignore[assignment]
    # 1. One real case per template through the service: the rows to copy.
    templates: dict[str, tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = {}
    with db.transaction() as s:
        for n, name in enumerate(TEMPLATES):
            _case, _ = cases.upsert_case(
                session=s,
                data=_case_in(f"BENCH-T-{name}", name, n, opens_at),
                now=now,
                scope=Scope.all(),
            )
            s.flush()
    with db.engine.connect() as conn:
        for name in TEMPLATES:
            case_row = dict(
                conn.execute(select(case_t).where(case_t.c.case_no == f"BENCH-T-{name}"))
                .mappings()
                .one()
            )
            occ_rows = (
                conn.execute(select(occ_t).where(occ_t.c.case_id == case_row["id"]))
                .mappings()
                .all()
            )
            assert len(occ_rows) == 1, "an immediate case has exactly one occasion"
            occ_row = dict(occ_rows[0])
            dl_rows = [
                dict(r)
                for r in conn.execute(
                    select(dl_t).where(dl_t.c.subject_id == occ_row["id"])
                ).mappings()
            ]
            templates[name] = (case_row, occ_row, dl_rows)
        staff_ids = {
            prefix: [
                row[0]
                for row in conn.execute(
                    text("SELECT id FROM staff WHERE code LIKE :p ORDER BY id"),
                    {"p": f"{prefix}%"},
                )
            ]
            for prefix in ("S-GX", "S-BJ")
        }
        next_case = int(conn.execute(text("SELECT max(id) FROM cases")).scalar_one()) + 1
        next_occ = int(conn.execute(text("SELECT max(id) FROM occasions")).scalar_one()) + 1
        next_dl = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM deadlines")).scalar_one())
    # 2. Copies, inserted in batches with explicit ids; the sequences follow afterwards.
    chunk = 5000
    with db.engine.begin() as conn:
        for start in range(0, count - len(TEMPLATES), chunk):
            case_rows, occ_rows, dl_rows = [], [], []
            for n in range(start, min(count - len(TEMPLATES), start + chunk)):
                name = cycle[n % len(cycle)]
                case_row, occ_row, dls = templates[name]
                staff_prefix = TEMPLATES[name][2]
                staff_id = staff_ids[staff_prefix][n % STAFF_PER_ORG] if staff_prefix else None
                case_id, occ_id = next_case + n, next_occ + n
                case_rows.append(
                    case_row | {"id": case_id, "case_no": f"BENCH-{n:08d}", "staff_id": staff_id}
                )
                occ_rows.append(
                    occ_row
                    | {
                        "id": occ_id,
                        "case_id": case_id,
                        "staff_id": staff_id if occ_row["rates_staff"] else None,
                    }
                )
                for dl in dls:
                    next_dl += 1
                    dl_rows.append(dl | {"id": next_dl, "subject_id": occ_id})
            conn.execute(case_t.insert(), case_rows)
            conn.execute(occ_t.insert(), occ_rows)
            if dl_rows:
                conn.execute(dl_t.insert(), dl_rows)
        for table in ("cases", "occasions", "deadlines"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )


def pick_level(rng: random.Random) -> int:
    return rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()))[0]


def evaluation_payload(occasion_id: int, rng: random.Random) -> dict[str, Any]:
    """One citizen's rating as a client would send it (channel 1..7; bad ones with text)."""
    level = pick_level(rng)
    body: dict[str, Any] = {
        "occasion_id": occasion_id,
        "level": level,
        "channel": rng.randint(1, 7),
    }
    if level <= 2:
        body["text"] = BAD_TEXT
        body["label_codes"] = BAD_LABELS[: rng.randint(0, 2)]
    return body


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]
