"""A/B of the rating route on PostgreSQL, in-process, interleaved (for a busy machine).

    .venv/bin/python bench/ab_route.py [--rounds 8] [--per-round 100] [--bulk-size 1000]

Recreates ``hcp_bench_profile``, seeds open occasions like ``profile_request.py``, then runs the
route function ``submit_evaluation`` (signed business client, no ASGI) and, with
``--bulk-size``, ``bulk_evaluations``, in rounds that alternate the variants: ``new`` is the
code as it is; ``before`` emulates the hot path as it was before the one-statement writer
(see ``variant``); ``rowwise`` only swaps the writer for its per-table path. Per variant it
prints the median and minimum over the rounds of the CPU per rating of this process and of the
database's PostgreSQL backends (``/proc/<pid>/stat``, 10 ms ticks), and the wall time.
Interleaving makes the other load of a shared machine fall on every variant alike.

``before_app`` is the same ``before`` variant as an application factory for the real server:
``ingest.py --app bench.ab_route:before_app``.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Connection, Table, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
from haochaping import bulk_insert
from haochaping.access import nonces
from haochaping.access.principal import Principal
from haochaping.cases import service as cases
from haochaping.clients import service as clients
from haochaping.clock import utcnow
from haochaping.db import Database
from haochaping.deadlines import service as deadlines
from haochaping.evaluations import writer
from haochaping.evaluations.api import bulk_evaluations, submit_evaluation
from haochaping.evaluations.schemas import BulkIn, EvaluationIn
from haochaping.pii import keyring
from haochaping.statistics import queue as stat_queue
from haochaping.textreview import service as textreview
from haochaping.workorders import intake
from profile_request import URL, client_principal

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(db: Database, dbname: str) -> float:
    """CPU seconds of every backend of the database (idle pool connections included)."""
    with db.engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": dbname}
        ).scalars()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / TICK


_CURRENT: dict[tuple[Any, str], Any] = {}
_INSERT_ROWS_USERS = (writer, stat_queue, textreview, deadlines, intake)


def _legacy_insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: str | None = None,
    returning: tuple[str, ...] = (),
) -> list[Any]:
    """``bulk_insert.insert_rows`` before 2026-12-02 afternoon: many rows as one array per
    column (``unnest``) adapted by psycopg."""
    if conn.dialect.name != "postgresql" or len(rows) == 1 or not rows:
        return bulk_insert.insert_rows(
            conn, table, rows, skip_conflicts_on=skip_conflicts_on, returning=returning
        )
    columns = tuple(rows[0])
    arrays = ", ".join(f"CAST(:{c} AS {bulk_insert.pg_type(table.c[c].type)}[])" for c in columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) SELECT * FROM unnest({arrays})'
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    params = {c: [bulk_insert._pg_value(table, c, row[c]) for row in rows] for c in columns}
    result = conn.execute(text(sql), params)
    return list(result) if returning else []


def _legacy_target_rows(conn: Connection, ids: list[int]) -> Any:
    return conn.execute(cases._TARGETS, {"ids": ids}).all()


def _legacy_spend(conn: Connection, pending: Any) -> bool:
    return clients.spend_nonce(conn, pending.client_id, pending.nonce, pending.seen_at)


def _set(module: Any, name: str, value: Any) -> None:
    _CURRENT.setdefault((module, name), getattr(module, name))
    setattr(module, name, value)


def variant(name: str) -> Callable[[], None]:
    """``new``: the code as it is. ``rowwise``: the evaluation writer's per-table path on
    PostgreSQL. ``before``: as the hot path was before this change (per-table writer,
    Core SELECT of the rating targets with an expanding IN, Core nonce INSERT, ``unnest``
    arrays for many rows; the work-order intake's events are Core inserts in both)."""

    def apply() -> None:
        for (module, attr), value in _CURRENT.items():
            setattr(module, attr, value)
        if name in ("rowwise", "before"):
            _set(writer, "_write_pg", writer._write_rowwise)
        if name == "before":
            _set(cases, "_target_rows", _legacy_target_rows)
            _set(nonces, "_spend_nonce", _legacy_spend)
            for module in _INSERT_ROWS_USERS:
                _set(module, "insert_rows", _legacy_insert_rows)

    return apply


def before_app() -> FastAPI:
    """The server as it was before the change, for ``ingest.py --app bench.ab_route:before_app``
    (same harness, the ``before`` variant applied in every worker)."""
    from haochaping.app import app_from_env

    variant("before")()
    return app_from_env()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--per-round", type=int, default=100)
    p.add_argument("--bulk-size", type=int, default=0, help="also A/B bulks of this size")
    p.add_argument("--variants", default="new,before")
    p.add_argument(
        "--profile", type=int, default=0, help="then cProfile one bulk of this size (new code)"
    )
    args = p.parse_args()

    common.recreate_database(URL)
    common.migrate(URL, lambda _m: None)
    keyring.configure(keyring.new_keyring())
    db = Database(URL)
    common.make_catalog(db)
    names = args.variants.split(",")
    n = (args.rounds + 1) * len(names) * (args.per_round + 2 * args.bulk_size) + 100
    seeded = common.seed_occasions(db, count=n, now=utcnow(), mode="core", log=lambda _m: None)
    ids: Iterator[int] = iter(seeded.occasion_ids)
    rng = random.Random(3)
    creds = common.create_bench_client(db, now=utcnow())
    caller: Principal = client_principal(db, creds)
    dbname = URL.rsplit("/", 1)[1]

    def singles(k: int) -> None:
        batch = [
            EvaluationIn.model_validate(common.evaluation_payload(next(ids), rng)) for _ in range(k)
        ]
        for data in batch:
            session = db.sessionmaker()
            try:
                submit_evaluation(
                    data=data, session=session, now=utcnow(), caller=caller, idempotency_key=None
                )
            finally:
                session.rollback()
                session.close()

    def bulk(k: int) -> None:
        items = [common.evaluation_payload(next(ids), rng) for _ in range(k)]
        data = BulkIn.model_validate({"items": items})
        session = db.sessionmaker()
        try:
            out = bulk_evaluations(data=data, session=session, now=utcnow(), caller=caller)
            assert out.accepted == k, out.results[:3]
        finally:
            session.rollback()
            session.close()

    jobs: list[tuple[str, Callable[[int], None], int]] = [("single", singles, args.per_round)]
    if args.bulk_size:
        jobs.append(("bulk item", bulk, args.bulk_size))
    for label, job, k in jobs:
        figures: dict[str, list[tuple[float, float, float]]] = {v: [] for v in names}
        for v in names:  # warm-up (statement caches, prepared statements)
            variant(v)()
            job(min(k, 20))
        for _ in range(args.rounds):
            for v in names:
                variant(v)()
                pg0, c0, t0 = backend_cpu(db, dbname), time.process_time(), time.perf_counter()
                job(k)
                t1, c1, pg1 = time.perf_counter(), time.process_time(), backend_cpu(db, dbname)
                figures[v].append(((c1 - c0) / k, (pg1 - pg0) / k, (t1 - t0) / k))
        print(f"\n{label} ({args.rounds} rounds of {k}), per {label}: median (min)")
        for v in names:
            cols = list(zip(*figures[v], strict=True))
            med = [1000 * statistics.median(c) for c in cols]
            low = [1000 * min(c) for c in cols]
            print(
                f"  {v:8} process CPU {med[0]:.3f} ({low[0]:.3f}) ms   PostgreSQL CPU "
                f"{med[1]:.3f} ({low[1]:.3f}) ms   wall {med[2]:.3f} ({low[2]:.3f}) ms"
            )
    variant("new")()
    if args.profile:
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        bulk(args.profile)
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
    db.dispose()
    common.drop_database(URL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
