"""statistics indexes: a dimension's month, the bad reviews of a period

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_stat_month_dimension_month", "stat_month", ["dimension", "month"], unique=False
    )
    op.create_index(
        "ix_evaluations_bad_rated_at",
        "evaluations",
        ["rated_at"],
        unique=False,
        postgresql_where=sa.text("is_bad"),
        sqlite_where=sa.text("is_bad"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_evaluations_bad_rated_at",
        table_name="evaluations",
        postgresql_where=sa.text("is_bad"),
        sqlite_where=sa.text("is_bad"),
    )
    op.drop_index("ix_stat_month_dimension_month", table_name="stat_month")
