"""The dashboard questions of ``stats.py`` again, on databases it kept (``--keep``), without
generating or rebuilding anything: for a quiet re-measurement, or to compare sizes after a code
change.

    .venv/bin/python bench/stats.py --sizes 1000000 --keep --url postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_stats_1m
    .venv/bin/python bench/stats.py --sizes 10000000 --keep
    .venv/bin/python bench/stats_questions.py --repeat 40 \\
        postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_stats_1m \\
        postgresql+psycopg://postgres@127.0.0.1:5432/hcp_bench_stats

Prints p50/p95 per question and database, and the p95 ratio of the last database to the first
against the issue's targets (p95 < 100 ms, ratio <= 1.5); never asserts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _province as province
import stats
from haochaping.db import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("urls", nargs="+", help="databases kept by bench/stats.py, smallest first")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7, help="--seed of the databases")
    parser.add_argument("--slots", type=int, default=200_000)
    args = parser.parse_args(argv)
    p = province.build_province(args.seed, slots=args.slots)
    questions = stats.questions(p, args.seed)
    sizes: list[int] = []
    timings: list[dict[str, stats.Timing]] = []
    for url in args.urls:
        db = Database(url, pool_size=2)
        try:
            count = stats.table_counts(db, ("evaluations",))["evaluations"]
            stats.log(
                f"== {url.rsplit('/', 1)[-1]}: {count:,} evaluations, {args.repeat} runs each"
            )
            measured: dict[str, stats.Timing] = {}
            for q in questions:
                measured[q.key], answer = stats.timed(db, q.rollup, args.repeat)
                rows = stats.answer_size(answer)
                stats.log(f"   {q.key:<20} p50/p95 {measured[q.key].fmt()} ms  ({rows} rows)")
        finally:
            db.dispose()
        sizes.append(count)
        timings.append(measured)
    print()
    header = "".join(f"{stats.human(n):>22}" for n in sizes)
    print(f"{'question (p50 / p95 ms)':<24}{header}{'p95 ratio':>12}")
    worst = 0.0
    ratios = []
    for q in questions:
        cells = "".join(f"{t[q.key].fmt():>22}" for t in timings)
        ratio = timings[-1][q.key].p95 / timings[0][q.key].p95 if timings[0][q.key].p95 else 0.0
        ratios.append(ratio)
        worst = max(worst, *(t[q.key].p95 for t in timings))
        print(f"{q.key:<24}{cells}{ratio:>12.2f}")
    print()
    print(f"worst p95 {worst:,.1f} ms (target < {stats.TARGET_P95_MS:.0f} ms)")
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
