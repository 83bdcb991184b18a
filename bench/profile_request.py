"""In-process anatomy of one ``POST /api/v1/evaluations`` on PostgreSQL.

    .venv/bin/python bench/profile_request.py [--requests 1000] [--top 25]

Recreates the ``hcp_bench_profile`` database (separate from ``hcp_bench`` so that both scripts
can run), seeds open occasions like ``ingest.py`` and then, with no concurrency at all:

1. lists every SQL statement and every PostgreSQL round trip of one single POST (through the
   real ASGI app with Starlette's TestClient), of the no-op health check, and of a bulk request,
   counted with SQLAlchemy ``before_cursor_execute`` events and the libpq protocol trace;
2. times the route function ``submit_evaluation`` called directly (wall and CPU per request);
3. profiles it with cProfile and prints the top functions;
4. times the access check of a signed request (issue 3) piece by piece: the signature checked
   against the per-process credential and scope caches (what ``Requires.__call__`` does on the
   event loop), the nonce INSERT that opens the route's transaction, and the COMMIT (which the
   route shares: one per request).

Requests are signed as a business client serving every region (``_common.create_bench_client``);
raters' data is encrypted with an in-memory keyring.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psycopg import pq
from sqlalchemy import event, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
from haochaping.access.principal import Principal
from haochaping.access.rules import (
    _signed_from_cache,
    _signed_from_database,
    principal_for_client,
)
from haochaping.app import create_app
from haochaping.clients import service as clients
from haochaping.clients import signing
from haochaping.clients.models import BusinessClient
from haochaping.clients.service import IssuedKey
from haochaping.clock import utcnow
from haochaping.db import Database
from haochaping.evaluations.api import submit_evaluation
from haochaping.evaluations.schemas import EvaluationIn
from haochaping.pii import keyring

URL = "postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_profile"


class Recorder:
    """SQL statements (SQLAlchemy events) and protocol round trips (libpq trace)."""

    def __init__(self, db: Database) -> None:
        self.statements: list[str] = []
        self.tx_events: Counter[str] = Counter()
        self.trace_path = Path(tempfile.mkstemp(prefix="hcp-pqtrace-")[1])
        self._trace = self.trace_path.open("w")
        self.active = False
        self._traced: list[Any] = []
        engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if self.active:
                self.statements.append(" ".join(statement.split()))

        for name in ("begin", "commit", "rollback", "savepoint", "release_savepoint"):
            event.listen(engine, name, self._tx(name))

        @event.listens_for(engine, "checkout")
        def _checkout(dbapi_conn: Any, *_: Any) -> None:
            # After the pool's pre-ping (which is one more round trip per checkout).
            if self.active:
                ping = getattr(engine.pool, "_pre_ping", False)
                label = "+1 pre_ping round trip, not traced" if ping else "no pre_ping"
                self.tx_events[f"pool checkout ({label})"] += 1
                if dbapi_conn not in self._traced:
                    # A dup'ed fd per trace: libpq buffers it, untrace() flushes and closes it.
                    dbapi_conn.pgconn.trace(os.dup(self._trace.fileno()))
                    dbapi_conn.pgconn.set_trace_flags(
                        pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
                    )
                    self._traced.append(dbapi_conn)

    def _tx(self, name: str) -> Any:
        def listener(*_: Any) -> None:
            if self.active:
                self.tx_events[name] += 1

        return listener

    def start(self) -> None:
        self.statements.clear()
        self.tx_events.clear()
        self._trace.flush()
        self._mark = self.trace_path.stat().st_size
        self.active = True

    def stop(self) -> tuple[list[str], Counter[str], list[str]]:
        self.active = False
        for conn in self._traced:
            conn.pgconn.untrace()
        self._traced.clear()
        self._trace.flush()
        with self.trace_path.open() as f:
            f.seek(self._mark)
            wire = f.read().splitlines()
        sent = []
        for ln in wire:
            parts = ln.split("\t", 3)
            if not ln.startswith("F\t") or parts[2] not in ("Query", "Parse", "Bind"):
                continue
            # Parse "name" "sql" …; Bind "portal" "statement" …; Query "sql".
            quoted = re.findall(r'"((?:[^"]|"")*)"', parts[3])
            if parts[2] == "Query":
                sent.append(f"Query {quoted[0] if quoted else parts[3].strip()}")
            elif parts[2] == "Parse":
                name, sql = ([*quoted, "", ""])[:2]
                sent.append(f"Parse (prepare {name or 'unnamed'}) {sql}")
            else:
                statement = quoted[1] if len(quoted) > 1 else "?"
                sent.append(f"Bind+Execute {statement or 'unnamed'}")
        round_trips = sum(1 for ln in wire if ln.startswith("B\t") and "\tReadyForQuery\t" in ln)
        self.tx_events["protocol round trips (ReadyForQuery)"] = round_trips
        return list(self.statements), Counter(self.tx_events), sent


def _short(sql: str, width: int = 150) -> str:
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def _package(filename: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith("<") or filename == "~":
        return "builtins / C code"
    return "python stdlib"


def show(title: str, rec: tuple[list[str], Counter[str], list[str]], per: int = 1) -> None:
    statements, events, wire = rec
    print(f"\n--- {title}")
    print(
        f"  SQL statements via SQLAlchemy: {len(statements) / per:g}"
        + (" per item" if per > 1 else "")
    )
    kinds = Counter(s.split(" ", 1)[0] for s in statements)
    print("    by verb: " + ", ".join(f"{k} {v / per:g}" for k, v in kinds.most_common()))
    for k, v in sorted(events.items()):
        print(f"  {k}: {v / per:g}")
    if per == 1:
        for i, s in enumerate(statements, 1):
            print(f"    {i:2}. {_short(s)}")
        print("  wire (Query/Parse/Bind messages the server received):")
        for ln in wire:
            print(f"       {_short(ln, 140)}")
    else:
        # Which statements repeat per item (a query per item shows up here).
        for sql, count in Counter(_short(s, 110) for s in statements).most_common(10):
            print(f"    {count:5}x {sql}")


def client_principal(db: Database, creds: IssuedKey) -> Principal:
    with db.transaction() as s:
        client_id = s.scalar(select(BusinessClient.id).where(BusinessClient.code == creds.client))
        assert client_id is not None
        return principal_for_client(s, client_id=client_id, code=creds.client, ip="127.0.0.1")


def profile_access(
    db: Database, rec: Recorder, creds: IssuedKey, ids: Iterator[int], rng: random.Random, n: int
) -> None:
    """What ``Requires.__call__`` does for a signed request, in its three steps, sequentially:
    wall and CPU per step (the difference is waiting for PostgreSQL), statements of one."""
    path = "/api/v1/evaluations"

    def headers() -> tuple[dict[str, str], bytes]:
        body = json.dumps(common.evaluation_payload(next(ids), rng)).encode()
        h = signing.sign_headers(
            client=creds.client,
            kid=creds.kid,
            secret=creds.secret,
            method="POST",
            path=path,
            body=body,
        )
        return {k.lower(): v for k, v in h.items()}, body

    steps = ("signature (cached key, scope)", "nonce INSERT (route's tx)", "COMMIT")
    wall: dict[str, float] = dict.fromkeys(steps, 0.0)
    cpu: dict[str, float] = dict.fromkeys(steps, 0.0)

    def one(record: bool = False) -> None:
        h, body = headers()
        session = db.sessionmaker()
        try:
            if record:
                rec.start()
            marks = [(time.perf_counter(), time.process_time())]
            now = utcnow()
            signed = clients.check_headers(h, now=now)
            # What Requires.__call__ does on the event loop (no I/O once the caches are warm).
            principal = _signed_from_cache(session, signed, "POST", path, body, now, "127.0.0.1")
            if principal is None:
                _signed_from_database(session, signed, "POST", path, body, now, "127.0.0.1")
            marks.append((time.perf_counter(), time.process_time()))
            # The route's first statement begins its transaction: the nonce goes in first.
            session.connection()
            marks.append((time.perf_counter(), time.process_time()))
            # Committed with the route's work (nothing else here).
            session.commit()
            marks.append((time.perf_counter(), time.process_time()))
            if record:
                show("access check of one signed request (Requires.__call__ + nonce)", rec.stop())
            for step, (a, b) in zip(steps, itertools.pairwise(marks), strict=True):
                wall[step] += b[0] - a[0]
                cpu[step] += b[1] - a[1]
        finally:
            session.rollback()
            session.close()

    for _ in range(20):
        one()
    one(record=True)
    wall.update(dict.fromkeys(steps, 0.0))
    cpu.update(dict.fromkeys(steps, 0.0))
    for _ in range(n):
        one()
    print(f"\naccess check of a signed request, sequential ({n} calls), per request:")
    for step in steps:
        print(
            f"    {step:30} {1000 * wall[step] / n:6.3f} ms wall  "
            f"{1000 * cpu[step] / n:6.3f} ms CPU"
        )
    print(
        f"    {'total':30} {1000 * sum(wall.values()) / n:6.3f} ms wall  "
        f"{1000 * sum(cpu.values()) / n:6.3f} ms CPU"
    )
    # The signature alone (SM3 of the body + HMAC-SM3), for scale.
    h, body = headers()
    t0 = time.perf_counter()
    for _ in range(n):
        signing.signature(
            creds.secret,
            signing.canonical_string("POST", path, h["x-hcp-timestamp"], h["x-hcp-nonce"], body),
        )
    print(
        "    (SM3 of the body + HMAC-SM3 of the canonical string alone: "
        f"{1e6 * (time.perf_counter() - t0) / n:.1f} µs)"
    )
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for _ in range(n):
        one()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(25)
    print(f"cProfile (CPU clock) of {n} access checks, top 25 by cumulative time:")
    print("\n".join(ln for ln in out.getvalue().splitlines() if ln.strip()))


def profile_bulk(
    db: Database,
    ids: Iterator[int],
    rng: random.Random,
    *,
    size: int,
    top: int,
    caller: Principal,
) -> None:
    """One bulk request of ``size`` items split into what the server does: parse and validate
    the JSON body, run the route function, serialise the answer (CPU per item)."""
    from haochaping.evaluations.api import bulk_evaluations
    from haochaping.evaluations.schemas import BulkIn

    def body() -> bytes:
        items = [common.evaluation_payload(next(ids), rng) for _ in range(size)]
        return json.dumps({"items": items}, ensure_ascii=False).encode()

    def one(raw: bytes, prof: cProfile.Profile | None = None) -> dict[str, float]:
        c0 = time.process_time()
        data = BulkIn.model_validate_json(raw)
        c1 = time.process_time()
        session = db.sessionmaker()
        try:
            if prof:
                prof.enable()
            out = bulk_evaluations(data=data, session=session, now=utcnow(), caller=caller)
            if prof:
                prof.disable()
        finally:
            session.rollback()
            session.close()
        c2 = time.process_time()
        out.model_dump_json()
        c3 = time.process_time()
        assert out.accepted == size, out.results[:3]
        return {"validate": c1 - c0, "route": c2 - c1, "serialise": c3 - c2}

    one(body())  # warm-up
    t0 = time.perf_counter()
    parts = one(body())
    wall = time.perf_counter() - t0
    per = {k: 1e6 * v / size for k, v in parts.items()}
    print(
        f"\nbulk of {size}, sequential: {1e6 * wall / size:.0f} µs wall per item; CPU per item: "
        f"validate JSON {per['validate']:.0f} µs, route {per['route']:.0f} µs, "
        f"serialise answer {per['serialise']:.0f} µs"
    )
    prof = cProfile.Profile(time.process_time)
    one(body(), prof)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    print(f"cProfile (CPU clock) of the bulk route function, top {top} by cumulative time:")
    print("\n".join(ln for ln in out.getvalue().splitlines() if ln.strip()))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=1000, help="sequential requests to time")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--bulk-size", type=int, default=1000, help="items of the profiled bulk")
    p.add_argument("--url", default=URL)
    args = p.parse_args()

    common.recreate_database(args.url)
    print(f"schema: {common.migrate(args.url, print)}")
    keyring.configure(keyring.new_keyring())  # raters' data is encrypted (in-memory keys)
    db = Database(args.url)
    common.make_catalog(db)
    n = 5 * args.requests + 4 * args.bulk_size + 2000
    seeded = common.seed_occasions(db, count=n, now=utcnow(), mode="core", log=print)
    ids = iter(seeded.occasion_ids)
    rng = random.Random(3)
    print(f"seeded {len(seeded.occasion_ids)} occasions ({seeded.profiles})")
    creds = common.create_bench_client(db, now=utcnow())
    caller = client_principal(db, creds)
    auth = signing.SignedAuth(creds.client, creds.kid, creds.secret)

    from fastapi.testclient import TestClient

    rec = Recorder(db)
    app = create_app(db, tick_interval=0)
    with TestClient(app) as client:
        client.auth = auth  # every request signed (the health check is sent with auth=None)
        for _ in range(20):  # warm the statement caches and psycopg's prepared statements
            assert (
                client.post(
                    "/api/v1/evaluations", json=common.evaluation_payload(next(ids), rng)
                ).status_code
                == 201
            )
        payload = common.evaluation_payload(next(ids), rng) | {"level": 5, "channel": 4}
        rec.start()
        r = client.post("/api/v1/evaluations", json=payload)
        show(
            f"one POST /api/v1/evaluations (status {r.status_code}, guangxi/national window case)",
            rec.stop(),
        )

        payload = common.evaluation_payload(next(ids), rng) | {"level": 5, "channel": 4}
        rec.start()
        r = client.post("/api/v1/evaluations", json=payload, headers={"Idempotency-Key": "k-1"})
        show(
            f"one POST /api/v1/evaluations with Idempotency-Key (status {r.status_code})",
            rec.stop(),
        )

        rec.start()
        client.get("/api/v1/health", auth=None)
        show("GET /api/v1/health", rec.stop())

        items = [common.evaluation_payload(next(ids), rng) for _ in range(100)]
        rec.start()
        r = client.post("/api/v1/evaluations/bulk", json={"items": items})
        show(f"bulk of 100 (accepted {r.json()['accepted']})", rec.stop(), per=100)

        # TestClient round trip, sequential: includes the ASGI stack and httpx, no network.
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.requests // 2):
            client.post("/api/v1/evaluations", json=common.evaluation_payload(next(ids), rng))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        k = args.requests // 2
        print(
            f"\nTestClient, sequential: {1000 * wall / k:.2f} ms wall, {1000 * cpu / k:.2f} ms CPU "
            "per POST (this process: app + TestClient)"
        )

    # The route function alone: validation done, no ASGI/HTTP, one session per call as in the app.
    payloads = [
        EvaluationIn.model_validate(common.evaluation_payload(next(ids), rng))
        for _ in range(args.requests)
    ]

    def run(batch: list[EvaluationIn]) -> None:
        for data in batch:
            session = db.sessionmaker()
            try:
                submit_evaluation(
                    data=data, session=session, now=utcnow(), caller=caller, idempotency_key=None
                )
            finally:
                session.rollback()
                session.close()

    half = args.requests // 2
    t0, c0 = time.perf_counter(), time.process_time()
    run(payloads[:half])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"route function, sequential: {1000 * wall / half:.2f} ms wall, "
        f"{1000 * cpu / half:.2f} ms CPU per evaluation (the rest: waiting for PostgreSQL)"
    )
    # CPU time only (process_time): waiting for PostgreSQL is not where the cores go.
    prof = cProfile.Profile(time.process_time)
    calls = args.requests - half
    prof.enable()
    run(payloads[half:])
    prof.disable()
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in raw.values())
    print(f"\ncProfile (CPU clock) of {calls} route calls: {1000 * total / calls:.2f} ms CPU each")
    print("  self CPU by package:")
    by_pkg: Counter[str] = Counter()
    for (filename, _, _), (_, _, tt, _, _) in raw.items():
        by_pkg[_package(filename)] += tt
    for pkg, tt in by_pkg.most_common():
        print(f"    {100 * tt / total:5.1f}%  {1000 * tt / calls:6.3f} ms  {pkg}")
    print("  haochaping functions, cumulative CPU per route call (includes what they call):")
    ours = [
        (ct, nc, f"{func} ({filename.split('/src/', 1)[-1]}:{line})")
        for (filename, line, func), (_, nc, _, ct, _) in raw.items()
        if "/haochaping/" in filename
    ]
    for ct, nc, name in sorted(ours, reverse=True)[: args.top]:
        print(f"    {1000 * ct / calls:6.3f} ms  {100 * ct / total:5.1f}%  x{nc / calls:g}  {name}")
    for key, title in (("tottime", "self time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
        print(f"\ncProfile (CPU clock), top {args.top} by {title}:")
        print("\n".join(ln for ln in out.getvalue().splitlines() if ln.strip()))
    profile_access(db, rec, creds, ids, rng, args.requests)
    profile_bulk(db, ids, rng, size=args.bulk_size, top=args.top, caller=caller)
    db.dispose()
    common.drop_database(args.url)
    rec.trace_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
