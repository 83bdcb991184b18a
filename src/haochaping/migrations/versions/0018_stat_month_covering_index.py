"""the dashboards' monthly rollup read by a covering index on (dimension, month, unit)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 19:30:00.000000

``ix_stat_month_dimension_month`` led the dashboards' questions to the rows of a month, then to
one heap page per row; at 10M evaluations the monthly rollup is several times PostgreSQL's
shared buffers, and a city's 2,100 service items cost ~330k heap reads. The new index orders a
month's rows by unit and, on PostgreSQL, carries every column a question sums (INCLUDE): a
question reads consecutive index entries only (an index-only scan, once VACUUM has marked the
pages visible, as autovacuum does). The price: a fold's update of a rollup row is no longer
heap-only, it also writes an index entry.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEASURES = [
    "channel",
    "is_default",
    "evaluations",
    "transactions",
    "points",
    "level1",
    "level2",
    "level3",
    "level4",
    "level5",
    "bad",
    "expired",
]


def upgrade() -> None:
    op.create_index(
        "ix_stat_month_dimension_month_unit",
        "stat_month",
        ["dimension", "month", "unit"],
        unique=False,
        postgresql_include=_MEASURES,
    )
    op.drop_index("ix_stat_month_dimension_month", table_name="stat_month")


def downgrade() -> None:
    op.create_index(
        "ix_stat_month_dimension_month", "stat_month", ["dimension", "month"], unique=False
    )
    op.drop_index("ix_stat_month_dimension_month_unit", table_name="stat_month")
