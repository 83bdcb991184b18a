"""Inserting many rows in one statement whose text never changes.

On PostgreSQL ``insert_rows`` sends the rows as one JSON document that ``json_to_recordset`` turns
back into rows: the statement is the same for 2 or 5,000 rows, so psycopg prepares it once
instead of parsing a new multi-row ``VALUES`` text for every batch, and the document is built by
the C JSON encoder (adapting one array per column cost ~4 µs per value in psycopg's Python
code); a single row goes as one plain ``VALUES`` row. The upserts send one array per column
and ``unnest`` them.
Elsewhere SQLAlchemy's own executemany is used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Date, DateTime, Float, Integer, Row, Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import String, Text, TypeEngine

from haochaping.db import UTCDateTime


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: str | None = None,
    returning: tuple[str, ...] = (),
) -> list[Row[Any]]:
    """Insert ``rows`` (dicts with the same keys); with ``skip_conflicts_on``, rows that would
    break that unique column are left out. Returns the ``returning`` columns of inserted rows."""
    if not rows:
        return []
    columns = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        if len(rows) == 1:
            # One row (a single rating): plain VALUES, much cheaper to send than 1-item arrays.
            sql = _values_sql(table, columns, skip_conflicts_on, returning)
            params = {c: _pg_value(table, c, rows[0][c]) for c in columns}
        else:
            # Many rows: one JSON document unpacked by ``json_to_recordset``, built by the C
            # encoder (psycopg adapts arrays element by element in Python: ~10x the CPU).
            sql = _recordset_sql(table, columns, skip_conflicts_on, returning)
            params = {"rows": json_rows(rows)}
        result = conn.execute(sql, params)
        return list(result) if returning else []
    stmt: Any = sqlite_insert(table)
    if skip_conflicts_on:
        stmt = stmt.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    if returning:
        stmt = stmt.returning(*(table.c[c] for c in returning))
        return list(conn.execute(stmt, list(rows)))
    conn.execute(stmt, list(rows))
    return []


def scalar_defaults(table: Table) -> dict[str, Any]:
    """The Python-side scalar defaults of ``table``'s columns (``mapped_column(default=…)``),
    which a Core insert does not apply: merged under a row before ``insert_rows``."""
    return {
        c.name: c.default.arg  # type: ignore[attr-defined]
        for c in table.columns
        if c.default is not None and c.default.is_scalar
    }


def upsert_adding(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keys: tuple[str, ...]
) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, add the other columns to it
    (counters of a rollup). Rows should come sorted by key, so that two writers lock the rows
    they share in the same order and never deadlock."""
    _upsert(conn, table, rows, keys=keys, adding=True)


def upsert_replacing(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keys: tuple[str, ...]
) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, overwrite its other columns."""
    _upsert(conn, table, rows, keys=keys, adding=False)


def _upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: tuple[str, ...],
    adding: bool,
) -> None:
    if not rows:
        return
    columns = tuple(rows[0])
    measures = [c for c in columns if c not in keys]
    if conn.dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(:{c} AS {pg_type(table.c[c].type)}[])" for c in columns)
        updates = ", ".join(
            f"{c} = {table.name}.{c} + excluded.{c}" if adding else f"{c} = excluded.{c}"
            for c in measures
        )
        sql = (
            f'INSERT INTO "{table.name}" ({", ".join(columns)}) SELECT * FROM unnest({arrays}) '
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
        conn.execute(text(sql), {c: [row[c] for row in rows] for c in columns})
        return
    stmt: Any = sqlite_insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: (table.c[c] + stmt.excluded[c]) if adding else stmt.excluded[c] for c in measures},
    )
    conn.execute(stmt, list(rows))


@cache
def _recordset_sql(
    table: Table, columns: tuple[str, ...], conflict: str | None, returning: tuple[str, ...]
) -> Any:
    names = ", ".join(columns)
    sql = (
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record_columns(table, columns)})"
    )
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


def record_columns(table: Table, columns: Sequence[str]) -> str:
    """The column definition list of ``json_to_recordset`` for ``columns`` of ``table``."""
    return ", ".join(f"{c} {pg_type(table.c[c].type)}" for c in columns)


def json_rows(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as one JSON array for ``json_to_recordset``: aware datetimes as ISO 8601 (naive
    ones refused, as ``UTCDateTime`` does), dates as ISO dates, JSON columns as they are."""
    return json.dumps(rows, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send {value!r} as JSON")


@cache
def _values_sql(
    table: Table, columns: tuple[str, ...], conflict: str | None, returning: tuple[str, ...]
) -> Any:
    values = ", ".join(f"CAST(:{c} AS {pg_type(table.c[c].type)})" for c in columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({values})'
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


def pg_type(column_type: TypeEngine[Any]) -> str:
    """The PostgreSQL type name of a column type (for casts and record definitions)."""
    if isinstance(column_type, UTCDateTime | DateTime):
        return "timestamptz"
    for kind, name in (
        (Date, "date"),
        (Boolean, "boolean"),
        (Integer, "integer"),
        (Float, "float8"),
        (JSON, "json"),
        (Text, "text"),
        (String, "text"),
    ):
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no array type for {column_type!r}")


def _pg_value(table: Table, column: str, value: Any) -> Any:
    if value is not None and isinstance(table.c[column].type, JSON):
        return json.dumps(value, ensure_ascii=False)
    return value
