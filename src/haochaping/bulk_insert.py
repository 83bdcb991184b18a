"""Inserting many rows in one statement whose text never changes.

On PostgreSQL the rows travel as one array per column and ``unnest`` turns them back into rows:
the statement is the same for 2 or 5,000 rows, so psycopg prepares it once instead of parsing a
new multi-row ``VALUES`` text for every batch; a single row (the single rating's hot path) goes
as one plain ``VALUES`` row, since adapting 1-item arrays costs more than the row itself.
Elsewhere SQLAlchemy's own executemany is used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
            sql = _unnest_sql(table, columns, skip_conflicts_on, returning)
            params = {c: [_pg_value(table, c, row[c]) for row in rows] for c in columns}
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
        arrays = ", ".join(f"CAST(:{c} AS {_pg_type(table.c[c].type)}[])" for c in columns)
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
def _unnest_sql(
    table: Table, columns: tuple[str, ...], conflict: str | None, returning: tuple[str, ...]
) -> Any:
    arrays = ", ".join(f"CAST(:{c} AS {_pg_type(table.c[c].type)}[])" for c in columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) SELECT * FROM unnest({arrays})'
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


@cache
def _values_sql(
    table: Table, columns: tuple[str, ...], conflict: str | None, returning: tuple[str, ...]
) -> Any:
    values = ", ".join(f"CAST(:{c} AS {_pg_type(table.c[c].type)})" for c in columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({values})'
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


def _pg_type(column_type: TypeEngine[Any]) -> str:
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
