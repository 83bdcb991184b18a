"""Writing checked evaluations set-wise: the evaluation rows, the occasions' new status, the
credits (B2, B5, C2, C4) and the statistics queue, for one rating or a bulk of thousands.

On PostgreSQL all of it is **one statement** whose text never changes (psycopg prepares it after
five uses): data-modifying CTEs insert the evaluations (``ON CONFLICT (occasion_id) DO NOTHING``:
C1's unique constraint decides between concurrent ratings of one occasion, the loser's row is
skipped and so are its status update, credits and queue entry), update the occasions, insert the
credits and queue the stored evaluations. The rows travel as two JSON documents unpacked by
``json_to_recordset`` (one text parameter each, whatever the batch size: cheaper to build than
psycopg's per-column arrays and never re-parsed). Elsewhere (SQLite) one statement per table.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

from haochaping.bulk_insert import insert_rows, json_rows, record_columns
from haochaping.cases import service as cases
from haochaping.cases.models import Occasion, OccasionStatus
from haochaping.evaluations.models import Credit, Evaluation
from haochaping.statistics import queue as stat_queue

_EVALUATIONS = cast(Table, Evaluation.__table__)
_CREDITS = cast(Table, Credit.__table__)
_OCCASIONS = cast(Table, Occasion.__table__)

EVALUATION_COLUMNS = (
    "occasion_id",
    "case_id",
    "bundle_id",
    "level",
    "score",
    "is_bad",
    "label_codes",
    "text",
    "channel",
    "is_default",
    "supplementary",
    "profile_name",
    "profile_version",
    "labels_version",
    "rated_at",
)
CREDIT_COLUMNS = (
    "staff_id",
    "org_id",
    "line_id",
    "region_code",
    "item_id",
    "channel",
    "weight",
    "score",
    "level",
    "is_default",
    "counts_for_units",
    "shared",
    "rated_at",
)


def write(
    session: Session, rows: list[dict[str, Any]], credits: list[dict[str, Any]]
) -> dict[int, int]:
    """Store evaluation ``rows`` (``EVALUATION_COLUMNS``) and the ``credits`` of each
    (``CREDIT_COLUMNS`` plus the ``occasion_id`` of the evaluation they credit), mark the
    occasions rated (defaulted for ``is_default`` rows) and queue the evaluations for the
    rollups. Rows whose occasion already has an evaluation are skipped (C1) with everything
    that depends on them. Returns occasion id → new evaluation id for the rows stored."""
    if not rows:
        return {}
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        ids = _write_pg(session, conn, rows, credits)
        for status, default in ((OccasionStatus.rated, False), (OccasionStatus.defaulted, True)):
            # Copies of the occasions the session holds (rating by case number loads them).
            cases.occasion_status_written(
                session=session,
                occasion_ids=[
                    r["occasion_id"]
                    for r in rows
                    if r["is_default"] is default and r["occasion_id"] in ids
                ],
                status=status,
            )
    else:
        ids = _write_rowwise(session, conn, rows, credits)
    return ids


def _write_pg(
    _session: Session, conn: Connection, rows: list[dict[str, Any]], credits: list[dict[str, Any]]
) -> dict[int, int]:
    params = {"evaluations": json_rows(rows), "credits": json_rows(credits)}
    result = conn.exec_driver_sql(_pg_statement(), params)
    return {occasion_id: evaluation_id for occasion_id, evaluation_id in result}


@cache
def _pg_statement() -> str:
    evaluation_cols = ", ".join(EVALUATION_COLUMNS)
    credit_cols = ", ".join(CREDIT_COLUMNS)
    return (
        "WITH ev AS ("
        f"INSERT INTO evaluations ({evaluation_cols}) SELECT {evaluation_cols} "
        "FROM json_to_recordset(CAST(%(evaluations)s AS json)) "
        f"AS r({record_columns(_EVALUATIONS, EVALUATION_COLUMNS)}) "
        # One lock order for every writer: two bulks sharing occasions never deadlock.
        "ORDER BY occasion_id "
        "ON CONFLICT (occasion_id) DO NOTHING "
        "RETURNING id, occasion_id, is_default), "
        "occ AS (UPDATE occasions SET status = CASE WHEN ev.is_default "
        f"THEN '{OccasionStatus.defaulted.value}' ELSE '{OccasionStatus.rated.value}' END "
        "FROM ev WHERE occasions.id = ev.occasion_id "
        # The same ids as an array: the planner reads them by primary key whatever it guesses
        # of the CTE's size (a guess of 100 rows made it scan a small table whole).
        "AND occasions.id = ANY(ARRAY(SELECT occasion_id FROM ev))), "
        f"cr AS (INSERT INTO evaluation_credits (evaluation_id, {credit_cols}) "
        f"SELECT ev.id, {', '.join(f'c.{c}' for c in CREDIT_COLUMNS)} "
        "FROM json_to_recordset(CAST(%(credits)s AS json)) "
        f"AS c(occasion_id integer, {record_columns(_CREDITS, CREDIT_COLUMNS)}) "
        "JOIN ev ON ev.occasion_id = c.occasion_id), "
        "q AS (INSERT INTO stat_pending (kind, ref_id, sign) "
        f"SELECT '{stat_queue.EVALUATION}', ev.id, 1 FROM ev ORDER BY ev.id) "
        "SELECT occasion_id, id FROM ev"
    )


def _write_rowwise(
    session: Session, conn: Connection, rows: list[dict[str, Any]], credits: list[dict[str, Any]]
) -> dict[int, int]:
    inserted = insert_rows(
        conn, _EVALUATIONS, rows, skip_conflicts_on="occasion_id", returning=("occasion_id", "id")
    )
    ids: dict[int, int] = {row.occasion_id: row.id for row in inserted}
    stored = [r for r in rows if r["occasion_id"] in ids]
    for status, default in ((OccasionStatus.rated, False), (OccasionStatus.defaulted, True)):
        cases.set_occasion_status(
            session=session,
            occasion_ids=[r["occasion_id"] for r in stored if r["is_default"] is default],
            status=status,
        )
    insert_rows(
        conn,
        _CREDITS,
        [
            {"evaluation_id": ids[c["occasion_id"]], **{k: c[k] for k in CREDIT_COLUMNS}}
            for c in credits
            if c["occasion_id"] in ids
        ],
    )
    stat_queue.evaluations_stored(session, [ids[r["occasion_id"]] for r in stored])
    return ids
