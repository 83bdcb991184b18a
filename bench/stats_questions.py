"""The dashboard questions of ``stats.py`` again, on databases it kept (``--keep``), without
generating or rebuilding anything: for a quiet re-measurement, or to compare sizes after a code
change.

    .venv/bin/python bench/stats.py --sizes 1000000 --keep --url postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_stats_1m
    .venv/bin/python bench/stats.py --sizes 10000000 --keep
    .venv/bin/python bench/stats_questions.py --repeat 40 \\
        postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_stats_1m \\
        postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_stats

Prints p50/p95 per question and database, and the p95 ratio of the last database to the first
against the issue's targets (p95 < 100 ms, ratio <= 1.5); never asserts. ``--pages N`` also
loads the console dashboard itself (``GET /console/stats``, in-process, as a provincial
supervisor: every table, chart, hot word and focus list of the page) N times per view.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _province as province
import stats
from haochaping.db import Database

PAGE_USER = "bench-zgb"


def _session_cookie(db: Database) -> str:
    """A console session of a provincial supervisor (created once per database)."""
    from haochaping.accounts import service as accounts
    from haochaping.accounts.models import User

    now = datetime.now(UTC)
    with db.transaction() as session:
        user = session.query(User).filter_by(username=PAGE_USER).one_or_none()
        if user is None:
            user, _ = accounts.create_user(
                session, username=PAGE_USER, display_name="压测", now=now, actor="cli:bench"
            )
            accounts.grant_role(
                session,
                user=user,
                role="supervisor",
                scope_code="450000",
                now=now,
                actor="cli:bench",
            )
            user.must_change_password = False
        token, _ = accounts.start_session(session, user=user, now=now)
    return f"hcp_session={token}"


def time_pages(db: Database, p: province.Province, reps: int) -> dict[str, stats.Timing]:
    from fastapi.testclient import TestClient

    from haochaping.app import create_app

    cookie = _session_cookie(db)
    month = stats.MONTHS[-1].code
    org = next(o.id for o in p.orgs if o.level == "city" and len(o.staff) >= 3)
    views = {
        "page.province": f"/console/stats?period={month}",
        "page.city": f"/console/stats?region={p.cities[0]}&period={month}",
        "page.county": f"/console/stats?region={p.counties[0]}&period={month}",
        "page.org": f"/console/stats?org={org}&period={month}",
    }
    result: dict[str, stats.Timing] = {}
    app = create_app(db=db, tick_interval=0)
    with TestClient(app, base_url="https://bench") as client:
        for name, path in views.items():
            runs = []
            for i in range(reps + 2):
                t0 = time.perf_counter()
                response = client.get(path, headers={"Cookie": cookie})
                elapsed = 1000 * (time.perf_counter() - t0)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
                if i >= 2:  # two warm-up loads
                    runs.append(elapsed)
            result[name] = stats.Timing(sorted(runs))
            size = len(response.content)
            stats.log(f"   {name:<20} p50/p95 {result[name].fmt()} ms  ({size:,} bytes)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("urls", nargs="+", help="databases kept by bench/stats.py, smallest first")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7, help="--seed of the databases")
    parser.add_argument("--slots", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=0, help="loads of each dashboard page")
    args = parser.parse_args(argv)
    p = province.build_province(args.seed, slots=args.slots)
    questions = stats.questions(p, args.seed)
    # The synthetic province is the benchmark's, not the application's: kept out of the
    # collector's full passes, as the server keeps what it loaded (``app_from_env``).
    gc.collect()
    gc.freeze()
    sizes: list[int] = []
    timings: list[dict[str, stats.Timing]] = []
    for url in args.urls:
        db = Database(url, pool_size=2)
        try:
            stats.vacuum(url, stats.ROLLUPS)
            count = stats.table_counts(db, ("evaluations",))["evaluations"]
            stats.log(
                f"== {url.rsplit('/', 1)[-1]}: {count:,} evaluations, {args.repeat} runs each"
            )
            measured: dict[str, stats.Timing] = {}
            for q in questions:
                measured[q.key], answer = stats.timed(db, q.rollup, args.repeat)
                rows = stats.answer_size(answer)
                stats.log(f"   {q.key:<20} p50/p95 {measured[q.key].fmt()} ms  ({rows} rows)")
            if args.pages:
                measured.update(time_pages(db, p, args.pages))
        finally:
            db.dispose()
        sizes.append(count)
        timings.append(measured)
    print()
    header = "".join(f"{stats.human(n):>22}" for n in sizes)
    print(f"{'question (p50 / p95 ms)':<24}{header}{'p95 ratio':>12}")
    worst = 0.0
    ratios = []
    for key in timings[0]:
        cells = "".join(f"{t[key].fmt():>22}" for t in timings)
        ratio = timings[-1][key].p95 / timings[0][key].p95 if timings[0][key].p95 else 0.0
        if not key.startswith("page."):
            ratios.append(ratio)
            worst = max(worst, *(t[key].p95 for t in timings))
        print(f"{key:<24}{cells}{ratio:>12.2f}")
    print()
    print(f"worst question p95 {worst:,.1f} ms (target < {stats.TARGET_P95_MS:.0f} ms)")
    if len(timings) > 1:
        print(
            f"p95 ratio last/first: worst {max(ratios):.2f}, median "
            f"{sorted(ratios)[len(ratios) // 2]:.2f} (target <= {stats.TARGET_RATIO})"
        )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} cores")
    argv_shown = sys.argv[1:] if argv is None else argv
    print("reproduce    .venv/bin/python bench/stats_questions.py " + shlex.join(argv_shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
