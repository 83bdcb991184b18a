"""A synthetic province for ``stats.py``: 广西 (450000) with its 14 cities, 111 counties, ~1,000
townships, ~2,100 organisations on 30 business lines, halls, ~4,700 windows, ~8,000 staff and
~22,000 service items, and as many evaluations as asked for, spread over 12 months.

The catalogue is built in Python (seeded, so every run has the same province) and loaded with
PostgreSQL ``COPY`` (psycopg 3 ``cursor.copy``). The evaluations never travel through Python:
a table of ~200,000 weighted *slots* (organisation, item, window handling by one staff member or
online, drawn once in Python and copied in) is joined to ``generate_series`` inside PostgreSQL,
which draws every other attribute with ``random()`` (``setseed`` per chunk) into a temporary
table, from which ``cases``, ``occasions``, ``evaluations``, ``evaluation_credits`` and
``work_orders`` are filled with ``INSERT … SELECT``. Row ids are the evaluation numbers (case,
occasion, evaluation and credit ``n`` belong together); the sequences follow afterwards.

The loading session sets ``session_replication_role = replica`` (superuser), which turns off the
foreign-key triggers: ~20 referential checks per evaluation would otherwise triple the load
time. The rows are consistent by construction (every id comes from the catalogue just loaded).
The indexes stay in place and are maintained as usual.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

# The 12 months the evaluations fall in (Beijing time), first day and number of days.
FIRST_DAY = "2025-12-01"
DAYS = 365
MONTHS = [202512, *range(202601, 202612)]
PROFILE = "guangxi"
PROFILE_VERSION = "桂数发〔2019〕21号"
LABELS_VERSION = "RA-2021-附件1"
# Guangxi scores of levels 1..5 (B1; GX Art.8).
SCORES = (0, 3, 6, 8, 10)
BAD_TEXT = "窗口工作人员态度生硬，材料要求前后不一致，跑了两次才办成"
# A stand-in for the SM4-GCM ciphertext of the applicant's name: the statistics never read it.
CIPHER_STANDIN = "v1:bench:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
LABEL_CODES = [
    "attitude.3",
    "efficiency.3",
    "quality.3",
    "attitude.1",
    "efficiency.4",
    "quality.5",
    "attitude.2",
    "efficiency.5",
    "quality.2",
    "environment.4",
    "efficiency.1",
    "quality.4",
    "efficiency.2",
    "quality.1",
    "environment.1",
    "quality.6",
    "environment.2",
    "quality.7",
    "environment.3",
    "quality.8",
    "environment.5",
]

# (code, name, counties, activity factor): the real 14 cities and their county counts (111).
CITIES = [
    ("450100", "南宁市", 12, 2.2),
    ("450200", "柳州市", 10, 1.5),
    ("450300", "桂林市", 17, 1.5),
    ("450400", "梧州市", 7, 0.9),
    ("450500", "北海市", 4, 0.8),
    ("450600", "防城港市", 4, 0.5),
    ("450700", "钦州市", 4, 1.0),
    ("450800", "贵港市", 5, 1.1),
    ("450900", "玉林市", 7, 1.3),
    ("451000", "百色市", 12, 1.0),
    ("451100", "贺州市", 5, 0.7),
    ("451200", "河池市", 11, 0.9),
    ("451300", "来宾市", 6, 0.7),
    ("451400", "崇左市", 7, 0.7),
]
LINES = [
    "公安",
    "人力资源社会保障",
    "医疗保障",
    "税务",
    "不动产登记",
    "市场监管",
    "民政",
    "住房城乡建设",
    "交通运输",
    "卫生健康",
    "教育",
    "自然资源",
    "生态环境",
    "农业农村",
    "商务",
    "文化旅游",
    "应急管理",
    "退役军人事务",
    "残联",
    "住房公积金",
    "司法行政",
    "水利",
    "林业",
    "气象",
    "供电",
    "供水",
    "燃气",
    "通信",
    "发展改革",
    "便民服务（综合）",
]
# Lines every county has an office of; the others are drawn.
COUNTY_CORE_LINES = 6
TOWNSHIPS_PER_COUNTY = (7, 11)
TOWNSHIP_CENTRE_SHARE = 0.4

# Per organisation level: (activity weight, windows range, items, share handled at a window).
LEVELS: dict[str, tuple[float, tuple[int, int], int, float]] = {
    "province": (3.0, (2, 4), 15, 0.4),
    "city": (4.0, (2, 4), 12, 0.6),
    "county": (2.5, (1, 3), 10, 0.7),
    "township": (1.5, (1, 3), 8, 0.9),
}


@dataclass
class Org:
    id: int
    region: str
    level: str
    line_id: int
    hall_id: int
    weight: float
    window_ids: list[int] = field(default_factory=list)
    staff: list[tuple[int, int, float]] = field(default_factory=list)  # (staff, window, weight)
    items: list[tuple[int, str]] = field(default_factory=list)  # (item id, kind)


@dataclass
class Province:
    regions: list[tuple[str, str, str, str | None, str, str | None]]
    lines: list[tuple[int, str, str]]
    halls: list[tuple[int, str, str, str]]
    orgs: list[Org]
    org_rows: list[tuple[int, str, str, str, int]]
    windows: list[tuple[int, str, str, int, int]]
    staff: list[tuple[int, str, str, int, int]]
    items: list[tuple[int, str, str, int, str, str, int]]
    # (slot, org, region, line, item, kind, staff, window, hall, handling)
    slots: list[tuple[Any, ...]]
    cities: list[str]
    counties: list[str]
    townships: list[str]

    def summary(self) -> str:
        return (
            f"1 province, {len(self.cities)} cities, {len(self.counties)} counties, "
            f"{len(self.townships)} townships; {len(self.org_rows):,} organisations on "
            f"{len(self.lines)} business lines, {len(self.halls):,} halls, "
            f"{len(self.windows):,} windows, {len(self.staff):,} staff, "
            f"{len(self.items):,} service items; {len(self.slots):,} weighted slots"
        )


def build_province(seed: int = 7, slots: int = 200_000) -> Province:
    rng = random.Random(seed)
    regions: list[tuple[str, str, str, str | None, str, str | None]] = [
        ("450000", "广西壮族自治区", "province", None, "/450000/", PROFILE)
    ]
    cities, counties, townships = [], [], []
    city_factor: dict[str, float] = {"450000": 1.0}
    names: dict[str, str] = {"450000": "广西壮族自治区"}
    for code, name, n_counties, factor in CITIES:
        regions.append((code, name, "city", "450000", f"/450000/{code}/", None))
        cities.append(code)
        names[code] = name
        city_factor[code] = factor
        for k in range(1, n_counties + 1):
            county = f"{code[:4]}{k + 1:02d}"
            county_name = f"{name[:-1]}城区" if k == 1 else f"{name[:-1]}{k - 1}号县"
            path = f"/450000/{code}/{county}/"
            regions.append((county, county_name, "county", code, path, None))
            counties.append(county)
            names[county] = county_name
            city_factor[county] = factor
            for t in range(1, rng.randint(*TOWNSHIPS_PER_COUNTY) + 1):
                town = f"{county}{t:03d}000"
                town_name = f"{county_name}{t}号镇"
                regions.append((town, town_name, "township", county, f"{path}{town}/", None))
                townships.append(town)
                names[town] = town_name
                city_factor[town] = factor
    lines = [(i, f"L{i:02d}", name) for i, name in enumerate(LINES, start=1)]
    general_line = len(LINES)  # 便民服务（综合）
    halls: list[tuple[int, str, str, str]] = []
    hall_of: dict[str, int] = {}

    def hall(region: str) -> int:
        if region not in hall_of:
            hall_of[region] = len(halls) + 1
            halls.append((hall_of[region], f"H{region}", f"{names[region]}政务服务中心", region))
        return hall_of[region]

    # Organisations: one per line at province and city level, core + drawn lines per county,
    # a 便民服务中心 in some townships.
    placements: list[tuple[str, str, int]] = [("450000", "province", i) for i in range(1, 30)]
    for city in cities:
        placements += [(city, "city", i) for i in range(1, 29)]
    for county in counties:
        drawn = rng.sample(range(COUNTY_CORE_LINES + 1, general_line), 6)
        placements += [
            (county, "county", i) for i in [*range(1, COUNTY_CORE_LINES + 1), *sorted(drawn)]
        ]
    for town in townships:
        if rng.random() < TOWNSHIP_CENTRE_SHARE:
            placements.append((town, "township", general_line))
    orgs: list[Org] = []
    org_rows, windows, staff, items = [], [], [], []
    for org_id, (region, level, line_id) in enumerate(placements, start=1):
        base, window_range, n_items, _ = LEVELS[level]
        weight = base * city_factor[region] * rng.lognormvariate(0, 0.6)
        org = Org(org_id, region, level, line_id, hall(region), weight)
        orgs.append(org)
        line_name = LINES[line_id - 1]
        suffix = "便民服务中心" if level == "township" else f"{line_name}局"
        org_rows.append((org_id, f"O{org_id:05d}", f"{names[region]}{suffix}", region, line_id))
        for w in range(1, rng.randint(*window_range) + 1):
            window_id = len(windows) + 1
            windows.append((window_id, f"W{window_id:05d}", f"{w}号窗口", org.hall_id, org_id))
            org.window_ids.append(window_id)
            for _ in range(rng.choice((1, 1, 2, 2, 2))):
                staff_id = len(staff) + 1
                staff.append(
                    (staff_id, f"S{staff_id:06d}", f"工作人员{staff_id}", org_id, window_id)
                )
                org.staff.append((staff_id, window_id, rng.lognormvariate(0, 0.5)))
        for k in range(1, n_items + 1):
            item_id = len(items) + 1
            kind = "immediate" if rng.random() < 0.6 else "promised"
            handling = "window,online" if rng.random() < 0.7 else "window"
            items.append(
                (
                    item_id,
                    f"I{org_id:05d}{k:02d}",
                    f"{line_name}服务事项{k}",
                    org_id,
                    kind,
                    handling,
                    0 if kind == "immediate" else rng.choice((5, 10, 20)),
                )
            )
            org.items.append((item_id, kind))
    slot_rows = _slots(orgs, slots, rng)
    return Province(
        regions=regions,
        lines=lines,
        halls=halls,
        orgs=orgs,
        org_rows=org_rows,
        windows=windows,
        staff=staff,
        items=items,
        slots=slot_rows,
        cities=cities,
        counties=counties,
        townships=townships,
    )


def _slots(orgs: Sequence[Org], total: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """Each organisation gets slots in proportion to its activity; a slot is one (item, staff
    member at a window or online) pair. Items follow a Zipf-like popularity inside their
    organisation, staff a log-normal one."""
    weights = sum(o.weight for o in orgs)
    rows: list[tuple[Any, ...]] = []
    for org in orgs:
        item_weights = [1 / (k + 1) for k in range(len(org.items))]
        staff_weights = [w for *_, w in org.staff]
        window_share = LEVELS[org.level][3]
        for _ in range(max(1, round(org.weight / weights * total))):
            item_id, kind = rng.choices(org.items, weights=item_weights)[0]
            if org.staff and rng.random() < window_share:
                staff_id, window_id, _ = rng.choices(org.staff, weights=staff_weights)[0]
                at: tuple[Any, ...] = (staff_id, window_id, org.hall_id, "window")
            else:
                at = (None, None, None, "online")
            rows.append((len(rows), org.id, org.region, org.line_id, item_id, kind, *at))
    return rows


# --- loading -------------------------------------------------------------------------------------

Log = Callable[[str], None]


def copy_rows(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def load_catalogue(conn: psycopg.Connection[Any], p: Province) -> int:
    """COPY the catalogue in (one transaction); returns the rows written."""
    n = 0
    with conn.transaction():
        n += copy_rows(
            conn, "regions", ("code", "name", "level", "parent_code", "path", "profile"), p.regions
        )
        n += copy_rows(conn, "business_lines", ("id", "code", "name"), p.lines)
        n += copy_rows(conn, "halls", ("id", "code", "name", "region_code"), p.halls)
        n += copy_rows(
            conn, "organizations", ("id", "code", "name", "region_code", "line_id"), p.org_rows
        )
        n += copy_rows(conn, "windows", ("id", "code", "name", "hall_id", "org_id"), p.windows)
        n += copy_rows(conn, "staff", ("id", "code", "name", "org_id", "window_id"), p.staff)
        n += copy_rows(
            conn,
            "service_items",
            ("id", "code", "name", "org_id", "kind", "handling", "promised_days"),
            p.items,
        )
        for table in (
            "business_lines",
            "halls",
            "organizations",
            "windows",
            "staff",
            "service_items",
        ):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return n


_SLOT_COLUMNS = (
    "slot",
    "org_id",
    "region_code",
    "line_id",
    "item_id",
    "kind",
    "staff_id",
    "window_id",
    "hall_id",
    "handling",
)


def _load_slots(conn: psycopg.Connection[Any], p: Province) -> None:
    conn.execute("DROP TABLE IF EXISTS pg_temp.bench_slots")
    conn.execute(
        "CREATE TEMP TABLE bench_slots (slot int PRIMARY KEY, org_id int, region_code text, "
        "line_id int, item_id int, kind text, staff_id int, window_id int, hall_id int, "
        "handling text)"
    )
    copy_rows(conn, "bench_slots", _SLOT_COLUMNS, p.slots)
    conn.execute("ANALYZE bench_slots")


# One chunk of evaluations, drawn inside PostgreSQL. Level mix of active ratings 70/20/7.8/1.2/1
# (2.2% bad), 10% defaults (level 5, no channel, 7 days after completion), channels by handling,
# 0-2 labels on bad ratings, 5% of the bad ones revoked on appeal.
_GEN_SQL = """
CREATE TEMP TABLE gen AS
WITH g AS (
    SELECT n,
           floor(random() * %(nslots)s)::int AS slot,
           random() AS r_default, random() AS r_level, random() AS r_channel,
           random() AS r_day, random() AS r_time, random() AS r_labels,
           random() AS r_l1, random() AS r_l2, random() AS r_revoke, random() AS r_wait,
           random() AS r_wo
    FROM generate_series(%(first)s::int, %(last)s::int) AS n
), h AS (
    SELECT g.*, s.org_id, s.region_code, s.line_id, s.item_id, s.kind, s.staff_id, s.window_id,
           s.hall_id, s.handling,
           g.r_default < %(default_share)s AS is_default,
           CASE WHEN g.r_default < %(default_share)s THEN 5
                WHEN g.r_level < 0.70 THEN 5 WHEN g.r_level < 0.90 THEN 4
                WHEN g.r_level < 0.978 THEN 3 WHEN g.r_level < 0.99 THEN 2 ELSE 1 END AS level,
           (%(first_day)s::timestamptz + floor(g.r_day * %(days)s)::int * interval '1 day'
               + interval '8 hours 30 minutes' + g.r_time * interval '9 hours') AS rated_at
    FROM g JOIN bench_slots s ON s.slot = g.slot
)
SELECT h.n AS id, h.*,
       (%(scores)s::float8[])[h.level] AS score,
       h.level <= 2 AS is_bad,
       h.level <= 2 AND h.r_revoke < %(revoke_share)s AS revoked,
       CASE WHEN h.is_default THEN NULL
            WHEN h.handling = 'online'
                THEN (ARRAY[1, 1, 2, 2, 2, 6, 7])[1 + floor(h.r_channel * 7)::int]
            ELSE (ARRAY[4, 4, 4, 3, 3, 2, 5])[1 + floor(h.r_channel * 7)::int] END AS channel,
       CASE WHEN h.is_default THEN h.rated_at - interval '7 days'
            ELSE h.rated_at - h.r_wait * interval '2 hours' END AS completed_at,
       CASE WHEN h.level > 2 OR h.r_labels < 0.3 THEN '[]'
            WHEN h.r_labels < 0.75
                THEN json_build_array(
                    (%(labels)s::text[])[1 + floor(h.r_l1 ^ 2 * %(nlabels)s)::int])::text
            ELSE json_build_array(
                (%(labels)s::text[])[1 + floor(h.r_l1 ^ 2 * %(nlabels)s)::int],
                (%(labels)s::text[])[1 + (floor(h.r_l1 ^ 2 * %(nlabels)s)::int + 1
                                         + floor(h.r_l2 * (%(nlabels)s - 1))::int) %% %(nlabels)s]
            )::text END AS label_codes
FROM h
"""

_INSERTS = (
    (
        "cases",
        """
INSERT INTO cases (id, case_no, item_id, org_id, region_code, line_id, hall_id, window_id,
                   staff_id, applicant_type, applicant_name, applicant_id_type, kind, handling,
                   accepted_at, completed_at, batch_size, profile_name, created_at, updated_at)
SELECT id, 'GX' || lpad(id::text, 10, '0'), item_id, org_id, region_code, line_id, hall_id,
       window_id, staff_id, CASE WHEN r_wo < 0.92 THEN 'person' ELSE 'legal_person' END,
       %(cipher)s, '身份证', kind, handling,
       accepted_at, completed_at, 1, %(profile)s, accepted_at, rated_at
FROM (SELECT *, completed_at - CASE WHEN kind = 'promised' THEN interval '5 days'
                                    ELSE interval '20 minutes' END AS accepted_at FROM gen) AS g
""",
    ),
    (
        "occasions",
        """
INSERT INTO occasions (id, case_id, stage, rates_staff, staff_id, on_site, credited, opens_at,
                       rate_until, default_due, window_estimated, status, profile_name)
SELECT id, id, 'complete', staff_id IS NOT NULL, staff_id, handling <> 'online', true,
       completed_at, completed_at + interval '7 days', completed_at + interval '7 days', false,
       CASE WHEN is_default THEN 'defaulted' ELSE 'rated' END, %(profile)s
FROM gen
""",
    ),
    (
        "evaluations",
        """
INSERT INTO evaluations (id, occasion_id, case_id, level, score, is_bad, label_codes, text,
                         channel, is_default, supplementary, profile_name, profile_version,
                         labels_version, rated_at, revoked_at, revoked_reason)
SELECT id, id, id, level, score, is_bad, label_codes::json,
       CASE WHEN is_bad THEN %(bad_text)s END, channel, is_default, false, %(profile)s,
       %(profile_version)s, %(labels_version)s, rated_at,
       CASE WHEN revoked THEN rated_at + interval '12 days' END,
       CASE WHEN revoked THEN '申诉成立：系统原因导致' END
FROM gen
""",
    ),
    (
        "evaluation_credits",
        """
INSERT INTO evaluation_credits (id, evaluation_id, staff_id, org_id, line_id, region_code,
                                item_id, channel, weight, score, level, is_default,
                                counts_for_units, shared, rated_at, revoked)
SELECT id, id, staff_id, org_id, line_id, region_code, item_id, channel, 1, score, level,
       is_default, staff_id IS NOT NULL, false, rated_at, revoked
FROM gen
""",
    ),
    (
        "work_orders",
        """
INSERT INTO work_orders (id, order_no, source, state, evaluation_id, case_id, org_id,
                         region_code, window_id, staff_id, line_id, item_id, profile_name,
                         profile_version, complaint_text, real_name, verdict, cause,
                         deduction_points, resolution, rater_satisfied, reopened, overdue,
                         received_at, transferred_at, appeal_filed_at, updated_at, closed_at,
                         version)
SELECT id, 'WO' || lpad(id::text, 10, '0'), 'evaluation',
       CASE WHEN revoked THEN 'revoked' WHEN r_wo < 0.85 THEN 'closed'
            WHEN r_wo < 0.95 THEN 'rectifying' ELSE 'verifying' END,
       id, id, org_id, region_code, window_id, staff_id, line_id, item_id, %(profile)s,
       %(profile_version)s,
       %(bad_text)s, r_l2 < 0.3,
       CASE WHEN revoked THEN 'objective' WHEN r_wo < 0.95 THEN 'true' END,
       CASE WHEN NOT revoked AND r_wo < 0.95 THEN 'attitude' END,
       CASE WHEN NOT revoked AND r_wo < 0.85 THEN 1.0 ELSE 0.0 END,
       CASE WHEN NOT revoked AND r_wo < 0.85 THEN 'rectify' END,
       CASE WHEN NOT revoked AND r_wo < 0.85 AND r_l2 < 0.3 THEN r_time < 0.8 END,
       0, r_wait < 0.05, rated_at, rated_at + interval '1 day',
       CASE WHEN revoked THEN rated_at + interval '3 days' END, rated_at + interval '12 days',
       CASE WHEN revoked OR r_wo < 0.85 THEN rated_at + interval '12 days' END, 1
FROM gen WHERE is_bad
""",
    ),
)

# The queue rows the application writes with each change (``statistics.queue``): +1 when an
# evaluation is stored, -1 when it is revoked.
_QUEUE_SQL = """
INSERT INTO stat_pending (kind, ref_id, sign)
SELECT 'evaluation', id, s FROM gen, LATERAL (VALUES (1), (CASE WHEN revoked THEN -1 END)) v(s)
WHERE s IS NOT NULL ORDER BY id, s DESC
"""

FACT_TABLES = ("cases", "occasions", "evaluations", "evaluation_credits", "work_orders")


@dataclass
class GenerateResult:
    evaluations: int
    seconds: float
    per_table: dict[str, float]


def generate(
    conn: psycopg.Connection[Any],
    p: Province,
    *,
    first_id: int,
    count: int,
    seed: int,
    chunk: int = 500_000,
    queue: bool = False,
    default_share: float = 0.10,
    revoke_share: float = 0.05,
    log: Log | None = None,
) -> GenerateResult:
    """Evaluations ``first_id`` .. ``first_id + count - 1`` with their cases, occasions,
    credits and work orders, committed chunk by chunk; with ``queue`` also their
    ``stat_pending`` rows (as the application writes them)."""
    started = time.perf_counter()
    per_table: dict[str, float] = {"draw": 0.0}
    conn.execute("SET session_replication_role = replica")
    _load_slots(conn, p)
    params: dict[str, Any] = {
        "nslots": len(p.slots),
        "default_share": default_share,
        "revoke_share": revoke_share,
        "first_day": f"{FIRST_DAY} 00:00:00+08",
        "days": DAYS,
        "scores": list(map(float, SCORES)),
        "labels": LABEL_CODES,
        "nlabels": len(LABEL_CODES),
        "cipher": CIPHER_STANDIN,
        "profile": PROFILE,
        "profile_version": PROFILE_VERSION,
        "labels_version": LABELS_VERSION,
        "bad_text": BAD_TEXT,
    }
    done = 0
    while done < count:
        n = min(chunk, count - done)
        first = first_id + done
        with conn.transaction():
            # Reproducible draws: one seed per chunk (PostgreSQL's random() is per session).
            conn.execute("SELECT setseed(%s)", (math.sin(seed * 1_000_003 + first) * 0.999,))
            t0 = time.perf_counter()
            conn.execute(_GEN_SQL, params | {"first": first, "last": first + n - 1})
            per_table["draw"] += time.perf_counter() - t0
            for table, sql in _INSERTS:
                t0 = time.perf_counter()
                conn.execute(sql, params)
                per_table[table] = per_table.get(table, 0.0) + time.perf_counter() - t0
            if queue:
                conn.execute(_QUEUE_SQL)
            conn.execute("DROP TABLE gen")
        done += n
        if log is not None and count > chunk:
            rate = done / (time.perf_counter() - started)
            log(f"   … {done:,}/{count:,} evaluations ({rate:,.0f}/s)")
    with conn.transaction():
        for table in FACT_TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
    conn.execute("SET session_replication_role = DEFAULT")
    return GenerateResult(count, time.perf_counter() - started, per_table)
