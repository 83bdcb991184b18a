"""work orders carry their case's business line and item; index on received_at

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("line_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("item_id", sa.Integer(), nullable=True))
    # Existing orders take their case's values (complaints without a case keep none).
    op.execute(
        "UPDATE work_orders SET "
        "line_id = (SELECT cases.line_id FROM cases WHERE cases.id = work_orders.case_id), "
        "item_id = (SELECT cases.item_id FROM cases WHERE cases.id = work_orders.case_id) "
        "WHERE case_id IS NOT NULL"
    )
    op.create_index("ix_work_orders_received_at", "work_orders", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_work_orders_received_at", table_name="work_orders")
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("item_id")
        batch.drop_column("line_id")
