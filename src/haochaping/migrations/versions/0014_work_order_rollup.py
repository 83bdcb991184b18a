"""work-order figures per unit and month (stat_orders), queued for every month with orders

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:40:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stat_orders",
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("rectified", sa.Integer(), nullable=False),
        sa.Column("appealed", sa.Integer(), nullable=False),
        sa.Column("upheld", sa.Integer(), nullable=False),
        sa.Column("real_name", sa.Integer(), nullable=False),
        sa.Column("revisited", sa.Integer(), nullable=False),
        sa.Column("deductions", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "unit", "month", name=op.f("pk_stat_orders")),
    )
    # The months that already have orders are counted by the next sweep (or `stats rebuild`).
    bind = op.get_bind()
    months = set()
    for (received,) in bind.execute(sa.text("SELECT received_at FROM work_orders")):
        if isinstance(received, str):
            received = datetime.fromisoformat(received)
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        local = received.astimezone(UTC) + timedelta(hours=8)  # Beijing, no daylight saving
        months.add(local.year * 100 + local.month)
    pending = sa.table("stat_pending", sa.column("kind"), sa.column("ref_id"), sa.column("sign"))
    if months:
        op.bulk_insert(
            pending, [{"kind": "orders", "ref_id": m, "sign": 0} for m in sorted(months)]
        )


def downgrade() -> None:
    op.execute("DELETE FROM stat_pending WHERE kind = 'orders'")
    op.drop_table("stat_orders")
