"""Ingest benchmark: single and bulk evaluations against the real server on PostgreSQL.

    .venv/bin/python bench/ingest.py [--workers 2] [--clients 32] [--seconds 20]
                                     [--bulk-size 1000] [--occasions 60000]

Recreates the ``hcp_bench`` database, migrates it, seeds a catalogue and open occasions (service
layer, see ``_common.py``) with a fresh PII key file and a business client serving every region,
starts ``uvicorn --workers W`` as a subprocess (same key file) and measures, with the same server:
single signed ``POST /api/v1/evaluations`` (pre-signed for wrk), the no-op (public, unsigned)
``GET /api/v1/health`` at the same concurrency, and signed ``POST /api/v1/evaluations/bulk``.
Prints figures; never asserts timings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
from _load import (
    ROOT,
    VENV_BIN,
    BulkResult,
    LoadResult,
    Server,
    free_port,
    run_bulk,
    run_httpx,
    run_wrk,
)
from _measure import CpuWindow, RssSampler, machine_busy, summarize_pyspy
from haochaping.clock import utcnow
from haochaping.config import Settings
from haochaping.db import Database

TARGET_SINGLE_RPS = 1200
TARGET_SINGLE_P99_MS = 100
TARGET_BULK_RPS = 30_000


def log(msg: str) -> None:
    print(msg, flush=True)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--clients", type=int, default=32, help="concurrent connections")
    p.add_argument("--seconds", type=float, default=20, help="duration of single and no-op runs")
    p.add_argument("--bulk-size", type=int, default=1000, help="evaluations per bulk request")
    p.add_argument("--bulk-batches", type=int, default=15, help="bulk requests in total")
    p.add_argument("--bulk-senders", type=int, default=3, help="concurrent bulk senders")
    p.add_argument("--bulk-seconds", type=float, default=90, help="time bound of the bulk run")
    p.add_argument("--occasions", type=int, default=60_000, help="open occasions to seed")
    p.add_argument("--warmup", type=float, default=3, help="seconds of warm-up (not counted)")
    p.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    p.add_argument(
        "--requests-per-connection",
        type=int,
        default=50,
        metavar="N",
        help="clients reconnect every N requests so connections spread over the workers "
        "(0: keep-alive forever; one worker may then get every connection)",
    )
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1 is plenty)")
    p.add_argument("--seed", choices=("core", "service"), default="core", help="seeding mode")
    p.add_argument("--url", default=common.DEFAULT_URL, help="PostgreSQL URL of the bench db")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument(
        "--py-spy",
        type=float,
        default=0,
        metavar="SECONDS",
        help="after the measured runs, sample the workers with py-spy under single load",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=60,
        metavar="SECONDS",
        help="wait up to this long for the machine to be quiet before starting",
    )
    p.add_argument(
        "--app",
        default="haochaping.app:app_from_env",
        help="application factory given to uvicorn --factory (for what-if experiments)",
    )
    p.add_argument(
        "--rate-limits",
        action="store_true",
        help="keep the server's per-address rate limits (off by default: all load comes from "
        "one address, and the health check is limited to 1,200/minute)",
    )
    p.add_argument("--drop-db", action="store_true", help="drop hcp_bench at the end")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tool = args.client
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "httpx"
    if tool == "wrk" and not shutil.which("wrk"):
        log("wrk not found (apt-get install -y wrk); use --client httpx")
        return 2
    load = run_wrk if tool == "wrk" else run_httpx
    cmdline = " ".join(
        [".venv/bin/python bench/ingest.py"]
        + [
            f"--{k.replace('_', '-')} {v}"
            for k, v in (
                ("workers", args.workers),
                ("clients", args.clients),
                ("seconds", args.seconds),
                ("bulk_size", args.bulk_size),
                ("occasions", args.occasions),
            )
        ]
        + ([] if args.client == "auto" else [f"--client {args.client}"])
        + ([] if args.app == "haochaping.app:app_from_env" else [f"--app {args.app}"])
        + (["--rate-limits"] if args.rate_limits else [])
        + (
            []
            if args.requests_per_connection == 50
            else [f"--requests-per-connection {args.requests_per_connection}"]
        )
    )
    workdir = Path(tempfile.mkdtemp(prefix="hcp-bench-"))
    keep_workdir = False
    server: Server | None = None
    sampler: RssSampler | None = None

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    report: list[str] = []
    try:
        background = _wait_quiet(args.wait_idle)
        log(f"== machine busy before the run: {background:.0f}% of {os.cpu_count()} cores")
        if background > 15:
            log("   WARNING: something else is using the CPU; figures will be low and noisy")
        # 1. Database, PII keys (shared with the server) and the signing business client.
        t0 = time.perf_counter()
        key_file = common.setup_keyring(workdir)
        log(f"== PII key file {key_file} (HCP_KEY_FILE of this process and of the server)")
        log(f"== recreating database {args.url.rsplit('/', 1)[1]}")
        common.recreate_database(args.url)
        schema = common.migrate(args.url, log)
        settings = common.pg_settings(args.url)
        db = Database(args.url, pool_size=2)
        try:
            common.make_catalog(db)
            log(f"== seeding {args.occasions} open occasions ({args.seed} mode)")
            seeded = common.seed_occasions(
                db, count=args.occasions, now=utcnow(), mode=args.seed, log=log
            )
            creds = common.create_bench_client(db, now=utcnow())
            log(f"== business client {creds.client} (key {creds.kid}) serving every region")
        finally:
            db.dispose()
        ids = seeded.occasion_ids
        if ids != list(range(ids[0], ids[-1] + 1)):
            raise RuntimeError("seeded occasion ids are not contiguous")
        log(
            f"   {len(ids)} occasions in {seeded.seconds:.1f} s "
            f"({len(ids) / seeded.seconds:,.0f}/s), profiles {seeded.profiles}; "
            f"setup {time.perf_counter() - t0:.1f} s"
        )
        # Id slices per phase: bulk and profiling reserved at the end, warm-up at the start.
        bulk_n = min(args.bulk_batches * args.bulk_size, len(ids) // 4)
        bulk_n -= bulk_n % args.bulk_size
        spy_n = min(20_000, len(ids) // 5) if args.py_spy else 0
        warm_n = min(4000, len(ids) // 15)
        single_n = len(ids) - bulk_n - spy_n - warm_n
        first = ids[0]
        warm_ids = range(first, first + warm_n)
        single_ids = range(warm_ids.stop, warm_ids.stop + single_n)
        spy_ids = range(single_ids.stop, single_ids.stop + spy_n)
        bulk_ids = list(range(spy_ids.stop, spy_ids.stop + bulk_n))

        # 2. Server (the code it imports now is the code measured).
        version = code_version()
        server = Server(
            url=args.url,
            workers=args.workers,
            port=args.port or free_port(),
            workdir=workdir,
            app=args.app,
            key_file=key_file,
            rate_limits=args.rate_limits,
        )
        log(f"== starting server: {server.shell_command}")
        server.start()
        sampler = RssSampler(server.pid)
        sampler.start()
        pids = server.pids()
        dbname = args.url.rsplit("/", 1)[1].split("?", 1)[0]
        admin_url = common.admin_url(args.url)
        log(f"   up: master {server.pid}, workers {server.workers_pids()}")

        common_kw: dict[str, Any] = {
            "base": server.base,
            "clients": args.clients,
            "workdir": workdir,
            "recycle": args.requests_per_connection,
            "creds": creds,
        }
        if tool == "wrk":
            common_kw["threads"] = args.wrk_threads

        # 3. Warm-up (not counted): connections, statement caches, prepared statements.
        log(f"== warm-up {args.warmup:g} s")
        load(mode="health", ids=range(0), seconds=max(1, args.warmup / 3), **common_kw)
        warm = load(mode="single", ids=warm_ids, seconds=args.warmup, **common_kw)
        _log_presign(warm)
        log(f"   {warm.requests} evaluations, {warm.errors} errors")
        if warm.error_sample:
            log(f"   first error: {warm.error_sample}")

        # 4. Single evaluations.
        log(f"== single POST /api/v1/evaluations: {args.clients} clients, {args.seconds:g} s")
        with CpuWindow(pids, dbname, admin_url) as cpu:
            single = load(mode="single", ids=single_ids, seconds=args.seconds, **common_kw)
        single.cpu = cpu.result
        _log_presign(single)
        log(f"   {single.rps:,.0f}/s p99 {single.p99:.1f} ms, {single.errors} errors")

        # 5. No-op endpoint at the same concurrency.
        log(f"== no-op GET /api/v1/health: {args.clients} clients, {args.seconds:g} s")
        with CpuWindow(pids, dbname, admin_url) as cpu:
            noop = load(mode="health", ids=range(0), seconds=args.seconds, **common_kw)
        noop.cpu = cpu.result
        log(f"   {noop.rps:,.0f}/s p99 {noop.p99:.1f} ms, {noop.errors} errors")

        # 6. Bulk.
        log(
            f"== bulk POST /api/v1/evaluations/bulk: {len(bulk_ids) // args.bulk_size} x "
            f"{args.bulk_size}, {args.bulk_senders} senders"
        )
        with CpuWindow(pids, dbname, admin_url) as cpu:
            bulk = run_bulk(
                base=server.base,
                ids=bulk_ids,
                size=args.bulk_size,
                senders=args.bulk_senders,
                max_seconds=args.bulk_seconds,
                creds=creds,
            )
        bulk.cpu = cpu.result
        log(f"   {bulk.eps:,.0f} evaluations/s, {bulk.errors} errors, {bulk.rejected} rejected")

        # 7. Optional py-spy under single load (after the measured runs: sampling costs CPU).
        spy_lines: list[str] = []
        if args.py_spy:
            raw = workdir / "pyspy.txt"
            keep_workdir = True
            log(f"== py-spy {args.py_spy:g} s under single load -> {raw}")
            spy = subprocess.Popen(
                [
                    str(VENV_BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--subprocesses",
                    "--nonblocking",
                    # Only the thread holding the GIL: CPU spent in Python, not threads waiting
                    # for PostgreSQL (py-spy cannot tell a wait inside psycopg's C code).
                    "--gil",
                    "--rate",
                    "97",
                    "--duration",
                    str(round(args.py_spy)),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(1)
            load(mode="single", ids=spy_ids, seconds=args.py_spy, **common_kw)
            _, err = spy.communicate(timeout=120)
            if raw.exists():
                spy_lines = summarize_pyspy(raw)
            else:
                spy_lines = [f"  py-spy produced nothing: {err.strip()[-500:]}"]

        sampler.stop()
        stored = _count_evaluations(args.url)
        report = _report(
            args=args,
            tool=tool,
            schema=schema,
            settings=settings,
            seeded=seeded,
            server=server,
            sampler=sampler,
            single=single,
            noop=noop,
            bulk=bulk,
            warm=warm,
            stored=stored,
            cmdline=cmdline,
            background=background,
            version=version,
        )
        print("\n".join([*report, "", "py-spy (server workers):", *spy_lines]), flush=True)
        errors_logged = server.log_tail(2000).count("Traceback")
        if errors_logged:
            keep_workdir = True
            log(f"\nserver log has {errors_logged} tracebacks: {server.log_path}")
        return 0
    except KeyboardInterrupt:
        log("\ninterrupted; stopping the server")
        return 130
    except Exception:
        keep_workdir = True
        if server is not None:
            log(f"server log tail ({server.log_path}):\n{server.log_tail()}")
        raise
    finally:
        if sampler is not None:
            sampler.stop()
        if server is not None:
            server.stop()
        if args.drop_db:
            with contextlib.suppress(Exception):
                common.drop_database(args.url)
        if keep_workdir:
            log(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _log_presign(result: LoadResult) -> None:
    if result.presigned:
        log(
            f"   pre-signed {result.presigned:,} requests in {result.presign_seconds:.2f} s "
            f"({1e6 * result.presign_seconds / result.presigned:.0f} µs each; before the clock)"
        )


def _wait_quiet(max_seconds: float) -> float:
    """Busy percentage of the machine over one second, waiting up to ``max_seconds`` for it
    to drop under 15% (another session's test suite skews every figure)."""
    deadline = time.monotonic() + max_seconds
    while True:
        b0 = machine_busy()
        time.sleep(1)
        b1 = machine_busy()
        busy = 100.0 * (b1[0] - b0[0]) / max(1.0, b1[1] - b0[1])
        if busy <= 15 or time.monotonic() >= deadline:
            return busy


def code_version() -> str:
    """The commit measured, and whether src/ differed from it (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    head = head if len(head) <= 90 else head[:89] + "…"
    import haochaping

    where = Path(haochaping.__file__).resolve().parent
    if ROOT not in where.parents:
        return f"haochaping imported from {where} (not this checkout, at {head})"
    return head + (f" + uncommitted changes in {len(dirty)} src/ files" if dirty else "")


def _count_evaluations(url: str) -> dict[str, int]:
    db = Database(url, pool_size=1)
    try:
        with db.engine.connect() as conn:
            return {
                t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one())
                for t in ("evaluations", "evaluation_credits")
            }
    finally:
        db.dispose()


def _fmt_cpu(cpu: dict[str, Any], requests: int, unit: str) -> str:
    if not cpu or not requests:
        return ""
    per = 1000 / requests
    workers = sorted(v for v in cpu["per_process"].values() if v > 0.05)
    capacity = cpu["wall"] * (os.cpu_count() or 1)
    warn = (
        f"\n     WARNING: other processes took {100 * cpu['other'] / capacity:.0f}% of the "
        "machine during this run: these figures are pessimistic"
        if cpu["other"] > 0.1 * capacity
        else ""
    )
    cost = (cpu["server"] + cpu["postgres"] + cpu["client"]) * per  # ms of CPU per unit
    ceiling = (os.cpu_count() or 1) * 1000 / cost if cost else float("nan")
    warn += (
        f"\n     CPU-bound estimate with the machine to ourselves: ~{ceiling:,.0f} {unit}s/s "
        f"({os.cpu_count()} cores / {cost:.2f} ms of server+PostgreSQL+client CPU per {unit})"
    )
    if cpu["pg_sessions"] > 0:
        warn += (
            f"\n     PostgreSQL connections opened: {cpu['pg_sessions']:,} "
            f"({100 * cpu['pg_sessions'] / requests:.1f} per 100 {unit}s; backends that exited "
            f"used {cpu['pg_exited_backends']:.1f} s, counted above)"
            + (
                ": the pool is smaller than the concurrency, overflow connections churn"
                if cpu["pg_sessions"] > 0.01 * requests
                else ""
            )
        )
    busy = [w for w in workers if w > 0.05 * sum(workers)]
    if len(workers) > 1 and max(workers) > 0.65 * sum(workers):
        warn += (
            f"\n     WARNING: one server process did {100 * max(workers) / sum(workers):.0f}% of "
            f"the work ({len(busy)} of {len(workers)} busy): connections were not spread"
        )
    return (
        f"     CPU: server {cpu['server']:.1f} s ({cpu['server'] * per:.2f} ms/{unit}), "
        f"PostgreSQL {cpu['postgres']:.1f} s ({cpu['postgres'] * per:.2f} ms/{unit}), "
        f"client {cpu['client']:.1f} s, other processes {cpu['other']:.1f} s; "
        f"machine busy {cpu['machine_busy_pct']:.0f}% of "
        f"{os.cpu_count()} cores over {cpu['wall']:.1f} s; per server process "
        f"{', '.join(f'{w:.1f}' for w in workers)} s" + warn
    )


def _report(
    *,
    args: argparse.Namespace,
    tool: str,
    schema: str,
    settings: dict[str, str],
    seeded: common.SeedResult,
    server: Server,
    sampler: RssSampler,
    single: LoadResult,
    noop: LoadResult,
    bulk: BulkResult,
    warm: LoadResult,
    stored: dict[str, int],
    cmdline: str,
    background: float,
    version: str,
) -> list[str]:
    def verdict(ok: bool) -> str:
        return "meets" if ok else "BELOW"

    tool_desc = (
        f"wrk (C, {args.wrk_threads} thread(s), bodies and HMAC-SM3 signatures pre-signed in "
        "Python and read by Lua, latency from wrk's histogram)"
        if tool == "wrk"
        else "httpx.AsyncClient + SignedAuth, asyncio, one process (the client shares the cores!)"
    )
    seed_desc = (
        "service layer for 4 template cases (upsert_case), then SQLAlchemy Core bulk INSERT "
        "copies of their cases/occasions/deadlines rows"
        if seeded.mode == "core"
        else "cases.service.upsert_case for every case, batches of 500"
    )
    ratio_single_noop = single.rps / noop.rps if noop.rps else float("nan")
    ratio_bulk_single = bulk.eps / single.rps if single.rps else float("nan")
    b = bulk.batch_latencies
    hwm = {pid: kb for pid, kb in sampler.hwm_kb.items() if kb}
    lines = [
        "",
        "=" * 100,
        "haochaping ingest benchmark",
        "=" * 100,
        f"machine      {os.cpu_count()} cores, server + PostgreSQL + client on the same host "
        f"(loopback); {background:.0f}% busy before the run",
        f"PostgreSQL   {settings['server_version']}, "
        f"synchronous_commit={settings['synchronous_commit']}, fsync={settings['fsync']}, "
        f"shared_buffers={settings['shared_buffers']}",
        f"code         {version}",
        f"schema       {schema}",
        f"seeding      {seed_desc}: {len(seeded.occasion_ids):,} open 'complete' occasions in "
        f"{seeded.seconds:.1f} s; profiles {seeded.profiles}",
        f"server       uvicorn --workers {args.workers} (uvloop/httptools), "
        f"pool_size {Settings().pool_size} per worker, sweeper off, rate limits "
        + ("on" if args.rate_limits else "off (HCP_RATE_LIMITS_ENABLED=false)"),
        f"client       {tool_desc}; {args.clients} connections, keep-alive"
        + (
            f", each closed after ~{args.requests_per_connection} requests"
            if args.requests_per_connection
            else " forever"
        ),
        "signing      HMAC-SM3 (issue 3) on every evaluation request, health unsigned"
        + (
            f"; {single.presigned:,} single requests pre-signed in {single.presign_seconds:.2f} s "
            f"({1e6 * single.presign_seconds / single.presigned:.0f} µs each, not timed)"
            if single.presigned
            else ""
        ),
        f"warm-up      {warm.requests} single evaluations (not counted)",
        "",
        f"single signed POST /api/v1/evaluations ({single.seconds:.1f} s, "
        f"{single.requests:,} requests)",
        f"  throughput   {single.rps:,.0f} evaluations/s",
        f"  latency      p50 {single.p50:.1f} ms   p95 {single.p95:.1f} ms   "
        f"p99 {single.p99:.1f} ms   (mean {single.mean:.1f}, max {single.max:.1f})",
        f"  errors       {single.errors} non-2xx/socket errors {single.error_detail or ''}",
        *([f"  first error  {single.error_sample}"] if single.error_sample else []),
        *(
            ["  NOTE         ran out of seeded occasions before the end: raise --occasions"]
            if single.ran_out
            else []
        ),
        _fmt_cpu(single.cpu, single.requests, "req"),
        "",
        f"no-op GET /api/v1/health ({noop.seconds:.1f} s, {noop.requests:,} requests)",
        f"  throughput   {noop.rps:,.0f} req/s",
        f"  latency      p50 {noop.p50:.1f} ms   p95 {noop.p95:.1f} ms   p99 {noop.p99:.1f} ms   "
        f"(mean {noop.mean:.1f}, max {noop.max:.1f})",
        f"  errors       {noop.errors} {noop.error_detail or ''}",
        *([f"  first error  {noop.error_sample}"] if noop.error_sample else []),
        _fmt_cpu(noop.cpu, noop.requests, "req"),
        "",
        f"bulk signed POST /api/v1/evaluations/bulk ({bulk.batches} batches x {args.bulk_size}, "
        f"{args.bulk_senders} senders, {bulk.seconds:.1f} s)",
        f"  throughput   {bulk.eps:,.0f} evaluations/s  ({bulk.accepted:,} accepted, "
        f"{bulk.rejected} rejected, {bulk.errors} failed requests)",
        (
            f"  per batch    p50 {common.percentile(b, 50):.2f} s   max {b[-1]:.2f} s"
            if b
            else "  per batch    -"
        ),
        *([f"  first error  {bulk.error_sample}"] if bulk.error_sample else []),
        _fmt_cpu(bulk.cpu, bulk.accepted, "evaluation"),
        "",
        f"ratios       single / no-op = {ratio_single_noop:.3f}   "
        f"bulk / single = {ratio_bulk_single:.2f}",
        f"stored       {stored['evaluations']:,} evaluations, "
        f"{stored['evaluation_credits']:,} credits in the database",
        f"server RSS   peak of the sum {sampler.peak_total_kb / 1024:.0f} MiB over "
        f"{len(hwm)} processes; VmHWM per process (MiB): "
        + ", ".join(
            f"{'master' if pid == server.pid else pid} {kb / 1024:.0f}"
            for pid, kb in sorted(hwm.items())
        ),
        "",
        "targets (issue)                          measured",
        f"  single >= {TARGET_SINGLE_RPS:,}/s                      {single.rps:,.0f}/s  "
        f"{verdict(single.rps >= TARGET_SINGLE_RPS)}",
        f"  single p99 < {TARGET_SINGLE_P99_MS} ms                     {single.p99:.1f} ms  "
        f"{verdict(single.p99 < TARGET_SINGLE_P99_MS)}",
        f"  bulk >= {TARGET_BULK_RPS:,}/s                       {bulk.eps:,.0f}/s  "
        f"{verdict(bulk.eps >= TARGET_BULK_RPS)}",
        "",
        f"reproduce    {cmdline}",
        f"server cmd   {server.shell_command}",
    ]
    return [ln for ln in lines if ln is not None]


if __name__ == "__main__":
    sys.exit(main())
